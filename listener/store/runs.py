"""The ``runs`` table: one row per collect, classify or digest job, with its counts and outcome."""

from __future__ import annotations

import json
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator

import sqlite_utils

from listener.store.db import write
from listener.store.posts import UpsertCounts
from listener.store.sql import rows

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
    return rows(db, "SELECT * FROM runs ORDER BY id DESC LIMIT ?", [limit])


def last_digest(db: sqlite_utils.Database) -> dict | None:
    """The most recent successful digest run, with its paths in ``detail``."""
    found = rows(db, "SELECT id, finished_at, detail FROM runs WHERE kind = 'digest' AND status = 'ok' "
                     "ORDER BY id DESC LIMIT 1")
    if not found:
        return None
    row = found[0]
    row["detail"] = json.loads(row["detail"] or "{}")
    return row


def save_run_progress(db: sqlite_utils.Database, run: Run) -> None:
    """Write a running job's ``detail`` now (its progress), before ``finish_run`` closes it."""
    with write(db):
        db.execute("UPDATE runs SET detail = ? WHERE id = ?", [json.dumps(run.detail, sort_keys=True), run.id])


def latest_run(db: sqlite_utils.Database, kind: str, *, product: str | None = None) -> dict | None:
    """The newest run of ``kind`` (running or finished; of ``product``: its ``detail`` names it), ``detail``
    parsed; None when there is none."""
    where = "" if product is None else "AND json_extract(detail, '$.product') = ?"
    found = rows(db, f"SELECT * FROM runs WHERE kind = ? {where} ORDER BY id DESC LIMIT 1",
                 [kind] + ([] if product is None else [product]))
    if not found:
        return None
    row = found[0]
    row["detail"] = json.loads(row["detail"] or "{}")
    return row
