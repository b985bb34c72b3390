"""Posts: the upsert from collected items, look-ups by id, totals, and the retention purge."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Sequence

import sqlite_utils

from listener.facets import ENGAGEMENT_FIELDS, ENGAGEMENT_SQL, post_facets
from listener.store.db import write
from listener.store.fts import refresh_facets
from listener.store.relevance import rejected_mentions
from listener.store.sql import chunks, rows
from listener.text import content_hash

TEXT_FIELDS = ("url", "author", "title", "text", "published_at", "language")
# parent_url is stored but not part of the content hash: it never changes, and hashing a new field
# would count every post stored before it as edited
POST_FIELDS = ("source", "guid") + TEXT_FIELDS + ENGAGEMENT_FIELDS + ("parent_url",)
HIT_COLUMNS = ("p.id, p.source, p.url, p.author, p.title, p.text, p.posted_at, p.sentiment, "
               f"p.sentiment_label, coalesce(p.detected_language, p.language) AS language, "
               f"{ENGAGEMENT_SQL} AS engagement")  # a post as a search result shows it


@dataclass
class UpsertCounts:
    new: int = 0
    updated: int = 0
    unchanged: int = 0

    def add(self, other: "UpsertCounts") -> None:
        self.new += other.new
        self.updated += other.updated
        self.unchanged += other.unchanged


def upsert_posts(db: sqlite_utils.Database, posts: Sequence[dict], *, now: str) -> UpsertCounts:
    """Insert new posts, update changed ones in place, skip unchanged ones; one transaction.

    A post is keyed on (source, guid). An edit of its visible fields (text, title,
    URL, author, dates, language) clears its classification so the next
    ``classify`` re-tags it; a change in engagement numbers alone updates them
    and keeps the classification. Both count as ``updated``.
    """
    counts = UpsertCounts()
    latest: dict[tuple[str, str], dict] = {}
    for p in posts:  # the same entry twice in one batch: the last one wins
        latest[(p["source"], p["guid"])] = p
    by_source: dict[str, list[str]] = {}
    for source, guid in latest:
        by_source.setdefault(source, []).append(guid)
    with write(db):
        conn = db.conn
        existing: dict[tuple[str, str], tuple] = {}
        for source, guids in by_source.items():
            for chunk, marks in chunks(guids):
                for row in conn.execute(
                        f"SELECT guid, id, content_hash, {', '.join(ENGAGEMENT_FIELDS)} FROM posts "
                        f"WHERE source = ? AND guid IN ({marks})", [source, *chunk]):
                    existing[(source, row[0])] = row[1:]
        inserts, edits, renumbered = [], [], []
        for key, p in latest.items():
            text_values = [p.get(f) for f in TEXT_FIELDS]
            numbers = [p.get(f) for f in ENGAGEMENT_FIELDS]
            digest = content_hash(*text_values)
            row = existing.get(key)
            if row is None:
                posted = p.get("published_at") or now
                facets = post_facets({**p, "source": key[0], "posted_at": posted})
                inserts.append([*key, *text_values, *numbers, p.get("parent_url"), now, posted, digest, facets])
            elif row[1] != digest:
                edits.append([*text_values, *numbers, p.get("parent_url"), now, digest, p.get("published_at"), row[0]])
            elif any(new is not None and new != old for new, old in zip(numbers, row[2:])):
                renumbered.append([*numbers, row[0]])
            else:
                counts.unchanged += 1
        if inserts:
            conn.executemany(
                f"INSERT INTO posts ({', '.join(POST_FIELDS)}, fetched_at, posted_at, content_hash, facets) "
                f"VALUES ({', '.join('?' * (len(POST_FIELDS) + 4))})", inserts)
        if edits:
            conn.executemany(
                "UPDATE posts SET " + ", ".join(f"{f} = ?" for f in TEXT_FIELDS) + ", " +
                ", ".join(f"{f} = coalesce(?, {f})" for f in ENGAGEMENT_FIELDS) +
                ", parent_url = coalesce(?, parent_url), updated_at = ?, content_hash = ?, posted_at = coalesce(?, posted_at), "
                "sentiment = NULL, sentiment_label = NULL, classified_at = NULL, classifier = NULL, "
                "detected_language = NULL "
                "WHERE id = ?", edits)
            conn.executemany("DELETE FROM post_signatures WHERE post_id = ?", [[e[-1]] for e in edits])  # re-signed
            refresh_facets(conn, [e[-1] for e in edits])
        if renumbered:
            conn.executemany(
                "UPDATE posts SET " + ", ".join(f"{f} = coalesce(?, {f})" for f in ENGAGEMENT_FIELDS) +
                " WHERE id = ?", renumbered)
            refresh_facets(conn, [e[-1] for e in renumbered])  # re-indexed only when it passes a step
        counts.new, counts.updated = len(inserts), len(edits) + len(renumbered)
    return counts


def mentioned_product(post: dict, product: str) -> str | None:
    """The name as stored of a post's (``get_post``) mention of ``product``, counted or set apart, in
    any case; None when the post does not mention it."""
    names = {m["product"].casefold(): m["product"] for m in post["mentions"] + post["rejected"]}
    return names.get(product.strip().casefold())


def not_mentioned(post: dict, product: str) -> str:
    """The one-line message for a post (``get_post``) that does not mention ``product``."""
    names = sorted({m["product"] for m in post["mentions"] + post["rejected"]})
    return f"post {post['id']} does not mention {product!r} (it mentions: {', '.join(names) or 'no product'})"


def count_posts(db: sqlite_utils.Database) -> int:
    return db.execute("SELECT count(*) FROM posts").fetchone()[0]


def get_post(db: sqlite_utils.Database, post_id: int) -> dict | None:
    """One post with its engagement total, classification, mentions (each with its per-product
    sentiment columns), topics and human label (None if absent)."""
    found = rows(db, f"SELECT p.*, {ENGAGEMENT_SQL} AS engagement FROM posts p WHERE p.id = ?", [post_id])
    if not found:
        return None
    post = found[0]
    # ``language`` as shown: the classification's, else the source's (kept as ``declared_language``)
    post["declared_language"] = post["language"]
    post["language"] = post.pop("detected_language") or post["language"]
    # each mention with its own sentiment (NULLs: not judged yet, until ``classify --all``)
    # and the human relabel of that mention, if any (``human_label``)
    post["mentions"] = rows(db, "SELECT m.product, m.alias, m.sentiment, m.sentiment_label, m.confidence, m.span, "
                                "m.basis, l.sentiment AS human_label FROM mentions m LEFT JOIN mention_labels l "
                                "ON l.post_id = m.post_id AND l.product = m.product WHERE m.post_id = ? "
                                "ORDER BY m.product", [post_id])
    # the mentions judged not about their product: they count nowhere (listener.store.relevance)
    post["rejected"] = rejected_mentions(db, post_id)
    post["topics"] = rows(db, "SELECT topic, sentiment FROM post_topics WHERE post_id = ? ORDER BY topic", [post_id])
    labels = rows(db, "SELECT sentiment, topics, labelled_at FROM post_labels WHERE post_id = ?", [post_id])
    post["human_label"] = labels[0] if labels else None
    return post


def posts_by_id(db: sqlite_utils.Database, ids: Sequence[int]) -> list[dict]:
    """The posts with these ids as a search result shows them (``HIT_COLUMNS``), in the order of
    ``ids``; ids of no post are left out."""
    by_id: dict[int, dict] = {}
    for chunk, marks in chunks(ids):
        by_id.update((r["id"], r) for r in rows(db, f"SELECT {HIT_COLUMNS} FROM posts p WHERE p.id IN ({marks})", chunk))
    return [by_id[i] for i in ids if i in by_id]


def post_tags(db: sqlite_utils.Database, ids: Sequence[int]) -> tuple[dict[int, list[dict]], dict[int, list[str]]]:
    """For each post id: its product mentions (product, alias, and what the post says about it:
    sentiment, sentiment_label, confidence; None when not judged yet) and its topics."""
    products: dict[int, list[dict]] = {}
    topics: dict[int, list[str]] = {}
    for chunk, marks in chunks(ids):
        for pid, product, alias, score, label, confidence in db.execute(
                f"SELECT post_id, product, alias, sentiment, sentiment_label, confidence FROM mentions "
                f"WHERE post_id IN ({marks}) ORDER BY product", chunk):
            products.setdefault(pid, []).append({"product": product, "alias": alias, "sentiment": score,
                                                 "sentiment_label": label, "confidence": confidence})
        for pid, topic in db.execute(
                f"SELECT post_id, topic FROM post_topics WHERE post_id IN ({marks}) ORDER BY topic", chunk):
            topics.setdefault(pid, []).append(topic)
    return products, topics


def posted_days(db: sqlite_utils.Database) -> tuple[str | None, str | None]:
    """UTC midnight of the first day any post was posted, and of the day after the last."""
    first, last = db.execute("SELECT (SELECT min(posted_at) FROM posts), (SELECT max(posted_at) FROM posts)").fetchone()
    if not first or not last:
        return None, None
    after = date.fromisoformat(last[:10]) + timedelta(days=1)
    return f"{first[:10]}T00:00:00Z", f"{after.isoformat()}T00:00:00Z"


def distinct_values(db: sqlite_utils.Database, table: str, column: str) -> list[str]:
    """Distinct values of an indexed column by index seeks (a loose index scan), not a table scan."""
    sql = (f"WITH RECURSIVE v(x) AS (SELECT min({column}) FROM {table} UNION ALL "
           f"SELECT (SELECT min({column}) FROM {table} WHERE {column} > v.x) FROM v WHERE v.x IS NOT NULL) "
           f"SELECT x FROM v WHERE x IS NOT NULL")
    return [r[0] for r in db.execute(sql).fetchall()]


def post_stats(db: sqlite_utils.Database) -> dict:
    """Totals over the whole store: posts, classified, first and last post time, per label."""
    total, classified, first, last = db.execute(
        "SELECT count(*), count(classified_at), min(posted_at), max(posted_at) FROM posts").fetchone()
    labels = dict(db.execute("SELECT sentiment_label, count(*) FROM posts WHERE sentiment_label IS NOT NULL "
                             "GROUP BY sentiment_label").fetchall())
    return {"posts": total, "classified": classified, "first_post_at": first, "last_post_at": last,
            "labels": labels}


def purge_posts(db: sqlite_utils.Database, before: str, *, chunk: int = 1000,
                keep_going: Any = None) -> int:
    """Delete posts (and their mentions and FTS rows) published before ``before``, in short
    transactions of ``chunk`` posts; ``keep_going()`` returning False stops between chunks."""
    deleted = 0
    while keep_going is None or keep_going():
        with write(db):
            cur = db.conn.execute("DELETE FROM posts WHERE id IN (SELECT id FROM posts WHERE posted_at < ? "
                                  "ORDER BY id LIMIT ?)", [before, chunk])
        deleted += cur.rowcount
        if cur.rowcount < chunk:
            break
    with write(db):
        db.execute("DELETE FROM runs WHERE finished_at < ?", [before])
        _reroot_copies(db)
    return deleted


def _reroot_copies(db: sqlite_utils.Database) -> None:
    """Copies whose cluster's first post was deleted: the earliest remaining copy becomes the
    first post, the others its copies (so the cluster still counts once, and once only)."""
    orphans: dict[int, list[int]] = {}
    for pid, root in db.execute("SELECT id, copy_of FROM posts WHERE copy_of IS NOT NULL "
                                "AND copy_of NOT IN (SELECT id FROM posts) ORDER BY id"):
        orphans.setdefault(root, []).append(pid)
    db.conn.executemany("UPDATE posts SET copy_of = ? WHERE id = ?",
                        [[None if pid == ids[0] else ids[0], pid] for ids in orphans.values() for pid in ids])
