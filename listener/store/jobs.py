"""Scheduler state for ``listener daemon`` and ``listener status``: job rows and the daemon's heartbeat."""

from __future__ import annotations

from typing import Iterable

import sqlite_utils

from listener.store.db import write
from listener.store.sql import rows

def ensure_jobs(db: sqlite_utils.Database, ids: Iterable[str], *, now: str) -> dict[str, dict]:
    """Create missing job rows; return every job row by id."""
    with write(db):
        db.conn.executemany("INSERT OR IGNORE INTO jobs (id, created_at) VALUES (?, ?)",
                            [[i, now] for i in ids])
    return job_rows(db)


def job_rows(db: sqlite_utils.Database) -> dict[str, dict]:
    return {r["id"]: r for r in rows(db, "SELECT * FROM jobs")}


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
    found = rows(db, "SELECT pid, started_at, heartbeat_at, stopped_at FROM daemon WHERE id = 1")
    return found[0] if found else None
