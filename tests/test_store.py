"""The store on real SQLite files: migrations, WAL, upserts, FTS sync, concurrent reader."""

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


def test_migrations_recorded_and_idempotent(tmp_path):
    path = tmp_path / "a.db"
    db = store.open_db(path)
    applied = store.applied_migrations(db)
    assert applied[0] == "0001_initial" and applied == [m.name for m in store.migrations._migrations]
    assert {"0002_source_state", "0003_scheduler", "0004_models"} <= set(applied)
    assert "0005_search" in applied and not store.migrations.pending(db)
    db.close()
    db = store.open_db(path)
    assert store.applied_migrations(db) == applied
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA busy_timeout").fetchone()[0] == store.BUSY_TIMEOUT_MS
    assert {"posts", "mentions", "sources", "runs", "posts_fts"} <= set(db.table_names())
    cols = {c.name for c in db["posts"].columns}
    assert {"score", "comments", "likes", "shares", "published_at", "fetched_at", "language"} <= cols


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


def test_source_state_migration_upgrades_an_old_database_in_place(tmp_path):
    """A 0001 database with a source row gains the state columns; the row stays, active."""
    import sqlite_utils

    path = tmp_path / "old.db"
    old = sqlite_utils.Database(path)
    store.migrations.apply(old, stop_before="0002_source_state")
    old.execute("INSERT INTO sources (name, type, url, etag) VALUES ('a', 'feed', 'https://x/', '\"e\"')")
    old.conn.commit()
    old.close()
    db = store.open_db(path)
    state = store.source_state(db, "a")
    assert (state.etag, state.high_water, state.session, state.active) == ('"e"', None, None, True)


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


def test_search_facets_migration_indexes_existing_posts(tmp_path):
    """A database from before 0007 gains facets for every post, and field filters find them."""
    import sqlite_utils

    from listener import search

    path = tmp_path / "old.db"
    old = sqlite_utils.Database(path)
    store.migrations.apply(old, stop_before="0007_search_facets")
    old.execute("INSERT INTO posts (id, source, guid, url, title, text, fetched_at, posted_at, content_hash, "
                "language, sentiment_label) VALUES (1, 'hn', 'g1', 'https://www.example.com/a', 'Firefox crash', "
                "'it crashed', 't', '2026-11-02T10:00:00Z', 'h', 'en', 'negative')")
    old.execute("INSERT INTO mentions (post_id, product, alias) VALUES (1, 'Firefox', 'firefox')")
    old.execute("INSERT INTO post_topics (post_id, topic) VALUES (1, 'bugs')")
    old.conn.commit()
    old.close()
    db = store.open_db(path)
    assert "0007_search_facets" in store.applied_migrations(db)
    for q in ("product:firefox sentiment:negative", "site:example.com topic:bugs lang:en source:hn",
              "published:2026-11-02 crash", "published:[2026-11-01 TO *]"):
        page = search.search(db, search.prepare(db, q))
        assert [h.id for h in page.hits] == [1] and page.total == 1, q
    assert search.search(db, search.prepare(db, "published:[* TO 2026-11-01]")).total == 0
    db.execute("DELETE FROM posts WHERE id = 1")  # the new triggers keep the index in step
    assert db.execute("SELECT count(*) FROM posts_fts WHERE posts_fts MATCH 'crash'").fetchone()[0] == 0


def test_engagement_facets_migration(tmp_path):
    """A database from before 0008 gains engagement steps for every post."""
    import sqlite_utils

    from listener import search

    path = tmp_path / "old.db"
    old = sqlite_utils.Database(path)
    store.migrations.apply(old, stop_before="0008_engagement_facets")
    store.upsert_posts(old, [{"source": "hn", "guid": g, "url": None, "author": None, "title": None,
                              "text": "firefox", "published_at": "2026-11-02T10:00:00Z", "language": "en",
                              "score": score, "comments": 3, "likes": None, "shares": None}
                             for g, score in (("a", 120), ("b", 1), ("c", None))], now="2026-11-21T00:00:00Z")
    old.execute("UPDATE posts SET facets = replace(facets, ' zzg', ' zzx')")  # as 0007 wrote them: no steps
    old.conn.commit()
    old.close()
    db = store.open_db(path)
    assert "0008_engagement_facets" in store.applied_migrations(db)
    for q, expected in (("engagement:[100 TO *]", ["a"]), ("engagement:[2 TO 4]", ["b", "c"]), ("engagement:[5 TO *]", ["a"]), ("engagement:[1 TO 1]", [])):
        plan = search.prepare(db, q)
        assert plan.fts_only, q
        page = search.search(db, plan)
        assert sorted(db.execute("SELECT guid FROM posts WHERE id = ?", [h.id]).fetchone()[0] for h in page.hits) == expected, q
