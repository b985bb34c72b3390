"""Configured sources and their crawl state: validators, high-water mark, session, active flag."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterable

import sqlite_utils

from listener.store.db import write
from listener.store.sql import rows

NOT_FOUND_LIMIT = 3  # consecutive 404s that make a source inactive (a 410 does at once)


@dataclass
class SourceState:
    name: str
    etag: str | None = None
    last_modified: str | None = None
    high_water: str | None = None
    session: str | None = None
    active: bool = True


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
    return [dict(r) for r in rows(db, """
        SELECT s.name, s.type, s.url, s.last_fetch_at, s.last_success_at, s.last_status,
               s.last_error, s.bozo, s.active, s.high_water,
               CASE WHEN s.type = 'forum' AND json_valid(s.session) THEN json_extract(s.session, '$.engine') END
                   AS engine,
               (SELECT count(*) FROM posts p WHERE p.source = s.name) AS posts
        FROM sources s ORDER BY s.name""")]


def source_activity(db: sqlite_utils.Database, since: str) -> dict[str, dict]:
    """Per source: fetch state, posts first seen at or after ``since``, newest first-seen time."""
    return {r["name"]: r for r in rows(db, """
        SELECT s.name, s.last_fetch_at, s.last_success_at, s.last_error,
               (SELECT count(*) FROM posts p WHERE p.source = s.name AND p.fetched_at >= ?) AS recent,
               (SELECT max(fetched_at) FROM posts p WHERE p.source = s.name) AS newest
        FROM sources s""", [since])}
