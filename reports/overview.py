"""Numbers for the web pages' product overview: daily mentions and net sentiment, share of voice,
top topics and most engaged mentions over a range of days, beside the previous range of the same
length. Reads the store only.

The default range is the latest digest's period (so the page and the digest show the same days),
else the ``serve.chart_days`` days up to today.

Sentiment is each mention's own (what the post says about that product), as in the digest;
mentions whose sentiment is not computed yet are counted in ``not_computed`` and ``notice`` says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import sqlite_utils

from listener import store
from listener.config import Settings
from reports.digest import NOT_COMPUTED_NOTICE, SPIKE_HISTORY, net_sentiment, period_alarms
from reports.spikes import PRESETS

TOP_ENGAGED_KEYS = ("id", "source", "url", "title", "text", "posted_at", "sentiment_label", "engagement")


@dataclass
class Day:
    day: str
    mentions: int = 0
    positive: int = 0
    neutral: int = 0
    negative: int = 0
    scored: int = 0        # labelled positive, neutral or negative (not unscored languages, not unlabelled)
    not_computed: int = 0  # mentions of posts classified before per-mention sentiment existed
    known: bool = True     # False: nothing at all was collected that day (unknown, not zero mentions)

    @property
    def net_sentiment(self) -> float | None:
        return net_sentiment(self.positive, self.negative, self.scored)


@dataclass
class ProductOverview:
    name: str
    ours: bool
    start: str                     # first day (inclusive)
    end: str                       # last day (inclusive)
    days: list[Day]
    mentions: int
    share_of_voice: float | None   # of all tracked products' mentions in the window
    net_sentiment: float | None
    positive: int = 0
    neutral: int = 0
    negative: int = 0
    not_computed: int = 0
    notice: str | None = None      # NOT_COMPUTED_NOTICE when some of its mentions have no sentiment yet
    topics: list[dict] = field(default_factory=list)
    top_engaged: list[dict] = field(default_factory=list)
    top_sources: list[dict] = field(default_factory=list)   # [{name, mentions}], most first (``detail`` only)
    top_authors: list[dict] = field(default_factory=list)
    alarms: list[dict] = field(default_factory=list)  # the digest's spikes and drops on the range's days
    previous_mentions: int | None = None  # in the previous range of the same length; None: nothing collected then
    previous_net_sentiment: float | None = None


MAX_DAYS = 366


def default_range(db: sqlite_utils.Database, today: date, days: int) -> tuple[date, date]:
    """The latest digest's period, else the ``days`` days up to ``today`` (first, last; inclusive)."""
    last = store.last_digest(db)
    detail = (last or {}).get("detail") or {}
    try:
        end = date.fromisoformat(detail["day"])
        return end - timedelta(days=int(detail.get("days") or 1) - 1), end
    except (KeyError, TypeError, ValueError):
        return today - timedelta(days=days - 1), today


def overviews(db: sqlite_utils.Database, settings: Settings, *, end: date, days: int,
              detail: str | None = None, limit: int = 10) -> list[ProductOverview]:
    """Every configured product over the ``days`` days ending on ``end`` (topics and top mentions only
    for ``detail``), with its mentions and net sentiment in the ``days`` days before."""
    start = end - timedelta(days=days - 1)
    end_excl = (end + timedelta(days=1)).isoformat()
    before = _previous(db, settings, start, days)
    history = (start - timedelta(days=SPIKE_HISTORY)).isoformat()
    per_day: dict[tuple[str, str], dict[str, int]] = {}
    series = {p.name: {(start + timedelta(days=i)).isoformat(): Day((start + timedelta(days=i)).isoformat())
                       for i in range(days)} for p in settings.products}
    for row in store.daily_mentions(db, history, end_excl):
        bucket = per_day.setdefault((row["product"], row["day"]), {})
        bucket[row["label"] or "unlabelled"] = bucket.get(row["label"] or "unlabelled", 0) + row["n"]
        d = series.get(row["product"], {}).get(row["day"])
        if d is None:
            continue
        d.mentions += row["n"]
        if row["label"] in ("positive", "neutral", "negative"):
            d.scored += row["n"]
            setattr(d, row["label"], getattr(d, row["label"]) + row["n"])
        elif row["label"] == store.NOT_COMPUTED:
            d.not_computed += row["n"]
    collected = store.collected_days(db, history, end_excl)
    preset = PRESETS[settings.alerts.sensitivity]
    for s in series.values():
        for key, d in s.items():
            d.known = key in collected
    total = sum(d.mentions for s in series.values() for d in s.values())
    out = []
    for p in settings.products:
        ds = list(series[p.name].values())
        n = sum(d.mentions for d in ds)
        scored = sum(d.scored for d in ds)
        pos, neu, neg = (sum(getattr(d, k) for d in ds) for k in ("positive", "neutral", "negative"))
        missing = sum(d.not_computed for d in ds)
        o = ProductOverview(p.name, p.ours, start.isoformat(), end.isoformat(), ds, n,
                            n / total if total else None, net_sentiment(pos, neg, scored), pos, neu, neg,
                            missing, NOT_COMPUTED_NOTICE if missing else None)
        if before is not None:
            o.previous_mentions, o.previous_net_sentiment = before.get(p.name, (0, None))
        o.alarms = [{"metric": a.metric, "day": a.day, "kind": a.kind, "value": a.value, "expected": a.expected}
                    for a in period_alarms(p.name, start, end, per_day, collected, preset)]
        if p.name == detail:
            o.topics = store.product_topics(db, p.name, start.isoformat(), end_excl, limit)
            o.top_engaged = [{k: r[k] for k in TOP_ENGAGED_KEYS} for r in store.product_mentions(
                db, p.name, start.isoformat(), end_excl, order="engagement", limit=limit)]
            o.top_sources, o.top_authors = ([{"name": v, "mentions": n} for v, n in store.product_facets(
                db, p.name, start.isoformat(), end_excl, column, limit=limit)] for column in ("source", "author"))
        out.append(o)
    return out


def _previous(db: sqlite_utils.Database, settings: Settings, start: date,
              days: int) -> dict[str, tuple[int, float | None]] | None:
    """Per product, mentions and net sentiment in the ``days`` days before ``start``; None when
    nothing at all was collected then (unknown, not zero)."""
    first = (start - timedelta(days=days)).isoformat()
    if not store.collected_days(db, first, start.isoformat()):
        return None
    counts: dict[str, list[int]] = {p.name: [0, 0, 0, 0] for p in settings.products}  # n, scored, pos, neg
    for row in store.daily_mentions(db, first, start.isoformat()):
        c = counts.get(row["product"])
        if c is None:
            continue
        c[0] += row["n"]
        if row["label"] in ("positive", "neutral", "negative"):
            c[1] += row["n"]
            c[2] += row["n"] if row["label"] == "positive" else 0
            c[3] += row["n"] if row["label"] == "negative" else 0
    return {name: (n, net_sentiment(pos, neg, scored)) for name, (n, scored, pos, neg) in counts.items()}
