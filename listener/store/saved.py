"""Saved searches."""

from __future__ import annotations

import sqlite_utils

from listener.store.db import write
from listener.store.sql import rows

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
        return rows(db, "SELECT * FROM saved_searches ORDER BY name")
    return rows(db, "SELECT * FROM saved_searches WHERE owner = ? ORDER BY name", [owner])


def delete_saved_search(db: sqlite_utils.Database, name: str) -> bool:
    with write(db):
        return db.conn.execute("DELETE FROM saved_searches WHERE name = ?", [name]).rowcount > 0
