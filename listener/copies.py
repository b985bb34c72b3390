"""Near-duplicate clusters, filed as posts arrive: the store's earlier posts that share a band key
with new ones, ``models.duplicates``' decision, and the result saved (``posts.copy_of``).

A cluster counts once in every number (share of voice, mood, alerts): its first post stands for
it, and lists show it with "+N copies". The copies stay stored and searchable.
"""

from __future__ import annotations

from typing import Callable

import sqlite_utils

from listener import store
from listener.text import canonical_url
from models import duplicates
from models.classify import post_text


def find_copies(db: sqlite_utils.Database, *, batch_size: int = 2000,
                on_batch: Callable[[int], None] | None = None) -> tuple[int, int]:
    """Sign every post not signed yet, oldest first, and file it in its cluster: (signed, copies found)."""
    signed = found = 0
    for batch in store.posts_to_sign(db, duplicates.VERSION, batch_size=batch_size):
        texts = {r["id"]: post_text(r["title"], r["text"]) for r in batch}
        sigs = {pid: duplicates.signature(t) for pid, t in texts.items()}
        keys = {pid: duplicates.band_keys(s) for pid, s in sigs.items() if s is not None}
        index = duplicates.CopyIndex()
        for r in store.posts_with_keys(db, (k for ks in keys.values() for k in ks)):
            if r["hashes"] is not None:
                sig = duplicates.Signature.from_bytes(r["hashes"], r["size"])
                index.load(duplicates.Earlier(r["post_id"], sig, canonical_url(r["url"]), r["copy_of"],
                                              r["posted_at"]), r["keys"])
        out = []
        for r in batch:
            pid, sig = r["id"], sigs[r["id"]]
            root = index.file(pid, sig, canonical_url(r["url"]), r["posted_at"]) if sig is not None else None
            found += root is not None
            out.append({"post_id": pid, "size": sig.size if sig else 0, "hashes": sig.to_bytes() if sig else None,
                        "keys": keys.get(pid, []), "copy_of": root})
        store.save_signatures(db, out, duplicates.VERSION)
        signed += len(batch)
        if on_batch:
            on_batch(len(batch))
    return signed, found
