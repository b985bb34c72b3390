"""Digest numbers: per product volume, change, share of voice and mood for a period.

Reads the store only. Definitions (printed in every digest):

- mentions: posts in the period (by publication time, UTC) that mention the product;
  a post that mentions two products counts once for each.
- change: mentions minus the mean of the ``trailing_periods`` periods of the same
  length just before this one (for a daily digest: the trailing 7-day mean).
- share of voice: the product's mentions divided by the mentions of all tracked products.
- net sentiment: (positive − negative) / scored mentions × 100, from −100 (all negative) to +100;
  "unscored" mentions (a language the sentiment model does not cover) are counted apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import sqlite_utils

from listener import store
from listener.config import Settings
from listener.text import iso_utc, snippet

DEFINITIONS = {
    "mentions": "posts published in the period (UTC) that mention the product; a post naming "
                "two products counts for each",
    "change": "mentions minus the mean of the {n} periods of the same length just before",
    "share of voice": "the product's mentions divided by the mentions of all tracked products",
    "net sentiment": "(positive - negative) / scored mentions x 100, from -100 (all negative) to +100 "
                     "(all positive); labels by the {model} sentiment model",
    "unscored": "mentions in a language the sentiment model does not cover ({languages} only); "
                "not counted in net sentiment",
}


@dataclass
class MentionRef:
    post_id: int
    title: str
    url: str | None
    source: str
    author: str | None
    posted_at: str
    sentiment: float
    alias: str
    excerpt: str


@dataclass
class ProductStats:
    name: str
    ours: bool
    mentions: int = 0
    positive: int = 0
    neutral: int = 0
    negative: int = 0
    unscored: int = 0
    trailing_mean: float = 0.0
    change: float = 0.0
    change_pct: float | None = None
    share_of_voice: float | None = None
    net_sentiment: float | None = None
    top_positive: list[MentionRef] = field(default_factory=list)
    top_negative: list[MentionRef] = field(default_factory=list)


@dataclass
class Digest:
    start: date          # first day of the period (inclusive)
    end: date            # last day of the period (inclusive)
    days: int
    generated_at: str
    trailing_periods: int
    products: list[ProductStats]
    total_posts: int
    total_mentions: int
    posts_by_source: dict[str, int]
    definitions: dict[str, str]

    @property
    def title(self) -> str:
        if self.days == 1:
            return f"Daily digest for {self.end.isoformat()}"
        return f"Digest for {self.start.isoformat()} to {self.end.isoformat()} ({self.days} days)"

    @property
    def slug(self) -> str:
        return f"digest-{self.end.isoformat()}" + ("" if self.days == 1 else f"-{self.days}d")


def build_digest(db: sqlite_utils.Database, settings: Settings, *, day: date, days: int = 1,
                 now: datetime) -> Digest:
    """Numbers for the ``days``-day period ending on ``day`` (inclusive)."""
    if days < 1:
        raise ValueError("days must be at least 1")
    n = settings.digest.trailing_periods
    start = day - timedelta(days=days - 1)
    end_excl = day + timedelta(days=1)
    trail_start = start - timedelta(days=days * n)

    stats = {p.name: ProductStats(p.name, p.ours) for p in settings.products}
    trailing: dict[str, int] = {}
    for row in store.daily_mentions(db, trail_start.isoformat(), end_excl.isoformat()):
        s = stats.get(row["product"])
        if s is None:  # a product no longer in settings
            continue
        if row["day"] >= start.isoformat():
            s.mentions += row["n"]
            if row["label"] in ("positive", "neutral", "negative", "unscored"):
                setattr(s, row["label"], getattr(s, row["label"]) + row["n"])
        else:
            trailing[s.name] = trailing.get(s.name, 0) + row["n"]

    total_mentions = sum(s.mentions for s in stats.values())
    k = settings.digest.top_mentions
    for s in stats.values():
        s.trailing_mean = trailing.get(s.name, 0) / n
        s.change = s.mentions - s.trailing_mean
        s.change_pct = (s.change / s.trailing_mean * 100) if s.trailing_mean else None
        s.share_of_voice = (s.mentions / total_mentions) if total_mentions else None
        scored = s.positive + s.neutral + s.negative
        s.net_sentiment = ((s.positive - s.negative) / scored * 100) if scored else None
        for label, target in (("positive", s.top_positive), ("negative", s.top_negative)):
            for r in store.product_mentions(db, s.name, start.isoformat(), end_excl.isoformat(),
                                            label=label, limit=k):
                target.append(MentionRef(
                    post_id=r["id"], title=r["title"] or snippet(r["text"], 80) or "(untitled)",
                    url=r["url"], source=r["source"], author=r["author"], posted_at=r["posted_at"],
                    sentiment=r["sentiment"], alias=r["alias"], excerpt=snippet(r["text"], 240)))

    ordered = [stats[p.name] for p in settings.products if p.ours] + \
              [stats[p.name] for p in settings.products if not p.ours]
    sn = settings.sentiment
    model = "VADER (compound >= {0} positive, <= {1} negative)".format(
        settings.classify.positive_threshold, settings.classify.negative_threshold) if sn.model == "vader" \
        else "trained"
    definitions = {key: text.format(n=n, model=model, languages=", ".join(sn.languages))
                   for key, text in DEFINITIONS.items()}
    return Digest(
        start=start, end=day, days=days, generated_at=iso_utc(now) or "", trailing_periods=n,
        products=ordered,
        total_posts=store.posts_between(db, start.isoformat(), end_excl.isoformat()),
        total_mentions=total_mentions,
        posts_by_source=store.posts_by_source(db, start.isoformat(), end_excl.isoformat()),
        definitions=definitions,
    )
