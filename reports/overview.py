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
from reports.digest import (NOT_COMPUTED_NOTICE, SPIKE_HISTORY, LanguageMood, day_counts, language_moods,
                            net_sentiment, period_alarms, query_version, sentiment_basis)
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
    top_authors: list[dict] = field(default_factory=list)   # [{name, source, mentions}]: authors are per source
    alarms: list[dict] = field(default_factory=list)  # the digest's spikes and drops on the range's days
    previous_mentions: int | None = None  # in the previous range of the same length; None: nothing collected then
    previous_net_sentiment: float | None = None
    query_version: str = ""            # reports.digest.query_version: the aliases and excludes counted with
    query_changed_at: str | None = None  # when they last changed in the settings editor (``detail`` only)
    tagged_before_change: int = 0      # posts last classified before that change: tagged with the older query
    unscored: int = 0                  # mentions in a language ``sentiment.languages`` leaves out
    languages: list[LanguageMood] = field(default_factory=list)  # the range's mood per post language
    sentiment_basis: str | None = None  # the languages its net sentiment is from (several, or some unscored)


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
    for ``detail``), with its mentions and net sentiment in the ``days`` days before, and the digest's
    spikes and drops on the range's days."""
    start = end - timedelta(days=days - 1)
    end_excl = end + timedelta(days=1)
    counted = day_counts(db, start - timedelta(days=max(days, SPIKE_HISTORY)), end_excl,
                         [p.name for p in settings.products])
    range_days = [(start + timedelta(days=i)).isoformat() for i in range(days)]
    previous_days = [(start - timedelta(days=days - i)).isoformat() for i in range(days)]
    series = {p.name: [_day(d, counted.per_day.get((p.name, d), {}), d in counted.collected) for d in range_days]
              for p in settings.products}
    total = sum(d.mentions for ds in series.values() for d in ds)
    preset = PRESETS[settings.alerts.sensitivity]
    a, b = start.isoformat(), end_excl.isoformat()
    moods = language_moods(store.language_mentions(db, a, b))
    out = []
    for p in settings.products:
        ds = series[p.name]
        n = sum(d.mentions for d in ds)
        scored = sum(d.scored for d in ds)
        pos, neu, neg = (sum(getattr(d, k) for d in ds) for k in ("positive", "neutral", "negative"))
        missing = sum(d.not_computed for d in ds)
        o = ProductOverview(p.name, p.ours, a, end.isoformat(), ds, n,
                            n / total if total else None, net_sentiment(pos, neg, scored), pos, neu, neg,
                            missing, NOT_COMPUTED_NOTICE if missing else None)
        if counted.collected.intersection(previous_days):   # else unknown, not zero
            before = [_day(d, counted.per_day.get((p.name, d), {}), True) for d in previous_days]
            o.previous_mentions = sum(d.mentions for d in before)
            o.previous_net_sentiment = net_sentiment(sum(d.positive for d in before),
                                                     sum(d.negative for d in before), sum(d.scored for d in before))
        o.query_version = query_version(p)
        o.languages = moods.get(p.name, [])
        o.unscored = sum(m.unscored for m in o.languages)
        o.sentiment_basis = sentiment_basis(o.languages)
        o.alarms = [{"metric": x.metric, "day": x.day, "kind": x.kind, "value": x.value, "expected": x.expected}
                    for x in period_alarms(p.name, start, end, counted.per_day, counted.known, preset)]
        if p.name == detail:
            o.topics = store.product_topics(db, p.name, a, b, limit)
            o.top_engaged = [{k: r[k] for k in TOP_ENGAGED_KEYS} for r in store.product_mentions(
                db, p.name, a, b, order="engagement", limit=limit)]
            o.top_sources = [{"name": v, "mentions": n} for v, n in store.product_facets(
                db, p.name, a, b, "source", limit=limit)]
            o.top_authors = store.product_authors(db, p.name, a, b, limit=limit)  # authors are per source
            o.query_changed_at = store.last_query_change(db, p.name)
            if o.query_changed_at:
                o.tagged_before_change = store.count_classified_before(db, o.query_changed_at)
        out.append(o)
    return out


def _day(day: str, labels: dict[str, int], known: bool) -> Day:
    """One day of a product's series from its mentions by label."""
    scored = sum(labels.get(k, 0) for k in ("positive", "neutral", "negative"))
    return Day(day, sum(labels.values()), labels.get("positive", 0), labels.get("neutral", 0),
               labels.get("negative", 0), scored, labels.get(store.NOT_COMPUTED, 0), known)
