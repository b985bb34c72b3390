"""Mentions judged not about their product (``mention_rejects``), the users' about / not-about marks
(``relevance_labels``), which decide over the model, and the judged mentions' base scores
(``relevance_scores``), whose mean per product the model reads.

A rejected mention lives in ``mention_rejects`` instead of ``mentions``: every number counts ``mentions``,
so none counts it, and search finds it only with ``relevance:low``.
"""

from __future__ import annotations

import sqlite3
from typing import Any, Sequence

import sqlite_utils

from listener.store.db import write
from listener.store.fts import refresh_facets
from listener.store.sql import chunks, rows

_COLUMNS = "sentiment, sentiment_label, confidence, span, basis"
MARKED_NOT_ABOUT = "a person marked it not about this product"


def save_rejects(conn: sqlite3.Connection, results: Sequence[Any], model: str) -> None:
    """Replace the rejected mentions of these classification results (``Classification.rejected``: mention,
    judgement, verdict) judged by ``model``. Called inside ``save_classifications``' transaction."""
    conn.executemany("DELETE FROM mention_rejects WHERE post_id = ?", [[r.post_id] for r in results])
    conn.executemany(
        f"INSERT INTO mention_rejects (post_id, product, alias, score, threshold, reason, model, {_COLUMNS}) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [[r.post_id, m.product, m.alias, v.score, v.threshold, v.reason, model,
          *([None] * 5 if j is None else [j.score, j.label, j.confidence, j.span, j.basis])]
         for r in results for m, j, v in getattr(r, "rejected", ())])


def save_scores(conn: sqlite3.Connection, results: Sequence[Any]) -> None:
    """Replace the base scores of these results' judged mentions (``Classification.verdicts``)."""
    conn.executemany("DELETE FROM relevance_scores WHERE post_id = ?", [[r.post_id] for r in results])
    conn.executemany("INSERT OR REPLACE INTO relevance_scores (post_id, product, logit, model) VALUES (?, ?, ?, ?)",
                     [[r.post_id, v.product, v.logit, v.model] for r in results for v in getattr(r, "verdicts", ())
                      if v.logit is not None])


def relevance_history(db: sqlite_utils.Database, model: str) -> dict[str, tuple[int, float]]:
    """Per product: how many of its stored mentions ``model`` scored, and the sum of their base log-odds."""
    return {p: (n, total) for p, n, total in db.execute(
        "SELECT product, count(*), sum(logit) FROM relevance_scores WHERE model = ? GROUP BY product", [model])}


def apply_marks(conn: sqlite3.Connection, post_ids: Sequence[int]) -> None:
    """Write the users' relevance marks of these posts over the model's verdicts: a not-about mention moves
    to ``mention_rejects``, an about one back to ``mentions``."""
    for chunk, marks in chunks(post_ids):
        conn.execute(f"""INSERT OR REPLACE INTO mention_rejects (post_id, product, alias, score, threshold, reason,
                             model, {_COLUMNS})
                         SELECT m.post_id, m.product, m.alias, NULL, NULL, ?, 'label', m.sentiment, m.sentiment_label,
                                m.confidence, m.span, m.basis
                         FROM mentions m JOIN relevance_labels l ON l.post_id = m.post_id AND l.product = m.product
                         WHERE l.about = 0 AND m.post_id IN ({marks})""", [MARKED_NOT_ABOUT, *chunk])
        conn.execute(f"""DELETE FROM mentions WHERE post_id IN ({marks}) AND EXISTS (SELECT 1 FROM relevance_labels l
                         WHERE l.post_id = mentions.post_id AND l.product = mentions.product AND l.about = 0)""", chunk)
        # a mention marked about comes back with its own relabel, if a person gave it one while it was set apart
        conn.execute(f"""INSERT OR REPLACE INTO mentions (post_id, product, alias, {_COLUMNS})
                         SELECT r.post_id, r.product, r.alias,
                                CASE ml.sentiment WHEN 'positive' THEN 1.0 WHEN 'negative' THEN -1.0
                                     WHEN 'neutral' THEN 0.0 ELSE r.sentiment END,
                                coalesce(ml.sentiment, r.sentiment_label),
                                CASE WHEN ml.sentiment IS NULL THEN r.confidence ELSE 1.0 END, r.span,
                                CASE WHEN ml.sentiment IS NULL THEN r.basis ELSE 'label' END
                         FROM mention_rejects r JOIN relevance_labels l ON l.post_id = r.post_id AND l.product = r.product
                         LEFT JOIN mention_labels ml ON ml.post_id = r.post_id AND ml.product = r.product
                         WHERE l.about = 1 AND r.post_id IN ({marks})""", chunk)
        conn.execute(f"""DELETE FROM mention_rejects WHERE post_id IN ({marks}) AND EXISTS (SELECT 1 FROM relevance_labels l
                         WHERE l.post_id = mention_rejects.post_id AND l.product = mention_rejects.product
                         AND l.about = 1)""", chunk)


def label_relevance(db: sqlite_utils.Database, post_id: int, product: str, about: bool, *, now: str,
                    by: str | None = None) -> None:
    """Store a person's (``by``: a user's name, cli ...) mark that a post's mention is (``about``) or is not
    about ``product``, and apply it now: a not-about mention leaves every number at once."""
    with write(db):
        db.conn.execute(
            "INSERT INTO relevance_labels (post_id, product, about, labelled_at, labelled_by) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(post_id, product) DO UPDATE SET about = excluded.about, labelled_at = excluded.labelled_at, "
            "labelled_by = excluded.labelled_by", [post_id, product, int(about), now, by])
        apply_marks(db.conn, [post_id])
        refresh_facets(db.conn, [post_id])


def rejected_mentions(db: sqlite_utils.Database, post_id: int) -> list[dict]:
    """The mentions of a post that count nowhere: product, alias, score, threshold, reason, model."""
    return rows(db, "SELECT product, alias, score, threshold, reason, model FROM mention_rejects WHERE post_id = ? "
                    "ORDER BY product", [post_id])


def relevance_marks(db: sqlite_utils.Database) -> list[dict]:
    """Every about / not-about mark with its post: post id, product, title, text, about (bool)."""
    found = rows(db, """SELECT p.id, l.product, p.title, p.text, l.about FROM relevance_labels l
                        JOIN posts p ON p.id = l.post_id ORDER BY l.product, p.id""")
    for r in found:
        r["about"] = bool(r["about"])
    return found


def mention_marks(db: sqlite_utils.Database, post_id: int) -> dict[str, dict]:
    """The human labels of a post's mentions, by product: ``sentiment`` (``mention_labels``) and ``about``
    (``relevance_labels``), each None or {value, by, at} (``by`` None for a label set before 0018)."""
    out: dict[str, dict] = {}
    for product, sentiment, by, at in db.execute(
            "SELECT product, sentiment, labelled_by, labelled_at FROM mention_labels WHERE post_id = ?", [post_id]):
        out.setdefault(product, {"sentiment": None, "about": None})["sentiment"] = {"value": sentiment, "by": by,
                                                                                     "at": at}
    for product, about, by, at in db.execute(
            "SELECT product, about, labelled_by, labelled_at FROM relevance_labels WHERE post_id = ?", [post_id]):
        out.setdefault(product, {"sentiment": None, "about": None})["about"] = {"value": bool(about), "by": by,
                                                                                 "at": at}
    return out


def unlabel_mention(db: sqlite_utils.Database, post_id: int, product: str) -> bool:
    """Remove the human labels (sentiment and about / not-about) of one post's mention of ``product``;
    whether there was any. The stored mention keeps the labelled values until the post is classified
    again (``pipeline.classify_posts``), which gives back the model's judgement."""
    with write(db):
        removed = db.conn.execute("DELETE FROM mention_labels WHERE post_id = ? AND product = ?",
                                  [post_id, product]).rowcount
        removed += db.conn.execute("DELETE FROM relevance_labels WHERE post_id = ? AND product = ?",
                                   [post_id, product]).rowcount
    return removed > 0


def set_mention_marks(db: sqlite_utils.Database, post_id: int, product: str, marks: dict) -> None:
    """Put back a mention's human labels as ``mention_marks`` gave them: for each key of ``marks``
    (``sentiment``, ``about``) its row ({value, by, at}) or none (None). The stored mention keeps its values
    until the post is classified again (``pipeline.classify_posts``)."""
    with write(db):
        for key, table, column in (("sentiment", "mention_labels", "sentiment"), ("about", "relevance_labels", "about")):
            if key not in marks:
                continue
            db.conn.execute(f"DELETE FROM {table} WHERE post_id = ? AND product = ?", [post_id, product])
            mark = marks[key]
            if mark is not None:
                value = int(mark["value"]) if key == "about" else mark["value"]
                db.conn.execute(f"INSERT INTO {table} (post_id, product, {column}, labelled_at, labelled_by) "
                                "VALUES (?, ?, ?, ?, ?)", [post_id, product, value, mark["at"], mark["by"]])
