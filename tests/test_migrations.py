"""Migrations: applied strictly in number order on a fresh database and on existing ones, including
databases made by the store of commit 257d2bb (tests/fixtures/store/make_main_257d2bb.py made them)."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
import sqlite_utils

from listener import search, store

FIXTURES = Path(__file__).parent / "fixtures" / "store"
MAIN_ORDER = ["0001_initial", "0002_source_state", "0004_models", "0005_search", "0006_alerts",
              "0007_search_facets", "0008_engagement_facets", "0003_scheduler"]  # as 257d2bb applied them


def number(name: str) -> int:
    return int(name.split("_", 1)[0])


def tables(path: Path) -> dict[str, list[tuple]]:
    """Every row of every table (FTS5 shadow tables included, the virtual table itself not), sorted."""
    conn = sqlite3.connect(path)
    names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                        "AND sql NOT LIKE 'CREATE VIRTUAL TABLE%'")]
    out = {}
    for name in names:
        cols = [r[1] for r in conn.execute(f"PRAGMA table_info([{name}])")]
        out[name] = sorted((tuple(zip(cols, r)) for r in conn.execute(f"SELECT * FROM [{name}]")), key=repr)
    conn.close()
    return out


def schema(path: Path) -> set[tuple]:
    conn = sqlite3.connect(path)
    out = set(conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master"))
    conn.close()
    return out


def copy(name: str, tmp_path: Path) -> Path:
    return Path(shutil.copy(FIXTURES / name, tmp_path / name))


def test_a_fresh_database_applies_every_migration_in_number_order(tmp_path):
    db = store.open_db(tmp_path / "fresh.db")
    applied = store.applied_migrations(db)
    assert applied == list(store.migrations.NAMES)
    assert [number(n) for n in applied] == list(range(1, len(applied) + 1))  # 0003 third, not last


def test_migrations_declared_out_of_order_are_applied_by_number(tmp_path):
    ran = []
    declared = [(name, lambda db, name=name: ran.append(name)) for name in ("0002_b", "0010_c", "0001_a")]
    db = sqlite_utils.Database(tmp_path / "a.db")
    store.migrations.in_number_order(declared).apply(db)
    assert ran == ["0001_a", "0002_b", "0010_c"]
    with pytest.raises(ValueError, match="0002_b and 0002_d share the number 2"):
        store.migrations.in_number_order([*declared, ("0002_d", lambda db: None)])


def same_rows(before: dict[str, list[tuple]], after: dict[str, list[tuple]], applied: int) -> None:
    """Every row of ``before`` is in ``after`` (compared on the columns it had), the FTS index aside;
    the migration record grew by ``applied``."""
    for table, rows in before.items():
        if table.startswith("posts_fts") or table == "_sqlite_migrations":
            continue
        columns = {c for row in rows for c, _ in row}
        assert [tuple(c for c in row if c[0] in columns) for row in after[table]] == rows, table
    old, new = before["_sqlite_migrations"], after["_sqlite_migrations"]
    assert set(old) <= set(new) and len(new) == len(old) + applied
    assert len(after["_sqlite_migrations"]) == len(before["_sqlite_migrations"]) + applied


SINCE_MAIN = ["0009_mention_sentiment", "0010_mention_labels", "0011_detected_language",
              "0012_mention_sentiment_facets", "0013_parent_url", "0014_copies",
              "0015_mention_rejects", "0016_report_reads", "0017_users",
              "0018_label_authors", "0019_alert_status", "0020_audit_undo", "0021_api_token_labels",
              "0022_mention_language"]   # declared after the fixture was made


def test_a_database_made_by_main_gets_only_the_later_migrations_and_keeps_every_row(tmp_path):
    path = copy("main-257d2bb.sqlite", tmp_path)
    before = tables(path)
    assert all(before[t] for t in ("posts", "mentions", "post_topics", "post_labels", "emerging_topics", "sources",
                                   "runs", "saved_searches", "alerts", "alert_checkpoints", "deliveries", "jobs",
                                   "daemon"))  # the fixture fills every table
    db = sqlite_utils.Database(path)
    assert store.applied_migrations(db) == MAIN_ORDER
    assert store.migrations.pending(db) == SINCE_MAIN
    db.close()
    db = store.open_db(path)
    assert store.applied_migrations(db) == MAIN_ORDER + SINCE_MAIN
    assert store.migrations.pending(db) == []
    db.close()
    after = tables(path)
    same_rows(before, after, len(SINCE_MAIN))
    for table in before.keys() - {"mentions", "posts", "emerging_topics", "alerts", "_sqlite_migrations"}:
        assert after[table] == before[table], table   # only mentions, posts, emerging_topics and alerts gain columns
    assert after["alerts"] and all(dict(row)["status"] == "new" and dict(row)["status_by"] is None
                                   for row in after["alerts"])   # fired before the inbox: new
    assert all(dict(row)["detected_language"] is None for row in after["posts"])  # the languages were declared
    assert all(dict(row)[c] is None for row in after["mentions"]  # not judged yet
               for c in ("sentiment", "sentiment_label", "confidence", "span", "basis"))
    fresh = tmp_path / "fresh.db"
    store.open_db(fresh).close()
    assert schema(path) == schema(fresh)
    db = store.open_db(path)
    page = search.search(db, search.prepare(db, "product:firefox crash*"))
    assert [h.id for h in page.hits] == [1] and store.get_post(db, 2)["human_label"]["sentiment"] == "neutral"


def test_an_older_database_from_main_gets_only_its_missing_migrations_in_number_order(tmp_path):
    path = copy("main-257d2bb-before-0007.sqlite", tmp_path)
    before = tables(path)
    old = ["0001_initial", "0002_source_state", "0004_models", "0005_search", "0006_alerts"]
    db = sqlite_utils.Database(path)
    assert store.applied_migrations(db) == old
    missing = ["0003_scheduler", "0007_search_facets", "0008_engagement_facets", *SINCE_MAIN]
    assert store.migrations.pending(db) == missing
    db.close()
    db = store.open_db(path)
    assert store.applied_migrations(db) == old + missing
    db.close()
    same_rows(before, tables(path), len(missing))  # the index is rebuilt by 0007
    fresh = tmp_path / "fresh.db"
    store.open_db(fresh).close()
    assert schema(path) == schema(fresh)
    db = store.open_db(path)
    page = search.search(db, search.prepare(db, "product:firefox engagement:[100 TO *] topic:crash"))
    assert [h.id for h in page.hits] == [1]


def test_migrations_recorded_and_idempotent(tmp_path):
    path = tmp_path / "a.db"
    db = store.open_db(path)
    applied = store.applied_migrations(db)
    assert applied[0] == "0001_initial" and applied == list(store.migrations.NAMES)
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


def test_source_state_migration_upgrades_an_old_database_in_place(tmp_path):
    """A 0001 database with a source row gains the state columns; the row stays, active."""
    path = tmp_path / "old.db"
    old = sqlite_utils.Database(path)
    store.migrations.apply(old, stop_before="0002_source_state")
    old.execute("INSERT INTO sources (name, type, url, etag) VALUES ('a', 'feed', 'https://x/', '\"e\"')")
    old.conn.commit()
    old.close()
    db = store.open_db(path)
    state = store.source_state(db, "a")
    assert (state.etag, state.high_water, state.session, state.active) == ('"e"', None, None, True)


def test_search_facets_migration_indexes_existing_posts(tmp_path):
    """A database from before 0007 gains facets for every post, and field filters find them."""
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
    for q in ("product:firefox", "sentiment:negative", "site:example.com topic:bugs lang:en source:hn",
              "published:2026-11-02 crash", "published:[2026-11-01 TO *]"):
        page = search.search(db, search.prepare(db, q))
        assert [h.id for h in page.hits] == [1] and page.total == 1, q
    assert search.search(db, search.prepare(db, "published:[* TO 2026-11-01]")).total == 0
    # with a product, sentiment: is the mention's own, not judged in this database: no match
    assert search.search(db, search.prepare(db, "product:firefox sentiment:negative")).total == 0
    db.execute("DELETE FROM posts WHERE id = 1")  # the new triggers keep the index in step
    assert db.execute("SELECT count(*) FROM posts_fts WHERE posts_fts MATCH 'crash'").fetchone()[0] == 0


def test_engagement_facets_migration(tmp_path):
    """A database from before 0008 gains engagement steps for every post."""
    path = tmp_path / "old.db"
    old = sqlite_utils.Database(path)
    store.migrations.apply(old)  # today's store writes the posts; then they are set back to before 0008
    store.upsert_posts(old, [{"source": "hn", "guid": g, "url": None, "author": None, "title": None,
                              "text": "firefox", "published_at": "2026-11-02T10:00:00Z", "language": "en",
                              "score": score, "comments": 3, "likes": None, "shares": None}
                             for g, score in (("a", 120), ("b", 1), ("c", None))], now="2026-11-21T00:00:00Z")
    old.execute("UPDATE posts SET facets = replace(facets, ' zzg', ' zzx')")  # as 0007 wrote them: no steps
    old.execute("DELETE FROM _sqlite_migrations WHERE name = '0008_engagement_facets'")
    old.conn.commit()
    old.close()
    db = store.open_db(path)
    assert "0008_engagement_facets" in store.applied_migrations(db)
    for q, expected in (("engagement:[100 TO *]", ["a"]), ("engagement:[2 TO 4]", ["b", "c"]), ("engagement:[5 TO *]", ["a"]), ("engagement:[1 TO 1]", [])):
        plan = search.prepare(db, q)
        assert plan.fts_only, q
        page = search.search(db, plan)
        assert sorted(db.execute("SELECT guid FROM posts WHERE id = ?", [h.id]).fetchone()[0] for h in page.hits) == expected, q


def test_an_upgraded_database_has_no_mention_sentiment_until_classify_all(tmp_path, write_settings):
    """0009 leaves the fixture's mentions NULL ('not judged yet'); ``classify --all`` judges each one."""
    from listener import pipeline
    from listener.classifier import Classifier
    from listener.config import load_settings
    from tests.helpers import NOW

    path = copy("main-257d2bb.sqlite", tmp_path)
    settings = load_settings(write_settings(extra='[sentiment]\nmodel = "vader"\n'))
    db = store.open_db(path)
    cols = "product, sentiment, sentiment_label, confidence, span, basis"
    assert db.execute(f"SELECT {cols} FROM mentions WHERE post_id = 1").fetchall() == [
        ("Firefox", None, None, None, None, None)]
    pipeline.classify(db, settings, now=NOW)   # nothing unclassified: the NULLs stay
    assert db.execute("SELECT count(*) FROM mentions WHERE sentiment_label IS NOT NULL").fetchone()[0] == 0
    pipeline.classify(db, settings, everything=True, now=NOW)
    stored = {(r[0], r[1]): r[2:] for r in db.execute(f"SELECT post_id, {cols} FROM mentions")}
    assert stored and all(label in ("positive", "neutral", "negative") and span and basis
                          for _, label, _, span, basis in stored.values())
    classifier = Classifier.from_settings(settings)
    for post_id, in db.execute("SELECT DISTINCT post_id FROM mentions"):
        row = db.execute("SELECT id, title, text, language FROM posts WHERE id = ?", [post_id]).fetchone()
        c = classifier.classify([dict(zip(("id", "title", "text", "language"), row))])[0]
        assert {(post_id, m.product): (m.score, m.label, m.confidence, m.span, m.basis)
                for m in c.mention_sentiment} == {k: v for k, v in stored.items() if k[0] == post_id}


def test_an_old_guess_stored_as_the_language_moves_aside_and_classify_all_redetects(tmp_path, settings_for):
    """Before 0011, classification wrote its detected language into ``language`` when the source declared
    none, and ``classify --all`` then took that guess for a declaration: a short English title once
    detected as German stayed unscored. 0011 moves such guesses (told apart by the content hash) to
    ``detected_language``; a declared language stays."""
    from listener import pipeline
    from tests.helpers import NOW

    settings = settings_for()
    db = store.open_db(settings.db_path)
    base = {"source": "hn", "url": None, "author": None, "published_at": "2026-11-22T10:00:00Z", "text": None}
    store.upsert_posts(db, [{**base, "guid": "a", "title": "Lib-Ruby-Parser: A Ruby Parser Written in Rust"},
                            {**base, "guid": "b", "title": "Ein Parser für Ruby", "language": "fr"}],
                       now="2026-11-23T00:00:00Z")
    pipeline.classify(db, settings, now=NOW)
    ids = dict(db.execute("SELECT guid, id FROM posts").fetchall())
    # as an earlier version left it: the guess in ``language``, no detected_language column, 0011 not applied
    db.execute("UPDATE posts SET language = 'de', sentiment_label = 'unscored', sentiment = NULL WHERE guid = 'a'")
    for undo in ("DROP TRIGGER posts_mention_copy", "DROP TRIGGER mentions_post_copy", "DROP INDEX mentions_period",
                 "ALTER TABLE mentions DROP COLUMN post_language"):   # 0022 (it reads detected_language) too
        db.execute(undo)
    db.execute("ALTER TABLE posts DROP COLUMN detected_language")
    db.execute("DELETE FROM _sqlite_migrations WHERE name IN ('0011_detected_language', '0022_mention_language')")
    db.conn.commit()
    db.close()
    db = store.open_db(settings.db_path)
    assert store.migrations.pending(db) == []
    got = {g: (lang, det) for g, lang, det in db.execute("SELECT guid, language, detected_language FROM posts")}
    assert got == {"a": (None, "de"), "b": ("fr", None)}
    pipeline.classify(db, settings, now=NOW, everything=True)
    got = {g: (lang, det, label) for g, lang, det, label in db.execute(
        "SELECT guid, language, detected_language, sentiment_label FROM posts")}
    assert got["a"][:2] == (None, "en") and got["a"][2] != "unscored"
    assert got["b"][0] == "fr"                                   # the declaration is kept
    assert store.get_post(db, ids["a"])["language"] == "en"
    assert store.get_post(db, ids["a"])["declared_language"] is None
    page = search.search(db, search.prepare(db, "lang:en ruby"))
    assert [h.id for h in page.hits] == [ids["a"]] and page.hits[0].language == "en"
