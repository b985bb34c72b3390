"""Saved searches: a query stored under a name, checked before it is saved."""

from __future__ import annotations

import re
import unicodedata
from typing import Iterable

import sqlite_utils

from listener import store
from listener.errors import BadInput, NotFound
from listener.search.plan import Filters
from listener.search.query import parse

MAX_NAME = 200  # characters of a saved search's name (as the API's model says)


def check_name(name: str) -> str:
    """A saved search's name, trimmed; ``BadInput`` (field ``name``) if blank, too long or holding a
    control character."""
    name = name.strip()
    if not name:
        raise BadInput("a saved search needs a name", field="name")
    if len(name) > MAX_NAME:
        raise BadInput(f"name: at most {MAX_NAME} characters, got {len(name)}", field="name")
    bad = next((i for i, ch in enumerate(name) if unicodedata.category(ch) == "Cc"), None)
    if bad is not None:
        raise BadInput(f"name: control character U+{ord(name[bad]):04X} is not allowed (at {bad + 1})", field="name")
    return name


def save(db: sqlite_utils.Database, name: str, query: str, *, owner: str | None, now: str) -> None:
    """Check the query compiles, then store it under ``name``."""
    name = check_name(name)
    parse(query)
    store.save_search(db, name, query, owner=owner, now=now)


def rules_watching(rules: Iterable, name: str) -> list[str]:
    """The names of the alert rules (``settings.alerts.rules``) watching the saved search ``name``
    (``saved = "NAME"``): renaming or deleting it would break them."""
    return [r.name for r in rules if r.saved == name]


def with_filters(query: str, filters: Filters) -> str:
    """The search page's query and filter boxes as one query text, to save what the page shows: the
    boxes become the fields they stand for (``product:``, ``source:``, ``sentiment:``, ``lang:``,
    ``published:[FROM TO TO]``), ANDed to the query, which is grouped so an OR in it stays inside."""
    parts = [f"({query.strip()})" if query.strip() and filters.nodes() else query.strip()]
    for key, value in (("product", filters.product), ("source", filters.source), ("sentiment", filters.sentiment),
                       ("lang", filters.language)):
        value = (value or "").strip()
        if not value:
            continue
        if '"' in value:  # a quoted field value cannot hold a quote
            raise BadInput(f"{key}: a value with a quote cannot be saved in a query, got {value!r}", field=key)
        parts.append(f"{key}:{value}" if re.fullmatch(r"[\w.@'-]+", value) else f'{key}:"{value}"')
    if filters.since or filters.until:
        low = filters.since.isoformat() if filters.since else "*"
        high = filters.until.isoformat() if filters.until else "*"
        parts.append(f"published:[{low} TO {high}]")
    return " ".join(p for p in parts if p)


def saved_query(db: sqlite_utils.Database, name: str) -> str:
    """The query text of a saved search, for reports and alert rules; ``KeyError`` if unknown."""
    for s in store.saved_searches(db):
        if s["name"] == name:
            return s["query"]
    raise NotFound(f"no saved search named {name!r}", exit_code=2)
