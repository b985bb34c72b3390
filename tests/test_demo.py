"""`listener demo`: the whole cycle on the bundled real feeds, twice, without duplicates."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from click.testing import CliRunner

from listener import store
from listener.cli import cli

DEMO_FEEDS = Path(__file__).resolve().parent.parent / "listener" / "demo" / "feeds"


def test_demo_runs_the_full_cycle_and_is_repeatable(tmp_path):
    work = tmp_path / "demo"
    r = CliRunner().invoke(cli, ["--now", "2026-11-23T06:00:00Z", "demo", "--dir", str(work)])
    assert r.exit_code == 0, r.output
    assert "error:" not in r.output
    digest_line = [ln for ln in r.output.splitlines() if ln.startswith("Digest: ")]
    html_path = Path(digest_line[0].split(": ", 1)[1])
    assert html_path.exists() and html_path.parent == work / "digests"
    html = html_path.read_text()
    # the busiest 30-day window of the bundled feeds is Lobsters' Ruby tag in Dec 2020
    assert "Digest for 2020-11-26 to 2020-12-25 (30 days)" in html
    assert "<td>Ruby</td>" in html and "<td>60.0%</td>" in html
    assert "Stored 83 posts from 7 bundled feeds" in r.output

    db = store.open_db(work / "demo.db")
    assert store.count_posts(db) == 83
    assert db.execute("SELECT count(*) FROM posts WHERE classified_at IS NULL").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM sources WHERE last_error IS NOT NULL").fetchone()[0] == 0

    r2 = CliRunner().invoke(cli, ["--now", "2026-11-24T06:00:00Z", "demo", "--dir", str(work)])
    assert r2.exit_code == 0, r2.output
    assert store.count_posts(db) == 83
    # the settings it wrote can be used with every other command
    r3 = CliRunner().invoke(cli, ["--config", str(work / "settings.toml"), "sources"])
    assert r3.exit_code == 0 and "lobsters-ruby" in r3.output


def test_bundled_feeds_match_their_provenance():
    readme = (DEMO_FEEDS / "README.md").read_text()
    files = [p for p in DEMO_FEEDS.iterdir() if p.name != "README.md"]
    assert len(files) == 7
    for p in files:
        digest = hashlib.sha256(p.read_bytes()).hexdigest()
        assert f"`{p.name}` | {p.stat().st_size} | `{digest[:16]}" in readme
        assert "MIT" in readme.split(f"`{p.name}`", 1)[1].split("\n", 1)[0]


def test_entry_ids_do_not_depend_on_the_server_address(server):
    """Relative Atom ids (Reddit's "t3_...") must not be resolved against the feed URL."""
    from spiders.feedparse import parse_feed

    body = (DEMO_FEEDS / "reddit_worldnews.xml").read_bytes()
    a = parse_feed(body, source="r", url="http://127.0.0.1:1111/feed.xml")
    b = parse_feed(body, source="r", url="http://127.0.0.1:2222/feed.xml")
    assert [i.guid for i in a.items] == [i.guid for i in b.items] == ["t3_167sdt8", "t3_167ucb5"]
