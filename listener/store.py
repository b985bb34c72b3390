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
    """Write sentiment, language and product mentions for a batch, replacing older ones."""
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


# --- scheduler state (listener daemon, listener status) ----------------------------


@migrations(name="0003_scheduler")
def _m0003(db: sqlite_utils.Database) -> None:
    # One row per scheduled job ("collect:NAME", "digest:daily", ...): what the daemon
    # did last, what it plans next, and the consecutive failures that drive backoff.
    db.execute("""
        CREATE TABLE IF NOT EXISTS jobs (
            id TEXT PRIMARY KEY,
            created_at TEXT NOT NULL,     -- first seen by a daemon: cron catch-up starts here
            last_run_at TEXT,
            last_status TEXT,             -- ok | error | abandoned
            last_duration REAL,
            last_summary TEXT,
            failures INTEGER NOT NULL DEFAULT 0,
            next_run_at TEXT
        )""")
    db.execute("""
        CREATE TABLE IF NOT EXISTS daemon (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            pid INTEGER,
            started_at TEXT,
            heartbeat_at TEXT,
            stopped_at TEXT
        )""")
    db.execute("CREATE INDEX IF NOT EXISTS posts_source_fetched ON posts (source, fetched_at)")


def ensure_jobs(db: sqlite_utils.Database, ids: Iterable[str], *, now: str) -> dict[str, dict]:
    """Create missing job rows; return every job row by id."""
    with db.atomic():
        db.conn.executemany("INSERT OR IGNORE INTO jobs (id, created_at) VALUES (?, ?)",
                            [[i, now] for i in ids])
    return {r["id"]: r for r in _rows(db, "SELECT * FROM jobs")}


def job_rows(db: sqlite_utils.Database) -> dict[str, dict]:
    return {r["id"]: r for r in _rows(db, "SELECT * FROM jobs")}


def record_job(db: sqlite_utils.Database, job_id: str, *, now: str, status: str, duration: float,
               summary: str, failures: int | None = None) -> None:
    """Remember one finished run of a job; ``failures`` (when given) replaces the counter."""
    with db.atomic():
        db.execute("UPDATE jobs SET last_run_at = ?, last_status = ?, last_duration = ?, "
                   "last_summary = ?, failures = coalesce(?, failures) WHERE id = ?",
                   [now, status, round(duration, 3), summary, failures, job_id])


def set_next_runs(db: sqlite_utils.Database, next_runs: dict[str, str | None]) -> None:
    with db.atomic():
        db.conn.executemany("UPDATE jobs SET next_run_at = ? WHERE id = ?",
                            [[t, i] for i, t in next_runs.items()])


def daemon_started(db: sqlite_utils.Database, *, pid: int, now: str) -> None:
    with db.atomic():
        db.execute("INSERT INTO daemon (id, pid, started_at, heartbeat_at) VALUES (1, ?, ?, ?) "
                   "ON CONFLICT(id) DO UPDATE SET pid = excluded.pid, started_at = excluded.started_at, "
                   "heartbeat_at = excluded.heartbeat_at, stopped_at = NULL", [pid, now, now])


def daemon_heartbeat(db: sqlite_utils.Database, *, now: str) -> None:
    with db.atomic():
        db.execute("UPDATE daemon SET heartbeat_at = ? WHERE id = 1", [now])


def daemon_stopped(db: sqlite_utils.Database, *, now: str) -> None:
    with db.atomic():
        db.execute("UPDATE daemon SET stopped_at = ?, heartbeat_at = ? WHERE id = 1", [now, now])


def daemon_row(db: sqlite_utils.Database) -> dict | None:
    rows = _rows(db, "SELECT pid, started_at, heartbeat_at, stopped_at FROM daemon WHERE id = 1")
    return rows[0] if rows else None


def source_activity(db: sqlite_utils.Database, since: str) -> dict[str, dict]:
    """Per source: fetch state, posts first seen at or after ``since``, newest first-seen time."""
    return {r["name"]: r for r in _rows(db, """
        SELECT s.name, s.last_fetch_at, s.last_success_at, s.last_error,
               (SELECT count(*) FROM posts p WHERE p.source = s.name AND p.fetched_at >= ?) AS recent,
               (SELECT max(fetched_at) FROM posts p WHERE p.source = s.name) AS newest
        FROM sources s""", [since])}


def last_digest(db: sqlite_utils.Database) -> dict | None:
    """The most recent successful digest run, with its paths in ``detail``."""
    rows = _rows(db, "SELECT id, finished_at, detail FROM runs WHERE kind = 'digest' AND status = 'ok' "
                     "ORDER BY id DESC LIMIT 1")
    if not rows:
        return None
    row = rows[0]
    row["detail"] = json.loads(row["detail"] or "{}")
    return row


def purge_posts(db: sqlite_utils.Database, before: str, *, chunk: int = 1000,
                keep_going: Any = None) -> int:
    """Delete posts (and their mentions and FTS rows) published before ``before``, in short
    transactions of ``chunk`` posts; ``keep_going()`` returning False stops between chunks."""
    deleted = 0
    while keep_going is None or keep_going():
        with db.atomic():
            cur = db.conn.execute("DELETE FROM posts WHERE id IN (SELECT id FROM posts WHERE posted_at < ? "
                                  "ORDER BY id LIMIT ?)", [before, chunk])
        deleted += cur.rowcount
        if cur.rowcount < chunk:
            break
    with db.atomic():
        db.execute("DELETE FROM runs WHERE finished_at < ?", [before])
    return deleted
