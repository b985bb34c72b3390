"""Search facets: the tokens that stand for a post's source, site, author, language, sentiment,
products, topics, day and engagement in the full-text index's ``facets`` column.

The store writes them (``post_facets``) and the search compiler matches them (``facet_token``,
``day_token``, ``engagement_token``), so both import this leaf module and it imports neither.
"""

from __future__ import annotations

import hashlib
from typing import Iterable
from urllib.parse import urlsplit

ENGAGEMENT_FIELDS = ("score", "comments", "likes", "shares")
ENGAGEMENT_SQL = ("(coalesce(p.score, 0) + coalesce(p.comments, 0) + coalesce(p.likes, 0) "
                  "+ coalesce(p.shares, 0))")  # one number per post; the posts_engagement index uses it verbatim

FACET_KINDS = {"source": "s", "site": "w", "author": "a", "lang": "l", "sentiment": "e", "product": "p",
               "topic": "t", "mention": "q", "relevance": "r", "rejected": "x"}


def mention_value(product: str, label: str) -> str:
    """The value of a ``mention`` facet: "the post is ``label`` about ``product``" (its mention's
    own sentiment, ``product:X sentiment:S`` in a query)."""
    return f"{product}\x1f{label}"


def facet_token(kind: str, value: str) -> str:
    """The token in ``posts_fts.facets`` meaning "this post's KIND is VALUE" (case-insensitive).

    Letters and digits only, so the unicode61 tokenizer keeps it whole, and ending in a digit,
    so the Porter stemmer leaves it alone.
    """
    digest = hashlib.blake2b(value.strip().casefold().encode("utf-8"), digest_size=8).digest()
    return f"zz{FACET_KINDS[kind]}{int.from_bytes(digest, 'big')}"


# Engagement (score + comments + likes + shares) of at least each step is a facet token, so a
# range starting at a step, and ending just below one, is matched inside the index.
ENGAGEMENT_STEPS = tuple(m * 10 ** k for k in range(10) for m in (1, 2, 5))


def engagement_token(step: int) -> str:
    """The facet token for "engagement is at least ``step``" (one of ``ENGAGEMENT_STEPS``)."""
    return f"zzg{step}"


def engagement(post: dict) -> int:
    """Score + comments + likes + shares of a post row, missing numbers counting 0 (``ENGAGEMENT_SQL``)."""
    return sum(int(post.get(f) or 0) for f in ENGAGEMENT_FIELDS)


def day_token(unit: str, stamp: str) -> str:
    """The facet token for a post's UTC year (``y``), month (``m``) or day (``d``) of ``posted_at``."""
    return "zz" + unit + stamp[:{"y": 4, "m": 7, "d": 10}[unit]].replace("-", "")


def site_names(url: str | None) -> list[str]:
    """The host of a URL without ``www.``, then each parent domain above it (not the bare TLD)."""
    try:
        host = (urlsplit(url or "").hostname or "").rstrip(".")
    except ValueError:
        return []
    if host.startswith("www."):
        host = host[4:]
    parts = host.split(".")
    return [".".join(parts[i:]) for i in range(max(1, len(parts) - 1))] if host else []


def post_facets(post: dict, products: Iterable[str] = (), topics: Iterable[str] = (),
                moods: Iterable[tuple[str, str]] = (), rejected: Iterable[str] = ()) -> str:
    """The facets text of a post row (source, url, author, language, sentiment_label, posted_at and
    the engagement numbers), its products, topics, ``moods``: (product, the mention's label), and the
    products of its mentions judged not about them (``rejected``: ``relevance:low``)."""
    toks = [facet_token("source", post["source"])]
    toks += [facet_token("site", s) for s in site_names(post.get("url"))]
    for kind, column in (("author", "author"), ("lang", "language"), ("sentiment", "sentiment_label")):
        if post.get(column):
            toks.append(facet_token(kind, post[column]))
    toks += [facet_token("product", p) for p in sorted(set(products))]
    toks += [facet_token("topic", t) for t in sorted(set(topics))]
    toks += [facet_token("mention", mention_value(p, label)) for p, label in sorted(set(moods)) if label]
    if rejected:
        toks += [facet_token("relevance", "low")] + [facet_token("rejected", p) for p in sorted(set(rejected))]
    if post.get("posted_at"):
        toks += [day_token(u, post["posted_at"]) for u in "ymd"]
    total = engagement(post)
    toks += [engagement_token(step) for step in ENGAGEMENT_STEPS if step <= total]
    return " ".join(toks)
