"""Fired alerts, new-mention checkpoints, and delivery attempts of digests and alerts."""

from __future__ import annotations

import json

import sqlite_utils

from listener.store.db import write
from listener.store.sql import rows

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
    return rows(db, "SELECT * FROM deliveries ORDER BY id DESC LIMIT ?", [limit])
