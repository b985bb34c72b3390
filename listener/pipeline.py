"""The jobs: collect, classify, emerging, digest, alerts, purge, and ``cycle``, the one place that runs
them in order. The CLI, the daemon's jobs and the demo call these.

Each job records one row in ``runs``. Time comes in as ``now``; nothing here reads the clock.
"""

from __future__ import annotations

import os
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import sqlite_utils

from listener import crawler, store
from listener.classifier import Classifier
from listener.copies import find_copies
from listener.config import Channel, Settings, Source
from listener.sources import source_type
from listener.text import iso_utc
from models.classify import post_text
from models.emerging import MAX_BASELINE, MAX_POSTS, Cluster, find_clusters
from reports.digest import Digest, build_digest
from reports.deliver import deliver
from reports.alerts import AlertOutcome, check_alerts
from reports.look import Look
from reports.render import digest_charts, digest_message, write_digest

FLUSH_EVERY = 500  # posts buffered per source before a write; keeps transactions short


@dataclass
class SourceOutcome:
    name: str
    status: int | None = None
    error: str | None = None
    bozo: str | None = None
    entries: int = 0
    counts: store.UpsertCounts = field(default_factory=store.UpsertCounts)
    skipped: str | None = None  # why the source was not fetched (inactive)


@dataclass
class CollectReport:
    run_id: int
    outcomes: list[SourceOutcome]
    counts: store.UpsertCounts

    @property
    def failed(self) -> list[SourceOutcome]:
        return [o for o in self.outcomes if o.error]


@dataclass
class ClassifyReport:
    run_id: int
    classified: int
    labels: dict[str, int]
    mentions: int


def collect(db: sqlite_utils.Database, settings: Settings, names: Sequence[str] = (), *,
            now: datetime, on_source: Callable[[SourceOutcome], None] | None = None,
            environ: Mapping[str, str] | None = None) -> CollectReport:
    """Fetch the named sources (default: all enabled, active ones) and store what they yield.

    A source marked inactive (410, repeated 404) is skipped unless named.
    Credentials come from ``environ`` (default: the process environment).
    """
    sources = [settings.source(n) for n in names] if names else [s for s in settings.sources if s.enabled]
    environ = os.environ if environ is None else environ
    stamp = iso_utc(now)
    store.sync_sources(db, settings.sources)
    with store.recorded_run(db, "collect", now=stamp) as run:
        states = {s.name: store.source_state(db, s.name) for s in sources}
        outcomes: dict[str, SourceOutcome] = {s.name: SourceOutcome(s.name) for s in sources}
        if not names:
            for s in sources:
                if not states[s.name].active:
                    outcomes[s.name].skipped = "inactive (gone at its last fetches)"
                    if on_source:
                        on_source(outcomes[s.name])
            sources = [s for s in sources if states[s.name].active]
        for spider, group in _by_spider(sources).items():
            jobs = [source_job(s, states[s.name], settings, now, environ) for s in group]
            buffers: dict[str, list[dict]] = {s.name: [] for s in group}

            def flush(name: str) -> None:
                if buffers.get(name):
                    outcomes[name].counts.add(store.upsert_posts(db, buffers[name], now=stamp))
                    buffers[name] = []

            for event in crawler.crawl(spider, jobs, settings.collect, now=stamp):
                name = event.get("source")
                kind = event.pop("kind", None)
                if name not in outcomes:
                    continue
                if kind == "post":
                    buffers[name].append(event)
                    if len(buffers[name]) >= FLUSH_EVERY:
                        flush(name)
                elif kind == "fetch":
                    flush(name)
                    o = outcomes[name]
                    o.status, o.error, o.bozo = event.get("status"), event.get("error"), event.get("bozo")
                    o.entries = event.get("entries") or 0
                    store.record_fetch(db, name, now=stamp, status=o.status, error=o.error,
                                       etag=event.get("etag"), last_modified=event.get("last_modified"),
                                       bozo=o.bozo, high_water=event.get("high_water"),
                                       session=event.get("session"))
                    if on_source:
                        on_source(o)
            for name in buffers:
                flush(name)
        for o in outcomes.values():
            run.counts.add(o.counts)
            if o.error:
                run.errors.append(f"{o.name}: {o.error}")
        run.detail["sources"] = sorted(outcomes)
    return CollectReport(run.id, list(outcomes.values()), run.counts)


def source_job(source: Source, state: store.SourceState, settings: Settings, now: datetime,
               environ: Mapping[str, str]) -> dict[str, Any]:
    """What the crawler child needs to fetch one source: URL, options, state, limits, credentials."""
    job: dict[str, Any] = {"name": source.name, "url": source.url, "etag": state.etag,
                           "last_modified": state.last_modified}
    kind = source_type(source.type)
    if not kind.paged:
        return job
    max_age = source.max_age or settings.collect.max_age
    creds = {key: environ[source.options[opt]] for opt, key in kind.credentials.items()
             if environ.get(source.options.get(opt, ""))}
    job.update(type=source.type, options=_plain(source.options), high_water=state.high_water,
               session=state.session, credentials=creds,
               max_pages=source.max_pages or settings.collect.max_pages,
               not_before=iso_utc(now - timedelta(seconds=max_age)))
    return job


def _plain(value: Any) -> Any:
    """Options as plain JSON-ready dicts (settings hold read-only mappings)."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _by_spider(sources: Sequence[Source]) -> dict[str, list[Source]]:
    groups: dict[str, list[Source]] = {}
    for s in sources:
        groups.setdefault(s.type, []).append(s)
    return groups


def classify(db: sqlite_utils.Database, settings: Settings, *, everything: bool = False,
             now: datetime, on_batch: Callable[[int], None] | None = None) -> ClassifyReport:
    """Tag unclassified posts (every post with ``everything``) with sentiment, products, topics, language."""
    stamp = iso_utc(now)
    classifier = Classifier.from_settings(settings)
    if classifier.relevance is not None:   # the products' mean relevance so far (the model's product-level stage)
        classifier.relevance.history = store.relevance_history(db, classifier.relevance.model.name)
    k = settings.classify
    total, mentions, labels = 0, 0, {}
    with store.recorded_run(db, "classify", now=stamp) as run:
        for rows in store.posts_to_classify(db, everything=everything, batch_size=k.batch_size):
            results = classifier.classify(rows)
            store.save_classifications(db, results, now=stamp, classifier=classifier.version)
            total += len(results)
            for r in results:
                labels[r.label] = labels.get(r.label, 0) + 1
                mentions += len(r.mentions)
            if on_batch:
                on_batch(len(results))
        signed, copies = find_copies(db, batch_size=k.batch_size)
        run.counts.updated = total
        run.detail.update(labels=labels, mentions=mentions, model=classifier.model, signed=signed, copies=copies)
    return ClassifyReport(run.id, total, labels, mentions)



def classify_posts(db: sqlite_utils.Database, settings: Settings, post_ids: list[int], *, now: datetime,
                   on_batch: Callable[[int], None] | None = None, batch_size: int = 2000) -> int:
    """Classify these posts again now (as ``classify --all`` would; human labels still win): how many.
    For one post whose human label was removed (the web's undo), so it gets the model's judgement back,
    and for the posts a product's query change affects (the web's re-tag: ``on_batch`` gets each batch's size)."""
    classifier = Classifier.from_settings(settings)
    if classifier.relevance is not None:
        classifier.relevance.history = store.relevance_history(db, classifier.relevance.model.name)
    total = 0
    for start in range(0, len(post_ids), batch_size):
        chunk = post_ids[start:start + batch_size]
        found = store.posts_by_ids_to_classify(db, chunk)
        if found:
            store.save_classifications(db, classifier.classify(found), now=iso_utc(now), classifier=classifier.version)
        total += len(found)
        if on_batch:
            on_batch(len(chunk))
    return total


@dataclass
class EmergingReport:
    start: date
    end: date
    clusters: dict[str, list[Cluster]]  # product ('*' for all posts) -> clusters


def emerging(db: sqlite_utils.Database, settings: Settings, *, day: date, now: datetime) -> EmergingReport:
    """Cluster each product's mentions (and all posts, as '*') in the ``emerging.days`` ending on
    ``day`` against the trailing ``emerging.baseline_days``; store the clusters."""
    e = settings.emerging
    start = day - timedelta(days=e.days - 1)
    end_excl = day + timedelta(days=1)
    base_start = start - timedelta(days=e.baseline_days)
    stamp = iso_utc(now)
    out: dict[str, list[Cluster]] = {}
    aliases = {p.name: (p.name, *p.aliases) for p in settings.products}
    for product in [None] + [p.name for p in settings.products]:
        # a bounded, even sample of each period: clusters and their names need no more
        period, total = store.sample_posts(db, product, start.isoformat(), end_excl.isoformat(), MAX_POSTS)
        baseline, _ = store.sample_posts(db, product, base_start.isoformat(), start.isoformat(), MAX_BASELINE)
        clusters = find_clusters([(r["id"], post_text(r["title"], r["text"])) for r in period],
                                 [post_text(r["title"], r["text"]) for r in baseline],
                                 k=e.clusters, min_posts=e.min_posts, exclude=aliases.get(product, ()),
                                 population=total)
        key = product or "*"
        store.save_emerging(db, key, start.isoformat(), day.isoformat(), clusters, now=stamp)
        out[key] = clusters
    return EmergingReport(start, day, out)


@dataclass
class DigestReport:
    digest: Digest
    paths: list[Path]
    deliveries: list = field(default_factory=list)


def digest(db: sqlite_utils.Database, settings: Settings, *, day: date, days: int = 1, now: datetime,
           out_dir: Path | None = None, product: str | None = None, send: bool = True,
           channels: Sequence[Channel] | None = None, cutoff: str | None = None,
           search: str | None = None) -> DigestReport:
    """Build the digest for the period ending on ``day`` (of one saved ``search``'s posts if named),
    write it (HTML, Markdown, JSON, charts), send it.

    ``channels`` overrides ``digest.channels``. Files are written before anything is
    sent, so a delivery failure never loses the digest.
    """
    stamp = iso_utc(now)
    with store.recorded_run(db, "digest", now=stamp) as run:
        d = build_digest(db, settings, day=day, days=days, now=now, product=product, cutoff=cutoff, search=search)
        charts = digest_charts(d)
        look = Look.of(settings)  # schedule.timezone for its times, serve.base_url for links to posts
        paths = write_digest(d, out_dir or settings.digest.output_dir, charts, look)
        if channels is None:
            channels = [c for c in settings.channels if c.name in settings.digest.channels] if send else []
        sent = []
        if channels:
            message = digest_message(d, charts, look)
            for channel in channels:
                result = deliver(db, channel, message, kind="digest", ref=d.slug, now=stamp)
                sent.append(result)
                if not result.ok:
                    run.errors.append(f"delivery {channel.name}: {result.error}")
        run.detail.update(day=day.isoformat(), days=days, paths=[str(p) for p in paths],
                          deliveries=[{"channel": r.channel, "ok": r.ok, "attempts": r.attempts} for r in sent])
        run.counts.new = len(paths)
    return DigestReport(d, paths, sent)


def yesterday(now: datetime) -> date:
    """The default digest day: the UTC day before ``now``."""
    return now.astimezone(timezone.utc).date() - timedelta(days=1)


@dataclass
class PurgeReport:
    run_id: int
    deleted: int
    before: str | None  # posts published before this UTC time were deleted; None: retention is off


def purge(db: sqlite_utils.Database, settings: Settings, *, now: datetime, days: int | None = None,
          keep_going: Callable[[], bool] | None = None) -> PurgeReport:
    """Delete posts published more than ``days`` (default ``schedule.retention_days``) days before ``now``.

    0 days means keep everything. Mentions and search entries go with their post.
    """
    days = settings.schedule.retention_days if days is None else days
    stamp = iso_utc(now)
    before = iso_utc(now - timedelta(days=days)) if days > 0 else None
    with store.recorded_run(db, "purge", now=stamp) as run:
        deleted = store.purge_posts(db, before, keep_going=keep_going) if before is not None else 0
        run.detail.update(days=days, before=before, deleted=deleted)
    return PurgeReport(run.id, deleted, before)


STEPS = ("collect", "classify", "emerging", "digest", "alerts")  # the order ``cycle`` runs them in


@dataclass
class CycleReport:
    """What one cycle did, one report per step; None for a step that did not run."""
    collect: CollectReport | None = None
    classify: ClassifyReport | None = None
    emerging: EmergingReport | None = None
    digest: DigestReport | None = None
    alerts: list[AlertOutcome] | None = None

    @property
    def failed(self) -> list[SourceOutcome]:
        """The sources that failed to collect."""
        return self.collect.failed if self.collect else []


@dataclass
class CycleHooks:
    """How a shell follows a running cycle: progress bars, per-source lines, stop checks. All optional."""
    on_source: Callable[[SourceOutcome], None] | None = None  # a source was fetched, failed or skipped
    on_classify: Callable[[int], None] | None = None  # classification starts: this many posts wait
    on_batch: Callable[[int], None] | None = None  # a batch of this many posts was classified; may raise to stop
    on_step: Callable[[str, Any], None] | None = None  # a step ended: its name and its report


def cycle(db: sqlite_utils.Database, settings: Settings, *, now: datetime, steps: Sequence[str] = STEPS,
          names: Sequence[str] = (), environ: Mapping[str, str] | None = None,
          day: date | Callable[[sqlite_utils.Database], date] | None = None, days: int = 1,
          channels: Sequence[Channel] | None = None,
          classify_lock: AbstractContextManager[Any] | None = None, classify_if_waiting: bool = False,
          hooks: CycleHooks | None = None) -> CycleReport:
    """Run the chosen ``steps`` in the order of ``STEPS``: collect (the ``names`` sources, default all;
    credentials from ``environ``), classify what is new, find the emerging topics of the digest's day,
    write and send the digest for the ``days`` ending on ``day``, check the alert rules (if any).

    ``day`` is the digest's last day, or a function of the database that picks it once the posts are
    classified; default: yesterday. ``channels`` overrides ``digest.channels``. Classification holds
    ``classify_lock`` (shared with other jobs), and with ``classify_if_waiting`` it is skipped (no
    ``runs`` row) when no post waits.
    """
    unknown = [s for s in steps if s not in STEPS]
    if unknown:
        raise ValueError(f"unknown cycle step(s): {', '.join(unknown)} (steps: {', '.join(STEPS)})")
    hooks = hooks or CycleHooks()
    report = CycleReport()

    def ended(step: str, result: Any) -> None:
        setattr(report, step, result)
        if hooks.on_step:
            hooks.on_step(step, result)

    if "collect" in steps:
        ended("collect", collect(db, settings, names, now=now, on_source=hooks.on_source, environ=environ))
    if "classify" in steps:
        with classify_lock or nullcontext():
            waiting = store.count_to_classify(db)
            if waiting or not classify_if_waiting:
                if hooks.on_classify:
                    hooks.on_classify(waiting)
                ended("classify", classify(db, settings, now=now, on_batch=hooks.on_batch))
    if "emerging" in steps or "digest" in steps:
        the_day = day(db) if callable(day) else day or yesterday(now)
        if "emerging" in steps:  # the digest shows the emerging topics stored for its day
            ended("emerging", emerging(db, settings, day=the_day, now=now))
        if "digest" in steps:
            ended("digest", digest(db, settings, day=the_day, days=days, now=now, channels=channels))
    if "alerts" in steps and settings.alerts.rules:
        ended("alerts", check_alerts(db, settings, now=now, send=True))
    return report
