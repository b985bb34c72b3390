"""`listener demo`: the whole cycle on the bundled real feeds, twice, without duplicates."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone

import pytest
from click.testing import CliRunner

from listener import store
from listener.app.cli import cli

from tests.helpers import DEMO_FEEDS, DEMO_SOCIAL


@pytest.mark.slow
def test_demo_runs_the_full_cycle_and_is_repeatable(demo_run, tmp_path, capfd, monkeypatch):
    r = demo_run.result
    assert r.exit_code == 0, r.output
    assert "error:" not in r.output
    html_path = demo_run.digest_html
    assert html_path.exists() and html_path.parent == demo_run.dir / "digests"
    html = html_path.read_text()
    # the busiest 30-day window of the bundled feeds is Lobsters' Ruby tag in Dec 2020
    assert "Digest for 2020-11-26 to 2020-12-25 (30 days)" in html
    # Ruby's 9 mentions were 60.0% of 15; the Dec 2020 "Who is hiring?" story links to a github.io
    # page, so GitHub gains one mention in the window: 9 of 16
    assert "<td>Ruby</td>" in html and "<td>56.2%</td>" in html
    # 83 feed entries (2 of them through the reddit source's .rss), 40 Hacker News stories (two
    # Algolia pages), 1 Mastodon status, 1 Bluesky post, 4 posts in 2 threads of the phpBB forum
    assert "Stored 129 posts from 11 bundled sources" in r.output

    work = demo_run.copy(tmp_path / "demo")  # the second run changes the folder
    db = store.open_db(work / "demo.db")
    assert store.count_posts(db) == 129
    assert dict(db.execute("SELECT source, count(*) FROM posts WHERE source IN ('hn-hiring', 'mastodon-hoot', "
                           "'reddit-worldnews', 'bluesky-search', 'forum-phpbb') GROUP BY source").fetchall()) == \
        {"hn-hiring": 40, "mastodon-hoot": 1, "reddit-worldnews": 2, "bluesky-search": 1, "forum-phpbb": 4}
    assert db.execute("SELECT count(*) FROM posts WHERE classified_at IS NULL").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM sources WHERE last_error IS NOT NULL").fetchone()[0] == 0

    # the second run, through the library (the session's first went through the CLI): quiet, it prints
    # nothing and returns its errors (the forum's board answers 404 this time), and adds no duplicates
    from listener.app import demo

    monkeypatch.delitem(demo.SOCIAL_ROUTES, "/forum/viewforum.php?f=2")
    capfd.readouterr()
    again = demo.run_demo(work, now=datetime(2026, 11, 24, 6, tzinfo=timezone.utc), quiet=True)
    assert capfd.readouterr() == ("", "")
    assert len(again.errors) == 1 and again.errors[0].startswith("error: source forum-phpbb: http://127.0.0.1:") and \
        again.errors[0].endswith("/forum/viewforum.php?f=2: HTTP 404 Not Found")
    assert again.paths[0].exists()
    assert store.count_posts(db) == 129
    # the settings it wrote can be used with every other command
    r3 = CliRunner().invoke(cli, ["--config", str(work / "settings.toml"), "sources"])
    assert r3.exit_code == 0 and "lobsters-ruby" in r3.output


def test_bundled_feeds_match_their_provenance():
    readme = (DEMO_FEEDS / "README.md").read_text()
    files = [p for p in DEMO_FEEDS.iterdir() if p.name != "README.md"]
    assert len(files) == 6
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
