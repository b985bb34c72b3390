"""Opening the database (WAL, busy timeout, foreign keys, migrations) and write transactions."""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import sqlite_utils

from listener.store import migrations

BUSY_TIMEOUT_MS = 10_000


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
    """The names of the migrations applied to ``db``, in the order they were applied."""
    return migrations.applied(db)
