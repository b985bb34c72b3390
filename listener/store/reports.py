"""Report queries (read-only): mention counts, top posts, facets and topics over a period.

``cutoff`` (a UTC timestamp) leaves out posts first fetched after it, so a digest re-run later on a
grown database gives the same numbers; a ``Scope`` adds a search's condition as well.

Every per-product number reads the mention's own sentiment (``mentions.sentiment`` and
``sentiment_label``: what the post says about that product, or a human's relabel of it), never the
post's. A mention of a classified post whose sentiment columns are empty (a database from before
migration 0009, not classified again) has the label ``NOT_COMPUTED``: reports count it apart and
say so, rather than fall back to the post's label.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

import sqlite_utils

from listener.facets import ENGAGEMENT_SQL
from listener.store.sql import chunks, rows

NOT_COMPUTED = "not computed"
# The label of mention ``m`` of post ``p``: its own; NOT_COMPUTED when the post was classified before
# mentions were judged; NULL when the post is not classified yet.
MENTION_LABEL_SQL = (f"CASE WHEN m.sentiment_label IS NOT NULL THEN m.sentiment_label "
                     f"WHEN p.classified_at IS NOT NULL THEN '{NOT_COMPUTED}' END")
# A product's mention as a post row: ``sentiment``/``sentiment_label`` are the mention's, the post's
# own are ``post_sentiment``/``post_label``.
_MENTION_COLUMNS = ("p.id, p.source, p.url, p.title, p.text, p.author, p.posted_at, m.sentiment, "
                    f"{MENTION_LABEL_SQL} AS sentiment_label, m.confidence, m.span, m.basis, "
                    "p.sentiment AS post_sentiment, p.sentiment_label AS post_label, "
                    "p.score, p.comments, p.likes, p.shares, "
                    f"{ENGAGEMENT_SQL} AS engagement, m.alias, "
                    "(SELECT count(*) FROM posts c WHERE c.copy_of = p.id) AS copies")


@dataclass(frozen=True)
class Scope:
    """Which posts a report counts: those fetched by ``cutoff`` and, with ``sql``, only those
    a search matches (a condition on ``posts p`` with its parameters)."""
    cutoff: str | None = None
    sql: str = ""
    params: tuple = ()


def _cut(cutoff: str | Scope | None) -> tuple[str, list]:
    """SQL (``AND ...`` on ``posts p``) and parameters for a report's cut-off time or ``Scope``."""
    scope = cutoff if isinstance(cutoff, Scope) else Scope(cutoff)
    sql, args = ("AND p.fetched_at <= ?", [scope.cutoff]) if scope.cutoff else ("", [])
    if scope.sql:
        sql, args = f"{sql} AND {scope.sql}", [*args, *scope.params]
    return sql, args


# MENTION_LABEL_SQL reading the post only when the mention has no label of its own (rare: posts
# classified before mentions were judged), so a range of mentions is read from ``mentions_period`` alone.
_MENTION_LABEL_LAZY = ("CASE WHEN m.sentiment_label IS NOT NULL THEN m.sentiment_label "
                       "WHEN (SELECT classified_at FROM posts WHERE posts.id = m.post_id) IS NOT NULL "
                       f"THEN '{NOT_COMPUTED}' END")


def _mentions_in(start: str, end: str, cutoff: str | Scope | None, *, topics: bool = False) -> tuple[str, list]:
    """``FROM ... WHERE ...`` over the mentions ``m`` of posts in [start, end) within a cut-off or
    ``Scope``, walking the mentions' own date index (migration 0016_report_reads), leaving out the
    mentions of copies (a cluster of copies counts once: its first post); a search's condition joins
    their posts as ``p``; ``topics`` joins their posts' topics as ``t``."""
    scope = cutoff if isinstance(cutoff, Scope) else Scope(cutoff)
    sql = "FROM mentions m INDEXED BY mentions_period"
    if scope.sql:
        sql += " JOIN posts p ON p.id = m.post_id"
    if topics:
        sql += " CROSS JOIN post_topics t ON t.post_id = m.post_id"
    sql += " WHERE m.post_posted_at >= ? AND m.post_posted_at < ? AND m.post_copy_of IS NULL"
    args: list = [start, end]
    if scope.cutoff:
        sql, args = f"{sql} AND m.post_fetched_at <= ?", [*args, scope.cutoff]
    if scope.sql:
        sql, args = f"{sql} AND {scope.sql}", [*args, *scope.params]
    return sql, args


def daily_mentions(db: sqlite_utils.Database, start: str, end: str,
                   cutoff: str | Scope | None = None) -> list[dict]:
    """Mentions per product, UTC day and the mention's sentiment label for days in [start, end)."""
    scope, args = _mentions_in(start, end, cutoff)
    return rows(db, f"""
        SELECT m.product, substr(m.post_posted_at, 1, 10) AS day, {_MENTION_LABEL_LAZY} AS label, count(*) AS n
        {scope} GROUP BY m.product, day, label""", args)


def language_mentions(db: sqlite_utils.Database, start: str, end: str,
                      cutoff: str | Scope | None = None) -> list[dict]:
    """Mentions per product, post language (as classified; migration 0022) and the mention's
    sentiment label in [start, end), from the mentions' date index alone."""
    scope, args = _mentions_in(start, end, cutoff)
    return rows(db, f"""
        SELECT m.product, m.post_language AS language, {_MENTION_LABEL_LAZY} AS label, count(*) AS n
        {scope} GROUP BY m.product, language, label""", args)


def ranked_mentions(db: sqlite_utils.Database, start: str, end: str, cutoff: str | Scope | None = None, *,
                    order: str, limit: int, strength: float = 0.0) -> dict[str, list[int]]:
    """For every product, the post ids of its first ``limit`` mentions in [start, end) by ``order``:
    "positive" / "negative" (mentions of that label whose score is at least ``strength`` from zero,
    strongest first) or "engagement" (most engaged first); then newest first, then by id. Read from
    the mentions' date index alone (no post row, but for a search's condition)."""
    scope, args = _mentions_in(start, end, cutoff)
    key, where, extra = {"positive": ("m.sentiment DESC", "AND m.sentiment_label = 'positive' AND m.sentiment >= ?",
                                      [strength]),
                         "negative": ("m.sentiment ASC", "AND m.sentiment_label = 'negative' AND m.sentiment <= ?",
                                      [-strength]),
                         "engagement": ("m.post_engagement DESC", "", [])}[order]
    out: dict[str, list[int]] = {}
    for product, post_id in db.execute(f"""
            SELECT product, post_id FROM (
                SELECT m.product, m.post_id, row_number() OVER (
                    PARTITION BY m.product ORDER BY {key}, m.post_posted_at DESC, m.post_id) AS r
                {scope} {where})
            WHERE r <= ? ORDER BY product, r""", [*args, *extra, limit]):
        out.setdefault(product, []).append(post_id)
    return out


def top_facets(db: sqlite_utils.Database, start: str, end: str, column: str, cutoff: str | Scope | None = None, *,
               limit: int) -> dict[str, list[tuple[str, int]]]:
    """``product_facets`` for every product at once: product -> its most frequent sources or authors."""
    if column not in ("source", "author"):
        raise ValueError(f"cannot group by {column!r}")
    scope, args = _mentions_in(start, end, cutoff)
    out: dict[str, list[tuple[str, int]]] = {}
    for product, value, n in db.execute(f"""
            SELECT product, value, n FROM (
                SELECT m.product, m.post_{column} AS value, count(*) AS n, row_number() OVER (
                    PARTITION BY m.product ORDER BY count(*) DESC, m.post_{column}) AS r
                {scope} AND m.post_{column} IS NOT NULL GROUP BY m.product, m.post_{column})
            WHERE r <= ? ORDER BY product, r""", [*args, limit]):
        out.setdefault(product, []).append((value, n))
    return out


def mention_rows(db: sqlite_utils.Database, product: str, ids: list[int]) -> dict[int, dict]:
    """The mentions of ``product`` in the posts ``ids`` as post rows (the columns of
    ``product_mentions``), by post id."""
    out: dict[int, dict] = {}
    for chunk, marks in chunks(list(ids)):
        for r in rows(db, f"SELECT {_MENTION_COLUMNS} FROM mentions m JOIN posts p ON p.id = m.post_id "
                          f"WHERE m.product = ? AND m.post_id IN ({marks})", [product, *chunk]):
            out[r["id"]] = r
    return out


def mention_window(db: sqlite_utils.Database, product: str, start: str, end: str, *, limit: int,
                   cutoff: str | None = None) -> list[dict]:
    """A product's mentions posted in [start, end), newest first, as the post rows
    ``listener.search.window_rows`` gives for a product (``sentiment`` and its label the mention's):
    all of them, or when there are more than ``limit``, ``limit`` spread evenly over their posting
    times (the newest ``limit`` would all come from the window's last days)."""
    scope, args = _mentions_in(start, end, cutoff)
    ids = [r[0] for r in db.execute(f"SELECT m.post_id {scope} AND m.product = ? "
                                    "ORDER BY m.post_posted_at DESC, m.post_id DESC", [*args, product])]
    if len(ids) > limit:
        ids = [ids[i * len(ids) // limit] for i in range(limit)]
    found: list[dict] = []
    for chunk, marks in chunks(ids):
        found += rows(db, f"""
            SELECT p.id, p.source, p.url, p.title, p.text, p.author, p.posted_at, m.sentiment,
                   {MENTION_LABEL_SQL} AS sentiment_label, {ENGAGEMENT_SQL} AS engagement
            FROM mentions m JOIN posts p ON p.id = m.post_id WHERE m.product = ? AND m.post_id IN ({marks})""",
                      [product, *chunk])
    return sorted(found, key=lambda r: (r["posted_at"], r["id"]), reverse=True)


def sample_posts(db: sqlite_utils.Database, product: str | None, start: str, end: str,
                 limit: int) -> tuple[list[dict], int]:
    """Posts in [start, end) mentioning ``product`` (every post when None) as (id, title, text) rows
    by id, at most ``limit`` of them evenly spread over their ids (the same every run); and how many
    there are. Only the sampled posts' rows are read."""
    if product is None:
        found = db.execute("SELECT id FROM posts INDEXED BY posts_posted_cover WHERE posted_at >= ? AND posted_at < ?",
                           [start, end])
    else:
        found = db.execute("SELECT post_id FROM mentions INDEXED BY mentions_period WHERE post_posted_at >= ? "
                           "AND post_posted_at < ? AND product = ? AND post_copy_of IS NULL", [start, end, product])
    ids = sorted(r[0] for r in found.fetchall())
    total = len(ids)
    if total > limit:
        ids = [ids[i * total // limit] for i in range(limit)]
    out: list[dict] = []
    for chunk, marks in chunks(ids):
        out += rows(db, f"SELECT id, title, text FROM posts WHERE id IN ({marks})", chunk)
    return sorted(out, key=lambda r: r["id"]), total


def topic_sentiments(db: sqlite_utils.Database, start: str, end: str, *,
                     cutoff: str | Scope | None = None) -> dict[str, list[dict]]:
    """Per product, per topic of the posts that mention it: how many of those mentions are positive and
    negative about the product (the mention's label); product -> its topics, most mentions first."""
    scope, args = _mentions_in(start, end, cutoff, topics=True)
    out: dict[str, list[dict]] = {}
    for r in rows(db, f"""
        SELECT m.product, t.topic,
               sum(CASE WHEN m.sentiment_label = 'positive' THEN 1 ELSE 0 END) AS positive,
               sum(CASE WHEN m.sentiment_label = 'negative' THEN 1 ELSE 0 END) AS negative,
               count(*) AS n
        {scope}
        GROUP BY m.product, t.topic ORDER BY m.product, n DESC, t.topic""", args):
        out.setdefault(r.pop("product"), []).append(r)
    return out


def product_mentions(db: sqlite_utils.Database, product: str, start: str, end: str, *,
                     label: str | None = None, order: str = "sentiment", limit: int,
                     cutoff: str | Scope | None = None) -> list[dict]:
    """Mentions of a product in [start, end): by the mention's sentiment (strongest of ``label``
    first) or by engagement; ``sentiment`` and ``sentiment_label`` are the mention's."""
    scope, args = _mentions_in(start, end, cutoff)
    where_label = "AND m.sentiment_label = ?" if label else ""
    if order == "engagement":
        key, outer = "m.post_engagement DESC", "engagement DESC"
    else:
        key = outer = f"m.sentiment {'DESC' if label == 'positive' else 'ASC'}"
    # the ranking reads the mentions' index only; rows are read for the ``limit`` found
    return rows(db, f"""
        SELECT {_MENTION_COLUMNS}
        FROM mentions m JOIN posts p ON p.id = m.post_id
        WHERE m.rowid IN (SELECT m.rowid {scope} AND m.product = ? {where_label}
                          ORDER BY {key}, m.post_posted_at DESC, m.post_id LIMIT ?)
        ORDER BY {outer}, p.posted_at DESC, p.id""",
                 [*args, product, *([label] if label else []), limit])


def product_facets(db: sqlite_utils.Database, product: str, start: str, end: str, column: str, *,
                   limit: int, cutoff: str | Scope | None = None) -> list[tuple[str, int]]:
    """The most frequent sources or authors among a product's mentions in [start, end)."""
    if column not in ("source", "author"):
        raise ValueError(f"cannot group by {column!r}")
    scope, args = _mentions_in(start, end, cutoff)
    found = db.execute(f"""
        SELECT m.post_{column}, count(*) AS n {scope} AND m.product = ? AND m.post_{column} IS NOT NULL
        GROUP BY m.post_{column} ORDER BY n DESC, m.post_{column} LIMIT ?""", [*args, product, limit])
    return [(r[0], r[1]) for r in found.fetchall()]


def period_posts(db: sqlite_utils.Database, start: str, end: str,
                 cutoff: str | Scope | None = None) -> tuple[dict[str, int], list[str]]:
    """The posts of [start, end) per source (most first), and the classifier versions that labelled
    them (for reproducibility notes), in one pass over the posts' date index."""
    cut, args = _cut(cutoff)
    by_source: dict[str, int] = {}
    classifiers: set[str] = set()
    for source, classifier, n in db.execute(
            f"SELECT source, classifier, count(*) FROM posts p INDEXED BY posts_posted_cover "
            f"WHERE posted_at >= ? AND posted_at < ? {cut} GROUP BY source, classifier", [start, end, *args]):
        by_source[source] = by_source.get(source, 0) + n
        if classifier is not None:
            classifiers.add(classifier)
    return dict(sorted(by_source.items(), key=lambda kv: (-kv[1], kv[0]))), sorted(classifiers)


def latest_mention_day(db: sqlite_utils.Database) -> str | None:
    row = db.execute("SELECT max(substr(p.posted_at, 1, 10)) FROM mentions m "
                     "JOIN posts p ON p.id = m.post_id").fetchone()
    return row[0] if row else None


def product_topics(db: sqlite_utils.Database, product: str, start: str, end: str, limit: int) -> list[dict]:
    """Topics of a product's mentions in [start, end), most frequent first, with the mean sentiment
    of those mentions about the product (None when none is judged)."""
    scope, args = _mentions_in(start, end, None, topics=True)
    return rows(db, f"""
        SELECT t.topic, count(*) AS n, avg(m.sentiment) AS sentiment
        {scope} AND m.product = ?
        GROUP BY t.topic ORDER BY n DESC, t.topic LIMIT ?""", [*args, product, limit])


def mention_counts(db: sqlite_utils.Database) -> dict[str, int]:
    """Mentions per product over the whole store (products without mentions are absent)."""
    return dict(db.execute("SELECT product, count(*) FROM mentions GROUP BY product").fetchall())


def unjudged_mentions(db: sqlite_utils.Database) -> bool:
    """Whether any mention has no sentiment yet (its post was classified before migration 0009)."""
    return bool(db.execute("SELECT EXISTS (SELECT 1 FROM mentions WHERE sentiment_label IS NULL)").fetchone()[0])


def mention_labels(db: sqlite_utils.Database) -> dict[str, dict[str, int]]:
    """Per product over the whole store: its mentions by their own sentiment label (``NOT_COMPUTED``
    for those of posts classified before mentions were judged, ``unlabelled`` for unclassified posts)."""
    out: dict[str, dict[str, int]] = {}
    for product, label, n in db.execute(f"SELECT m.product, {MENTION_LABEL_SQL} AS label, count(*) "
                                        "FROM mentions m JOIN posts p ON p.id = m.post_id "
                                        "GROUP BY m.product, label ORDER BY m.product, label"):
        out.setdefault(product, {})[label or "unlabelled"] = n
    return out


def collected_days(db: sqlite_utils.Database, start: str, end: str, cutoff: str | None = None) -> set[str]:
    """The UTC days (``YYYY-MM-DD``) from ``start`` up to ``end`` (exclusive, both days) holding at
    least one post fetched by ``cutoff``: the days whose counts are known (a day with no post at all
    is before collection started or a collection gap, not a quiet day)."""
    out, day, last = set(), date.fromisoformat(start), date.fromisoformat(end)
    cut, args = _cut(cutoff)
    while day < last:  # one index seek per day: stops at its first post
        a, b = day.isoformat(), (day + timedelta(days=1)).isoformat()
        if db.execute(f"SELECT EXISTS (SELECT 1 FROM posts p WHERE p.posted_at >= ? AND p.posted_at < ? {cut})",
                      [a, b, *args]).fetchone()[0]:
            out.add(a)
        day += timedelta(days=1)
    return out


def first_posted_at(db: sqlite_utils.Database, cutoff: str | None = None) -> str | None:
    """When the earliest post fetched by ``cutoff`` was posted (None: no post): where history starts."""
    # "+p.fetched_at": walk the posted_at index from its start rather than sort what the fetched_at index finds
    cut, args = ("AND +p.fetched_at <= ?", [cutoff]) if cutoff else ("", [])
    row = db.execute(f"SELECT p.posted_at FROM posts p WHERE p.posted_at IS NOT NULL {cut} "
                     "ORDER BY p.posted_at LIMIT 1", args).fetchone()
    return row[0] if row else None


def collected_buckets(db: sqlite_utils.Database, start: datetime, bucket_seconds: int, buckets: int) -> list[bool]:
    """For consecutive buckets from ``start``, oldest first, whether any post (mentioning a product
    or not) was posted in it: a bucket without any is one whose counts are unknown (not collected)."""
    out = []
    for i in range(buckets):  # one index seek per bucket: stops at its first post
        a = start + timedelta(seconds=bucket_seconds * i)
        b = a + timedelta(seconds=bucket_seconds)
        out.append(bool(db.execute("SELECT EXISTS (SELECT 1 FROM posts WHERE posted_at >= ? AND posted_at < ?)",
                                   [_iso(a), _iso(b)]).fetchone()[0]))
    return out


def _iso(t: datetime) -> str:
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
