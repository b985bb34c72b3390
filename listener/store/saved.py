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


def saved_search(db: sqlite_utils.Database, name: str) -> dict | None:
    """The saved search ``name`` (None if there is none)."""
    found = rows(db, "SELECT * FROM saved_searches WHERE name = ?", [name])
    return found[0] if found else None


def rename_saved_search(db: sqlite_utils.Database, name: str, new: str, *, now: str) -> bool:
    """Give the saved search ``name`` the name ``new``; False if there is no ``name``
    (``sqlite3.IntegrityError`` if ``new`` is taken: the caller checks first)."""
    with write(db):
        return db.conn.execute("UPDATE saved_searches SET name = ?, updated_at = ? WHERE name = ?",
                               [new, now, name]).rowcount > 0


def delete_saved_search(db: sqlite_utils.Database, name: str) -> bool:
    """Delete the saved search ``name``; False if there is none."""
    with write(db):
        return db.conn.execute("DELETE FROM saved_searches WHERE name = ?", [name]).rowcount > 0
