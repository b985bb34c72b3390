"""People and places: what one author (of one source) or one source posted over a period.

Authors are per source: ``ann`` on ``hn`` and ``ann`` on a blog are two people. Every number leaves
out copies (``posts.copy_of IS NULL``: a cluster of copies counts once, as its first post), and a
mention's mood is the mention's own label (``mentions.sentiment_label``), never the post's.
"""

from __future__ import annotations

import sqlite_utils

from listener.facets import ENGAGEMENT_SQL
from listener.store.sql import rows


def _who(source: str, author: str | None) -> tuple[str, list]:
    """SQL (on ``posts p``) and parameters for a source's posts, or one author's posts in it."""
    if author is None:
        return "p.source = ?", [source]
    return "p.source = ? AND p.author = ?", [source, author]


def person_known(db: sqlite_utils.Database, source: str, author: str | None = None) -> bool:
    """Whether the source (a configured one, or one with posts) or the author in it has any post."""
    where, args = _who(source, author)
    if db.execute(f"SELECT EXISTS (SELECT 1 FROM posts p WHERE {where})", args).fetchone()[0]:
        return True
    return author is None and db.execute("SELECT EXISTS (SELECT 1 FROM sources WHERE name = ?)",
                                         [source]).fetchone()[0] == 1


def person_posts(db: sqlite_utils.Database, source: str, author: str | None, start: str, end: str) -> dict:
    """Posts (not copies) of a source or of one author in it posted in [start, end): their count,
    first and last ``posted_at`` and total engagement (score + comments + likes + shares)."""
    where, args = _who(source, author)
    return rows(db, f"""
        SELECT count(*) AS posts, min(p.posted_at) AS first_post, max(p.posted_at) AS last_post,
               coalesce(sum({ENGAGEMENT_SQL}), 0) AS engagement
        FROM posts p WHERE {where} AND p.posted_at >= ? AND p.posted_at < ? AND p.copy_of IS NULL""",
                [*args, start, end])[0]


def person_products(db: sqlite_utils.Database, source: str, author: str | None, start: str,
                    end: str) -> list[dict]:
    """The products the posts (not copies) in [start, end) mention, most mentioned first: mentions
    and the mentions' own labels (positive, neutral, negative; ``scored`` is their sum)."""
    where, args = _who(source, author)
    return rows(db, f"""
        SELECT m.product, count(*) AS mentions,
               sum(m.sentiment_label = 'positive') AS positive, sum(m.sentiment_label = 'neutral') AS neutral,
               sum(m.sentiment_label = 'negative') AS negative,
               sum(m.sentiment_label IN ('positive', 'neutral', 'negative')) AS scored
        FROM posts p JOIN mentions m ON m.post_id = p.id
        WHERE {where} AND p.posted_at >= ? AND p.posted_at < ? AND p.copy_of IS NULL
        GROUP BY m.product ORDER BY mentions DESC, m.product""", [*args, start, end])


def person_top_posts(db: sqlite_utils.Database, source: str, author: str | None, start: str, end: str, *,
                     limit: int) -> list[dict]:
    """The ``limit`` most engaged posts (not copies) in [start, end), then newest, then by id."""
    where, args = _who(source, author)
    return rows(db, f"""
        SELECT p.id, p.source, p.author, p.title, p.url, p.posted_at, p.sentiment_label,
               {ENGAGEMENT_SQL} AS engagement
        FROM posts p WHERE {where} AND p.posted_at >= ? AND p.posted_at < ? AND p.copy_of IS NULL
        ORDER BY engagement DESC, p.posted_at DESC, p.id LIMIT ?""", [*args, start, end, limit])


def source_authors(db: sqlite_utils.Database, source: str, start: str, end: str, *, limit: int) -> list[dict]:
    """A source's most prolific authors among its posts (not copies) in [start, end)."""
    return rows(db, """
        SELECT p.author AS name, count(*) AS posts FROM posts p
        WHERE p.source = ? AND p.posted_at >= ? AND p.posted_at < ? AND p.copy_of IS NULL AND p.author IS NOT NULL
        GROUP BY p.author ORDER BY posts DESC, p.author LIMIT ?""", [source, start, end, limit])


def product_authors(db: sqlite_utils.Database, product: str, start: str, end: str, *,
                    limit: int) -> list[dict]:
    """The most frequent authors, each with its source, among a product's mentions (not of copies)
    in [start, end): ``[{name, source, mentions}]``."""
    return rows(db, """
        SELECT m.post_author AS name, m.post_source AS source, count(*) AS mentions
        FROM mentions m INDEXED BY mentions_period
        WHERE m.post_posted_at >= ? AND m.post_posted_at < ? AND m.post_copy_of IS NULL AND m.product = ?
              AND m.post_author IS NOT NULL
        GROUP BY m.post_source, m.post_author ORDER BY mentions DESC, m.post_author, m.post_source LIMIT ?""",
                [start, end, product, limit])
