"""Why a count changed: the terms, sources, authors and topics that distinguish a window of mentions
from the window before it, and example mentions. One computation for alerts and the digest.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field

import sqlite_utils

from listener import search, store
from listener.search import Plan
from listener.text import snippet

_WORD = re.compile(r"[^\W\d_][\w'-]{2,}", re.UNICODE)
_STOP = set("""the and for that this with you are was were have has had not but from they their them what
when where which who will would can could should about there here just like into than then also more most
some any all our your his her its out get got one two how why because been being very really much many
over only even make made did does doing don't can't isn't it's i'm you're we're http https www com""".split())


@dataclass
class Drivers:
    terms: list[tuple[str, int]] = field(default_factory=list)
    sources: list[tuple[str, int]] = field(default_factory=list)
    authors: list[tuple[str, int]] = field(default_factory=list)
    topics: list[tuple[str, int]] = field(default_factory=list)
    examples: list[dict] = field(default_factory=list)


def top_terms(window: list[dict], baseline: list[dict], limit: int = 6,
              tokens: dict[int, frozenset[str]] | None = None) -> list[tuple[str, int]]:
    """Terms much more frequent in the window than in the baseline (smoothed log ratio), with counts.
    ``tokens`` caches each post's terms by its id across calls (a digest explains many overlapping windows)."""
    cache = {} if tokens is None else tokens

    def terms(p: dict) -> frozenset[str]:
        found = cache.get(p["id"]) if "id" in p else None
        if found is None:
            found = frozenset(_WORD.findall(f"{p.get('title') or ''} {p.get('text') or ''}".lower())) - _STOP
            if "id" in p:
                cache[p["id"]] = found
        return found

    def counts(posts: list[dict]) -> Counter:
        c: Counter = Counter()
        for p in posts:
            c.update(terms(p))
        return c

    now_c, base_c = counts(window), counts(baseline)
    n_now, n_base = max(len(window), 1), max(len(baseline), 1)
    scored = []
    for term, k in now_c.items():
        if k < 2:
            continue
        lift = math.log((k / n_now + 0.01) / (base_c.get(term, 0) / n_base + 0.01))
        if lift > 0:
            scored.append((lift * math.sqrt(k), term, k))
    scored.sort(key=lambda x: (-x[0], x[1]))
    return [(t, k) for _, t, k in scored[:limit]]


def explain(db: sqlite_utils.Database, product: str | None, plan: Plan | None, metric: str, start: str, end: str,
            baseline_start: str, examples: int = 3, cutoff: str | None = None,
            sample: tuple[int, int] = (2000, 5000), tokens: dict[int, frozenset[str]] | None = None) -> Drivers:
    """What is behind the mentions of ``product`` (or the matches of ``plan``, or both) posted in
    [start, end) against those in [baseline_start, start): distinguishing terms, sources, authors,
    topics and example mentions (for ``metric`` "negative_share", of the negative ones, most negative
    first; else the most engaged); with ``cutoff``, only posts first fetched by then. ``sample``: at
    most this many posts of the window and of the baseline are read (a product's: spread evenly over
    the window's time; a search's: the newest); ``tokens``: see
    ``top_terms``."""
    def window(first: str, last: str, limit: int) -> list[dict]:
        if plan is None and product:  # the same rows as window_rows, through the mentions' date index
            return store.mention_window(db, product, first, last, limit=limit, cutoff=cutoff)
        return search.window_rows(db, plan, product, first, last, limit=limit, cutoff=cutoff)

    posts, base = window(start, end, sample[0]), window(baseline_start, start, sample[1])
    if metric == "negative_share":
        focus = [p for p in posts if p["sentiment_label"] == "negative"] or posts
        ordered = sorted(focus, key=lambda p: (p["sentiment"] if p["sentiment"] is not None else 0, -p["id"]))
    else:
        focus = posts
        ordered = sorted(posts, key=lambda p: (-(p["engagement"] or 0), -p["id"]))
    topics = Counter(t for ts in store.post_tags(db, [p["id"] for p in focus])[1].values() for t in ts)
    return Drivers(
        terms=top_terms(focus, base, tokens=tokens),
        sources=Counter(p["source"] for p in focus).most_common(3),
        authors=Counter(p["author"] for p in focus if p["author"]).most_common(3),
        topics=topics.most_common(3),
        examples=[{"post_id": p["id"], "title": p["title"] or snippet(p["text"], 80), "url": p["url"],
                   "source": p["source"], "author": p["author"], "posted_at": p["posted_at"],
                   "sentiment": p["sentiment"], "excerpt": snippet(p["text"], 200)} for p in ordered[:examples]],
    )
