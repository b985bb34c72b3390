"""Every change of the schema, as a numbered migration, applied strictly in number order.

A migration is a function decorated ``@_migration("NNNN_what")``; its number follows the last
one's, and it never changes once released (a later migration corrects it). Applied ones are
recorded in ``_sqlite_migrations`` (sqlite-utils ``Migrations``, set ``listener``), so an old
database upgrades in place with only the ones it lacks.

sqlite-utils applies pending migrations in the order they were registered, that is the order the
decorators ran at import. While the store was one module, ``0003_scheduler`` stood beside the
scheduler functions near its end, so a fresh database got 0001, 0002, 0004-0008, then 0003. Here
they are registered sorted by number whatever their place in the file, and two with one number
are refused at import.
"""

from __future__ import annotations

from typing import Callable, Iterable

import sqlite_utils
from sqlite_utils import Migrations

from listener.facets import ENGAGEMENT_SQL
from listener.store.fts import refresh_facets
from listener.text import content_hash

SET_NAME = "listener"
_Migration = Callable[[sqlite_utils.Database], None]
_declared: list[tuple[str, _Migration]] = []


def _migration(name: str) -> Callable[[_Migration], _Migration]:
    """Declare a migration named ``NNNN_what``."""
    def declare(fn: _Migration) -> _Migration:
        _declared.append((name, fn))
        return fn
    return declare


@_migration("0001_initial")
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


@_migration("0002_source_state")
def _m0002(db: sqlite_utils.Database) -> None:
    # Per-source crawl state for paged sources (issue 3): the newest post key seen,
    # whether the source still exists, and a reusable login session.
    db.execute("ALTER TABLE sources ADD COLUMN high_water TEXT")      # newest sort key collected
    db.execute("ALTER TABLE sources ADD COLUMN active INTEGER NOT NULL DEFAULT 1")  # 0 after 410 / repeated 404
    db.execute("ALTER TABLE sources ADD COLUMN not_found INTEGER NOT NULL DEFAULT 0")  # consecutive 404s
    db.execute("ALTER TABLE sources ADD COLUMN session TEXT")         # JSON login session (Bluesky)
    db.execute("ALTER TABLE sources ADD COLUMN config TEXT")          # settings the state belongs to



@_migration("0003_scheduler")
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



@_migration("0004_models")
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


@_migration("0005_search")
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


@_migration("0006_alerts")
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


@_migration("0007_search_facets")
def _m0007(db: sqlite_utils.Database) -> None:
    """Search facets: each post's source, site, author, language, sentiment, products, topics and
    day as tokens in a third full-text column, so field filters are doclist intersections inside
    FTS5 instead of a probe of the posts table per candidate. The FTS table is rebuilt with it."""
    conn = db.conn
    for trigger in ("posts_ai", "posts_ad", "posts_au"):
        conn.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    conn.execute("DROP TABLE IF EXISTS posts_fts")
    conn.execute("ALTER TABLE posts ADD COLUMN facets TEXT")
    refresh_facets(conn, [r[0] for r in conn.execute("SELECT id FROM posts ORDER BY id")])
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


@_migration("0008_engagement_facets")
def _m0008(db: sqlite_utils.Database) -> None:
    """Engagement steps as facet tokens: ``engagement:[10 TO *]`` becomes a doclist inside FTS5
    instead of a look-up of every matching post's numbers."""
    refresh_facets(db.conn, [r[0] for r in db.conn.execute("SELECT id FROM posts ORDER BY id")])
    # Rewriting most rows leaves the index in many small segments: 20% slower searches until merged.
    db.conn.execute("INSERT INTO posts_fts (posts_fts) VALUES ('optimize')")


@_migration("0009_mention_sentiment")
def _m0009(db: sqlite_utils.Database) -> None:
    """Per-mention sentiment (models.mentions): what the post says about each product it mentions.
    Existing rows keep NULLs (not judged yet) until ``listener classify --all`` fills them."""
    for column, kind in (("sentiment", "REAL"),          # polarity in [-1, 1]; NULL: unscored or not judged yet
                         ("sentiment_label", "TEXT"),    # positive | neutral | negative | unscored
                         ("confidence", "REAL"),
                         ("span", "TEXT"),               # the text judged about the product
                         ("basis", "TEXT")):             # comparative | clause | sentence | post | rest | none | unscored
        db.execute(f"ALTER TABLE mentions ADD COLUMN {column} {kind}")


@_migration("0010_mention_labels")
def _m0010(db: sqlite_utils.Database) -> None:
    """Human sentiment relabels of one product's mention in a post (``listener label --product``).
    They override the model for that mention, are written into its ``mentions`` row (basis 'label')
    and are training data for ``listener train --with-labels``."""
    db.execute("""
        CREATE TABLE IF NOT EXISTS mention_labels (
            post_id INTEGER NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
            product TEXT NOT NULL,
            sentiment TEXT NOT NULL,      -- positive | neutral | negative
            labelled_at TEXT NOT NULL,
            PRIMARY KEY (post_id, product)
        )""")


@_migration("0011_detected_language")
def _m0011(db: sqlite_utils.Database) -> None:
    """The language classification settled on, apart from the one the source declared (``language``).

    Earlier versions wrote a detected language into ``language`` when the source declared none, so
    ``classify --all`` took an old guess for a declaration. The content hash tells them apart: it was
    taken over the collected fields, so where it matches the post with no language, the stored one
    was detected and moves to ``detected_language``."""
    db.execute("ALTER TABLE posts ADD COLUMN detected_language TEXT")
    moved = [[pid] for pid, *fields, digest in db.execute(
        "SELECT id, url, author, title, text, published_at, content_hash FROM posts "
        "WHERE language IS NOT NULL AND classified_at IS NOT NULL").fetchall()
        if content_hash(*fields, None) == digest]
    db.conn.executemany("UPDATE posts SET detected_language = language, language = NULL WHERE id = ?", moved)


@_migration("0012_mention_sentiment_facets")
def _m0012(db: sqlite_utils.Database) -> None:
    """Each mention's sentiment as a search facet (``product:X sentiment:S`` means S about X): the
    posts whose mentions were judged get the tokens."""
    judged = [r[0] for r in db.conn.execute(
        "SELECT DISTINCT post_id FROM mentions WHERE sentiment_label IS NOT NULL ORDER BY post_id")]
    if judged:  # a database not classified since 0009 has none: its index stays as it is
        refresh_facets(db.conn, judged)
        db.conn.execute("INSERT INTO posts_fts (posts_fts) VALUES ('optimize')")


@_migration("0013_parent_url")
def _m0013(db: sqlite_utils.Database) -> None:
    """The post a comment or reply answers (its thread, question, issue or video), when the source says."""
    db.execute("ALTER TABLE posts ADD COLUMN parent_url TEXT")


@_migration("0014_copies")
def _m0014(db: sqlite_utils.Database) -> None:
    """Near-duplicate clusters (``listener.store.duplicates``): each post's MinHash signature and
    its LSH band keys, and ``posts.copy_of``, the first post of the cluster it is a copy of. The
    posts of an existing database are signed by the next ``classify``."""
    db.execute("ALTER TABLE posts ADD COLUMN copy_of INTEGER")
    db.execute("CREATE INDEX posts_copy_of ON posts (copy_of) WHERE copy_of IS NOT NULL")
    db.execute("""
        CREATE TABLE post_signatures (
            post_id INTEGER PRIMARY KEY REFERENCES posts(id) ON DELETE CASCADE,
            version TEXT NOT NULL,      -- models.duplicates.VERSION
            size INTEGER NOT NULL,      -- distinct word 3-grams; 0: too short to be anyone's copy
            hashes BLOB                 -- the MinHash values, NULL when too short
        )""")
    db.execute("""
        CREATE TABLE post_bands (
            key INTEGER NOT NULL,
            post_id INTEGER NOT NULL REFERENCES posts(id) ON DELETE CASCADE
        )""")
    db.execute("CREATE INDEX post_bands_key ON post_bands (key)")
    db.execute("CREATE INDEX post_bands_post ON post_bands (post_id)")


@_migration("0015_mention_rejects")
def _m0015(db: sqlite_utils.Database) -> None:
    """Mentions judged not about their product (models.relevance), apart from ``mentions`` so that every
    number, which counts ``mentions``, leaves them out; the users' about / not-about marks, which
    decide over the model and are training data (``listener train --relevance --with-labels``); and each
    judged mention's base score, whose mean per product the model's product-level stage reads."""
    db.execute("""
        CREATE TABLE IF NOT EXISTS mention_rejects (
            post_id INTEGER NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
            product TEXT NOT NULL,
            alias TEXT NOT NULL,
            score REAL,                   -- relevance in [0, 1]; NULL: not scored (a query or a mark decided)
            threshold REAL,
            reason TEXT NOT NULL,         -- one sentence: why it does not count
            model TEXT,                   -- the relevance model, or 'label' for a user's mark
            sentiment REAL, sentiment_label TEXT, confidence REAL, span TEXT, basis TEXT,  -- as in mentions
            PRIMARY KEY (post_id, product)
        )""")
    db.execute("""
        CREATE TABLE IF NOT EXISTS relevance_labels (
            post_id INTEGER NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
            product TEXT NOT NULL,
            about INTEGER NOT NULL,       -- 1: about the product, 0: not about it
            labelled_at TEXT NOT NULL,
            PRIMARY KEY (post_id, product)
        )""")
    db.execute("""
        CREATE TABLE IF NOT EXISTS relevance_scores (
            post_id INTEGER NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
            product TEXT NOT NULL,
            logit REAL NOT NULL,          -- the relevance model's base log-odds of the mention
            model TEXT NOT NULL,
            PRIMARY KEY (post_id, product)
        )""")
    db.execute("CREATE INDEX IF NOT EXISTS relevance_scores_model ON relevance_scores (model, product)")

# The post fields each mention carries a copy of (migration 0016): (mention column, post expression; {r}: the row).
_MENTION_POST_COPY = (("post_posted_at", "{r}posted_at"), ("post_fetched_at", "{r}fetched_at"),
                      ("post_source", "{r}source"), ("post_author", "{r}author"),
                      ("post_engagement", ENGAGEMENT_SQL.replace("p.", "{r}")), ("post_copy_of", "{r}copy_of"))


@_migration("0016_report_reads")
def _m0016(db: sqlite_utils.Database) -> None:
    """What the reports (digest, web overview) read over a range of days without a row of ``posts``
    per mention: each mention carries a copy of its post's dates, source, author, engagement and
    ``copy_of`` (a copy's mentions count in no number: 0014) (kept by triggers, so writers need not know), indexed with its product, label and score; and a covering
    index of the posts' days for the per-source and per-classifier counts. An emerging topic keeps the
    share of the period's posts carrying its name, beside the baseline's (its growth)."""
    columns = ", ".join(c for c, _ in _MENTION_POST_COPY)
    values = ", ".join(e.format(r="") for _, e in _MENTION_POST_COPY)
    changed = ", ".join(e.format(r="NEW.") for _, e in _MENTION_POST_COPY)
    for column, _ in _MENTION_POST_COPY:
        db.execute(f"ALTER TABLE mentions ADD COLUMN {column} "
                   f"{'INTEGER' if column in ('post_engagement', 'post_copy_of') else 'TEXT'}")
    db.execute(f"UPDATE mentions SET ({columns}) = (SELECT {values} FROM posts WHERE posts.id = mentions.post_id)")
    db.execute(f"""CREATE TRIGGER mentions_post_copy AFTER INSERT ON mentions BEGIN
        UPDATE mentions SET ({columns}) = (SELECT {values} FROM posts WHERE posts.id = NEW.post_id)
        WHERE rowid = NEW.rowid; END""")
    db.execute(f"""CREATE TRIGGER posts_mention_copy
        AFTER UPDATE OF posted_at, fetched_at, source, author, score, comments, likes, shares, copy_of ON posts BEGIN
        UPDATE mentions SET ({columns}) = ({changed}) WHERE post_id = NEW.id; END""")
    db.execute(f"CREATE INDEX mentions_period ON mentions "
               f"(post_posted_at, post_fetched_at, product, sentiment_label, sentiment, post_id, post_source, "
               f"post_author, post_engagement, post_copy_of)")
    db.execute("CREATE INDEX posts_posted_cover ON posts (posted_at, fetched_at, source, classifier)")
    db.execute("ALTER TABLE emerging_topics ADD COLUMN period_share REAL")  # NULL: stored before


@_migration("0017_users")
def _m0017(db: sqlite_utils.Database) -> None:
    """Users with roles, their login sessions and API tokens (both stored as SHA-256 of the random
    secret the browser or client holds), and the audit log of every change (``store.audit``)."""
    db.execute("""
        CREATE TABLE users (
            name TEXT PRIMARY KEY,
            role TEXT NOT NULL CHECK (role IN ('viewer', 'editor', 'admin')),
            password_hash TEXT NOT NULL,  -- argon2id (listener.users)
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )""")
    db.execute("""
        CREATE TABLE sessions (
            id_hash TEXT PRIMARY KEY,     -- sha256 of the cookie's value
            user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL
        )""")
    db.execute("CREATE INDEX sessions_user ON sessions (user)")
    db.execute("""
        CREATE TABLE api_tokens (
            token_hash TEXT PRIMARY KEY,  -- sha256 of the token
            user TEXT NOT NULL UNIQUE REFERENCES users(name) ON DELETE CASCADE,
            created_at TEXT NOT NULL
        )""")
    db.execute("""
        CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            who TEXT NOT NULL,            -- a user's name, or cli / token / local
            action TEXT NOT NULL,         -- e.g. user.add, saved_search.delete
            target TEXT NOT NULL,
            before TEXT,                  -- JSON, NULL when created
            after TEXT                    -- JSON, NULL when removed
        )""")
    db.execute("CREATE INDEX audit_log_at ON audit_log (at)")



@_migration("0018_label_authors")
def _m0018(db: sqlite_utils.Database) -> None:
    """Who set each mention's human label (a user's name, or cli / token / local): NULL for the labels
    set before (the page then says only when)."""
    db.execute("ALTER TABLE mention_labels ADD COLUMN labelled_by TEXT")
    db.execute("ALTER TABLE relevance_labels ADD COLUMN labelled_by TEXT")


@_migration("0019_alert_status")
def _m0019(db: sqlite_utils.Database) -> None:
    """The alert inbox: each fired alert's status (new, seen, handled), who set it (a user's name, or
    cli / token / local; NULL while new) and when."""
    db.execute("ALTER TABLE alerts ADD COLUMN status TEXT NOT NULL DEFAULT 'new' "
               "CHECK (status IN ('new', 'seen', 'handled'))")
    db.execute("ALTER TABLE alerts ADD COLUMN status_by TEXT")
    db.execute("ALTER TABLE alerts ADD COLUMN status_at TEXT")
    db.execute("CREATE INDEX alerts_fired ON alerts (fired_at)")


@_migration("0020_audit_undo")
def _m0020(db: sqlite_utils.Database) -> None:
    """Undo per change: an audit row of a change to a post's mention or topics keeps what restoring the
    state before it takes (``undo``, JSON; NULL: not undoable), and the id of the row that undid it."""
    db.execute("ALTER TABLE audit_log ADD COLUMN undo TEXT")
    db.execute("ALTER TABLE audit_log ADD COLUMN undone_by INTEGER")
    db.execute("CREATE INDEX audit_log_target ON audit_log (target, id)")


@_migration("0021_api_token_labels")
def _m0021(db: sqlite_utils.Database) -> None:
    """Several API tokens per user, each with a label (one per label) and when it was last used; the
    token a user had keeps working as their ``default``. The table is rebuilt: SQLite cannot drop the
    old ``UNIQUE (user)``."""
    db.execute("""
        CREATE TABLE api_tokens_new (
            token_hash TEXT PRIMARY KEY,  -- sha256 of the token
            user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
            label TEXT NOT NULL,          -- the user's name for it (ci, laptop); 'default' without one
            created_at TEXT NOT NULL,
            last_used_at TEXT,            -- NULL: never used; kept to the minute
            UNIQUE (user, label)
        )""")
    db.execute("INSERT INTO api_tokens_new (token_hash, user, label, created_at) "
               "SELECT token_hash, user, 'default', created_at FROM api_tokens")
    db.execute("DROP TABLE api_tokens")
    db.execute("ALTER TABLE api_tokens_new RENAME TO api_tokens")


# 0016's copied post fields and the post's language as classified (migration 0022).
_MENTION_POST_COPY_22 = (*_MENTION_POST_COPY, ("post_language", "{r}detected_language"))


@_migration("0022_mention_language")
def _m0022(db: sqlite_utils.Database) -> None:
    """Each mention carries its post's language as classified (``detected_language``), so the digest
    and the web count mood per language from the mentions' date index alone: 0016's triggers are
    made again with it, and ``mentions_period`` covers it (appended last: its order is unchanged)."""
    columns = ", ".join(c for c, _ in _MENTION_POST_COPY_22)
    values = ", ".join(e.format(r="") for _, e in _MENTION_POST_COPY_22)
    changed = ", ".join(e.format(r="NEW.") for _, e in _MENTION_POST_COPY_22)
    db.execute("ALTER TABLE mentions ADD COLUMN post_language TEXT")
    db.execute("UPDATE mentions SET post_language = (SELECT detected_language FROM posts WHERE posts.id = mentions.post_id)")
    db.execute("DROP TRIGGER IF EXISTS mentions_post_copy")
    db.execute("DROP TRIGGER IF EXISTS posts_mention_copy")
    db.execute(f"""CREATE TRIGGER mentions_post_copy AFTER INSERT ON mentions BEGIN
        UPDATE mentions SET ({columns}) = (SELECT {values} FROM posts WHERE posts.id = NEW.post_id)
        WHERE rowid = NEW.rowid; END""")
    db.execute(f"""CREATE TRIGGER posts_mention_copy
        AFTER UPDATE OF posted_at, fetched_at, source, author, score, comments, likes, shares, copy_of,
        detected_language ON posts BEGIN
        UPDATE mentions SET ({columns}) = ({changed}) WHERE post_id = NEW.id; END""")
    db.execute("DROP INDEX IF EXISTS mentions_period")
    db.execute("CREATE INDEX mentions_period ON mentions "
               "(post_posted_at, post_fetched_at, product, sentiment_label, sentiment, post_id, post_source, "
               "post_author, post_engagement, post_copy_of, post_language)")


def _number(name: str) -> int:
    return int(name.split("_", 1)[0])


def in_number_order(declared: Iterable[tuple[str, _Migration]]) -> Migrations:
    """A sqlite-utils migration set of ``declared`` (name, function) pairs, registered in number
    order, so it applies them in that order; ``ValueError`` if two share a number."""
    ordered = Migrations(SET_NAME)
    seen: dict[int, str] = {}
    for name, fn in sorted(declared, key=lambda m: _number(m[0])):
        if _number(name) in seen:
            raise ValueError(f"migrations {seen[_number(name)]} and {name} share the number {_number(name)}")
        seen[_number(name)] = name
        ordered(name=name)(fn)
    return ordered


MIGRATIONS = in_number_order(_declared)
NAMES = tuple(sorted((name for name, _ in _declared), key=_number))


def apply(db: sqlite_utils.Database, *, stop_before: str | None = None) -> None:
    """Apply the migrations ``db`` lacks, in number order (only those before ``stop_before``, if given)."""
    MIGRATIONS.apply(db, stop_before=stop_before)


def applied(db: sqlite_utils.Database) -> list[str]:
    """The names of the migrations applied to ``db``, in the order they were applied."""
    return [m.name for m in MIGRATIONS.applied(db)]


def pending(db: sqlite_utils.Database) -> list[str]:
    """The names of the migrations ``db`` lacks, in the order ``apply`` would apply them."""
    return [m.name for m in MIGRATIONS.pending(db)]
