"""The store on real SQLite files: upserts, FTS sync, source state, runs, concurrent reader (migrations: test_migrations.py)."""

from __future__ import annotations

import sqlite3
import threading

from listener import store
from tests.helpers.posts import find


def post(guid, **kw):
    base = {"source": "s", "guid": guid, "url": f"https://example.org/{guid}", "author": "a",
            "title": f"title {guid}", "text": f"text of {guid}", "published_at": "2026-11-20T10:00:00Z",
            "language": None, "score": None, "comments": None, "likes": None, "shares": None}
    base.update(kw)
    return base


def test_upsert_counts_and_in_place_update(tmp_path):
    db = store.open_db(tmp_path / "a.db")
    c = store.upsert_posts(db, [post("1"), post("2"), post("2", title="dup in batch")], now="2026-11-21T00:00:00Z")
    assert (c.new, c.updated, c.unchanged) == (2, 0, 0)
    assert db.execute("SELECT title FROM posts WHERE guid='2'").fetchone() == ("dup in batch",)
    c = store.upsert_posts(db, [post("1"), post("2", title="edited", score=5)], now="2026-11-22T00:00:00Z")
    assert (c.new, c.updated, c.unchanged) == (0, 1, 1)
    row = db.execute("SELECT title, score, fetched_at, updated_at FROM posts WHERE guid='2'").fetchone()
    assert row == ("edited", 5, "2026-11-21T00:00:00Z", "2026-11-22T00:00:00Z")
    assert store.count_posts(db) == 2
    # same guid in another source is another post
    store.upsert_posts(db, [post("1", source="other")], now="2026-11-22T00:00:00Z")
    assert store.count_posts(db) == 3


def test_fts_follows_inserts_updates_and_deletes(tmp_path):
    db = store.open_db(tmp_path / "a.db")
    store.upsert_posts(db, [post("1", text="the zeppelin arrives")], now="2026-11-21T00:00:00Z")
    assert [h.title for h in find(db, "zeppelin")] == ["title 1"]
    store.upsert_posts(db, [post("1", text="the airship arrives")], now="2026-11-22T00:00:00Z")
    assert find(db, "zeppelin") == []
    assert len(find(db, "airship")) == 1
    with db.atomic():
        db.execute("DELETE FROM posts")
    assert find(db, "airship") == []


def test_posted_at_falls_back_to_fetch_time(tmp_path):
    db = store.open_db(tmp_path / "a.db")
    store.upsert_posts(db, [post("1", published_at=None)], now="2026-11-21T08:00:00Z")
    assert db.execute("SELECT posted_at FROM posts").fetchone() == ("2026-11-21T08:00:00Z",)


def test_reader_is_not_blocked_by_an_open_write_transaction(tmp_path):
    path = tmp_path / "a.db"
    writer = store.open_db(path)
    store.upsert_posts(writer, [post("1")], now="2026-11-21T00:00:00Z")
    writer.conn.execute("BEGIN IMMEDIATE")
    writer.conn.execute("INSERT INTO runs (kind, started_at) VALUES ('collect', 'x')")
    result = {}

    def read():
        reader = sqlite3.connect(str(path), timeout=0.1)
        result["n"] = reader.execute("SELECT count(*) FROM posts").fetchone()[0]

    t = threading.Thread(target=read)
    t.start()
    t.join(5)
    writer.conn.execute("COMMIT")
    assert result == {"n": 1}


def test_record_fetch_keeps_validators_on_304_and_error(tmp_path):
    from listener.config import Source

    db = store.open_db(tmp_path / "a.db")
    store.sync_sources(db, [Source("s", "feed", "https://x/feed", 60)])
    store.record_fetch(db, "s", now="t1", status=200, etag='"a"', last_modified="Mon")
    store.record_fetch(db, "s", now="t2", status=304)
    assert store.source_state(db, "s") == store.SourceState("s", '"a"', "Mon")
    store.record_fetch(db, "s", now="t3", status=500, error="HTTP 500")
    assert store.source_state(db, "s") == store.SourceState("s", '"a"', "Mon")
    row = db.execute("SELECT last_success_at, last_error, last_status FROM sources").fetchone()
    assert row == ("t2", "HTTP 500", 500)
    # a new URL is another resource: its old validators must not be sent
    store.sync_sources(db, [Source("s", "feed", "https://x/other", 60)])
    assert store.source_state(db, "s") == store.SourceState("s", None, None)


def test_engagement_change_keeps_classification_and_late_publish_date_moves_post(tmp_path):
    db = store.open_db(tmp_path / "a.db")
    store.upsert_posts(db, [post("1", score=1)], now="2026-11-21T00:00:00Z")
    with db.atomic():
        db.execute("UPDATE posts SET classified_at = 'x', sentiment_label = 'positive'")
    c = store.upsert_posts(db, [post("1", score=9)], now="2026-11-22T00:00:00Z")
    assert (c.new, c.updated, c.unchanged) == (0, 1, 0)
    assert db.execute("SELECT score, classified_at, updated_at FROM posts").fetchone() == (9, "x", None)
    # a feed that omits the number later does not erase it
    c = store.upsert_posts(db, [post("1", score=None)], now="2026-11-22T01:00:00Z")
    assert c.unchanged == 1 and db.execute("SELECT score FROM posts").fetchone() == (9,)
    # first seen without a date, then with one: reports move it to its real day
    store.upsert_posts(db, [post("2", published_at=None)], now="2026-11-21T08:00:00Z")
    store.upsert_posts(db, [post("2", published_at="2026-11-01T10:00:00Z")], now="2026-11-22T08:00:00Z")
    assert db.execute("SELECT posted_at FROM posts WHERE guid='2'").fetchone() == ("2026-11-01T10:00:00Z",)


def test_many_posts_in_one_batch_cross_the_lookup_chunk(tmp_path):
    db = store.open_db(tmp_path / "a.db")
    batch = [post(str(i)) for i in range(1234)]
    assert store.upsert_posts(db, batch, now="t").new == 1234
    batch[700]["title"] = "changed"
    c = store.upsert_posts(db, batch, now="t2")
    assert (c.new, c.updated, c.unchanged) == (0, 1, 1233)


def test_410_marks_inactive_at_once_404_after_three_and_success_revives(tmp_path):
    db = store.open_db(tmp_path / "a.db")
    from listener.config import Source

    store.sync_sources(db, [Source("a", "hackernews", "https://x", 60), Source("b", "feed", "https://y", 60)])
    store.record_fetch(db, "a", now="t1", status=410, error="HTTP 410 Gone")
    assert not store.source_state(db, "a").active
    for i in range(store.NOT_FOUND_LIMIT):
        assert store.source_state(db, "b").active
        store.record_fetch(db, "b", now=f"t{i}", status=404, error="HTTP 404 Not Found")
    assert not store.source_state(db, "b").active
    store.record_fetch(db, "b", now="t9", status=200, high_water="0042")
    assert store.source_state(db, "b").active and store.source_state(db, "b").high_water == "0042"
    store.record_fetch(db, "b", now="t10", status=500, error="HTTP 500", high_water="0099")
    assert store.source_state(db, "b").high_water == "0042"  # not moved by a failed run
    # editing what a source fetches forgets its mark and revives it
    store.sync_sources(db, [Source("a", "hackernews", "https://x2", 60)])
    assert store.source_state(db, "a").active


def test_runs_left_running_by_a_killed_process_are_closed(tmp_path):
    db = store.open_db(tmp_path / "a.db")
    old = store.start_run(db, "collect", now="2026-11-23T01:00:00Z")
    recent = store.start_run(db, "collect", now="2026-11-23T05:59:00Z")
    assert store.close_stale_runs(db, started_before="2026-11-23T05:00:00Z", now="2026-11-23T06:00:00Z") == 1
    rows = {r["id"]: (r["status"], r["finished_at"]) for r in store.recent_runs(db)}
    assert rows == {old.id: ("interrupted", "2026-11-23T06:00:00Z"), recent.id: ("running", None)}


def test_posts_by_id_keeps_the_order_asked_for_across_lookup_chunks(tmp_path):
    db = store.open_db(tmp_path / "a.db")
    store.upsert_posts(db, [post(str(i), score=i) for i in range(1200)], now="t")
    ids = [*range(1200, 0, -2), 99999]  # newest first, every other one, and an id of no post
    found = store.posts_by_id(db, ids)
    assert [r["id"] for r in found] == ids[:-1]
    assert found[0]["title"] == "title 1199" and found[0]["engagement"] == 1199


def test_a_reply_keeps_its_parent_link_and_it_is_not_part_of_the_content(tmp_path):
    """``parent_url`` (a comment's thread) is stored with the post, shown by the API and the post page,
    and is not part of the content hash: a re-fetch of the same reply is unchanged."""
    from datetime import date

    from fastapi.testclient import TestClient

    from listener.app.web import create_app
    from listener.config import load_settings

    path = tmp_path / "settings.toml"
    path.write_text('[store]\npath = "s.db"\n', encoding="utf-8")
    settings = load_settings(path)
    db = store.open_db(settings.db_path)
    reply = {"source": "r", "guid": "t1_x", "url": "https://www.reddit.com/r/a/comments/1/t/x/", "title": "Re: t",
             "text": "same here", "published_at": "2026-11-22T10:00:00Z",
             "parent_url": "https://www.reddit.com/r/a/comments/1/t/"}
    assert store.upsert_posts(db, [reply], now="2026-11-23T00:00:00Z").new == 1
    again = store.upsert_posts(db, [reply], now="2026-11-23T01:00:00Z")
    assert (again.new, again.updated, again.unchanged) == (0, 0, 1)
    (pid,) = db.execute("SELECT id FROM posts").fetchone()
    assert store.get_post(db, pid)["parent_url"] == reply["parent_url"]
    db.close()
    client = TestClient(create_app(settings, today=lambda: date(2026, 11, 23)))
    assert client.get(f"/api/posts/{pid}").json()["parent_url"] == reply["parent_url"]
    assert f'href="{reply["parent_url"]}" rel="noopener noreferrer nofollow">in reply to</a>' in client.get(f"/posts/{pid}").text
