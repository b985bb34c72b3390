"""Digest numbers: per product volume, change, share of voice, mood, what changed and who drove it.

Reads the store only. Definitions (printed in every digest):

- mentions: posts in the period (by publication time, UTC) that mention the product;
  a post that mentions two products counts once for each.
- known days: history starts on the earliest day holding any collected post; a day without any
  collected post (before that, or a collection gap) is unknown, never a zero-mention day, and the
  first day is only partly covered (a first fetch backfills from mid-day at best), so it is shown
  but left out of every baseline and never judged. Baselines average known days only.
- change: mentions minus what a baseline expects for a period of this length, for each N in
  ``digest.baselines`` (default 7 and 28 days): the daily average over the previous N days (at
  least the period's own length) times the period's length; for a daily digest a baseline of 28
  days or more is the same weekday's average over those weeks. With fewer known days the average
  is over those and says so; with none there is no baseline.
- share of voice: the product's mentions divided by the mentions of all tracked products.
- net sentiment: (positive - negative) / scored mentions x 100, from -100 (all negative) to +100;
  "unscored" mentions (a language the sentiment model does not cover) are counted apart. Every
  sentiment number of a product is its mentions' own sentiment (what each post says about that
  product), never the post's; mentions whose sentiment is not computed yet (posts classified before
  per-mention sentiment existed) are counted apart and the digest says so (``NOT_COMPUTED_NOTICE``).
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
from typing import Iterable

import sqlite_utils

from listener import search as search_mod
from listener import store
from listener.config import Product, Settings
from listener.errors import BadInput, NotFound
from listener.text import iso_utc, snippet
from models.sentiment import canonical
from reports.drivers import Drivers, explain
from reports.spikes import PRESETS, judge

SCHEMA = "listener.digest/1"
SERIES_DAYS = 30
SPIKE_HISTORY = 56
NEUTRAL_BAND = 0.05  # |score| below this reads as neutral, whatever the label (VADER's own band)
EMERGING_EXAMPLES = 2  # example posts shown per emerging topic
MAX_EXPLAINED = 5   # alarms per product that get their drivers (each is two reads of the store)
DRIVER_SAMPLE = (300, 600)  # posts read for a driver's window and baseline, spread over each (a digest has many)
_QUESTION = re.compile(r"\?|\b(?:how (?:do|can|to)|why (?:is|does|did|won't|can't)|any(?:one|body) (?:know|else))\b",
                       re.I)
_QUESTION_OR_COMPLAINT = re.compile(
    r"\?|\b(?:how (?:do|can|to)|why (?:is|does|did|won't|can't)|any(?:one|body) (?:know|else)|"
    r"help|broken|doesn'?t work|not working|refund|crash(?:es|ed|ing)?|bug|issue|problem|"
    r"disappoint\w*|worst|terrible|awful|useless|fix|support)\b", re.I)

DEFINITIONS = {
    "mentions": "posts published in the period (UTC) that mention the product; a post naming "
                "two products counts for each",
    "change": "mentions minus what each baseline expects for a period of this length (the daily average over "
              "the previous days named, times {days}); only days with collected posts count (at least as "
              "many as the period has, up to 7), the first collected day ({first}) is partly covered and "
              "left out",
    "share of voice": "the product's mentions divided by the mentions of all tracked products",
    "net sentiment": "(positive - negative) / scored mentions x 100, from -100 (all negative) to +100 "
                     "(all positive); each mention labelled by what the post says about that product "
                     "(the {model} sentiment model on the sentences that name it), not by the whole post",
    "unscored": "mentions in a language the sentiment model does not cover ({languages} only); "
                "not counted in net sentiment",
    "needs a response": "mentions that ask a question or complain, engaged with or with no replies yet, "
                        "whatever their sentiment: questions first, then the most engaged",
    "spike / drop": "a day whose mentions (or negative share) are improbably far from the "
                    "day-of-week-adjusted baseline of the known days among the previous 8 weeks, or at least "
                    "2.5 times it (preset: {preset}); not judged before 7 known days, and only 3x counts "
                    "before 14",
    "data cut-off": "only posts first fetched at or before this time are counted; re-run with "
                    "--cutoff set to it to reproduce these numbers",
}
# Printed only in digests where some product's mentions are in several languages (or some unscored).
BY_LANGUAGE = ("by language", "where a product's mentions are in several languages (the post's language as "
               "classified), its mentions, net sentiment and positive / negative shares of the scored mentions "
               "per language, and the unscored ones apart; the product's net sentiment names the languages it "
               "is from")
NOT_COMPUTED_NOTICE = "per-product sentiment not computed yet: run `listener classify --all`"


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
    span: str | None = None   # what the post says about the product: the text its sentiment was judged on
    copies: int = 0           # copies of this post elsewhere (counted once, with it)


@dataclass
class Change:
    label: str            # the baseline in plain words: "previous 7 days' average", "same weekday average ..."
    days: int             # days of history the baseline looks back over
    known_days: int       # of those, days with collected posts: the average is over these
    mean: float | None    # mentions the baseline expects for a period of this length (None: no known day)
    delta: float | None
    pct: float | None     # None when there is no baseline or it expects zero


@dataclass
class DayPoint:
    day: str
    mentions: int | None          # None: nothing collected that day (unknown, not zero)
    net_sentiment: float | None   # None: no scored mention that day


@dataclass
class Alarm:
    metric: str           # "volume" | "negative share"
    day: str
    kind: str             # "spike" | "drop"
    value: float
    expected: float
    p: float
    drivers: Drivers | None = None   # what distinguishes the day from the week before it


@dataclass
class TopicMood:
    topic: str
    positive: int
    negative: int
    mentions: int


@dataclass
class EmergingTopic:
    terms: list[str]      # naming phrases, best first
    size: int             # posts in the cluster
    is_new: bool          # its top phrase was (almost) absent from the trailing baseline
    period_start: str
    period_end: str
    growth: float | None = None   # share of the period's posts carrying its top phrase / the baseline's (None: absent before)
    examples: list[dict] = field(default_factory=list)  # two of its most typical posts: post_id, title, url, source


@dataclass
class LanguageMood:
    """A product's mentions in one language (the post's, as classified) and their mood."""
    language: str                         # ISO 639-1 code; "unknown" for posts classified before 0011
    mentions: int = 0
    positive: int = 0
    neutral: int = 0
    negative: int = 0
    unscored: int = 0                     # a language ``sentiment.languages`` leaves out
    not_computed: int = 0
    net_sentiment: float | None = None    # of its scored mentions (None: none scored)
    positive_share: float | None = None   # positive / scored mentions
    negative_share: float | None = None   # negative / scored mentions

    @property
    def scored(self) -> int:
        return self.positive + self.neutral + self.negative


def language_moods(rows: Iterable[dict]) -> dict[str, list[LanguageMood]]:
    """Per product, its mentions' mood per language from ``store.language_mentions`` rows; most
    mentioned language first."""
    found: dict[tuple[str, str], LanguageMood] = {}
    for r in rows:
        lang = r["language"] or "unknown"
        mood = found.setdefault((r["product"], lang), LanguageMood(lang))
        label = (r["label"] or "not computed").replace(" ", "_")
        mood.mentions += r["n"]
        if label in ("positive", "neutral", "negative", "unscored", "not_computed"):
            setattr(mood, label, getattr(mood, label) + r["n"])
    out: dict[str, list[LanguageMood]] = {}
    for (product, _), mood in found.items():
        if mood.scored:
            mood.net_sentiment = net_sentiment(mood.positive, mood.negative, mood.scored)
            mood.positive_share, mood.negative_share = mood.positive / mood.scored, mood.negative / mood.scored
        out.setdefault(product, []).append(mood)
    for moods in out.values():
        moods.sort(key=lambda m: (-m.mentions, m.language))
    return out


def sentiment_basis(moods: list[LanguageMood]) -> str | None:
    """What a net sentiment is computed from, when its mentions are in several languages or some are
    unscored: "from 14 scored mentions in de, en; 12 mentions in fr unscored"; None otherwise (one
    language, all scored: the number needs no note)."""
    if len(moods) < 2 and not any(m.unscored for m in moods):
        return None
    scored = [m for m in moods if m.scored]
    n = sum(m.scored for m in scored)
    text = f"from {n:,} scored mention{'' if n == 1 else 's'}"
    if scored:
        text += " in " + ", ".join(m.language for m in scored)
    unscored = [m for m in moods if m.unscored]
    if unscored:
        parts = [f"{m.unscored:,} in {m.language}" for m in unscored]
        first = unscored[0]
        parts[0] = f"{first.unscored:,} mention{'' if first.unscored == 1 else 's'} in {first.language}"
        text += "; " + ", ".join(parts) + " unscored"
    return text


@dataclass
class ProductStats:
    name: str
    ours: bool
    mentions: int = 0
    positive: int = 0
    neutral: int = 0
    negative: int = 0
    changes: list[Change] = field(default_factory=list)
    drivers: Drivers | None = None   # what distinguishes the period from its first baseline's days
    unscored: int = 0
    not_computed: int = 0  # mentions of posts classified before per-mention sentiment: no label yet
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
    languages: list[LanguageMood] = field(default_factory=list)  # the period's mood per post language
    sentiment_basis: str | None = None   # ``sentiment_basis``: the languages its net sentiment is from


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
    notice: str | None = None              # NOT_COMPUTED_NOTICE when some mentions have no sentiment yet
    history_start: str | None = None       # the first day holding any collected post (partly covered)
    note: str | None = None                # digest.note: a line shown under the title (the demo's shifted dates)

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
        return _rounded(json.loads(json.dumps(data)))  # tuples become lists, as any reader of the file sees them


def _rounded(value: object) -> object:
    """Floats to 2 decimals (4 significant digits below 1: shares, scores, p-values), recursively."""
    if isinstance(value, float):
        return round(value, 2) if abs(value) >= 1 else float(f"{value:.4g}")
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return value


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


@dataclass
class DayCounts:
    """Mentions per product and UTC day, and which days' counts are known."""
    per_day: dict[tuple[str, str], dict[str, int]]   # (product, day) -> label -> mentions
    collected: set[str]          # days holding a collected post (charts show these)
    known: set[str]              # of those, the ones baselines and judgements read: not the partly covered first
    history_start: date | None   # the first day holding any collected post


def day_counts(db: sqlite_utils.Database, first: date, end_excl: date, products: Iterable[str], *,
               cutoff: str | None = None, scope: str | store.Scope | None = None) -> DayCounts:
    """The mentions of ``products`` per day and label in [first, end_excl) (posts fetched by ``cutoff``,
    within ``scope`` when given) and the days whose counts are known, as the digest and the web
    overview both read them."""
    first_at = store.first_posted_at(db, cutoff)
    history_start = date.fromisoformat(first_at[:10]) if first_at else None
    collected = store.collected_days(db, first.isoformat(), end_excl.isoformat(), cutoff)
    known = collected - {history_start.isoformat() if history_start else None}
    names = set(products)
    per_day: dict[tuple[str, str], dict[str, int]] = {}
    for row in store.daily_mentions(db, first.isoformat(), end_excl.isoformat(), scope or cutoff):
        if row["product"] not in names:  # a product no longer in settings
            continue
        bucket = per_day.setdefault((row["product"], row["day"]), {})
        bucket[row["label"] or "unlabelled"] = bucket.get(row["label"] or "unlabelled", 0) + row["n"]
    return DayCounts(per_day, collected, known, history_start)


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
    windows = _baseline_windows(days, cfg.baselines)
    series_days = max(SERIES_DAYS, days)
    first = min(start - timedelta(days=max(w for _, w in windows)), day - timedelta(days=series_days - 1),
                start - timedelta(days=SPIKE_HISTORY))
    stats = {p.name: ProductStats(p.name, p.ours) for p in settings.products}
    counted = day_counts(db, first, end_excl, stats, cutoff=cutoff, scope=scope)
    per_day, collected, known, history_start = (counted.per_day, counted.collected, counted.known,
                                                counted.history_start)
    partial = history_start.isoformat() if history_start else None

    period_days = [(start + timedelta(days=i)).isoformat() for i in range(days)]
    preset = PRESETS[settings.alerts.sensitivity]
    for s in stats.values():
        totals: dict[str, int] = {}  # the period's mentions by label, in one pass over its days
        for d in period_days:
            for label, n in per_day.get((s.name, d), {}).items():
                totals[label] = totals.get(label, 0) + n
        s.mentions = sum(totals.values())
        for label in ("positive", "neutral", "negative", "unscored", store.NOT_COMPUTED):
            setattr(s, label.replace(" ", "_"), totals.get(label, 0))
        daily = {d: sum(per_day.get((s.name, d), {}).values()) for d in known}
        s.changes = [_change(kind, w, start, days, s.mentions, daily, history_start) for kind, w in windows]
        for i in range(series_days):
            d = (day - timedelta(days=series_days - 1 - i)).isoformat()
            b = per_day.get((s.name, d), {})
            scored = b.get("positive", 0) + b.get("neutral", 0) + b.get("negative", 0)
            s.series.append(DayPoint(d, sum(b.values()) if d in collected else None,
                                     net_sentiment(b.get("positive", 0), b.get("negative", 0), scored)))
        s.alarms = period_alarms(s.name, start, day, per_day, known, preset)

    total_mentions = sum(s.mentions for s in stats.values())
    k = cfg.top_mentions
    a, b, c = start.isoformat(), end_excl.isoformat(), scope
    clusters = store.emerging_topics(db, day.isoformat())  # stored by `listener emerging` for this day
    examples = {r["id"]: r for r in store.posts_by_id(db, [i for r in clusters for i in r["post_ids"][:EMERGING_EXAMPLES]])}
    ranked = {order: store.ranked_mentions(db, a, b, c, order=order, limit=n, strength=NEUTRAL_BAND)
              for order, n in (("positive", k), ("negative", k), ("engagement", max(200, k)))}
    facets = {column: store.top_facets(db, a, b, column, c, limit=5) for column in ("source", "author")}
    topics = store.topic_sentiments(db, a, b, cutoff=c)
    moods = language_moods(store.language_mentions(db, a, b, c))
    tokens: dict[int, frozenset[str]] = {}  # each post's terms, shared by every explanation of this digest
    plan = search_mod.prepare(db, saved["query"]) if saved else None
    for s in stats.values():
        if product and s.name != product:
            continue
        if s.mentions and not (days == 1 and s.alarms):  # a daily digest's alarms explain the day themselves
            since = start - timedelta(days=windows[0][1])
            s.drivers = explain(db, s.name, plan, "volume", a, b, since.isoformat(), cutoff=cutoff,
                                sample=DRIVER_SAMPLE, tokens=tokens)
        for alarm in s.alarms[:MAX_EXPLAINED]:
            d0 = date.fromisoformat(alarm.day)
            alarm.drivers = explain(db, s.name, plan, "negative_share" if alarm.metric == "negative share"
                                    else "volume", d0.isoformat(), (d0 + timedelta(days=1)).isoformat(),
                                    (d0 - timedelta(days=7)).isoformat(), cutoff=cutoff, sample=DRIVER_SAMPLE,
                                    tokens=tokens)
        s.share_of_voice = (s.mentions / total_mentions) if total_mentions else None
        scored = s.positive + s.neutral + s.negative
        s.net_sentiment = net_sentiment(s.positive, s.negative, scored)
        # a mention labelled positive or negative whose score is inside the neutral band is not shown as
        # "most positive/negative" (it would read +0.00)
        positives, negatives, engaged = (ranked[order].get(s.name, []) for order in ("positive", "negative",
                                                                                    "engagement"))
        full = store.mention_rows(db, s.name, positives + negatives + engaged)
        s.top_positive = _refs([full[i] for i in positives])
        s.top_negative = _refs([full[i] for i in negatives])
        engaged_rows = [full[i] for i in engaged]
        s.most_engaged = [m for m in _refs(engaged_rows[:k]) if m.engagement > 0]
        s.needs_response = _refs(_needs_response(engaged_rows)[:k])
        s.top_sources, s.top_authors = (facets[column].get(s.name, []) for column in ("source", "author"))
        s.topics = [TopicMood(r["topic"], r["positive"], r["negative"], r["n"]) for r in topics.get(s.name, [])]
        s.emerging = [_emerging(r, examples) for r in clusters if r["product"] == s.name]
        s.languages = moods.get(s.name, [])
        s.sentiment_basis = sentiment_basis(s.languages)

    names = [p.name for p in settings.products if p.ours] + [p.name for p in settings.products if not p.ours]
    if product:
        if product not in stats:
            raise NotFound(f"no product named {product!r} in settings", exit_code=2)
        names = [product]
    k_set, sn = settings.classify, settings.sentiment
    model = (f"VADER (compound >= {k_set.positive_threshold} positive, <= {k_set.negative_threshold} negative)"
             if sn.model == "vader" else canonical(sn.model))
    definitions = {key: text.format(days=f"{days} day" + ("" if days == 1 else "s"), model=model,
                                    first=partial or "none yet", languages=", ".join(sn.languages),
                                    preset=settings.alerts.sensitivity)
                   for key, text in DEFINITIONS.items()}
    if any(stats[n].sentiment_basis for n in names):
        definitions[BY_LANGUAGE[0]] = BY_LANGUAGE[1]
    by_source, classifiers = store.period_posts(db, a, b, c)
    return Digest(
        schema=SCHEMA, start=start, end=day, days=days, generated_at=iso_utc(now) or "", cutoff=cutoff,
        settings_sha256=settings_fingerprint(settings),
        query_versions={p.name: query_version(p) for p in settings.products if p.name in names},
        classifiers=classifiers,
        products=[stats[n] for n in names],
        total_posts=sum(by_source.values()), total_mentions=total_mentions,
        posts_by_source=by_source, definitions=definitions, search=saved,
        notice=NOT_COMPUTED_NOTICE if any(stats[n].not_computed for n in names) else None,
        history_start=partial, note=cfg.note or None,
    )


def _baseline_windows(days: int, baselines: tuple[int, ...]) -> list[tuple[str, int]]:
    """Each baseline as (kind, days of history): "weekday" (a daily digest's same weekday over
    baselines of 28 days or more) or "days" (the previous days, at least the period's length)."""
    out: list[tuple[str, int]] = []
    for n in baselines:
        kind = "weekday" if days == 1 and n >= 28 else "days"
        window = (n // 7) * 7 if kind == "weekday" else max(n, days)
        if (kind, window) not in out:
            out.append((kind, window))
    return out


def _change(kind: str, window: int, start: date, days: int, mentions: int, daily: dict[str, int],
            history_start: date | None) -> Change:
    """The period's mentions against one baseline; ``daily`` holds the known days' counts only."""
    if kind == "weekday":
        wanted = [(start - timedelta(days=7 * i)).isoformat() for i in range(1, window // 7 + 1)]
    else:
        wanted = [(start - timedelta(days=i)).isoformat() for i in range(1, window + 1)]
    counts = [daily[d] for d in wanted if d in daily]
    if not counts and kind == "weekday":  # no same weekday known yet: the known days before, if any
        return _change("days", window, start, days, mentions, daily, history_start)
    k = len(counts)
    per = "" if days == 1 else f" per {days} days"
    if kind == "weekday":
        weeks = window // 7
        label = (f"same weekday average (previous {weeks} weeks)" if k == weeks
                 else f"same weekday average ({k} of the previous {weeks} weeks have data)")
    elif k == window:
        label = f"previous {window} days" if window == days else f"previous {window} days' average{per}"
    elif k >= min(days, 7):  # a baseline needs at least as many known days as the period, up to a week
        some = "the 1 day" if k == 1 else f"the {k} days"
        label = (f"average of {some} with data among the previous {window}" if days == 1 else
                 f"daily average of {some} with data among the previous {window}, x {days}")
    else:
        label = (f"previous {window} days (no data before this period)" if not k else
                 f"previous {window} days (too little data: {k} day{'' if k == 1 else 's'})")
        return Change(label, window, k, None, None, None)
    mean = sum(counts) / k * days
    delta = mentions - mean
    return Change(label, window, k, mean, delta, (delta / mean * 100) if mean else None)


def period_alarms(name: str, start: date, day: date, per_day: dict, known: set[str], preset) -> list[Alarm]:
    """Spikes and drops on each known day of the period, against the known days of the 8 weeks before."""
    out = []
    d = start
    while d <= day:
        if d.isoformat() not in known:
            d += timedelta(days=1)
            continue
        hist_days = [(d - timedelta(days=SPIKE_HISTORY - i)).isoformat() for i in range(SPIKE_HISTORY)]
        buckets = [per_day.get((name, h), {}) if h in known else None for h in hist_days]
        totals = [None if x is None else sum(x.values()) for x in buckets]
        negatives = [None if x is None else x.get("negative", 0) for x in buckets]
        today = per_day.get((name, d.isoformat()), {})
        volume, share = judge(totals, negatives, sum(today.values()), today.get("negative", 0), season=7,
                              phase=d.weekday(), preset=preset)
        if volume.alarming:
            out.append(Alarm("volume", d.isoformat(), volume.kind, volume.value, round(volume.expected, 2),
                             volume.p))
        if share.alarming:
            out.append(Alarm("negative share", d.isoformat(), share.kind, round(share.value, 4),
                             round(share.expected, 4), share.p))
        d += timedelta(days=1)
    return out


def _emerging(row: dict, posts: dict[int, dict]) -> EmergingTopic:
    """A stored emerging topic with its growth and its first example posts that still exist."""
    base, now_share = row["baseline_share"], row.get("period_share")
    growth = now_share / base if base and now_share is not None else None
    examples = [{"post_id": i, "title": posts[i]["title"] or snippet(posts[i]["text"], 80) or "(untitled)",
                 "url": posts[i]["url"], "source": posts[i]["source"]}
                for i in row["post_ids"][:EMERGING_EXAMPLES] if i in posts]
    return EmergingTopic(row["terms"], row["size"], row["is_new"], row["period_start"], row["period_end"],
                         round(growth, 2) if growth is not None else None, examples)


def _needs_response(rows: list[dict]) -> list[dict]:
    """Questions and complaints, engaged with or unanswered, whatever their sentiment: questions first,
    then the most engaged, then the newest."""
    def text(r: dict) -> str:
        return f"{r['title'] or ''} {r['text'] or ''}"

    found = [r for r in rows if (not r["comments"] or (r.get("engagement") or 0) > 0)
             and _QUESTION_OR_COMPLAINT.search(text(r))]
    found.sort(key=lambda r: r["posted_at"] or "", reverse=True)
    found.sort(key=lambda r: (not _QUESTION.search(text(r)), -(r.get("engagement") or 0)))
    return found


def _refs(rows: list[dict]) -> list[MentionRef]:
    return [MentionRef(post_id=r["id"], title=r["title"] or snippet(r["text"], 80) or "(untitled)",
                       url=r["url"], source=r["source"], author=r["author"], posted_at=r["posted_at"],
                       sentiment=r["sentiment"], alias=r["alias"], excerpt=snippet(r["text"], 240),
                       engagement=r.get("engagement") or 0, span=r.get("span") or None,
                       copies=r.get("copies") or 0)
            for r in rows]
