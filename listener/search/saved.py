"""Saved searches: a query stored under a name, checked before it is saved."""

from __future__ import annotations

import sqlite_utils

from listener import store
from listener.errors import BadInput, NotFound
from listener.search.query import parse


def save(db: sqlite_utils.Database, name: str, query: str, *, owner: str | None, now: str) -> None:
    """Check the query compiles, then store it under ``name``."""
    if not name.strip():
        raise BadInput("a saved search needs a name")
    parse(query)
    store.save_search(db, name.strip(), query, owner=owner, now=now)


def saved_query(db: sqlite_utils.Database, name: str) -> str:
    """The query text of a saved search, for reports and alert rules; ``KeyError`` if unknown."""
    for s in store.saved_searches(db):
        if s["name"] == name:
            return s["query"]
    raise NotFound(f"no saved search named {name!r}", exit_code=2)
