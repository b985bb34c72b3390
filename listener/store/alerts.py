"""Fired alerts, new-mention checkpoints, and delivery attempts of digests and alerts."""

from __future__ import annotations

import json
from dataclasses import dataclass

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


ALERT_STATUSES = ("new", "seen", "handled")


@dataclass(frozen=True)
class AlertFilter:
    """Which fired alerts the inbox shows: by status, rule, product, and ``fired_at`` from ``since`` to
    before ``until`` (ISO UTC stamps); None: any."""

    status: str | None = None
    rule: str | None = None
    product: str | None = None
    since: str | None = None
    until: str | None = None

    def where(self) -> tuple[str, list]:
        parts, params = [], []
        for column, value in (("status", self.status), ("rule", self.rule), ("product", self.product)):
            if value is not None:
                parts.append(f"{column} = ?")
                params.append(value)
        if self.since is not None:
            parts.append("fired_at >= ?")
            params.append(self.since)
        if self.until is not None:
            parts.append("fired_at < ?")
            params.append(self.until)
        return (" WHERE " + " AND ".join(parts)) if parts else "", params


def _alert_row(row: dict) -> dict:
    row["detail"] = json.loads(row["detail"]) if row.get("detail") else {}
    return row


def fired_alerts(db: sqlite_utils.Database, which: AlertFilter = AlertFilter(), *, limit: int = 50,
                 offset: int = 0) -> tuple[list[dict], int]:
    """The fired alerts ``which`` selects, newest first (``detail`` parsed), ``limit`` from ``offset``;
    and how many there are in all."""
    where, params = which.where()
    total = db.execute(f"SELECT count(*) FROM alerts{where}", params).fetchone()[0]
    found = rows(db, f"SELECT * FROM alerts{where} ORDER BY fired_at DESC, id DESC LIMIT ? OFFSET ?",
                 [*params, limit, offset])
    return [_alert_row(r) for r in found], total


def get_alert(db: sqlite_utils.Database, alert_id: int) -> dict | None:
    """One fired alert (``detail`` parsed), or None."""
    found = rows(db, "SELECT * FROM alerts WHERE id = ?", [alert_id])
    return _alert_row(found[0]) if found else None


def alert_names(db: sqlite_utils.Database) -> tuple[list[str], list[str]]:
    """The rules and the products of the alerts that fired (for the inbox's filter lists)."""
    return ([r[0] for r in db.execute("SELECT DISTINCT rule FROM alerts ORDER BY rule")],
            [r[0] for r in db.execute("SELECT DISTINCT product FROM alerts ORDER BY product")])


def set_alert_status(db: sqlite_utils.Database, alert_id: int, status: str, *, by: str, now: str) -> bool:
    """Set a fired alert's status (one of ``ALERT_STATUSES``) as ``by`` at ``now``; back to ``new``
    clears who and when. False if there is no such alert."""
    if status not in ALERT_STATUSES:
        raise ValueError(f"status must be one of {', '.join(ALERT_STATUSES)}, got {status!r}")
    who, when = (None, None) if status == "new" else (by, now)
    with write(db):
        cur = db.conn.execute("UPDATE alerts SET status = ?, status_by = ?, status_at = ? WHERE id = ?",
                              [status, who, when, alert_id])
    return cur.rowcount > 0


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
