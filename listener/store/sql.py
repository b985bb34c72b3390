"""Running read statements: rows as dicts or tuples, streamed batches, ``IN (...)`` chunks, a time
limit, and temporary tables that leave no transaction open. The other store modules build on
these; ``rows``, ``tuples``, ``iter_rows`` and ``time_limit`` are also the store's interface for
the search package's compiled SQL (see the store's docstring)."""

from __future__ import annotations

import sqlite3
import time
from contextlib import contextmanager
from typing import Any, Iterator, Sequence

import sqlite_utils

CHUNK = 500  # values per IN (...) lookup, well under SQLite's variable limit


def rows(db: sqlite_utils.Database, sql: str, params: Sequence[Any] = ()) -> list[dict]:
    """Every row of a read statement, as a dict by column name."""
    cur = db.execute(sql, params)
    cols = [c[0] for c in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


def tuples(db: sqlite_utils.Database, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
    """Every row of a read statement, as a tuple in column order."""
    return db.execute(sql, params).fetchall()


def iter_rows(db: sqlite_utils.Database, sql: str, params: Sequence[Any] = (), *,
              batch: int = 1000) -> Iterator[list[dict]]:
    """The rows of a read statement in batches of ``batch`` dicts, read as they are consumed."""
    cur = db.conn.cursor()
    cur.execute(sql, params)
    cols = [c[0] for c in cur.description]
    while True:
        fetched = cur.fetchmany(batch)
        if not fetched:
            return
        yield [dict(zip(cols, r)) for r in fetched]


def chunks(values: Sequence[Any]) -> Iterator[tuple[list[Any], str]]:
    """``values`` in slices of ``CHUNK``, each with its ``?, ?, ...`` placeholders for ``IN (...)``."""
    for i in range(0, len(values), CHUNK):
        chunk = list(values[i:i + CHUNK])
        yield chunk, ", ".join("?" * len(chunk))


class TimeLimitExceeded(Exception):
    """A statement run inside ``time_limit`` was stopped at its deadline."""


@contextmanager
def time_limit(db: sqlite_utils.Database, seconds: float | None, *, check_every: int = 10_000) -> Iterator[None]:
    """Stop the statements run inside after ``seconds`` (None: no limit) with ``TimeLimitExceeded``,
    looking at the clock every ``check_every`` SQLite steps (10,000: about 0.1 ms apart)."""
    if seconds is None:
        yield
        return
    deadline = time.monotonic() + seconds
    db.conn.set_progress_handler(lambda: time.monotonic() > deadline, check_every)
    try:
        yield
    except sqlite3.OperationalError as exc:
        if "interrupt" in str(exc):
            raise TimeLimitExceeded(seconds) from None
        raise
    finally:
        db.conn.set_progress_handler(None, 0)


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
