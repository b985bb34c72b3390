"""The full-text index ``posts_fts`` (FTS5 over title, text and facets): keeping each post's facets
current, and the helpers the search package uses to read it (tokenizing, term look-up,
highlighting, connection set-up)."""

from __future__ import annotations

import sqlite3
from typing import Callable, Mapping, Sequence

import sqlite_utils

from listener.facets import ENGAGEMENT_FIELDS, post_facets
from listener.store.sql import chunks, scratch

TOKENIZER = "porter unicode61"  # posts_fts's: temporary indexes that must split words alike use it too
MMAP_BYTES = 2 ** 31


def refresh_facets(conn: sqlite3.Connection, post_ids: Sequence[int]) -> None:
    """Recompute the facets of these posts from their rows, mentions (and each one's sentiment label)
    and topics; write the changed. Call it after changing any of them."""
    # Earlier migrations run this on older tables: before 0009 mentions have no sentiment, before
    # 0011 posts have no detected_language.
    judged = any(r[1] == "sentiment_label" for r in conn.execute("PRAGMA table_info(mentions)"))
    label_column = "sentiment_label" if judged else "NULL"
    has_detected = any(r[1] == "detected_language" for r in conn.execute("PRAGMA table_info(posts)"))
    language = "coalesce(detected_language, language)" if has_detected else "language"
    has_rejects = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'mention_rejects'").fetchone() is not None
    for chunk, marks in chunks(post_ids):
        rejected: dict[int, list[str]] = {}
        if has_rejects:   # before 0015 there is none
            for pid, product in conn.execute(f"SELECT post_id, product FROM mention_rejects WHERE post_id IN ({marks})",
                                             chunk):
                rejected.setdefault(pid, []).append(product)
        products: dict[int, list[str]] = {}
        moods: dict[int, list[tuple[str, str]]] = {}
        topics: dict[int, list[str]] = {}
        for pid, product, label in conn.execute(
                f"SELECT post_id, product, {label_column} FROM mentions WHERE post_id IN ({marks})", chunk):
            products.setdefault(pid, []).append(product)
            moods.setdefault(pid, []).append((product, label))
        for pid, topic in conn.execute(f"SELECT post_id, topic FROM post_topics WHERE post_id IN ({marks})", chunk):
            topics.setdefault(pid, []).append(topic)
        cur = conn.execute(f"SELECT id, source, url, author, {language} AS language, sentiment_label, posted_at, facets, "
                           f"{', '.join(ENGAGEMENT_FIELDS)} FROM posts WHERE id IN ({marks})", chunk)
        cols = [c[0] for c in cur.description]
        changed = []
        for row in cur.fetchall():
            post = dict(zip(cols, row))
            facets = post_facets(post, products.get(post["id"], ()), topics.get(post["id"], ()),
                                 moods.get(post["id"], ()), rejected.get(post["id"], ()))
            if facets != post["facets"]:
                changed.append([facets, post["id"]])
        conn.executemany("UPDATE posts SET facets = ? WHERE id = ?", changed)


def prepare_search(db: sqlite_utils.Database, functions: Mapping[str, tuple[int, Callable]]) -> None:
    """Ready a connection for the search package's SQL: register its SQL functions (name: number
    of arguments, deterministic Python function) and read pages straight from the OS cache."""
    for name, (n_args, fn) in functions.items():
        db.conn.create_function(name, n_args, fn, deterministic=True)
    db.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")


def fts_tokens(db: sqlite_utils.Database, text: str) -> list[str]:
    """``text`` as the full-text index stores it: its words, lower case, Porter-stemmed."""
    with scratch(db) as conn:
        conn.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.tokenize_fts USING fts5(x, tokenize='{TOKENIZER}')")
        conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.tokenize_terms "
                     "USING fts5vocab(temp, tokenize_fts, instance)")
        conn.execute("INSERT INTO temp.tokenize_fts (rowid, x) VALUES (1, ?)", [text])
        try:
            return [r[0] for r in conn.execute('SELECT term FROM temp.tokenize_terms ORDER BY "offset"')]
        finally:
            conn.execute("DELETE FROM temp.tokenize_fts")


def index_terms(db: sqlite_utils.Database, prefix: str, limit: int) -> list[str] | None:
    """The full-text index's terms that start with ``prefix``, in order; None if there are more
    than ``limit``. One index seek per term."""
    db.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.posts_terms USING fts5vocab(main, posts_fts, instance)")
    terms: list[str] = []
    after = prefix
    while len(terms) <= limit:
        row = db.execute("SELECT term FROM temp.posts_terms WHERE term >= ? LIMIT 1", [after]).fetchone()
        if row is None or not row[0].startswith(prefix):
            return terms
        terms.append(row[0])
        after = row[0] + "\x01"  # the next term: no term holds a control character
    return None


def highlight(db: sqlite_utils.Database, docs: Sequence[tuple[int, str | None, str | None]], expr: str, *,
              marks: tuple[str, str], tokens: int) -> dict[int, tuple[str, str]]:
    """For each ``(id, title, text)`` that the FTS5 expression ``expr`` matches: its title with the
    matched words between ``marks``, and its best passage of the text (at most ``tokens`` words,
    marked alike, ``…`` where cut).

    The documents go into a small in-memory index of the same tokenizer, and FTS5 highlights
    there: the cost follows the documents, not the matches (a wildcard expands over 50 posts,
    not over the whole database). They stay there until the next call.
    """
    marked: dict[int, tuple[str, str]] = {}
    with scratch(db) as conn:
        conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.page_fts USING fts5(title, text, "
                     f"tokenize='{TOKENIZER}')")
        conn.execute("DELETE FROM temp.page_fts")
        conn.executemany("INSERT INTO temp.page_fts (rowid, title, text) VALUES (?, ?, ?)", docs)
        for rowid, title, passage in conn.execute(
                "SELECT rowid, highlight(page_fts, 0, ?, ?), snippet(page_fts, 1, ?, ?, '…', ?) "
                "FROM temp.page_fts WHERE page_fts MATCH ?", [*marks, *marks, tokens, expr]):
            marked[rowid] = (title, passage)
    return marked


def posts_matching_phrases(db: sqlite_utils.Database, phrases: Sequence[str]) -> list[int] | None:
    """The ids of the posts whose title or text holds any of ``phrases`` as the index splits words (any case,
    stemmed: a superset of where a product's aliases match as whole words, but for a phrase split between the
    title and the text); None when a phrase has no word the index keeps (such as ``++``): no narrowing then."""
    if not phrases or any(not fts_tokens(db, p) for p in phrases):
        return None
    expr = " OR ".join('"' + p.replace('"', '""') + '"' for p in phrases)
    return [r[0] for r in db.execute(f"SELECT rowid FROM posts_fts WHERE posts_fts MATCH ? ORDER BY rowid",
                                     ["{title text} : (" + expr + ")"])]
