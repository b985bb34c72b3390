"""The SQLite store. This module alone owns the schema and writes to it.

Schema changes are numbered migrations (sqlite-utils ``Migrations``), recorded
in ``_sqlite_migrations`` so an old database upgrades in place. Timestamps are
UTC text ``YYYY-MM-DDTHH:MM:SSZ`` so they sort and compare as strings.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence
from urllib.parse import urlsplit

import sqlite_utils
from sqlite_utils import Migrations

from listener.text import content_hash

BUSY_TIMEOUT_MS = 10_000
TEXT_FIELDS = ("url", "author", "title", "text", "published_at", "language")
ENGAGEMENT_FIELDS = ("score", "comments", "likes", "shares")
POST_FIELDS = ("source", "guid") + TEXT_FIELDS + ENGAGEMENT_FIELDS
ENGAGEMENT_SQL = ("(coalesce(p.score, 0) + coalesce(p.comments, 0) + coalesce(p.likes, 0) "
                  "+ coalesce(p.shares, 0))")  # one number per post; the index below uses it verbatim
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
            status TEXT NOT NULL DEFAULT 'running',  -- running | ok | partial | error | interrupted
            new INTEGER NOT NULL DEFAULT 0,
            updated INTEGER NOT NULL DEFAULT 0,
            unchanged INTEGER NOT NULL DEFAULT 0,
            errors INTEGER NOT NULL DEFAULT 0,
            detail TEXT                   -- JSON: per-source errors, digest paths, ...
        )""")
    db["posts"].enable_fts(["title", "text"], create_triggers=True, tokenize="porter unicode61")


@migrations(name="0002_source_state")
def _m0002(db: sqlite_utils.Database) -> None:
    # Per-source crawl state for paged sources (issue 3): the newest post key seen,
    # whether the source still exists, and a reusable login session.
    db.execute("ALTER TABLE sources ADD COLUMN high_water TEXT")      # newest sort key collected
    db.execute("ALTER TABLE sources ADD COLUMN active INTEGER NOT NULL DEFAULT 1")  # 0 after 410 / repeated 404
    db.execute("ALTER TABLE sources ADD COLUMN not_found INTEGER NOT NULL DEFAULT 0")  # consecutive 404s
    db.execute("ALTER TABLE sources ADD COLUMN session TEXT")         # JSON login session (Bluesky)
    db.execute("ALTER TABLE sources ADD COLUMN config TEXT")          # settings the state belongs to


NOT_FOUND_LIMIT = 3  # consecutive 404s that make a source inactive (a 410 does at once)


@migrations(name="0004_models")
def _m0004(db: sqlite_utils.Database) -> None:
    db.execute("CREATE TABLE IF NOT EXISTS post_topics (post_id INTEGER NOT NULL REFERENCES posts(id) "
               "ON DELETE CASCADE, topic TEXT NOT NULL, sentiment REAL, PRIMARY KEY (post_id, topic))")
    db.execute("CREATE INDEX IF NOT EXISTS post_topics_topic ON post_topics (topic COLLATE NOCASE, post_id)")
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


@migrations(name="0005_search")
def _m0005(db: sqlite_utils.Database) -> None:
    """Saved searches; indexes the search filters use (post topics come from 0004, which runs first)."""
    db.execute("""
        CREATE TABLE IF NOT EXISTS saved_searches (
            name TEXT PRIMARY KEY,
            query TEXT NOT NULL,
            owner TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )""")
    db.execute("CREATE INDEX IF NOT EXISTS posts_source ON posts (source, posted_at)")
    db.execute("CREATE INDEX IF NOT EXISTS posts_author ON posts (author COLLATE NOCASE)")
    db.execute(f"CREATE INDEX IF NOT EXISTS posts_engagement ON posts ({ENGAGEMENT_SQL.replace('p.', '')})")


@migrations(name="0006_alerts")
def _m0006(db: sqlite_utils.Database) -> None:
    db.execute("""
        CREATE TABLE deliveries (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,           -- digest | alert
            ref TEXT NOT NULL,            -- digest slug or alert id
            channel TEXT NOT NULL,
            status TEXT NOT NULL,         -- sent | failed
            attempts INTEGER NOT NULL,
            error TEXT,
            created_at TEXT NOT NULL
        )""")
    db.execute("""
        CREATE TABLE alerts (
            id INTEGER PRIMARY KEY,
            rule TEXT NOT NULL,
            product TEXT NOT NULL,
            condition TEXT NOT NULL,
            metric TEXT NOT NULL,
            fired_at TEXT NOT NULL,
            window_start TEXT NOT NULL,
            window_end TEXT NOT NULL,
            value REAL,
            expected REAL,
            p REAL,
            detail TEXT                   -- JSON: drivers and example mentions
        )""")
    db.execute("CREATE INDEX alerts_rule ON alerts (rule, fired_at)")
    db.execute("""
        CREATE TABLE alert_checkpoints (
            rule TEXT PRIMARY KEY,
            checked_until TEXT NOT NULL   -- new_mention rules: mentions fetched before this were seen
        )""")


@migrations(name="0007_search_facets")
def _m0007(db: sqlite_utils.Database) -> None:
    """Search facets: each post's source, site, author, language, sentiment, products, topics and
    day as tokens in a third full-text column, so field filters are doclist intersections inside
    FTS5 instead of a probe of the posts table per candidate. The FTS table is rebuilt with it."""
    conn = db.conn
    for trigger in ("posts_ai", "posts_ad", "posts_au"):
        conn.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    conn.execute("DROP TABLE IF EXISTS posts_fts")
    conn.execute("ALTER TABLE posts ADD COLUMN facets TEXT")
    _refresh_facets(conn, [r[0] for r in conn.execute("SELECT id FROM posts ORDER BY id")])
    conn.execute("CREATE VIRTUAL TABLE posts_fts USING fts5(title, text, facets, "
                 "tokenize='porter unicode61', content='posts', content_rowid='id')")
    conn.execute("INSERT INTO posts_fts (posts_fts) VALUES ('rebuild')")
    new, old = "new.id, new.title, new.text, new.facets", "old.id, old.title, old.text, old.facets"
    conn.execute(f"CREATE TRIGGER posts_ai AFTER INSERT ON posts BEGIN "
                 f"INSERT INTO posts_fts (rowid, title, text, facets) VALUES ({new}); END")
    conn.execute(f"CREATE TRIGGER posts_ad AFTER DELETE ON posts BEGIN "
                 f"INSERT INTO posts_fts (posts_fts, rowid, title, text, facets) VALUES ('delete', {old}); END")
    # Only the indexed columns: a classification or an engagement update leaves the index alone.
    conn.execute(f"CREATE TRIGGER posts_au AFTER UPDATE OF title, text, facets ON posts BEGIN "
                 f"INSERT INTO posts_fts (posts_fts, rowid, title, text, facets) VALUES ('delete', {old}); "
                 f"INSERT INTO posts_fts (rowid, title, text, facets) VALUES ({new}); END")


@migrations(name="0008_engagement_facets")
def _m0008(db: sqlite_utils.Database) -> None:
    """Engagement steps as facet tokens: ``engagement:[10 TO *]`` becomes a doclist inside FTS5
    instead of a look-up of every matching post's numbers."""
    _refresh_facets(db.conn, [r[0] for r in db.conn.execute("SELECT id FROM posts ORDER BY id")])
    # Rewriting most rows leaves the index in many small segments: 20% slower searches until merged.
    db.conn.execute("INSERT INTO posts_fts (posts_fts) VALUES ('optimize')")


# --- search facets ----------------------------------------------------------------

FACET_KINDS = {"source": "s", "site": "w", "author": "a", "lang": "l", "sentiment": "e", "product": "p",
               "topic": "t"}


def facet_token(kind: str, value: str) -> str:
    """The token in ``posts_fts.facets`` meaning "this post's KIND is VALUE" (case-insensitive).

    Letters and digits only, so the unicode61 tokenizer keeps it whole, and ending in a digit,
    so the Porter stemmer leaves it alone.
    """
    digest = hashlib.blake2b(value.strip().casefold().encode("utf-8"), digest_size=8).digest()
    return f"zz{FACET_KINDS[kind]}{int.from_bytes(digest, 'big')}"


# Engagement (score + comments + likes + shares) of at least each step is a facet token, so a
# range starting at a step, and ending just below one, is matched inside the index.
ENGAGEMENT_STEPS = tuple(m * 10 ** k for k in range(10) for m in (1, 2, 5))


def engagement_token(step: int) -> str:
    """The facet token for "engagement is at least ``step``" (one of ``ENGAGEMENT_STEPS``)."""
    return f"zzg{step}"


def engagement(post: dict) -> int:
    """Score + comments + likes + shares of a post row, missing numbers counting 0 (``ENGAGEMENT_SQL``)."""
    return sum(int(post.get(f) or 0) for f in ENGAGEMENT_FIELDS)


def day_token(unit: str, stamp: str) -> str:
    """The facet token for a post's UTC year (``y``), month (``m``) or day (``d``) of ``posted_at``."""
    return "zz" + unit + stamp[:{"y": 4, "m": 7, "d": 10}[unit]].replace("-", "")


def site_names(url: str | None) -> list[str]:
    """The host of a URL without ``www.``, then each parent domain above it (not the bare TLD)."""
    try:
        host = (urlsplit(url or "").hostname or "").rstrip(".")
    except ValueError:
        return []
    if host.startswith("www."):
        host = host[4:]
    parts = host.split(".")
    return [".".join(parts[i:]) for i in range(max(1, len(parts) - 1))] if host else []


def post_facets(post: dict, products: Iterable[str] = (), topics: Iterable[str] = ()) -> str:
    """The facets text of a post row (source, url, author, language, sentiment_label, posted_at and
    the engagement numbers)."""
    toks = [facet_token("source", post["source"])]
    toks += [facet_token("site", s) for s in site_names(post.get("url"))]
    for kind, column in (("author", "author"), ("lang", "language"), ("sentiment", "sentiment_label")):
        if post.get(column):
            toks.append(facet_token(kind, post[column]))
    toks += [facet_token("product", p) for p in sorted(set(products))]
    toks += [facet_token("topic", t) for t in sorted(set(topics))]
    if post.get("posted_at"):
        toks += [day_token(u, post["posted_at"]) for u in "ymd"]
    total = engagement(post)
    toks += [engagement_token(step) for step in ENGAGEMENT_STEPS if step <= total]
    return " ".join(toks)


def _chunks(values: Sequence[Any]) -> Iterator[tuple[list[Any], str]]:
    """``values`` in slices of ``_CHUNK``, each with its ``?, ?, ...`` placeholders for ``IN (...)``."""
    for i in range(0, len(values), _CHUNK):
        chunk = list(values[i:i + _CHUNK])
        yield chunk, ", ".join("?" * len(chunk))


def _refresh_facets(conn: sqlite3.Connection, post_ids: Sequence[int]) -> None:
    """Recompute the facets of these posts from their rows, mentions and topics; write the changed."""
    for chunk, marks in _chunks(post_ids):
        products: dict[int, list[str]] = {}
        topics: dict[int, list[str]] = {}
        for pid, product in conn.execute(f"SELECT post_id, product FROM mentions WHERE post_id IN ({marks})", chunk):
            products.setdefault(pid, []).append(product)
        for pid, topic in conn.execute(f"SELECT post_id, topic FROM post_topics WHERE post_id IN ({marks})", chunk):
            topics.setdefault(pid, []).append(topic)
        cur = conn.execute(f"SELECT id, source, url, author, language, sentiment_label, posted_at, facets, "
                           f"{', '.join(ENGAGEMENT_FIELDS)} FROM posts WHERE id IN ({marks})", chunk)
        cols = [c[0] for c in cur.description]
        changed = []
        for row in cur.fetchall():
            post = dict(zip(cols, row))
            facets = post_facets(post, products.get(post["id"], ()), topics.get(post["id"], ()))
            if facets != post["facets"]:
                changed.append([facets, post["id"]])
        conn.executemany("UPDATE posts SET facets = ? WHERE id = ?", changed)


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
    high_water: str | None = None
    session: str | None = None
    active: bool = True


@contextmanager
def write(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """One write transaction, started with ``BEGIN IMMEDIATE`` (nested: a savepoint).

    Taking the write lock up front makes a transaction that reads and then writes
    wait (up to the busy timeout) for other writers, the daemon's parallel jobs or
    another process. With a plain ``BEGIN`` SQLite cannot upgrade a read snapshot
    that another connection has since written past, and fails at once with
    "database is locked" without waiting.
    """
    if db.conn.in_transaction:
        with db.atomic():
            yield db
        return
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        if db.conn.in_transaction:
            db.conn.execute("ROLLBACK")
        raise
    try:
        db.conn.execute("COMMIT")
    except BaseException:
        if db.conn.in_transaction:
            db.conn.execute("ROLLBACK")
        raise


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
    """Make sure every configured source has a row (type and URL kept current).

    A changed URL forgets the HTTP validators; any change of what the source
    fetches (type, URL, options) also forgets its high-water mark and makes it
    active again, since the old state described a different resource.
    """
    with write(db):
        for s in sources:
            config = json.dumps({"type": s.type, "url": s.url, "options": getattr(s, "options", {})},
                                sort_keys=True, default=dict)  # options are read-only mappings
            db.execute(
                "INSERT INTO sources (name, type, url, config) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET type = excluded.type, url = excluded.url, "
                "config = excluded.config, "
                "etag = CASE WHEN sources.url = excluded.url THEN sources.etag END, "
                "last_modified = CASE WHEN sources.url = excluded.url THEN sources.last_modified END, "
                "high_water = CASE WHEN sources.config IS excluded.config THEN sources.high_water END, "
                "active = CASE WHEN sources.config IS excluded.config THEN sources.active ELSE 1 END, "
                "not_found = CASE WHEN sources.config IS excluded.config THEN sources.not_found ELSE 0 END",
                [s.name, s.type, s.url, config],
            )


def source_state(db: sqlite_utils.Database, name: str) -> SourceState:
    """What the next fetch of a source needs: validators, high-water mark, session, active flag."""
    row = db.execute("SELECT etag, last_modified, high_water, session, active FROM sources WHERE name = ?",
                     [name]).fetchone()
    if row is None:
        return SourceState(name)
    return SourceState(name, row[0], row[1], row[2], row[3], bool(row[4]))


def record_fetch(db: sqlite_utils.Database, name: str, *, now: str, status: int | None,
                 error: str | None = None, etag: str | None = None, last_modified: str | None = None,
                 bozo: str | None = None, high_water: str | None = None,
                 session: str | None = None) -> None:
    """Remember the outcome of one fetch. Validators are kept from before on a 304 or an error.

    The high-water mark only moves forward on a fetch without error, so posts a
    failed run did not reach are fetched next time. A 410 makes the source
    inactive at once, ``NOT_FOUND_LIMIT`` 404s in a row do too; any success
    makes it active again. A new login session is kept whatever the outcome.
    """
    ok = error is None
    keep_etag = not ok or (status == 304 and etag is None)
    keep_modified = not ok or (status == 304 and last_modified is None)
    parsed = ok and status != 304
    with write(db):
        db.execute(
            """UPDATE sources SET last_fetch_at = ?, last_status = ?, last_error = ?,
                   last_success_at = CASE WHEN ? THEN ? ELSE last_success_at END,
                   etag = CASE WHEN ? THEN etag ELSE ? END,
                   last_modified = CASE WHEN ? THEN last_modified ELSE ? END,
                   bozo = CASE WHEN ? THEN ? ELSE bozo END,
                   high_water = CASE WHEN ? AND ? IS NOT NULL THEN ? ELSE high_water END,
                   session = coalesce(?, session),
                   not_found = CASE WHEN ? = 404 THEN not_found + 1 WHEN ? THEN 0 ELSE not_found END
               WHERE name = ?""",
            [now, status, error, ok, now, keep_etag, etag, keep_modified, last_modified,
             parsed, bozo, ok, high_water, high_water, session, status, ok, name],
        )
        db.execute("UPDATE sources SET active = CASE WHEN ? THEN 1 WHEN ? = 410 OR not_found >= ? THEN 0 "
                   "ELSE active END WHERE name = ?", [ok, status, NOT_FOUND_LIMIT, name])


def sources_table(db: sqlite_utils.Database) -> list[dict]:
    """Every source with its fetch state and number of stored posts."""
    return [dict(r) for r in _rows(db, """
        SELECT s.name, s.type, s.url, s.last_fetch_at, s.last_success_at, s.last_status,
               s.last_error, s.bozo, s.active, s.high_water,
               (SELECT count(*) FROM posts p WHERE p.source = s.name) AS posts
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
    with write(db):
        conn = db.conn
        existing: dict[tuple[str, str], tuple] = {}
        for source, guids in by_source.items():
            for chunk, marks in _chunks(guids):
                for row in conn.execute(
                        f"SELECT guid, id, content_hash, {', '.join(ENGAGEMENT_FIELDS)} FROM posts "
                        f"WHERE source = ? AND guid IN ({marks})", [source, *chunk]):
                    existing[(source, row[0])] = row[1:]
        inserts, edits, renumbered = [], [], []
        for key, p in latest.items():
            text_values = [p.get(f) for f in TEXT_FIELDS]
            numbers = [p.get(f) for f in ENGAGEMENT_FIELDS]
            digest = content_hash(*text_values)
            row = existing.get(key)
            if row is None:
                posted = p.get("published_at") or now
                facets = post_facets({**p, "source": key[0], "posted_at": posted})
                inserts.append([*key, *text_values, *numbers, now, posted, digest, facets])
            elif row[1] != digest:
                edits.append([*text_values, *numbers, now, digest, p.get("published_at"), row[0]])
            elif any(new is not None and new != old for new, old in zip(numbers, row[2:])):
                renumbered.append([*numbers, row[0]])
            else:
                counts.unchanged += 1
        if inserts:
            conn.executemany(
                f"INSERT INTO posts ({', '.join(POST_FIELDS)}, fetched_at, posted_at, content_hash, facets) "
                f"VALUES ({', '.join('?' * (len(POST_FIELDS) + 4))})", inserts)
        if edits:
            conn.executemany(
                "UPDATE posts SET " + ", ".join(f"{f} = ?" for f in TEXT_FIELDS) + ", " +
                ", ".join(f"{f} = coalesce(?, {f})" for f in ENGAGEMENT_FIELDS) +
                ", updated_at = ?, content_hash = ?, posted_at = coalesce(?, posted_at), "
                "sentiment = NULL, sentiment_label = NULL, classified_at = NULL, classifier = NULL "
                "WHERE id = ?", edits)
            _refresh_facets(conn, [e[-1] for e in edits])
        if renumbered:
            conn.executemany(
                "UPDATE posts SET " + ", ".join(f"{f} = coalesce(?, {f})" for f in ENGAGEMENT_FIELDS) +
                " WHERE id = ?", renumbered)
            _refresh_facets(conn, [e[-1] for e in renumbered])  # re-indexed only when it passes a step
        counts.new, counts.updated = len(inserts), len(edits) + len(renumbered)
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
    with write(db):
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
        _refresh_facets(conn, [r.post_id for r in results])


def _apply_labels(conn: sqlite3.Connection, post_ids: Sequence[int]) -> None:
    for chunk, marks in _chunks(post_ids):
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
    with write(db):
        conn = db.conn
        conn.execute(
            "INSERT INTO post_labels (post_id, sentiment, topics, labelled_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(post_id) DO UPDATE SET sentiment = coalesce(excluded.sentiment, sentiment), "
            "topics = coalesce(excluded.topics, topics), labelled_at = excluded.labelled_at",
            [post_id, sentiment, json.dumps(sorted(set(topics))) if topics is not None else None, now])
        _apply_labels(conn, [post_id])
        _refresh_facets(conn, [post_id])


def labelled_posts(db: sqlite_utils.Database) -> list[dict]:
    """Posts with a human sentiment label: id, title, text, language, label."""
    return _rows(db, """SELECT p.id, p.title, p.text, p.language, l.sentiment AS label
                        FROM post_labels l JOIN posts p ON p.id = l.post_id
                        WHERE l.sentiment IS NOT NULL ORDER BY p.id""")


def get_post(db: sqlite_utils.Database, post_id: int) -> dict | None:
    """One post with its engagement total, classification, mentions, topics and human label (None if absent)."""
    rows = _rows(db, f"SELECT p.*, {ENGAGEMENT_SQL} AS engagement FROM posts p WHERE p.id = ?", [post_id])
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
    with write(db):
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


# --- search (read-only, but for saved searches) ------------------------------------------


def distinct_values(db: sqlite_utils.Database, table: str, column: str) -> list[str]:
    """Distinct values of an indexed column by index seeks (a loose index scan), not a table scan."""
    sql = (f"WITH RECURSIVE v(x) AS (SELECT min({column}) FROM {table} UNION ALL "
           f"SELECT (SELECT min({column}) FROM {table} WHERE {column} > v.x) FROM v WHERE v.x IS NOT NULL) "
           f"SELECT x FROM v WHERE x IS NOT NULL")
    return [r[0] for r in db.execute(sql).fetchall()]


def posted_days(db: sqlite_utils.Database) -> tuple[str | None, str | None]:
    """UTC midnight of the first day any post was posted, and of the day after the last."""
    first, last = db.execute("SELECT (SELECT min(posted_at) FROM posts), (SELECT max(posted_at) FROM posts)").fetchone()
    if not first or not last:
        return None, None
    after = date.fromisoformat(last[:10]) + timedelta(days=1)
    return f"{first[:10]}T00:00:00Z", f"{after.isoformat()}T00:00:00Z"


TOKENIZER = "porter unicode61"  # posts_fts's: temporary indexes that must split words alike use it too


@contextmanager
def scratch(db: sqlite_utils.Database) -> Iterator[sqlite3.Connection]:
    """The connection, for writes to temporary tables that leave no transaction open behind them
    (an open one would keep this connection reading an old snapshot and hold back checkpoints)."""
    conn = db.conn
    before = conn.in_transaction
    try:
        yield conn
    finally:
        if not before and conn.in_transaction:
            conn.commit()


def fts_tokens(db: sqlite_utils.Database, text: str) -> list[str]:
    """``text`` as the full-text index stores it: its words, lower case, Porter-stemmed."""
    with scratch(db) as conn:
        conn.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.tokenize_fts USING fts5(x, tokenize='{TOKENIZER}')")
        conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.tokenize_terms "
                     "USING fts5vocab(temp, tokenize_fts, instance)")
        conn.execute("INSERT INTO temp.tokenize_fts (rowid, x) VALUES (1, ?)", [text])
        try:
            return [r[0] for r in conn.execute('SELECT term FROM temp.tokenize_terms ORDER BY "offset"')]
        finally:
            conn.execute("DELETE FROM temp.tokenize_fts")


def index_terms(db: sqlite_utils.Database, prefix: str, limit: int) -> list[str] | None:
    """The full-text index's terms that start with ``prefix``, in order; None if there are more
    than ``limit``. One index seek per term."""
    db.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.posts_terms USING fts5vocab(main, posts_fts, instance)")
    terms: list[str] = []
    after = prefix
    while len(terms) <= limit:
        row = db.execute("SELECT term FROM temp.posts_terms WHERE term >= ? LIMIT 1", [after]).fetchone()
        if row is None or not row[0].startswith(prefix):
            return terms
        terms.append(row[0])
        after = row[0] + "\x01"  # the next term: no term holds a control character
    return None


def post_tags(db: sqlite_utils.Database, ids: Sequence[int]) -> tuple[dict[int, list[dict]], dict[int, list[str]]]:
    """For each post id: its product mentions (product, alias) and its topics."""
    products: dict[int, list[dict]] = {}
    topics: dict[int, list[str]] = {}
    for chunk, marks in _chunks(ids):
        for pid, product, alias in db.execute(
                f"SELECT post_id, product, alias FROM mentions WHERE post_id IN ({marks}) "
                f"ORDER BY product", chunk):
            products.setdefault(pid, []).append({"product": product, "alias": alias})
        for pid, topic in db.execute(
                f"SELECT post_id, topic FROM post_topics WHERE post_id IN ({marks}) ORDER BY topic", chunk):
            topics.setdefault(pid, []).append(topic)
    return products, topics


def save_search(db: sqlite_utils.Database, name: str, query: str, *, owner: str | None, now: str) -> None:
    """Create or replace the saved search ``name``."""
    with write(db):
        db.execute("INSERT INTO saved_searches (name, query, owner, created_at, updated_at) "
                   "VALUES (?, ?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET query = excluded.query, "
                   "owner = excluded.owner, updated_at = excluded.updated_at",
                   [name, query, owner, now, now])


def saved_searches(db: sqlite_utils.Database, owner: str | None = None) -> list[dict]:
    """Saved searches by name (only one owner's with ``owner``)."""
    if owner is None:
        return _rows(db, "SELECT * FROM saved_searches ORDER BY name")
    return _rows(db, "SELECT * FROM saved_searches WHERE owner = ? ORDER BY name", [owner])


def delete_saved_search(db: sqlite_utils.Database, name: str) -> bool:
    with write(db):
        return db.conn.execute("DELETE FROM saved_searches WHERE name = ?", [name]).rowcount > 0


def product_topics(db: sqlite_utils.Database, product: str, start: str, end: str, limit: int) -> list[dict]:
    """Topics of a product's mentions in [start, end), most frequent first."""
    return _rows(db, """
        SELECT t.topic, count(*) AS n, avg(t.sentiment) AS sentiment
        FROM mentions m JOIN posts p ON p.id = m.post_id JOIN post_topics t ON t.post_id = p.id
        WHERE m.product = ? AND p.posted_at >= ? AND p.posted_at < ?
        GROUP BY t.topic ORDER BY n DESC, t.topic LIMIT ?""", [product, start, end, limit])


def post_stats(db: sqlite_utils.Database) -> dict:
    """Totals over the whole store: posts, classified, first and last post time, per label."""
    total, classified, first, last = db.execute(
        "SELECT count(*), count(classified_at), min(posted_at), max(posted_at) FROM posts").fetchone()
    labels = dict(db.execute("SELECT sentiment_label, count(*) FROM posts WHERE sentiment_label IS NOT NULL "
                             "GROUP BY sentiment_label").fetchall())
    return {"posts": total, "classified": classified, "first_post_at": first, "last_post_at": last,
            "labels": labels}


# --- runs -----------------------------------------------------------------------


@dataclass
class Run:
    id: int
    kind: str
    counts: UpsertCounts = field(default_factory=UpsertCounts)
    errors: list[str] = field(default_factory=list)
    detail: dict = field(default_factory=dict)


def start_run(db: sqlite_utils.Database, kind: str, *, now: str) -> Run:
    with write(db):
        cur = db.conn.execute("INSERT INTO runs (kind, started_at) VALUES (?, ?)", [kind, now])
    return Run(id=cur.lastrowid, kind=kind)


def finish_run(db: sqlite_utils.Database, run: Run, *, now: str, failed: bool = False) -> None:
    status = "error" if failed else ("partial" if run.errors else "ok")
    detail = dict(run.detail)
    if run.errors:
        detail["errors"] = run.errors
    with write(db):
        db.execute(
            "UPDATE runs SET finished_at = ?, status = ?, new = ?, updated = ?, unchanged = ?, "
            "errors = ?, detail = ? WHERE id = ?",
            [now, status, run.counts.new, run.counts.updated, run.counts.unchanged, len(run.errors),
             json.dumps(detail, sort_keys=True) if detail else None, run.id])


@contextmanager
def recorded_run(db: sqlite_utils.Database, kind: str, *, now: str) -> Iterator[Run]:
    """One ``runs`` row around a job: closed ok (or partial, with errors), or error if the job raises."""
    run = start_run(db, kind, now=now)
    try:
        yield run
    except BaseException:
        finish_run(db, run, now=now, failed=True)
        raise
    finish_run(db, run, now=now)


def close_stale_runs(db: sqlite_utils.Database, *, started_before: str, now: str) -> int:
    """Mark runs still 'running' that started before ``started_before`` as interrupted (a killed process)."""
    with write(db):
        cur = db.conn.execute("UPDATE runs SET status = 'interrupted', finished_at = ? "
                              "WHERE status = 'running' AND started_at < ?", [now, started_before])
    return cur.rowcount


def recent_runs(db: sqlite_utils.Database, limit: int = 20) -> list[dict]:
    return _rows(db, "SELECT * FROM runs ORDER BY id DESC LIMIT ?", [limit])


# --- report queries (read-only) --------------------------------------------------
# ``cutoff`` (a UTC timestamp) leaves out posts first fetched after it, so a digest
# re-run later on a grown database gives the same numbers.

_POST_COLUMNS = ("p.id, p.source, p.url, p.title, p.text, p.author, p.posted_at, p.sentiment, "
                 "p.sentiment_label, p.score, p.comments, p.likes, p.shares, "
                 f"{ENGAGEMENT_SQL} AS engagement, m.alias")


@dataclass(frozen=True)
class Scope:
    """Which posts a report counts: those fetched by ``cutoff`` and, with ``sql``, only those
    a search matches (a condition on ``posts p`` with its parameters)."""
    cutoff: str | None = None
    sql: str = ""
    params: tuple = ()


def _cut(cutoff: str | Scope | None) -> tuple[str, list]:
    """SQL (``AND ...`` on ``posts p``) and parameters for a report's cut-off time or ``Scope``."""
    scope = cutoff if isinstance(cutoff, Scope) else Scope(cutoff)
    sql, args = ("AND p.fetched_at <= ?", [scope.cutoff]) if scope.cutoff else ("", [])
    if scope.sql:
        sql, args = f"{sql} AND {scope.sql}", [*args, *scope.params]
    return sql, args


def daily_mentions(db: sqlite_utils.Database, start: str, end: str,
                   cutoff: str | Scope | None = None) -> list[dict]:
    """Mentions per product, UTC day and sentiment label for days in [start, end)."""
    cut, args = _cut(cutoff)
    return _rows(db, f"""
        SELECT m.product, substr(p.posted_at, 1, 10) AS day, p.sentiment_label AS label,
               count(*) AS n
        FROM mentions m JOIN posts p ON p.id = m.post_id
        WHERE p.posted_at >= ? AND p.posted_at < ? {cut}
        GROUP BY m.product, day, label""", [start, end, *args])


def product_mentions(db: sqlite_utils.Database, product: str, start: str, end: str, *,
                     label: str | None = None, order: str = "sentiment", limit: int,
                     cutoff: str | Scope | None = None) -> list[dict]:
    """Mentions of a product in [start, end): by sentiment (strongest of ``label`` first) or engagement."""
    cut, args = _cut(cutoff)
    where_label = "AND p.sentiment_label = ?" if label else ""
    if order == "engagement":
        order_by = "engagement DESC"
    else:
        order_by = f"p.sentiment {'DESC' if label == 'positive' else 'ASC'}"
    return _rows(db, f"""
        SELECT {_POST_COLUMNS}
        FROM mentions m JOIN posts p ON p.id = m.post_id
        WHERE m.product = ? AND p.posted_at >= ? AND p.posted_at < ? {where_label} {cut}
        ORDER BY {order_by}, p.posted_at DESC, p.id LIMIT ?""",
                 [product, start, end, *([label] if label else []), *args, limit])


def product_facets(db: sqlite_utils.Database, product: str, start: str, end: str, column: str, *,
                   limit: int, cutoff: str | Scope | None = None) -> list[tuple[str, int]]:
    """The most frequent sources or authors among a product's mentions in [start, end)."""
    if column not in ("source", "author"):
        raise ValueError(f"cannot group by {column!r}")
    cut, args = _cut(cutoff)
    rows = db.execute(f"""
        SELECT p.{column}, count(*) AS n FROM mentions m JOIN posts p ON p.id = m.post_id
        WHERE m.product = ? AND p.posted_at >= ? AND p.posted_at < ? AND p.{column} IS NOT NULL {cut}
        GROUP BY p.{column} ORDER BY n DESC, p.{column} LIMIT ?""", [product, start, end, *args, limit])
    return [(r[0], r[1]) for r in rows.fetchall()]


def topic_sentiment(db: sqlite_utils.Database, product: str, start: str, end: str, *,
                    cutoff: str | Scope | None = None) -> list[dict]:
    """Per topic: positive and negative mention counts for a product."""
    cut, args = _cut(cutoff)
    return _rows(db, f"""
        SELECT t.topic,
               sum(CASE WHEN coalesce(t.sentiment, p.sentiment) >= 0.05 THEN 1 ELSE 0 END) AS positive,
               sum(CASE WHEN coalesce(t.sentiment, p.sentiment) <= -0.05 THEN 1 ELSE 0 END) AS negative,
               count(*) AS n
        FROM post_topics t JOIN posts p ON p.id = t.post_id JOIN mentions m ON m.post_id = p.id
        WHERE m.product = ? AND p.posted_at >= ? AND p.posted_at < ? {cut}
        GROUP BY t.topic ORDER BY n DESC, t.topic""", [product, start, end, *args])


def posts_between(db: sqlite_utils.Database, start: str, end: str, cutoff: str | Scope | None = None) -> int:
    cut, args = _cut(cutoff)
    return db.execute(f"SELECT count(*) FROM posts p WHERE posted_at >= ? AND posted_at < ? {cut}",
                      [start, end, *args]).fetchone()[0]


def posts_by_source(db: sqlite_utils.Database, start: str, end: str,
                    cutoff: str | Scope | None = None) -> dict[str, int]:
    cut, args = _cut(cutoff)
    rows = db.execute(f"SELECT source, count(*) FROM posts p WHERE posted_at >= ? AND posted_at < ? {cut} "
                      "GROUP BY source ORDER BY count(*) DESC, source", [start, end, *args]).fetchall()
    return {r[0]: r[1] for r in rows}


def classifiers_between(db: sqlite_utils.Database, start: str, end: str,
                        cutoff: str | Scope | None = None) -> list[str]:
    """The classifier versions that labelled the posts of a period (for reproducibility notes)."""
    cut, args = _cut(cutoff)
    rows = db.execute(f"SELECT DISTINCT classifier FROM posts p WHERE posted_at >= ? AND posted_at < ? "
                      f"AND classifier IS NOT NULL {cut} ORDER BY classifier", [start, end, *args])
    return [r[0] for r in rows.fetchall()]


# --- alerts and deliveries --------------------------------------------------------


def last_alert(db: sqlite_utils.Database, rule: str) -> str | None:
    row = db.execute("SELECT max(fired_at) FROM alerts WHERE rule = ?", [rule]).fetchone()
    return row[0] if row else None


def record_alert(db: sqlite_utils.Database, *, rule: str, product: str, condition: str, metric: str,
                 fired_at: str, window_start: str, window_end: str, value: float | None,
                 expected: float | None, p: float | None, detail: dict) -> int:
    with write(db):
        cur = db.conn.execute(
            "INSERT INTO alerts (rule, product, condition, metric, fired_at, window_start, window_end, value, "
            "expected, p, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [rule, product, condition, metric, fired_at, window_start, window_end, value, expected, p,
             json.dumps(detail, sort_keys=True, ensure_ascii=False)])
    return cur.lastrowid


def checkpoint(db: sqlite_utils.Database, rule: str) -> str | None:
    row = db.execute("SELECT checked_until FROM alert_checkpoints WHERE rule = ?", [rule]).fetchone()
    return row[0] if row else None


def set_checkpoint(db: sqlite_utils.Database, rule: str, until: str) -> None:
    with write(db):
        db.execute("INSERT INTO alert_checkpoints (rule, checked_until) VALUES (?, ?) "
                   "ON CONFLICT(rule) DO UPDATE SET checked_until = excluded.checked_until", [rule, until])


def record_delivery(db: sqlite_utils.Database, *, kind: str, ref: str, channel: str, ok: bool, attempts: int,
                    error: str | None, now: str) -> None:
    with write(db):
        db.execute("INSERT INTO deliveries (kind, ref, channel, status, attempts, error, created_at) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?)", [kind, ref, channel, "sent" if ok else "failed", attempts,
                                                    error, now])


def deliveries(db: sqlite_utils.Database, limit: int = 50) -> list[dict]:
    return _rows(db, "SELECT * FROM deliveries ORDER BY id DESC LIMIT ?", [limit])


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
    with write(db):
        db.conn.executemany("INSERT OR IGNORE INTO jobs (id, created_at) VALUES (?, ?)",
                            [[i, now] for i in ids])
    return job_rows(db)


def job_rows(db: sqlite_utils.Database) -> dict[str, dict]:
    return {r["id"]: r for r in _rows(db, "SELECT * FROM jobs")}


def record_job(db: sqlite_utils.Database, job_id: str, *, now: str, status: str, duration: float,
               summary: str, failures: int | None = None) -> None:
    """Remember one finished run of a job; ``failures`` (when given) replaces the counter."""
    with write(db):
        db.execute("UPDATE jobs SET last_run_at = ?, last_status = ?, last_duration = ?, "
                   "last_summary = ?, failures = coalesce(?, failures) WHERE id = ?",
                   [now, status, round(duration, 3), summary, failures, job_id])


def set_next_runs(db: sqlite_utils.Database, next_runs: dict[str, str | None]) -> None:
    with write(db):
        db.conn.executemany("UPDATE jobs SET next_run_at = ? WHERE id = ?",
                            [[t, i] for i, t in next_runs.items()])


def daemon_started(db: sqlite_utils.Database, *, pid: int, now: str) -> None:
    with write(db):
        db.execute("INSERT INTO daemon (id, pid, started_at, heartbeat_at) VALUES (1, ?, ?, ?) "
                   "ON CONFLICT(id) DO UPDATE SET pid = excluded.pid, started_at = excluded.started_at, "
                   "heartbeat_at = excluded.heartbeat_at, stopped_at = NULL", [pid, now, now])


def daemon_heartbeat(db: sqlite_utils.Database, *, now: str) -> None:
    with write(db):
        db.execute("UPDATE daemon SET heartbeat_at = ? WHERE id = 1", [now])


def daemon_stopped(db: sqlite_utils.Database, *, now: str) -> None:
    with write(db):
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
        with write(db):
            cur = db.conn.execute("DELETE FROM posts WHERE id IN (SELECT id FROM posts WHERE posted_at < ? "
                                  "ORDER BY id LIMIT ?)", [before, chunk])
        deleted += cur.rowcount
        if cur.rowcount < chunk:
            break
    with write(db):
        db.execute("DELETE FROM runs WHERE finished_at < ?", [before])
    return deleted


def mention_counts(db: sqlite_utils.Database) -> dict[str, int]:
    """Mentions per product over the whole store (products without mentions are absent)."""
    return dict(db.execute("SELECT product, count(*) FROM mentions GROUP BY product").fetchall())
