"""Digest numbers: per product volume, change, share of voice, mood, what changed and who drove it.

Reads the store only. Definitions (printed in every digest):

- mentions: posts in the period (by publication time, UTC) that mention the product;
  a post that mentions two products counts once for each.
- change: mentions minus the mean of the N periods of the same length just before
  this one, for each N in ``digest.baselines`` (default 7 and 28: for a daily
  digest, the trailing 7-day and 28-day means).
- share of voice: the product's mentions divided by the mentions of all tracked products.
- net sentiment: (positive - negative) / scored mentions x 100, from -100 (all negative) to +100;
  "unscored" mentions (a language the sentiment model does not cover) are counted apart.
- data cut-off: the digest counts only posts first fetched at or before it (default:
  when it was built). It is recorded in every digest; ``listener digest --date D
  --cutoff T`` with the recorded T gives the same numbers later, however much was
  collected since (as long as the posts were not re-classified with another model).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta

import sqlite_utils

from listener import search as search_mod
from listener import store
from listener.config import Product, Settings
from listener.errors import BadInput, NotFound
from listener.text import iso_utc, snippet
from models.sentiment import canonical
from reports.spikes import PRESETS, count_verdict, share_verdict

SCHEMA = "listener.digest/1"
SERIES_DAYS = 30
SPIKE_HISTORY = 56
_QUESTION_OR_COMPLAINT = re.compile(
    r"\?|\b(?:how (?:do|can|to)|why (?:is|does|did|won't|can't)|any(?:one|body) (?:know|else)|"
    r"help|broken|doesn'?t work|not working|refund|crash(?:es|ed|ing)?|bug|issue|problem|"
    r"disappoint\w*|worst|terrible|awful|useless|fix|support)\b", re.I)

DEFINITIONS = {
    "mentions": "posts published in the period (UTC) that mention the product; a post naming "
                "two products counts for each",
    "change": "mentions minus the mean of the {baselines} periods of the same length just before",
    "share of voice": "the product's mentions divided by the mentions of all tracked products",
    "net sentiment": "(positive - negative) / scored mentions x 100, from -100 (all negative) to +100 "
                     "(all positive); labels by the {model} sentiment model",
    "unscored": "mentions in a language the sentiment model does not cover ({languages} only); "
                "not counted in net sentiment",
    "needs a response": "negative mentions that ask a question or complain and have no replies yet",
    "spike / drop": "a day whose mentions (or negative share) are improbably far from the "
                    "day-of-week-adjusted baseline of the previous 8 weeks (preset: {preset})",
    "data cut-off": "only posts first fetched at or before this time are counted; re-run with "
                    "--cutoff set to it to reproduce these numbers",
}


@dataclass
class MentionRef:
    post_id: int
    title: str
    url: str | None
    source: str
    author: str | None
    posted_at: str
    sentiment: float | None
    alias: str
    excerpt: str
    engagement: int = 0


@dataclass
class Change:
    periods: int          # how many previous periods the baseline averages
    mean: float
    delta: float
    pct: float | None     # None when the baseline is zero


@dataclass
class DayPoint:
    day: str
    mentions: int
    net_sentiment: float | None


@dataclass
class Alarm:
    metric: str           # "volume" | "negative share"
    day: str
    kind: str             # "spike" | "drop"
    value: float
    expected: float
    p: float


@dataclass
class TopicMood:
    topic: str
    positive: int
    negative: int
    mentions: int


@dataclass
class EmergingTopic:
    terms: list[str]      # top distinguishing terms, best first
    size: int             # posts in the cluster
    is_new: bool          # its terms were (almost) absent from the trailing baseline
    period_start: str
    period_end: str


@dataclass
class ProductStats:
    name: str
    ours: bool
    mentions: int = 0
    positive: int = 0
    neutral: int = 0
    negative: int = 0
    changes: list[Change] = field(default_factory=list)
    unscored: int = 0
    share_of_voice: float | None = None
    net_sentiment: float | None = None
    top_positive: list[MentionRef] = field(default_factory=list)
    top_negative: list[MentionRef] = field(default_factory=list)
    most_engaged: list[MentionRef] = field(default_factory=list)
    needs_response: list[MentionRef] = field(default_factory=list)
    top_sources: list[tuple[str, int]] = field(default_factory=list)
    top_authors: list[tuple[str, int]] = field(default_factory=list)
    series: list[DayPoint] = field(default_factory=list)
    alarms: list[Alarm] = field(default_factory=list)
    topics: list[TopicMood] = field(default_factory=list)
    emerging: list[EmergingTopic] = field(default_factory=list)


@dataclass
class Digest:
    schema: str
    start: date          # first day of the period (inclusive)
    end: date            # last day of the period (inclusive)
    days: int
    generated_at: str
    cutoff: str
    settings_sha256: str
    query_versions: dict[str, str]   # product -> version of its query (aliases and excludes)
    classifiers: list[str]
    products: list[ProductStats]
    total_posts: int
    total_mentions: int
    posts_by_source: dict[str, int]
    definitions: dict[str, str]
    search: dict[str, str] | None = None   # the saved search (name, query) the digest counts only

    @property
    def _search_title(self) -> str:
        return f", saved search \u201c{self.search['name']}\u201d" if self.search else ""

    @property
    def kind(self) -> str:
        return {1: "daily", 7: "weekly"}.get(self.days, f"{self.days}-day")

    @property
    def title(self) -> str:
        if self.days == 1:
            return f"Daily digest for {self.end.isoformat()}{self._search_title}"
        if self.days == 7:
            return f"Weekly digest for {self.start.isoformat()} to {self.end.isoformat()}{self._search_title}"
        return (f"Digest for {self.start.isoformat()} to {self.end.isoformat()} ({self.days} days)"
                f"{self._search_title}")

    @property
    def slug(self) -> str:
        suffix = {1: "", 7: "-week"}.get(self.days, f"-{self.days}d")
        if self.search:
            suffix += "-" + (re.sub(r"[^a-z0-9]+", "-", self.search["name"].lower()).strip("-") or "search")
        return f"digest-{self.end.isoformat()}{suffix}"

    def to_json(self) -> dict:
        """The digest's data as plain JSON types, under a versioned schema name."""
        data = asdict(self)
        data["start"], data["end"] = self.start.isoformat(), self.end.isoformat()
        data["kind"], data["title"] = self.kind, self.title
        return json.loads(json.dumps(data))  # tuples become lists, as any reader of the file sees them


def query_version(product: Product) -> str:
    """A short hash of what counts as a mention of ``product``: its aliases and exclude terms.

    A product's aliases are its listening query; when they change, its numbers stop being
    comparable with digests made before, and this version says so.
    """
    spec = json.dumps({"aliases": sorted(product.aliases), "exclude": sorted(product.exclude)}, sort_keys=True)
    return hashlib.sha256(spec.encode()).hexdigest()[:12]


def settings_fingerprint(settings: Settings) -> str:
    """SHA-256 of the settings file's bytes (of the parsed settings when there is no file)."""
    if settings.path is not None:
        try:
            return hashlib.sha256(settings.path.read_bytes()).hexdigest()
        except OSError:
            pass
    return hashlib.sha256(repr(settings).encode()).hexdigest()


def net_sentiment(positive: int, negative: int, scored: int) -> float | None:
    """(positive - negative) / scored mentions x 100, from -100 to +100 (None: nothing scored)."""
    return (positive - negative) / scored * 100 if scored else None


def build_digest(db: sqlite_utils.Database, settings: Settings, *, day: date, days: int = 1,
                 now: datetime, product: str | None = None, cutoff: str | None = None,
                 search: str | None = None) -> Digest:
    """Numbers for the ``days``-day period ending on ``day`` (inclusive); one ``product`` if named;
    only the posts the saved search named ``search`` matches, if named (``NotFound`` if unknown)."""
    if days < 1:
        raise BadInput("days must be at least 1")
    cfg = settings.digest
    cutoff = cutoff or iso_utc(now) or ""
    scope: str | store.Scope = cutoff
    saved = None
    if search:
        query = search_mod.saved_query(db, search)
        sql, params = search_mod.condition(db, query)
        scope, saved = store.Scope(cutoff, sql, tuple(params)), {"name": search, "query": query}
    start = day - timedelta(days=days - 1)
    end_excl = day + timedelta(days=1)
    longest = max(cfg.baselines)
    first = min(start - timedelta(days=days * longest), day - timedelta(days=SPIKE_HISTORY + SERIES_DAYS))

    stats = {p.name: ProductStats(p.name, p.ours) for p in settings.products}
    per_day: dict[tuple[str, str], dict[str, int]] = {}
    for row in store.daily_mentions(db, first.isoformat(), end_excl.isoformat(), scope):
        if row["product"] not in stats:  # a product no longer in settings
            continue
        bucket = per_day.setdefault((row["product"], row["day"]), {})
        bucket[row["label"] or "unlabelled"] = bucket.get(row["label"] or "unlabelled", 0) + row["n"]

    def count(name: str, d0: date, d1: date, label: str | None = None) -> int:
        total, d = 0, d0
        while d < d1:
            b = per_day.get((name, d.isoformat()), {})
            total += b.get(label, 0) if label else sum(b.values())
            d += timedelta(days=1)
        return total

    preset = PRESETS[settings.alerts.sensitivity]
    for s in stats.values():
        s.mentions = count(s.name, start, end_excl)
        for label in ("positive", "neutral", "negative", "unscored"):
            setattr(s, label, count(s.name, start, end_excl, label))
        for n in cfg.baselines:
            mean = count(s.name, start - timedelta(days=days * n), start) / n
            delta = s.mentions - mean
            s.changes.append(Change(n, mean, delta, (delta / mean * 100) if mean else None))
        for i in range(SERIES_DAYS):
            d = day - timedelta(days=SERIES_DAYS - 1 - i)
            b = per_day.get((s.name, d.isoformat()), {})
            scored = b.get("positive", 0) + b.get("neutral", 0) + b.get("negative", 0)
            s.series.append(DayPoint(d.isoformat(), sum(b.values()),
                                     net_sentiment(b.get("positive", 0), b.get("negative", 0), scored)))
        s.alarms = _alarms(s.name, start, day, per_day, preset)

    total_mentions = sum(s.mentions for s in stats.values())
    k = cfg.top_mentions
    a, b, c = start.isoformat(), end_excl.isoformat(), scope
    clusters = store.emerging_topics(db, day.isoformat())  # stored by `listener emerging` for this day
    for s in stats.values():
        if product and s.name != product:
            continue
        s.share_of_voice = (s.mentions / total_mentions) if total_mentions else None
        scored = s.positive + s.neutral + s.negative
        s.net_sentiment = net_sentiment(s.positive, s.negative, scored)
        s.top_positive = _refs(store.product_mentions(db, s.name, a, b, label="positive", limit=k, cutoff=c))
        # One query for both: the strongest negatives, and those among the first 200 that need a response
        candidates = store.product_mentions(db, s.name, a, b, label="negative", limit=max(200, k), cutoff=c)
        s.top_negative = _refs(candidates[:k])
        s.most_engaged = [m for m in _refs(store.product_mentions(db, s.name, a, b, order="engagement",
                                                                  limit=k, cutoff=c)) if m.engagement > 0]
        s.needs_response = _refs([r for r in candidates[:200] if not r["comments"] and
                                  _QUESTION_OR_COMPLAINT.search(f"{r['title'] or ''} {r['text'] or ''}")][:k])
        s.top_sources = store.product_facets(db, s.name, a, b, "source", limit=5, cutoff=c)
        s.top_authors = store.product_facets(db, s.name, a, b, "author", limit=5, cutoff=c)
        s.topics = [TopicMood(r["topic"], r["positive"], r["negative"], r["n"])
                    for r in store.topic_sentiment(db, s.name, a, b, cutoff=c)]
        s.emerging = [EmergingTopic(r["terms"], r["size"], r["is_new"], r["period_start"], r["period_end"])
                      for r in clusters if r["product"] == s.name]

    names = [p.name for p in settings.products if p.ours] + [p.name for p in settings.products if not p.ours]
    if product:
        if product not in stats:
            raise NotFound(f"no product named {product!r} in settings", exit_code=2)
        names = [product]
    k_set, sn = settings.classify, settings.sentiment
    model = (f"VADER (compound >= {k_set.positive_threshold} positive, <= {k_set.negative_threshold} negative)"
             if sn.model == "vader" else canonical(sn.model))
    definitions = {key: text.format(baselines=" / ".join(map(str, cfg.baselines)), model=model,
                                    languages=", ".join(sn.languages), preset=settings.alerts.sensitivity)
                   for key, text in DEFINITIONS.items()}
    return Digest(
        schema=SCHEMA, start=start, end=day, days=days, generated_at=iso_utc(now) or "", cutoff=cutoff,
        settings_sha256=settings_fingerprint(settings),
        query_versions={p.name: query_version(p) for p in settings.products if p.name in names},
        classifiers=store.classifiers_between(db, a, b, c),
        products=[stats[n] for n in names],
        total_posts=store.posts_between(db, a, b, c), total_mentions=total_mentions,
        posts_by_source=store.posts_by_source(db, a, b, c), definitions=definitions, search=saved,
    )


def _alarms(name: str, start: date, day: date, per_day: dict, preset) -> list[Alarm]:
    """Spikes and drops on each day of the period, against the 8 weeks before that day."""
    out = []
    d = start
    while d <= day:
        hist_days = [d - timedelta(days=SPIKE_HISTORY - i) for i in range(SPIKE_HISTORY)]
        buckets = [per_day.get((name, h.isoformat()), {}) for h in hist_days]
        totals = [sum(x.values()) for x in buckets]
        negatives = [x.get("negative", 0) for x in buckets]
        today = per_day.get((name, d.isoformat()), {})
        total, neg = sum(today.values()), today.get("negative", 0)
        if sum(totals) > 0:
            v = count_verdict(totals, total, season=7, phase=d.weekday(), preset=preset)
            if v.alarming:
                out.append(Alarm("volume", d.isoformat(), v.kind, v.value, round(v.expected, 2), v.p))
            w = share_verdict(negatives, totals, neg, total, preset=preset)
            if w.alarming:
                out.append(Alarm("negative share", d.isoformat(), w.kind, round(w.value, 4),
                                 round(w.expected, 4), w.p))
        d += timedelta(days=1)
    return out


def _refs(rows: list[dict]) -> list[MentionRef]:
    return [MentionRef(post_id=r["id"], title=r["title"] or snippet(r["text"], 80) or "(untitled)",
                       url=r["url"], source=r["source"], author=r["author"], posted_at=r["posted_at"],
                       sentiment=r["sentiment"], alias=r["alias"], excerpt=snippet(r["text"], 240),
                       engagement=r.get("engagement") or 0)
            for r in rows]
