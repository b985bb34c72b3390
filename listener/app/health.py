"""``listener status``: what the daemon did, what it will do, and what is wrong, from the store alone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlite_utils

from listener import store
from listener.app import jobs
from listener.config import Settings
from listener.text import iso_utc

DAEMON_ALIVE = timedelta(seconds=3 * jobs.HEARTBEAT_SECONDS)  # three missed heartbeats: the daemon is gone


@dataclass
class SourceHealth:
    name: str
    state: str                  # ok | failing | silent | never | disabled
    last_success: str | None
    last_error: str | None
    next_run: str | None
    posts_24h: int
    failures: int               # consecutive failures (drives the backoff)
    backoff: str                # "" or e.g. "retry in 40s (3 failures)"
    note: str = ""


@dataclass
class Status:
    sources: list[SourceHealth]
    daemon: str                 # "running (pid 12, heartbeat 2026-...)" or "not running (...)"
    last_digest: str | None     # path of the last digest written, with its time
    failing: list[str]

    @property
    def healthy(self) -> bool:
        return not self.failing


def status(db: sqlite_utils.Database, settings: Settings, *, now: datetime) -> Status:
    """Per-source health (failing, backing off, silent), the daemon's liveness and the last digest."""
    activity = store.source_activity(db, iso_utc(now - timedelta(days=1)))
    job_rows = store.job_rows(db)
    out = []
    for s in settings.sources:
        a = activity.get(s.name, {})
        job = job_rows.get(jobs.COLLECT + s.name, {})
        failures = job.get("failures") or 0
        next_run = job.get("next_run_at")
        h = SourceHealth(name=s.name, state="ok", last_success=a.get("last_success_at"),
                         last_error=a.get("last_error"), next_run=next_run, posts_24h=a.get("recent") or 0,
                         failures=failures, backoff="")
        if failures and next_run:
            wait = max(0, int((datetime.fromisoformat(next_run) - now).total_seconds()))
            h.backoff = f"retry in {wait}s ({failures} failure{'s' if failures > 1 else ''})"
        if not s.enabled:
            h.state = "disabled"
        elif h.last_error:
            h.state = "failing"
        elif not a.get("last_fetch_at"):
            h.state = "never"
        else:
            newest = a.get("newest")
            if newest is None or datetime.fromisoformat(newest) < now - timedelta(seconds=s.silent_after):
                h.state = "silent"
                h.note = (f"no new post since {newest}" if newest else "no post yet") + \
                    f" (sources[].silent_after = {s.silent_after}s)"
        out.append(h)
    digest = store.last_digest(db)
    last = None
    if digest:
        paths = digest["detail"].get("paths") or []
        last = f"{paths[0] if paths else '?'} (written {digest['finished_at']})"
    return Status(sources=out, daemon=_daemon_state(store.daemon_row(db), now), last_digest=last,
                  failing=[h.name for h in out if h.state == "failing"])


def _daemon_state(row: dict | None, now: datetime) -> str:
    if not row:
        return "never started"
    if row["stopped_at"]:
        return f"not running (pid {row['pid']} stopped at {row['stopped_at']})"
    beat = datetime.fromisoformat(row["heartbeat_at"])
    if now - beat > DAEMON_ALIVE:
        return f"not running? (pid {row['pid']}, last heartbeat {row['heartbeat_at']})"
    return f"running (pid {row['pid']} since {row['started_at']}, heartbeat {row['heartbeat_at']})"
