"""``listener demo``: one full cycle against bundled real feeds served on 127.0.0.1.

The feeds in ``feeds/`` and the API answers in ``social/`` are real payloads
saved from public sites (provenance and licences in each folder's ``README.md``). They were recorded years apart, so the
demo's digest covers the busiest 30-day window in them rather than yesterday.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from importlib import resources
from pathlib import Path

from listener import pipeline, store
from listener.config import Channel, load_settings
from listener.files import write_atomic
from listener.replay import ReplayServer
from reports.digest import Digest

DEMO_DAYS = 30
# The demo's cycle has no emerging-topics or alerts step (its digest and output stay as they have been).
DEMO_STEPS = ("collect", "classify", "digest")
CONTENT_TYPES = {".xml": "application/xml", ".rss": "application/rss+xml"}
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
    deliveries: list = field(default_factory=list)
    failed: list[pipeline.SourceOutcome] = field(default_factory=list)  # bundled sources that failed

    @property
    def errors(self) -> list[str]:
        """One line per failed source."""
        return [f"error: source {o.name}: {o.error}" for o in self.failed]


def busiest_window(db, days: int) -> date | None:
    """The last day of the ``days``-day window holding the most product mentions."""
    per_day: dict[str, int] = {}
    for row in store.daily_mentions(db, "0000", "9999"):
        per_day[row["day"]] = per_day.get(row["day"], 0) + row["n"]
    if not per_day:
        return None
    best, best_end = -1, None
    for end in sorted(per_day):
        end_d = date.fromisoformat(end)
        start = (end_d - timedelta(days=days - 1)).isoformat()
        total = sum(n for d, n in per_day.items() if start <= d <= end)
        if total > best:
            best, best_end = total, end_d
    return best_end


def run_demo(work_dir: Path, *, now: datetime, quiet: bool = False, channel: Channel | None = None) -> DemoResult:
    """Serve the bundled feeds, run one cycle on them and write a digest in ``work_dir``.

    Prints a line per source that failed (``DemoResult.errors``), unless ``quiet``: then nothing.
    """
    package = resources.files("listener.app.demo")
    feeds = package / "feeds"
    work_dir.mkdir(parents=True, exist_ok=True)
    with ReplayServer() as server:
        for item in sorted(feeds.iterdir(), key=lambda p: p.name):
            suffix = Path(item.name).suffix
            if suffix in CONTENT_TYPES:
                with resources.as_file(item) as path:
                    server.add_file(f"/{item.name}", path, CONTENT_TYPES[suffix])
        for path, (name, headers) in SOCIAL_ROUTES.items():
            extra = {k: v.replace("{base}", server.base_url) for k, v in headers.items()}
            server.add(path, (package / "social" / name).read_bytes(), headers={"Content-Type": JSON, **extra})
        server.add(_BSKY + "com.atproto.server.createSession", _SESSION, headers={"Content-Type": JSON})
        template = (package / "settings.toml").read_text(encoding="utf-8")
        settings_path = write_atomic(work_dir / "settings.toml", template.replace("{base}", server.base_url))
        settings = load_settings(settings_path)
        db = store.open_db(settings.db_path)
        report = pipeline.cycle(db, settings, now=now, steps=DEMO_STEPS, environ=DEMO_ENVIRON,
                                day=lambda db: busiest_window(db, DEMO_DAYS) or pipeline.yesterday(now),
                                days=DEMO_DAYS, channels=[channel] if channel else [])
    result = DemoResult(settings_path=settings_path.resolve(), db_path=settings.db_path, digest=report.digest.digest,
                        paths=report.digest.paths, posts=store.count_posts(db), sources=len(settings.sources),
                        deliveries=report.digest.deliveries, failed=report.failed)
    if not quiet:
        for line in result.errors:  # the bundled feeds should never fail; say so loudly if one does
            print(line)
    return result
