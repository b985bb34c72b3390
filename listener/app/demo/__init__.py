"""``listener demo``: one full cycle against bundled real feeds served on 127.0.0.1.

The feeds in ``feeds/`` and the API answers in ``social/`` are real payloads
saved from public sites (provenance and licences in each folder's ``README.md``). They were recorded
years apart, so the demo serves each source's payloads with every date moved by a whole number of days
(``retime.py``): its last real day becomes yesterday. The texts stay as recorded; the digest covers the
30 days ending yesterday and says by how many days the dates were shifted.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from importlib import resources
from pathlib import Path

import sqlite_utils

from listener import pipeline, store
from listener.app.demo.retime import shift_payload, shift_to
from listener.config import Channel, Settings, load_settings
from listener.files import write_atomic
from listener.replay import ReplayServer
from reports.alerts import AlertOutcome, check_alerts
from reports.digest import Digest

DEMO_DAYS = 30
# Alerts are checked apart, at each midnight of the digest's days (replay_alert_checks). No emerging
# topics: clustering would add about a tenth to the demo's time (and to the test session's).
DEMO_STEPS = ("collect", "classify", "digest")
CONTENT_TYPES = {".xml": "application/xml", ".rss": "application/rss+xml", ".json": "application/feed+json"}
JSON = "application/json; charset=utf-8"
_HN = "/hn/search_by_date?query=hiring&tags=story%2C%28author__whoishiring%2Cauthor_whoishiring%29&hitsPerPage=100&page="
_HOOT = "/mastodon/api/v1/timelines/tag/hoot"
_BSKY = "/bluesky/xrpc/"
_HTML = "text/html; charset=utf-8"
# Request path -> (file in social/, extra response headers); {base} is the server's address.
SOCIAL_ROUTES = {
    _HN + "0": ("algolia_search_by_date_whoishiring_page0.json", {}),
    _HN + "1": ("algolia_search_by_date_whoishiring_page1.json", {}),
    _HN + "2": ("algolia_search_by_date_whoishiring_page8_empty.json", {}),
    _HOOT + "?limit=40": ("tag_timeline_hoot.json",
                          {"Link": f'<{{base}}{_HOOT}?max_id=117020593741189701>; rel="next"'}),
    _HOOT + "?max_id=117020593741189701": ("tag_timeline_paged_past_end_empty.json", {}),
    # Reddit without API credentials reads the subreddit's .rss (here: a real r/worldnews feed)
    "/reddit/r/worldnews/new.rss?limit=100": ("reddit_worldnews_new.rss", {"Content-Type": "application/atom+xml"}),
    _BSKY + "app.bsky.feed.searchPosts?q=bluesky&sort=latest&limit=100": ("bluesky_searchPosts.json", {}),
    _BSKY + "app.bsky.feed.searchPosts?q=bluesky&sort=latest&limit=100&cursor=xxxxxxx": ("bluesky_searchPosts_end.json", {}),
    "/forum/viewforum.php?f=2": ("forum_phpbb3_viewforum.html", {"Content-Type": _HTML}),
    "/forum/viewtopic.php?f=2&t=7": ("forum_phpbb3_viewtopic_page1.html", {"Content-Type": _HTML}),
    "/forum/viewtopic.php?f=2&t=7&start=2": ("forum_phpbb3_viewtopic_page2.html", {"Content-Type": _HTML}),
    "/forum/viewtopic.php?f=2&t=3": ("forum_phpbb3_viewtopic_t3.html", {"Content-Type": _HTML}),
}
# Each bundled file -> the last day (UTC) its source posted, as recorded: the demo moves every date of
# the file by the days from there to yesterday (all files of one source by the same days).
LAST_DAY = {
    "daringfireball.json": date(2017, 6, 27),
    "pixelenvy.json": date(2018, 2, 13),
    "discourse_t_2144.rss": date(2026, 1, 21),
    "github_blog.xml": date(2023, 7, 28),
    "lobsters.xml": date(2021, 1, 15),
    "schneier.xml": date(2019, 8, 21),
    "xkcd.xml": date(2016, 9, 12),
    "youtube_channel.xml": date(2018, 2, 20),
    "algolia_search_by_date_whoishiring_page0.json": date(2023, 9, 1),
    "algolia_search_by_date_whoishiring_page1.json": date(2023, 9, 1),
    "algolia_search_by_date_whoishiring_page8_empty.json": date(2023, 9, 1),
    "tag_timeline_hoot.json": date(2026, 8, 1),
    "tag_timeline_paged_past_end_empty.json": date(2026, 8, 1),
    "reddit_worldnews_new.rss": date(2023, 9, 2),
    "bluesky_searchPosts.json": date(2023, 4, 24),
    "bluesky_searchPosts_end.json": date(2023, 4, 24),
    "forum_phpbb3_viewforum.html": date(2026, 11, 18),
    "forum_phpbb3_viewtopic_page1.html": date(2026, 11, 18),
    "forum_phpbb3_viewtopic_page2.html": date(2026, 11, 18),
    "forum_phpbb3_viewtopic_t3.html": date(2026, 11, 18),
}
WEBHOOK = "/hooks/alerts"  # the demo's alert channel posts here, on its own loopback server
# The demo logs in to its own loopback "Bluesky" with these; real use reads them from the environment.
DEMO_ENVIRON = {"BLUESKY_HANDLE": "demo.listener.test", "BLUESKY_APP_PASSWORD": "demo-app-password"}
_SESSION = json.dumps({
    "did": "did:plc:listenerdemo", "handle": "demo.listener.test",
    # unsigned demo tokens that expire in 2100: the spider only reads their "exp"
    "accessJwt": "eyJhbGciOiJub25lIn0." + base64.urlsafe_b64encode(b'{"exp": 4102444800}').decode().rstrip("=") + ".",
    "refreshJwt": "eyJhbGciOiJub25lIn0." + base64.urlsafe_b64encode(b'{"exp": 4102444800}').decode().rstrip("=") + ".",
})


@dataclass
class DemoResult:
    settings_path: Path
    db_path: Path
    digest: Digest
    paths: list[Path]
    posts: int
    sources: int
    note: str = ""                     # the digest's "demo data, dates shifted by ..." line
    deliveries: list = field(default_factory=list)
    failed: list[pipeline.SourceOutcome] = field(default_factory=list)  # bundled sources that failed
    alerts: list[tuple[date, AlertOutcome]] = field(default_factory=list)  # (day judged, alert) that fired
    alert_files: list[Path] = field(default_factory=list)    # what the alert webhook received, one file per alert

    @property
    def errors(self) -> list[str]:
        """One line per failed source, and per alert delivery that failed."""
        return [f"error: source {o.name}: {o.error}" for o in self.failed] + \
            [f"error: alert {a.rule}: {d.error}" for _, a in self.alerts for d in a.deliveries if not d.ok]


def shifts(yesterday: date) -> dict[str, int]:
    """Days each bundled file's dates move so that its source's last day is ``yesterday``."""
    return {name: shift_to(last, yesterday) for name, last in LAST_DAY.items()}


def shift_note(days: dict[str, int], yesterday: date) -> str:
    """The line the demo's digests carry under their title."""
    lo, hi = min(days.values()), max(days.values())
    span = f"{lo:,}" if lo == hi else f"{lo:,} to {hi:,}"
    return (f"Demo data, dates shifted by {span} days: real posts recorded from {min(LAST_DAY.values()).year} "
            f"to {max(LAST_DAY.values()).year}, each source's moved by whole days so that its last day is "
            f"{yesterday.isoformat()}")


def replay_alert_checks(db: sqlite_utils.Database, settings: Settings, last_day: date, days: int = DEMO_DAYS
                        ) -> list[tuple[date, AlertOutcome]]:
    """The alert rules checked as a daemon would have checked them at each midnight (UTC) after the
    ``days`` ending ``last_day`` (a 24-hour rule's window is then one day of the digest): the ones that
    fired, with the day they judged."""
    fired = []
    for i in range(days - 1, -1, -1):
        day = last_day - timedelta(days=i)
        at = datetime.combine(day + timedelta(days=1), time(), tzinfo=timezone.utc)
        fired += [(day, o) for o in check_alerts(db, settings, now=at, send=True) if o.fired]
    return fired


def run_demo(work_dir: Path, *, now: datetime, quiet: bool = False, channel: Channel | None = None) -> DemoResult:
    """Serve the bundled payloads re-timed to end yesterday, run one cycle on them, write a digest of the
    30 days ending yesterday in ``work_dir``, and replay the daily alert checks of those days; what the
    alert webhook (on the same loopback server) received is saved in ``work_dir/alerts``.

    Prints a line per source that failed (``DemoResult.errors``), unless ``quiet``: then nothing.
    """
    package = resources.files("listener.app.demo")
    work_dir.mkdir(parents=True, exist_ok=True)
    yesterday = pipeline.yesterday(now)
    days = shifts(yesterday)
    note = shift_note(days, yesterday)
    with ReplayServer() as server:
        for item in sorted((package / "feeds").iterdir(), key=lambda p: p.name):
            suffix = Path(item.name).suffix
            if suffix in CONTENT_TYPES:
                body = shift_payload(item.read_bytes(), days[item.name])
                server.add(f"/{item.name}", body, headers={"Content-Type": CONTENT_TYPES[suffix]},
                           etag=f'"{hashlib.sha256(body).hexdigest()[:16]}"')
        for path, (name, headers) in SOCIAL_ROUTES.items():
            extra = {k: v.replace("{base}", server.base_url) for k, v in headers.items()}
            server.add(path, shift_payload((package / "social" / name).read_bytes(), days[name]),
                       headers={"Content-Type": JSON, **extra})
        server.add(_BSKY + "com.atproto.server.createSession", _SESSION, headers={"Content-Type": JSON})
        server.add(WEBHOOK, b"ok\n", headers={"Content-Type": "text/plain"})
        template = (package / "settings.toml").read_text(encoding="utf-8")
        settings_path = write_atomic(work_dir / "settings.toml",
                                     template.replace("{base}", server.base_url).replace("{note}", note))
        settings = load_settings(settings_path)
        db = store.open_db(settings.db_path)
        report = pipeline.cycle(db, settings, now=now, steps=DEMO_STEPS, environ=DEMO_ENVIRON, day=yesterday,
                                days=DEMO_DAYS, channels=[channel] if channel else [])
        alerts = replay_alert_checks(db, settings, yesterday)
        received = [h.body for h in server.hits(WEBHOOK) if h.method == "POST"]
    alert_files = []
    for body in received:  # as the webhook received it; named by rule and the end of its window
        sent = json.loads(body)
        name = f"{sent['rule']}-{sent['window']['end'][:10]}.json"
        alert_files.append(write_atomic(work_dir / "alerts" / name, body))
    result = DemoResult(settings_path=settings_path.resolve(), db_path=settings.db_path, digest=report.digest.digest,
                        paths=report.digest.paths, posts=store.count_posts(db), sources=len(settings.sources),
                        note=note, deliveries=report.digest.deliveries, failed=report.failed, alerts=alerts,
                        alert_files=alert_files)
    if not quiet:
        for line in result.errors:  # the bundled feeds should never fail; say so loudly if one does
            print(line)
    return result
