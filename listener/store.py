"""The SQLite store. This module alone owns the schema and writes to it.

Schema changes are numbered migrations (sqlite-utils ``Migrations``), recorded
in ``_sqlite_migrations`` so an old database upgrades in place. Timestamps are
UTC text ``YYYY-MM-DDTHH:MM:SSZ`` so they sort and compare as strings.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import sqlite_utils
from sqlite_utils import Migrations

from listener.text import content_hash

BUSY_TIMEOUT_MS = 10_000
TEXT_FIELDS = ("url", "author", "title", "text", "published_at", "language")
ENGAGEMENT_FIELDS = ("score", "comments", "likes", "shares")
POST_FIELDS = ("source", "guid") + TEXT_FIELDS + ENGAGEMENT_FIELDS
_CHUNK = 500  # guids per IN (...) lookup, well under SQLite's variable limit

migrations = Migrations("listener")


@migrations(name="0001_initial")
def _m0001(db: sqlite_utils.Database) -> None:
    db.execute("""
        CREATE TABLE posts (
            id INTEGER PRIMARY KEY,
            source TEXT NOT NULL,
            guid TEXT NOT NULL,
            url TEXT,
            author TEXT,
            title TEXT,
            text TEXT,
            published_at TEXT,
            fetched_at TEXT NOT NULL,
            posted_at TEXT NOT NULL,      -- published_at, else first fetched_at: what reports bucket by
            updated_at TEXT,              -- last time an edit of the entry was seen
            language TEXT,
            score INTEGER,
            comments INTEGER,
            likes INTEGER,
            shares INTEGER,
            content_hash TEXT NOT NULL,
            sentiment REAL,
            sentiment_label TEXT,
            classified_at TEXT,
            classifier TEXT,
            UNIQUE (source, guid)
        )""")
    db.execute("CREATE INDEX posts_posted_at ON posts (posted_at)")
    db.execute("CREATE INDEX posts_unclassified ON posts (id) WHERE classified_at IS NULL")
    db.execute("""
        CREATE TABLE mentions (
            post_id INTEGER NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
            product TEXT NOT NULL,
            alias TEXT NOT NULL,          -- the alias text that matched, for explanations
            PRIMARY KEY (post_id, product)
        )""")
    db.execute("CREATE INDEX mentions_product ON mentions (product, post_id)")
    db.execute("""
        CREATE TABLE sources (
            name TEXT PRIMARY KEY,
            type TEXT NOT NULL,
            url TEXT NOT NULL,
            last_fetch_at TEXT,
            last_success_at TEXT,
            last_status INTEGER,
            last_error TEXT,
            etag TEXT,
            last_modified TEXT,
            bozo TEXT                     -- parser complaint on the last fetch that still yielded entries
        )""")
    db.execute("""
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,           -- collect | classify | digest
            started_at TEXT NOT NULL,
            finished_at TEXT,
            status TEXT NOT NULL DEFAULT 'running',  -- running | ok | partial | error
            new INTEGER NOT NULL DEFAULT 0,
            updated INTEGER NOT NULL DEFAULT 0,
            unchanged INTEGER NOT NULL DEFAULT 0,
            errors INTEGER NOT NULL DEFAULT 0,
            detail TEXT                   -- JSON: per-source errors, digest paths, ...
        )""")
    db["posts"].enable_fts(["title", "text"], create_triggers=True, tokenize="porter unicode61")


@migrations(name="0004_models")
def _m0004(db: sqlite_utils.Database) -> None:
    # Shared contract with the search issue: created the same way there, hence IF NOT EXISTS.
    db.execute("CREATE TABLE IF NOT EXISTS post_topics (post_id INTEGER NOT NULL REFERENCES posts(id) "
               "ON DELETE CASCADE, topic TEXT NOT NULL, sentiment REAL, PRIMARY KEY (post_id, topic))")
    db.execute("CREATE INDEX IF NOT EXISTS post_topics_topic ON post_topics (topic, post_id)")
    db.execute("""
        CREATE TABLE IF NOT EXISTS post_labels (
            post_id INTEGER PRIMARY KEY REFERENCES posts(id) ON DELETE CASCADE,
            sentiment TEXT,               -- human label: positive | neutral | negative (NULL: not relabelled)
            topics TEXT,                  -- JSON array of topic names (NULL: not relabelled)
            labelled_at TEXT NOT NULL
        )""")
    db.execute("""
        CREATE TABLE IF NOT EXISTS emerging_topics (
            id INTEGER PRIMARY KEY,
            product TEXT NOT NULL,        -- '*' for all posts
            period_start TEXT NOT NULL,   -- YYYY-MM-DD, inclusive
            period_end TEXT NOT NULL,     -- YYYY-MM-DD, inclusive
            cluster INTEGER NOT NULL,
            terms TEXT NOT NULL,          -- JSON array: top distinguishing terms, best first
            size INTEGER NOT NULL,        -- posts in the cluster
            baseline_share REAL NOT NULL, -- share of trailing-baseline posts carrying these terms
            is_new INTEGER NOT NULL,      -- 1: the cluster's terms were (almost) absent from the baseline
            post_ids TEXT NOT NULL,       -- JSON array of example post ids
            created_at TEXT NOT NULL,
            UNIQUE (product, period_end, cluster)
        )""")


@dataclass
class UpsertCounts:
    new: int = 0
    updated: int = 0
    unchanged: int = 0

    def add(self, other: "UpsertCounts") -> None:
        self.new += other.new
        self.updated += other.updated
        self.unchanged += other.unchanged


@dataclass
class SourceState:
    name: str
    etag: str | None = None
    last_modified: str | None = None


def open_db(path: str | Path, migrate: bool = True) -> sqlite_utils.Database:
    """Open (creating if needed) the database in WAL mode with a busy timeout; apply migrations."""
    path = Path(path)
    if str(path) != ":memory:":
        path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
    db = sqlite_utils.Database(conn)
    db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    db.execute("PRAGMA foreign_keys = ON")
    if migrate:
        migrations.apply(db)
    return db


def applied_migrations(db: sqlite_utils.Database) -> list[str]:
    return [m.name for m in migrations.applied(db)]


# --- sources --------------------------------------------------------------------


def sync_sources(db: sqlite_utils.Database, sources: Iterable[Any]) -> None:
    """Make sure every configured source has a row (type and URL kept current)."""
    with db.atomic():
        for s in sources:
            db.execute(
                "INSERT INTO sources (name, type, url) VALUES (?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET type = excluded.type, url = excluded.url, "
                # A changed URL is a different resource: forget its validators.
                "etag = CASE WHEN sources.url = excluded.url THEN sources.etag END, "
                "last_modified = CASE WHEN sources.url = excluded.url THEN sources.last_modified END",
                [s.name, s.type, s.url],
            )


def source_state(db: sqlite_utils.Database, name: str) -> SourceState:
    row = db.execute("SELECT etag, last_modified FROM sources WHERE name = ?", [name]).fetchone()
    return SourceState(name, *(row or (None, None)))


def record_fetch(db: sqlite_utils.Database, name: str, *, now: str, status: int | None,
                 error: str | None = None, etag: str | None = None, last_modified: str | None = None,
                 bozo: str | None = None) -> None:
    """Remember the outcome of one fetch. Validators are kept from before on a 304 or an error."""
    ok = error is None
    keep_etag = not ok or (status == 304 and etag is None)
    keep_modified = not ok or (status == 304 and last_modified is None)
    parsed = ok and status != 304
    with db.atomic():
        db.execute(
            """UPDATE sources SET last_fetch_at = ?, last_status = ?, last_error = ?,
                   last_success_at = CASE WHEN ? THEN ? ELSE last_success_at END,
                   etag = CASE WHEN ? THEN etag ELSE ? END,
                   last_modified = CASE WHEN ? THEN last_modified ELSE ? END,
                   bozo = CASE WHEN ? THEN ? ELSE bozo END
               WHERE name = ?""",
            [now, status, error, ok, now, keep_etag, etag, keep_modified, last_modified,
             parsed, bozo, name],
        )


def sources_table(db: sqlite_utils.Database) -> list[dict]:
    """Every source with its fetch state and number of stored posts."""
    return [dict(r) for r in _rows(db, """
        SELECT s.name, s.type, s.url, s.last_fetch_at, s.last_success_at, s.last_status,
               s.last_error, s.bozo, (SELECT count(*) FROM posts p WHERE p.source = s.name) AS posts
        FROM sources s ORDER BY s.name""")]


# --- posts ----------------------------------------------------------------------


def upsert_posts(db: sqlite_utils.Database, posts: Sequence[dict], *, now: str) -> UpsertCounts:
    """Insert new posts, update changed ones in place, skip unchanged ones; one transaction.

    A post is keyed on (source, guid). An edit of its visible fields (text, title,
    URL, author, dates, language) clears its classification so the next
    ``classify`` re-tags it; a change in engagement numbers alone updates them
    and keeps the classification. Both count as ``updated``.
    """
    counts = UpsertCounts()
    latest: dict[tuple[str, str], dict] = {}
    for p in posts:  # the same entry twice in one batch: the last one wins
        latest[(p["source"], p["guid"])] = p
    by_source: dict[str, list[str]] = {}
    for source, guid in latest:
        by_source.setdefault(source, []).append(guid)
    with db.atomic():
        conn = db.conn
        existing: dict[tuple[str, str], tuple] = {}
        for source, guids in by_source.items():
            for i in range(0, len(guids), _CHUNK):
                chunk = guids[i:i + _CHUNK]
                for row in conn.execute(
                        f"SELECT guid, id, content_hash, {', '.join(ENGAGEMENT_FIELDS)} FROM posts "
                        f"WHERE source = ? AND guid IN ({', '.join('?' * len(chunk))})", [source, *chunk]):
                    existing[(source, row[0])] = row[1:]
        inserts, edits, engagement = [], [], []
        for key, p in latest.items():
            text_values = [p.get(f) for f in TEXT_FIELDS]
            numbers = [p.get(f) for f in ENGAGEMENT_FIELDS]
            digest = content_hash(*text_values)
            row = existing.get(key)
            if row is None:
                inserts.append([*key, *text_values, *numbers, now, p.get("published_at") or now, digest])
            elif row[1] != digest:
                edits.append([*text_values, *numbers, now, digest, p.get("published_at"), row[0]])
            elif any(new is not None and new != old for new, old in zip(numbers, row[2:])):
                engagement.append([*numbers, row[0]])
            else:
                counts.unchanged += 1
        if inserts:
            conn.executemany(
                f"INSERT INTO posts ({', '.join(POST_FIELDS)}, fetched_at, posted_at, content_hash) "
                f"VALUES ({', '.join('?' * (len(POST_FIELDS) + 3))})", inserts)
        if edits:
            conn.executemany(
                "UPDATE posts SET " + ", ".join(f"{f} = ?" for f in TEXT_FIELDS) + ", " +
                ", ".join(f"{f} = coalesce(?, {f})" for f in ENGAGEMENT_FIELDS) +
                ", updated_at = ?, content_hash = ?, posted_at = coalesce(?, posted_at), "
                "sentiment = NULL, sentiment_label = NULL, classified_at = NULL, classifier = NULL "
                "WHERE id = ?", edits)
        if engagement:
            conn.executemany(
                "UPDATE posts SET " + ", ".join(f"{f} = coalesce(?, {f})" for f in ENGAGEMENT_FIELDS) +
                " WHERE id = ?", engagement)
        counts.new, counts.updated = len(inserts), len(edits) + len(engagement)
    return counts


def count_posts(db: sqlite_utils.Database) -> int:
    return db.execute("SELECT count(*) FROM posts").fetchone()[0]


def posts_to_classify(db: sqlite_utils.Database, *, everything: bool = False,
                      batch_size: int = 2000) -> Iterator[list[dict]]:
    """Batches of posts needing classification (all posts with ``everything``), by id."""
    where = "" if everything else "AND classified_at IS NULL"
    last = 0
    while True:
        rows = _rows(db, f"SELECT id, title, text, language FROM posts WHERE id > ? {where} "
                         f"ORDER BY id LIMIT ?", [last, batch_size])
        if not rows:
            return
        yield rows
        last = rows[-1]["id"]


def count_to_classify(db: sqlite_utils.Database, *, everything: bool = False) -> int:
    where = "" if everything else "WHERE classified_at IS NULL"
    return db.execute(f"SELECT count(*) FROM posts {where}").fetchone()[0]


def save_classifications(db: sqlite_utils.Database, results: Sequence[Any], *, now: str,
                         classifier: str) -> None:
    """Write sentiment, language, product mentions and topics for a batch, replacing older ones.

    A human relabel (``label_post``) wins over the model: its sentiment label and topics are
    written instead of the model's.
    """
    with db.atomic():
        conn = db.conn
        ids = [[r.post_id] for r in results]
        conn.executemany(
            "UPDATE posts SET sentiment = ?, sentiment_label = ?, language = coalesce(language, ?), "
            "classified_at = ?, classifier = ? WHERE id = ?",
            [[r.sentiment, r.label, r.language, now, classifier, r.post_id] for r in results])
        conn.executemany("DELETE FROM mentions WHERE post_id = ?", ids)
        conn.executemany("INSERT INTO mentions (post_id, product, alias) VALUES (?, ?, ?)",
                         [[r.post_id, m.product, m.alias] for r in results for m in r.mentions])
        conn.executemany("DELETE FROM post_topics WHERE post_id = ?", ids)
        conn.executemany("INSERT INTO post_topics (post_id, topic, sentiment) VALUES (?, ?, ?)",
                         [[r.post_id, t.topic, t.sentiment] for r in results for t in getattr(r, "topics", ())])
        _apply_labels(conn, [r.post_id for r in results])


def _apply_labels(conn: sqlite3.Connection, post_ids: Sequence[int]) -> None:
    for i in range(0, len(post_ids), _CHUNK):
        chunk = list(post_ids[i:i + _CHUNK])
        marks = ", ".join("?" * len(chunk))
        conn.execute(f"""UPDATE posts SET sentiment_label = l.sentiment,
                             sentiment = CASE l.sentiment WHEN 'positive' THEN 1.0
                                 WHEN 'negative' THEN -1.0 ELSE 0.0 END
                         FROM post_labels l WHERE l.post_id = posts.id AND l.sentiment IS NOT NULL
                         AND posts.id IN ({marks})""", chunk)
        for post_id, topics in conn.execute(
                f"SELECT post_id, topics FROM post_labels WHERE topics IS NOT NULL AND post_id IN ({marks})",
                chunk).fetchall():
            conn.execute("DELETE FROM post_topics WHERE post_id = ?", [post_id])
            conn.executemany("INSERT INTO post_topics (post_id, topic, sentiment) SELECT ?, ?, sentiment "
                             "FROM posts WHERE id = ?", [[post_id, t, post_id] for t in json.loads(topics)])


def label_post(db: sqlite_utils.Database, post_id: int, *, now: str, sentiment: str | None = None,
               topics: Sequence[str] | None = None) -> None:
    """Store a human correction for one post (it overrides the model) and apply it now."""
    with db.atomic():
        conn = db.conn
        conn.execute(
            "INSERT INTO post_labels (post_id, sentiment, topics, labelled_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(post_id) DO UPDATE SET sentiment = coalesce(excluded.sentiment, sentiment), "
            "topics = coalesce(excluded.topics, topics), labelled_at = excluded.labelled_at",
            [post_id, sentiment, json.dumps(sorted(set(topics))) if topics is not None else None, now])
        _apply_labels(conn, [post_id])


def labelled_posts(db: sqlite_utils.Database) -> list[dict]:
    """Posts with a human sentiment label: id, title, text, language, label."""
    return _rows(db, """SELECT p.id, p.title, p.text, p.language, l.sentiment AS label
                        FROM post_labels l JOIN posts p ON p.id = l.post_id
                        WHERE l.sentiment IS NOT NULL ORDER BY p.id""")


def get_post(db: sqlite_utils.Database, post_id: int) -> dict | None:
    """One post with its stored classification, mentions, topics and human label (None if absent)."""
    rows = _rows(db, "SELECT * FROM posts WHERE id = ?", [post_id])
    if not rows:
        return None
    post = rows[0]
    post["mentions"] = _rows(db, "SELECT product, alias FROM mentions WHERE post_id = ? ORDER BY product", [post_id])
    post["topics"] = _rows(db, "SELECT topic, sentiment FROM post_topics WHERE post_id = ? ORDER BY topic", [post_id])
    labels = _rows(db, "SELECT sentiment, topics, labelled_at FROM post_labels WHERE post_id = ?", [post_id])
    post["human_label"] = labels[0] if labels else None
    return post


def product_posts(db: sqlite_utils.Database, product: str | None, start: str, end: str) -> list[dict]:
    """Posts in [start, end) mentioning ``product`` (every post when None): id, title, text."""
    if product is None:
        return _rows(db, "SELECT id, title, text FROM posts WHERE posted_at >= ? AND posted_at < ? ORDER BY id",
                     [start, end])
    return _rows(db, """SELECT p.id, p.title, p.text FROM mentions m JOIN posts p ON p.id = m.post_id
                        WHERE m.product = ? AND p.posted_at >= ? AND p.posted_at < ? ORDER BY p.id""",
                 [product, start, end])


def save_emerging(db: sqlite_utils.Database, product: str, start: str, end: str, clusters: Sequence[Any], *,
                  now: str) -> None:
    """Replace the stored clusters of one product and period."""
    with db.atomic():
        db.execute("DELETE FROM emerging_topics WHERE product = ? AND period_end = ?", [product, end])
        db.conn.executemany(
            "INSERT INTO emerging_topics (product, period_start, period_end, cluster, terms, size, "
            "baseline_share, is_new, post_ids, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [[product, start, end, i, json.dumps(list(c.terms)), c.size, c.baseline_share, int(c.is_new),
              json.dumps(list(c.post_ids)), now] for i, c in enumerate(clusters)])


def emerging_topics(db: sqlite_utils.Database, period_end: str, *, new_only: bool = False) -> list[dict]:
    """Stored clusters for the period ending on ``period_end`` (YYYY-MM-DD), by product and size."""
    rows = _rows(db, f"""SELECT product, period_start, period_end, cluster, terms, size, baseline_share,
                                is_new, post_ids FROM emerging_topics WHERE period_end = ?
                         {"AND is_new = 1" if new_only else ""} ORDER BY product, size DESC, cluster""",
                 [period_end])
    for r in rows:
        r["terms"], r["post_ids"], r["is_new"] = json.loads(r["terms"]), json.loads(r["post_ids"]), bool(r["is_new"])
    return rows


def search(db: sqlite_utils.Database, fts_query: str, limit: int = 20) -> list[dict]:
    """Posts whose title or text match an FTS5 query, best first."""
    return _rows(db, """SELECT p.id, p.source, p.title, p.url, p.posted_at FROM posts_fts
                        JOIN posts p ON p.id = posts_fts.rowid WHERE posts_fts MATCH ?
                        ORDER BY rank LIMIT ?""", [fts_query, limit])


# --- runs -----------------------------------------------------------------------


@dataclass
class Run:
    id: int
    kind: str
    counts: UpsertCounts = field(default_factory=UpsertCounts)
    errors: list[str] = field(default_factory=list)
    detail: dict = field(default_factory=dict)


def start_run(db: sqlite_utils.Database, kind: str, *, now: str) -> Run:
    with db.atomic():
        cur = db.conn.execute("INSERT INTO runs (kind, started_at) VALUES (?, ?)", [kind, now])
    return Run(id=cur.lastrowid, kind=kind)


def finish_run(db: sqlite_utils.Database, run: Run, *, now: str, failed: bool = False) -> None:
    status = "error" if failed else ("partial" if run.errors else "ok")
    detail = dict(run.detail)
    if run.errors:
        detail["errors"] = run.errors
    with db.atomic():
        db.execute(
            "UPDATE runs SET finished_at = ?, status = ?, new = ?, updated = ?, unchanged = ?, "
            "errors = ?, detail = ? WHERE id = ?",
            [now, status, run.counts.new, run.counts.updated, run.counts.unchanged, len(run.errors),
             json.dumps(detail, sort_keys=True) if detail else None, run.id])


def recent_runs(db: sqlite_utils.Database, limit: int = 20) -> list[dict]:
    return _rows(db, "SELECT * FROM runs ORDER BY id DESC LIMIT ?", [limit])


# --- report queries (read-only) --------------------------------------------------


def daily_mentions(db: sqlite_utils.Database, start: str, end: str) -> list[dict]:
    """Mentions per product, UTC day and sentiment label for days in [start, end)."""
    return _rows(db, """
        SELECT m.product, substr(p.posted_at, 1, 10) AS day, p.sentiment_label AS label,
               count(*) AS n
        FROM mentions m JOIN posts p ON p.id = m.post_id
        WHERE p.posted_at >= ? AND p.posted_at < ?
        GROUP BY m.product, day, label""", [start, end])


def product_mentions(db: sqlite_utils.Database, product: str, start: str, end: str, *,
                     label: str, limit: int) -> list[dict]:
    """Mentions of a product with a given label in [start, end), strongest first."""
    order = "DESC" if label == "positive" else "ASC"
    return _rows(db, f"""
        SELECT p.id, p.source, p.url, p.title, p.text, p.author, p.posted_at, p.sentiment,
               p.sentiment_label, m.alias
        FROM mentions m JOIN posts p ON p.id = m.post_id
        WHERE m.product = ? AND p.posted_at >= ? AND p.posted_at < ? AND p.sentiment_label = ?
        ORDER BY p.sentiment {order}, p.posted_at DESC, p.id LIMIT ?""",
                 [product, start, end, label, limit])


def posts_between(db: sqlite_utils.Database, start: str, end: str) -> int:
    return db.execute("SELECT count(*) FROM posts WHERE posted_at >= ? AND posted_at < ?",
                      [start, end]).fetchone()[0]


def posts_by_source(db: sqlite_utils.Database, start: str, end: str) -> dict[str, int]:
    rows = db.execute("SELECT source, count(*) FROM posts WHERE posted_at >= ? AND posted_at < ? "
                      "GROUP BY source ORDER BY count(*) DESC, source", [start, end]).fetchall()
    return {r[0]: r[1] for r in rows}


def latest_mention_day(db: sqlite_utils.Database) -> str | None:
    row = db.execute("SELECT max(substr(p.posted_at, 1, 10)) FROM mentions m "
                     "JOIN posts p ON p.id = m.post_id").fetchone()
    return row[0] if row else None


def _rows(db: sqlite_utils.Database, sql: str, params: Sequence[Any] = ()) -> list[dict]:
    cur = db.execute(sql, params)
    cols = [c[0] for c in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]
