"""A search (or a product's mentions) as the scope of a report: ``condition`` for the digest,
``bucket_counts`` and ``window_rows`` for alert rules.

With a product, sentiment is that mention's own (what the post says about the product), not the
post's; without one it is the post's.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlite_utils

from listener import store
from listener.facets import ENGAGEMENT_SQL
from listener.search.compiler import MATCH_SQL
from listener.search.near import _connect
from listener.search.plan import Plan, prepare
from listener.text import iso_utc


def condition(db: sqlite_utils.Database, query: str) -> tuple[str, list]:
    """A query as one SQL condition on ``posts p`` with its parameters, for reports that count
    only the posts a (saved) search matches; ``QueryError`` if it does not parse."""
    plan = prepare(db, query)
    _connect(db)
    if plan.fts_only:
        return MATCH_SQL, [plan.compiled.match]
    return f"p.id IN (SELECT p.id FROM {plan.from_sql}{plan.where_sql})", list(plan.params)


def _scope(plan: Plan | None, product: str | None) -> tuple[str, list, str]:
    """FROM ... WHERE for a plan's posts (every post without a plan; copies left out), optionally only
    those mentioning ``product`` (joined as ``m``), open for more ANDs; and the SQL of a row's sentiment label (the
    mention's with a product, else the post's)."""
    from_sql, where, params = ("posts p", " WHERE 1", []) if plan is None else \
        (plan.from_sql, plan.where_sql or " WHERE 1", list(plan.params))
    where += " AND p.copy_of IS NULL"   # a cluster of copies counts once, as its first post
    if product:  # (post_id, product) is the key of mentions: one row per post
        return (f"FROM {from_sql} JOIN mentions m ON m.post_id = p.id AND m.product = ?{where}",
                [product, *params], store.MENTION_LABEL_SQL)
    return f"FROM {from_sql}{where}", params, "p.sentiment_label"


def bucket_counts(db: sqlite_utils.Database, plan: Plan | None, product: str | None, start: datetime,
                  bucket_seconds: int, buckets: int) -> list[tuple[int, int, int]]:
    """(matches, negative matches, matches whose sentiment is not computed yet) of a search (or a
    product's mentions, negative about that product) in consecutive buckets from ``start``, oldest first."""
    _connect(db)
    scope, params, label = _scope(plan, product)
    end = start + timedelta(seconds=bucket_seconds * buckets)
    out = [(0, 0, 0)] * buckets
    rows = store.tuples(
        db, f"SELECT CAST((strftime('%s', p.posted_at) - ?) / ? AS INTEGER) AS b, count(*), "
            f"sum(CASE WHEN {label} = 'negative' THEN 1 ELSE 0 END), "
            f"sum(CASE WHEN {label} = '{store.NOT_COMPUTED}' THEN 1 ELSE 0 END) {scope} "
            f"AND p.posted_at >= ? AND p.posted_at < ? GROUP BY b",
        [int(start.timestamp()), bucket_seconds, *params, iso_utc(start), iso_utc(end)])
    for b, n, neg, missing in rows:
        if 0 <= b < buckets:
            out[b] = (n, neg or 0, missing or 0)
    return out


def window_rows(db: sqlite_utils.Database, plan: Plan | None, product: str | None, start: str, end: str, *,
                by: str = "posted_at", limit: int = 500, cutoff: str | None = None) -> list[dict]:
    """A search's matches (or a product's mentions) posted (or first fetched) in [start, end), newest
    first, as post rows; with a product, ``sentiment`` and ``sentiment_label`` are the mention's;
    with ``cutoff``, only posts first fetched by then."""
    _connect(db)
    column = {"posted_at": "p.posted_at", "fetched_at": "p.fetched_at"}[by]
    scope, params, label = _scope(plan, product)
    score = "m.sentiment" if product else "p.sentiment"
    return store.rows(db, f"SELECT p.id, p.source, p.url, p.title, p.text, p.author, p.posted_at, "
                          f"{score} AS sentiment, {label} AS sentiment_label, {ENGAGEMENT_SQL} AS engagement {scope} "
                          f"AND {column} >= ? AND {column} < ? {'AND p.fetched_at <= ?' if cutoff else ''} "
                          f"ORDER BY {column} DESC, p.id DESC LIMIT ?",
                      [*params, start, end, *([cutoff] if cutoff else []), limit])
