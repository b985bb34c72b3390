"""Near-duplicate posts: the same story on several sites, retweet-style copies, aggregator reposts.

Pure functions of text; the store keeps each post's band keys and finds the candidates
(``listener.store.duplicates``), so a new post is compared with the few earlier posts that share a
band instead of with all of them.

- ``comparable``: the words compared: lower case, without links, @handles, "RT"/"via @x"
  markers, hashtag signs, punctuation, and a trailing "…" cut.
- ``Signature``: a MinHash (datasketch, ``NUM_PERM`` permutations, fixed seed) of the word 3-grams,
  and how many distinct 3-grams there were.
- ``band_keys``: ``BANDS`` keys of ``ROWS`` hash values each; two posts whose 3-gram sets overlap
  by a Jaccard of 0.5 share a key with probability 0.64, at 0.8 with 0.999 (1 - (1 - J^ROWS)^BANDS).
- ``is_copy``: the decision. The shorter text's 3-grams are mostly in the longer one
  (containment >= ``CONTAINED``, so a truncated copy or a repost with a comment added counts), or,
  when both posts link the same canonical URL, a lower bar (``CONTAINED_SAME_URL``).
  Texts of fewer than ``MIN_WORDS`` words are never copies: "thanks!" twice is not syndication;
  nor are posts more than ``WINDOW_DAYS`` apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Sequence

import numpy as np

VERSION = "dup-1"   # recorded with every signature: a change here re-signs the posts
NUM_PERM = 64
ROWS = 4
BANDS = NUM_PERM // ROWS
SEED = 1
SHINGLE = 3
MIN_WORDS = 8
CONTAINED = 0.8
CONTAINED_SAME_URL = 0.5
MIN_JACCARD = 0.4  # under this, sizes and a noisy estimate decide the containment (bots' templates)
MAX_CHARS = 4000    # the opening of a long post identifies it; bounds the cost
WINDOW_DAYS = 14    # copies come within days; the same words a year later (an annual post) are news again

_LINK = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_MARKERS = re.compile(r"(?<!\w)(?:rt|via|cc|mt)\s+@\w+:?|(?<!\w)@\w+|(?<!\w)rt(?!\w)", re.IGNORECASE)
_WORD = re.compile(r"\w+(?:'\w+)?")


def comparable(text: str) -> list[str]:
    """The words of ``text`` that two copies of it share (see module docstring)."""
    text = (text or "")[:MAX_CHARS].rstrip().rstrip("…").removesuffix("...")
    text = _MARKERS.sub(" ", _LINK.sub(" ", text))
    return _WORD.findall(text.lower())


def shingles(words: Sequence[str]) -> set[str]:
    """The distinct word 3-grams (the words themselves for a text shorter than three)."""
    if len(words) < SHINGLE:
        return set(words)
    return {" ".join(words[i:i + SHINGLE]) for i in range(len(words) - SHINGLE + 1)}


@dataclass(frozen=True)
class Signature:
    hashes: np.ndarray   # (NUM_PERM,) uint64 minima
    size: int            # distinct 3-grams

    def to_bytes(self) -> bytes:
        return self.hashes.astype("<u8").tobytes()

    @classmethod
    def from_bytes(cls, data: bytes, size: int) -> "Signature":
        return cls(np.frombuffer(data, dtype="<u8").copy(), size)


_PERMUTATIONS = None


def _minhash():
    from datasketch import MinHash

    global _PERMUTATIONS
    if _PERMUTATIONS is None:   # the same permutations for every signature, computed once
        _PERMUTATIONS = MinHash(num_perm=NUM_PERM, seed=SEED, scheme="affine32").permutations
    return MinHash(num_perm=NUM_PERM, seed=SEED, permutations=_PERMUTATIONS, scheme="affine32")


def signature(text: str) -> Signature | None:
    """The text's signature, or None when it is too short to call anything a copy of it."""
    words = comparable(text)
    if len(words) < MIN_WORDS:
        return None
    grams = shingles(words)
    m = _minhash()
    m.update_batch([g.encode("utf-8") for g in grams])
    return Signature(np.asarray(m.hashvalues, dtype=np.uint64), len(grams))


def band_keys(sig: Signature) -> list[int]:
    """One key per band, a signed 63-bit integer (fits SQLite), the band's number mixed in."""
    rows = sig.hashes.reshape(BANDS, ROWS)
    keys = []
    for band, row in enumerate(rows):
        h = band * 0x9E3779B97F4A7C15
        for v in row.tolist():
            h = (h * 0x100000001B3 ^ v) & 0xFFFFFFFFFFFFFFFF
        keys.append(h >> 1)   # 63 bits: SQLite integers stop at 2^63 - 1
    return keys


def jaccard(a: Signature, b: Signature) -> float:
    """Estimated Jaccard similarity of the two posts' 3-gram sets."""
    return float(np.count_nonzero(a.hashes == b.hashes)) / NUM_PERM


def containment(a: Signature, b: Signature) -> float:
    """Estimated share of the smaller 3-gram set found in the other (from Jaccard and the sizes);
    0 when the Jaccard estimate is under ``MIN_JACCARD``."""
    j = jaccard(a, b)
    if j < MIN_JACCARD:
        return 0.0
    shared = j * (a.size + b.size) / (1.0 + j)
    return min(1.0, shared / min(a.size, b.size))


def is_copy(a: Signature, b: Signature, same_url: bool = False) -> bool:
    """Whether the two posts are copies of one text (see module docstring)."""
    return containment(a, b) >= (CONTAINED_SAME_URL if same_url else CONTAINED)


@dataclass(frozen=True)
class Earlier:
    """An earlier post that shares a band key with a new one."""
    post_id: int
    signature: Signature
    url: str | None           # canonical
    copy_of: int | None       # the first post of its cluster, None when it is that first post itself
    posted_at: str | None = None


def _days_apart(a: str | None, b: str | None) -> float:
    if not a or not b:
        return 0.0
    try:
        ta = datetime.fromisoformat(a.replace("Z", "+00:00"))
        tb = datetime.fromisoformat(b.replace("Z", "+00:00"))
        return abs((ta - tb).total_seconds()) / 86400
    except (ValueError, TypeError):
        return 0.0


def copy_of(sig: Signature, url: str | None, candidates: Sequence[Earlier],
            posted_at: str | None = None) -> int | None:
    """The first post of the cluster a new post belongs to: that of the candidate it is most like
    (highest Jaccard, then the earliest) among those it is a copy of, posted within
    ``WINDOW_DAYS`` of it; None when it is a copy of none (it starts its own). The most alike, not
    the earliest: a post that is a weak copy of two clusters (a bot's template around two
    different texts) must not join the wrong one."""
    best = max(((jaccard(sig, c.signature), -c.post_id, c) for c in candidates
                if _days_apart(posted_at, c.posted_at) <= WINDOW_DAYS
                and is_copy(sig, c.signature, same_url=bool(url) and url == c.url)), default=None)
    if best is None:
        return None
    c = best[2]
    return c.copy_of if c.copy_of is not None else c.post_id


class CopyIndex:
    """Band keys -> posts: earlier posts loaded from the store (``load``), new ones filed in order
    (``add``); the bench runs it on its own."""

    def __init__(self) -> None:
        self.by_key: dict[int, list[int]] = {}
        self.posts: dict[int, Earlier] = {}
        self.keys: dict[int, list[int]] = {}

    def load(self, earlier: Earlier, keys: Sequence[int]) -> None:
        """An earlier post, as the store has it."""
        if earlier.post_id in self.posts:
            return
        self.posts[earlier.post_id] = earlier
        for k in keys:
            self.by_key.setdefault(k, []).append(earlier.post_id)

    def add(self, post_id: int, text: str, url: str | None = None, posted_at: str | None = None) -> int | None:
        """Sign and file a post; the first post of the cluster it is a copy of (None: not a copy)."""
        sig = signature(text)
        return None if sig is None else self.file(post_id, sig, url, posted_at)

    def file(self, post_id: int, sig: Signature, url: str | None = None, posted_at: str | None = None) -> int | None:
        """File a signed post; the first post of the cluster it is a copy of (None: not a copy)."""
        keys = band_keys(sig)
        seen = {i for k in keys for i in self.by_key.get(k, ()) if i != post_id}
        root = copy_of(sig, url, [self.posts[i] for i in sorted(seen)], posted_at)
        self.load(Earlier(post_id, sig, url, root, posted_at), keys)
        self.keys[post_id] = keys
        return root
