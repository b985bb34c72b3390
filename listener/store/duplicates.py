"""Near-duplicate clusters: each post's signature and band keys (``post_signatures``,
``post_bands``) and ``posts.copy_of``, the first post of the cluster a post is a copy of (NULL:
not a copy). The signatures and the decision are ``models.duplicates``'; this module only keeps
them and finds the earlier posts that share a band key with new ones."""

from __future__ import annotations

from typing import Any, Iterable, Iterator, Sequence

import sqlite_utils

from listener.store.db import write
from listener.store.sql import chunks, rows


def posts_to_sign(db: sqlite_utils.Database, version: str, *, batch_size: int = 2000) -> Iterator[list[dict]]:
    """Batches of posts without a signature of ``version``, oldest first (so an original is filed
    before its copies). Each batch must be saved (``save_signatures``) before the next is read."""
    while True:
        found = rows(db, "SELECT p.id, p.title, p.text, p.url, p.posted_at FROM posts p "
                         "LEFT JOIN post_signatures s ON s.post_id = p.id AND s.version = ? "
                         "WHERE s.post_id IS NULL ORDER BY p.posted_at, p.id LIMIT ?", [version, batch_size])
        if not found:
            return
        yield found


def count_to_sign(db: sqlite_utils.Database, version: str) -> int:
    return db.execute("SELECT count(*) FROM posts p LEFT JOIN post_signatures s ON s.post_id = p.id "
                      "AND s.version = ? WHERE s.post_id IS NULL", [version]).fetchone()[0]


def posts_with_keys(db: sqlite_utils.Database, keys: Iterable[int]) -> list[dict]:
    """The signed posts that have any of ``keys``: post_id, size, hashes, url, copy_of, posted_at,
    and their keys (a list)."""
    found: dict[int, dict] = {}
    for chunk, marks in chunks(sorted(set(keys))):
        for r in rows(db, f"SELECT b.key, s.post_id, s.size, s.hashes, p.url, p.copy_of, p.posted_at "
                          f"FROM post_bands b JOIN post_signatures s ON s.post_id = b.post_id "
                          f"JOIN posts p ON p.id = b.post_id WHERE b.key IN ({marks})", chunk):
            found.setdefault(r["post_id"], {**r, "keys": []})["keys"].append(r.pop("key"))
    if found:   # every key of those posts, not only the ones asked for
        for chunk, marks in chunks(sorted(found)):
            for pid, key in db.execute(f"SELECT post_id, key FROM post_bands WHERE post_id IN ({marks})", chunk):
                if key not in found[pid]["keys"]:
                    found[pid]["keys"].append(key)
    return list(found.values())


def save_signatures(db: sqlite_utils.Database, signed: Sequence[dict[str, Any]], version: str) -> None:
    """Each item: post_id, size (0 when too short to sign), hashes (bytes or None), keys, copy_of."""
    with write(db):
        conn = db.conn
        ids = [[s["post_id"]] for s in signed]
        conn.executemany("DELETE FROM post_bands WHERE post_id = ?", ids)
        conn.executemany("INSERT OR REPLACE INTO post_signatures (post_id, version, size, hashes) VALUES (?, ?, ?, ?)",
                         [[s["post_id"], version, s["size"], s["hashes"]] for s in signed])
        conn.executemany("INSERT INTO post_bands (key, post_id) VALUES (?, ?)",
                         [[k, s["post_id"]] for s in signed for k in s["keys"]])
        conn.executemany("UPDATE posts SET copy_of = ? WHERE id = ?", [[s["copy_of"], s["post_id"]] for s in signed])


def copies(db: sqlite_utils.Database, ids: Sequence[int]) -> dict[int, int]:
    """How many copies each of ``ids`` (first posts of their clusters) has."""
    out: dict[int, int] = {}
    for chunk, marks in chunks(list(ids)):
        out.update(db.execute(f"SELECT copy_of, count(*) FROM posts WHERE copy_of IN ({marks}) GROUP BY copy_of",
                              chunk).fetchall())
    return out
