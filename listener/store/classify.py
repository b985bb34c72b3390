"""Classification results, human relabels (which win over the model) and emerging-topic clusters."""

from __future__ import annotations

import json
import sqlite3
from typing import Any, Iterator, Sequence

import sqlite_utils

from listener.store.db import write
from listener.store.fts import refresh_facets
from listener.store.relevance import apply_marks, save_rejects, save_scores
from listener.store.sql import chunks, rows


def posts_to_classify(db: sqlite_utils.Database, *, everything: bool = False,
                      batch_size: int = 2000) -> Iterator[list[dict]]:
    """Batches of posts needing classification (all posts with ``everything``), by id."""
    where = "" if everything else "AND classified_at IS NULL"
    last = 0
    while True:
        found = rows(db, f"SELECT id, title, text, language FROM posts WHERE id > ? {where} "
                         f"ORDER BY id LIMIT ?", [last, batch_size])
        if not found:
            return
        yield found
        last = found[-1]["id"]



def posts_by_ids_to_classify(db: sqlite_utils.Database, ids: Sequence[int]) -> list[dict]:
    """The posts with these ids as ``posts_to_classify`` gives them (id, title, text, language), by id."""
    found: list[dict] = []
    for chunk, marks in chunks(ids):
        found += rows(db, f"SELECT id, title, text, language FROM posts WHERE id IN ({marks})", chunk)
    return sorted(found, key=lambda r: r["id"])

def count_to_classify(db: sqlite_utils.Database, *, everything: bool = False) -> int:
    where = "" if everything else "WHERE classified_at IS NULL"
    return db.execute(f"SELECT count(*) FROM posts {where}").fetchone()[0]


def save_classifications(db: sqlite_utils.Database, results: Sequence[Any], *, now: str,
                         classifier: str) -> None:
    """Write sentiment, language, product mentions and topics for a batch, replacing older ones.

    The language the classification settled on goes to ``detected_language``; ``language`` stays
    what the source declared (so a re-classification starts from the declaration, not an old guess).

    Each mention carries its own sentiment (``mention_sentiment``, aligned with ``mentions``):
    score, label, confidence, the span judged and the basis; NULLs when a result has none.

    A human relabel (``label_post``) wins over the model: its sentiment label and topics are
    written instead of the model's. Mentions judged not about their product (``rejected``) go to
    ``mention_rejects`` (``listener.store.relevance``), and a person's about / not-about mark wins there too.
    """
    with write(db):
        conn = db.conn
        ids = [[r.post_id] for r in results]
        conn.executemany(
            "UPDATE posts SET sentiment = ?, sentiment_label = ?, detected_language = ?, "
            "classified_at = ?, classifier = ? WHERE id = ?",
            [[r.sentiment, r.label, r.language, now, classifier, r.post_id] for r in results])
        conn.executemany("DELETE FROM mentions WHERE post_id = ?", ids)
        conn.executemany(
            "INSERT INTO mentions (post_id, product, alias, sentiment, sentiment_label, confidence, span, basis) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [[r.post_id, m.product, m.alias, *_judged(j)]
             for r in results for m, j in _with_judgements(r)])
        save_rejects(conn, results, classifier)
        save_scores(conn, results)
        conn.executemany("DELETE FROM post_topics WHERE post_id = ?", ids)
        conn.executemany("INSERT INTO post_topics (post_id, topic, sentiment) VALUES (?, ?, ?)",
                         [[r.post_id, t.topic, t.sentiment] for r in results for t in getattr(r, "topics", ())])
        apply_marks(conn, [r.post_id for r in results])   # before the relabels: a mention marked about gets its own
        _apply_labels(conn, [r.post_id for r in results])
        refresh_facets(conn, [r.post_id for r in results])


def _with_judgements(result: Any) -> zip:
    """Each mention of a result with its judgement (``mention_sentiment`` is aligned with ``mentions``;
    None for each when the result carries none)."""
    judged = tuple(getattr(result, "mention_sentiment", ())) or (None,) * len(result.mentions)
    return zip(result.mentions, judged, strict=True)


def _judged(j: Any) -> list:
    """The stored per-mention columns of one judgement, or NULLs."""
    return [None] * 5 if j is None else [j.score, j.label, j.confidence, j.span, j.basis]


_LABEL_SCORE = "CASE l.sentiment WHEN 'positive' THEN 1.0 WHEN 'negative' THEN -1.0 ELSE 0.0 END"


def _apply_labels(conn: sqlite3.Connection, post_ids: Sequence[int]) -> None:
    """Write the human relabels of these posts over the model's results.

    A post's relabel sets the post's label, and that of its mention when it mentions exactly one
    product (the post is then about that product); a mention's relabel (``mention_labels``) sets
    that mention, and wins over the post's. Relabelled mentions get basis 'label', confidence 1.
    """
    for chunk, marks in chunks(post_ids):
        conn.execute(f"""UPDATE posts SET sentiment_label = l.sentiment, sentiment = {_LABEL_SCORE}
                         FROM post_labels l WHERE l.post_id = posts.id AND l.sentiment IS NOT NULL
                         AND posts.id IN ({marks})""", chunk)
        conn.execute(f"""UPDATE mentions SET sentiment_label = l.sentiment, sentiment = {_LABEL_SCORE},
                             confidence = 1.0, basis = 'label'
                         FROM post_labels l WHERE l.post_id = mentions.post_id AND l.sentiment IS NOT NULL
                         AND mentions.post_id IN ({marks})
                         AND (SELECT count(*) FROM mentions o WHERE o.post_id = mentions.post_id) = 1""", chunk)
        conn.execute(f"""UPDATE mentions SET sentiment_label = l.sentiment, sentiment = {_LABEL_SCORE},
                             confidence = 1.0, basis = 'label'
                         FROM mention_labels l WHERE l.post_id = mentions.post_id AND l.product = mentions.product
                         AND mentions.post_id IN ({marks})""", chunk)
        for post_id, topics in conn.execute(
                f"SELECT post_id, topics FROM post_labels WHERE topics IS NOT NULL AND post_id IN ({marks})",
                chunk).fetchall():
            conn.execute("DELETE FROM post_topics WHERE post_id = ?", [post_id])
            conn.executemany("INSERT INTO post_topics (post_id, topic, sentiment) SELECT ?, ?, sentiment "
                             "FROM posts WHERE id = ?", [[post_id, t, post_id] for t in json.loads(topics)])


def label_post(db: sqlite_utils.Database, post_id: int, *, now: str, sentiment: str | None = None,
               topics: Sequence[str] | None = None) -> None:
    """Store a human correction for one post (it overrides the model) and apply it now."""
    with write(db):
        conn = db.conn
        conn.execute(
            "INSERT INTO post_labels (post_id, sentiment, topics, labelled_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(post_id) DO UPDATE SET sentiment = coalesce(excluded.sentiment, sentiment), "
            "topics = coalesce(excluded.topics, topics), labelled_at = excluded.labelled_at",
            [post_id, sentiment, json.dumps(sorted(set(topics))) if topics is not None else None, now])
        _apply_labels(conn, [post_id])
        refresh_facets(conn, [post_id])


def labelled_posts(db: sqlite_utils.Database) -> list[dict]:
    """Posts with a human sentiment label: id, title, text, language, label."""
    return rows(db, """SELECT p.id, p.title, p.text, p.language, l.sentiment AS label
                        FROM post_labels l JOIN posts p ON p.id = l.post_id
                        WHERE l.sentiment IS NOT NULL ORDER BY p.id""")


def label_mention(db: sqlite_utils.Database, post_id: int, product: str, sentiment: str, *, now: str,
                  by: str | None = None) -> None:
    """Store a human sentiment label for one product's mention in a post (it overrides the model
    for that mention), set by ``by`` (a user's name, cli ...), and apply it now."""
    with write(db):
        db.conn.execute(
            "INSERT INTO mention_labels (post_id, product, sentiment, labelled_at, labelled_by) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(post_id, product) DO UPDATE SET sentiment = excluded.sentiment, "
            "labelled_at = excluded.labelled_at, labelled_by = excluded.labelled_by",
            [post_id, product, sentiment, now, by])
        _apply_labels(db.conn, [post_id])
        refresh_facets(db.conn, [post_id])


def labelled_mentions(db: sqlite_utils.Database) -> list[dict]:
    """Mentions with a human sentiment label: post id, product, title, text, the span the model
    judged (None before it was judged), language, label."""
    return rows(db, """SELECT p.id, l.product, p.title, p.text, m.span, p.language, l.sentiment AS label
                        FROM mention_labels l JOIN posts p ON p.id = l.post_id
                        LEFT JOIN mentions m ON m.post_id = l.post_id AND m.product = l.product
                        ORDER BY p.id, l.product""")


def save_emerging(db: sqlite_utils.Database, product: str, start: str, end: str, clusters: Sequence[Any], *,
                  now: str) -> None:
    """Replace the stored clusters of one product and period."""
    with write(db):
        db.execute("DELETE FROM emerging_topics WHERE product = ? AND period_end = ?", [product, end])
        db.conn.executemany(
            "INSERT INTO emerging_topics (product, period_start, period_end, cluster, terms, size, "
            "baseline_share, period_share, is_new, post_ids, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [[product, start, end, i, json.dumps(list(c.terms)), c.size, c.baseline_share, c.period_share,
              int(c.is_new), json.dumps(list(c.post_ids)), now] for i, c in enumerate(clusters)])


def emerging_topics(db: sqlite_utils.Database, period_end: str, *, new_only: bool = False) -> list[dict]:
    """Stored clusters for the period ending on ``period_end`` (YYYY-MM-DD), by product and size."""
    found = rows(db, f"""SELECT product, period_start, period_end, cluster, terms, size, baseline_share,
                                period_share, is_new, post_ids FROM emerging_topics WHERE period_end = ?
                         {"AND is_new = 1" if new_only else ""} ORDER BY product, size DESC, cluster""",
                 [period_end])
    for r in found:
        r["terms"], r["post_ids"], r["is_new"] = json.loads(r["terms"]), json.loads(r["post_ids"]), bool(r["is_new"])
    return found


def count_classified_before(db: sqlite_utils.Database, stamp: str) -> int:
    """How many posts were last classified before ``stamp`` (ISO UTC)."""
    return db.execute("SELECT count(*) FROM posts WHERE classified_at < ?", [stamp]).fetchone()[0]


def post_label(db: sqlite_utils.Database, post_id: int, field: str) -> Any:
    """The ``sentiment`` (a label) or ``topics`` (a list) a person set on a post (it overrides the model's),
    or None when none did."""
    if field not in ("sentiment", "topics"):
        raise ValueError(f"a post label is sentiment or topics, not {field!r}")
    found = db.execute(f"SELECT {field} FROM post_labels WHERE post_id = ?", [post_id]).fetchone()
    if found is None or found[0] is None:
        return None
    return json.loads(found[0]) if field == "topics" else found[0]


def set_post_label(db: sqlite_utils.Database, post_id: int, field: str, value: Any, *, now: str) -> None:
    """Put back the ``sentiment`` or ``topics`` a person set on a post (None: none, the model's counts again
    once the post is classified again with ``pipeline.classify_posts``); its other label stays."""
    if field not in ("sentiment", "topics"):
        raise ValueError(f"a post label is sentiment or topics, not {field!r}")
    with write(db):
        if value is not None:
            label_post(db, post_id, now=now, **{field: value})
        else:
            db.execute(f"UPDATE post_labels SET {field} = NULL WHERE post_id = ?", [post_id])


def tagged_posts(db: sqlite_utils.Database, products: Sequence[str], *, known: Sequence[str] | None = None) -> list[int]:
    """The ids of the posts with a mention (counted or set apart) of one of ``products`` or, given ``known``
    (the configured products), of a product not among them (renamed or removed)."""
    stale = "" if known is None else "OR product NOT IN (SELECT value FROM json_each(?))"
    params = [json.dumps(list(products))] + ([] if known is None else [json.dumps(list(known))])
    return [r[0] for r in db.execute(
        f"""SELECT DISTINCT post_id FROM (SELECT post_id, product FROM mentions UNION ALL
                                          SELECT post_id, product FROM mention_rejects)
            WHERE product IN (SELECT value FROM json_each(?)) {stale} ORDER BY post_id""", params)]
