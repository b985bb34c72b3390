"""`listener demo`: the whole cycle on the bundled real feeds, twice, without duplicates."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone

import jsonschema
import pytest
from click.testing import CliRunner

from listener import store
from listener.app.cli import cli

from tests.helpers import DEMO_FEEDS, DEMO_SOCIAL, ROOT


@pytest.mark.slow
def test_demo_runs_the_full_cycle_and_is_repeatable(demo_run, tmp_path, capfd, monkeypatch):
    r = demo_run.result
    assert r.exit_code == 0, r.output
    assert "error:" not in r.output
    html_path = demo_run.digest_html
    assert html_path.exists() and html_path.parent == demo_run.dir / "digests"
    html = html_path.read_text()
    # --now 2026-11-23T06:00Z: every source's last day is moved onto 2026-11-22, the digest's last day
    assert "Digest for 2026-10-24 to 2026-11-22 (30 days)" in html
    # 83 feed entries (2 of them through the reddit source's .rss), 68 JSON Feed items, 40 Hacker News
    # stories (two Algolia pages), 1 Mastodon status, 1 Bluesky post, 4 posts in 2 threads of the phpBB forum
    assert "Stored 197 posts from 13 bundled sources" in r.output

    work = demo_run.copy(tmp_path / "demo")  # the second run changes the folder
    db = store.open_db(work / "demo.db")
    assert store.count_posts(db) == 197
    assert dict(db.execute("SELECT source, count(*) FROM posts WHERE source IN ('hn-hiring', 'mastodon-hoot', "
                           "'reddit-worldnews', 'bluesky-search', 'forum-phpbb', 'daring-fireball', 'pixel-envy') "
                           "GROUP BY source").fetchall()) == \
        {"hn-hiring": 40, "mastodon-hoot": 1, "reddit-worldnews": 2, "bluesky-search": 1, "forum-phpbb": 4,
         "daring-fireball": 48, "pixel-envy": 20}
    assert db.execute("SELECT count(*) FROM posts WHERE classified_at IS NULL").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM sources WHERE last_error IS NOT NULL").fetchone()[0] == 0

    # the second run, through the library (the session's first went through the CLI), an hour later: quiet,
    # it prints nothing and returns its errors (the forum's board answers 404 this time), adds no
    # duplicates and sends no alert again (the rules' cooldown)
    from listener.app import demo

    monkeypatch.delitem(demo.SOCIAL_ROUTES, "/forum/viewforum.php?f=2")
    capfd.readouterr()
    again = demo.run_demo(work, now=datetime(2026, 11, 23, 7, tzinfo=timezone.utc), quiet=True)
    assert capfd.readouterr() == ("", "")
    assert len(again.errors) == 1 and again.errors[0].startswith("error: source forum-phpbb: http://127.0.0.1:") and \
        again.errors[0].endswith("/forum/viewforum.php?f=2: HTTP 404 Not Found")
    assert again.paths[0].exists()
    assert store.count_posts(db) == 197
    assert again.alerts == [] and db.execute("SELECT count(*) FROM alerts").fetchone()[0] == 2
    # the settings it wrote can be used with every other command
    r3 = CliRunner().invoke(cli, ["--config", str(work / "settings.toml"), "sources"])
    assert r3.exit_code == 0 and "daring-fireball" in r3.output


def test_demo_digest_tells_the_story(demo_run):
    """Every section of the demo's digest has something to say: who is talked about, in what mood, about
    what, what changed and why, and the alerts that went out."""
    r = demo_run.result
    assert r.exit_code == 0, r.output
    d = json.loads(demo_run.digest_html.with_suffix(".json").read_text())
    jsonschema.validate(d, json.loads((ROOT / "reports" / "schemas" / "digest.schema.json").read_text()))
    note = "Demo data, dates shifted by 4 to 3,723 days"
    assert d["note"].startswith(note) and d["note"].endswith("so that its last day is 2026-11-22")
    assert note in demo_run.digest_html.read_text() and note in demo_run.digest_html.with_suffix(".md").read_text()
    assert note in r.output
    products = {p["name"]: p for p in d["products"]}
    assert list(products) == ["Apple", "Google", "Amazon", "Facebook", "Microsoft", "Uber"]
    # share of voice between every tracked product, ours the largest
    assert all(p["share_of_voice"] > 0.05 for p in products.values())
    assert max(products.values(), key=lambda p: p["share_of_voice"])["name"] == "Apple"
    for p in products.values():
        # a mood for each: some positive and some negative mentions, and each topic's sentiment
        assert p["positive"] and p["negative"] and p["net_sentiment"] is not None, p["name"]
        assert len(p["topics"]) >= 4 and all(t["positive"] + t["negative"] for t in p["topics"][:2]), p["name"]
        assert p["drivers"]["terms"] and p["drivers"]["examples"], p["name"]
    assert {t["topic"] for t in products["Apple"]["topics"]} == {"apps", "hardware", "business", "security", "privacy"}
    # the spikes, with their drivers: Apple's busiest day, and Uber's CEO resigning (real Daring Fireball
    # posts of 2017-06-22, moved to 2026-11-17)
    spikes = {(name, a["day"]): a for name, p in products.items() for a in p["alarms"] if a["kind"] == "spike"}
    assert set(spikes) == {("Apple", "2026-11-21"), ("Uber", "2026-11-17")}
    uber = spikes["Uber", "2026-11-17"]
    assert uber["metric"] == "volume" and uber["value"] == 4
    assert "Inside Travis Kalanick’s Resignation" in [e["title"] for e in uber["drivers"]["examples"]]
    assert uber["drivers"]["terms"] and uber["drivers"]["sources"] == [["daring-fireball", 4]]
    # the alerts: the daily checks replayed at each midnight fired on those two days, through the webhook
    assert "Alert uber-volume-spike for 2026-11-17: volume spike: 4 mentions vs about 0.5 expected" in r.output
    assert "Alert apple-volume-spike for 2026-11-21: volume spike: 6 mentions" in r.output
    sent = sorted((demo_run.dir / "alerts").iterdir())
    assert [p.name for p in sent] == ["apple-volume-spike-2026-11-22.json", "uber-volume-spike-2026-11-18.json"]
    payload = json.loads(sent[1].read_text())
    assert payload["event"] == "alert" and payload["product"] == "Uber"
    assert payload["window"] == {"start": "2026-11-17T00:00:00Z", "end": "2026-11-18T00:00:00Z"}
    assert payload["drivers"]["terms"] and len(payload["examples"]) == 3
    db = store.open_db(demo_run.dir / "demo.db")
    assert db.execute("SELECT count(*) FROM deliveries WHERE kind = 'alert' AND status = 'sent'").fetchone()[0] == 2
    # re-timed, not rewritten: the real post, its real time of day, moved by whole days
    row = db.execute("SELECT title, posted_at FROM posts WHERE url = "
                     "'https://daringfireball.net/linked/2017/06/21/kalanick-out'").fetchone()
    assert row == ("Uber Founder Travis Kalanick Resigns as C.E.O.", "2026-11-16T16:53:04Z")
    last = dict(db.execute("SELECT source, max(substr(posted_at, 1, 10)) FROM posts GROUP BY source").fetchall())
    assert set(last.values()) == {"2026-11-22"}, last


def test_retiming_moves_every_date_format_by_whole_days():
    from listener.app.demo.retime import shift_payload

    body = (b'<pubDate>Sun, 27 Dec 2020 02:44:15 -0600</pubDate> "date_published": "2017-06-26T19:22:44-04:00"'
            b' "created_at":"2023-09-01T15:00:25.000Z","created_at_i":1693580425 Mon Nov 16, 2026 9:12 am'
            b' <updated>2018-01-06T08:00</updated> see /2017/06/27/x and 2017-06-27 alone')
    out = shift_payload(body, 3)
    assert out == (b'<pubDate>Wed, 30 Dec 2020 02:44:15 -0600</pubDate> "date_published": "2017-06-29T19:22:44-04:00"'
                   b' "created_at":"2023-09-04T15:00:25.000Z","created_at_i":1693839625 Thu Nov 19, 2026 9:12 am'
                   b' <updated>2018-01-09T08:00</updated> see /2017/06/27/x and 2017-06-27 alone')
    assert shift_payload(body, 0) is body


def test_bundled_feeds_match_their_provenance():
    readme = (DEMO_FEEDS / "README.md").read_text()
    files = [p for p in DEMO_FEEDS.iterdir() if p.name != "README.md"]
    assert len(files) == 8
    for p in files:
        digest = hashlib.sha256(p.read_bytes()).hexdigest()
        assert f"`{p.name}` | {p.stat().st_size} | `{digest[:16]}" in readme
        assert "MIT" in readme.split(f"`{p.name}`", 1)[1].split("\n", 1)[0]


def test_bundled_api_answers_match_their_provenance():
    from listener.app.demo import SOCIAL_ROUTES

    readme = (DEMO_SOCIAL / "README.md").read_text()
    files = sorted(p.name for p in DEMO_SOCIAL.iterdir() if p.name != "README.md")
    assert files == sorted({name for name, _ in SOCIAL_ROUTES.values()})
    for name in files:
        data = (DEMO_SOCIAL / name).read_bytes()
        row = readme.split(f"`{name}` | {len(data)} | `{hashlib.sha256(data).hexdigest()[:16]}", 1)[1].split("\n")[0]
        assert row.rstrip().endswith(("| MIT |", "| BSD-3-Clause |", "| this project's licence |"))


def test_entry_ids_do_not_depend_on_the_server_address(server):
    """Relative Atom ids (Reddit's "t3_...") must not be resolved against the feed URL."""
    from spiders.feedparse import parse_feed

    body = (DEMO_SOCIAL / "reddit_worldnews_new.rss").read_bytes()
    a = parse_feed(body, source="r", url="http://127.0.0.1:1111/feed.xml")
    b = parse_feed(body, source="r", url="http://127.0.0.1:2222/feed.xml")
    assert [i.guid for i in a.items] == [i.guid for i in b.items] == ["t3_167sdt8", "t3_167ucb5"]
