"""The jobs: collect, classify, digest, and one full cycle. The CLI and the scheduler call these.

Each job records one row in ``runs``. Time comes in as ``now``; nothing here reads the clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Sequence

import sqlite_utils

from listener import crawler, store
from listener.config import Settings, Source
from listener.text import iso_utc
from models.classify import CLASSIFIER_VERSION, classify_batch
from models.products import compile_products
from reports.digest import Digest, build_digest
from reports.render import write_digest

FLUSH_EVERY = 500  # posts buffered per source before a write; keeps transactions short


@dataclass
class SourceOutcome:
    name: str
    status: int | None = None
    error: str | None = None
    bozo: str | None = None
    entries: int = 0
    counts: store.UpsertCounts = field(default_factory=store.UpsertCounts)


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
            now: datetime, on_source: Callable[[SourceOutcome], None] | None = None) -> CollectReport:
    """Fetch the named sources (default: all enabled ones) and store what they yield."""
    sources = [settings.source(n) for n in names] if names else [s for s in settings.sources if s.enabled]
    stamp = iso_utc(now)
    store.sync_sources(db, settings.sources)
    run = store.start_run(db, "collect", now=stamp)
    outcomes: dict[str, SourceOutcome] = {s.name: SourceOutcome(s.name) for s in sources}
    try:
        for spider, group in _by_spider(sources).items():
            jobs = []
            for s in group:
                state = store.source_state(db, s.name)
                jobs.append({"name": s.name, "url": s.url, "etag": state.etag,
                             "last_modified": state.last_modified})
            buffers: dict[str, list[dict]] = {s.name: [] for s in group}

            def flush(name: str) -> None:
                if buffers.get(name):
                    outcomes[name].counts.add(store.upsert_posts(db, buffers[name], now=stamp))
                    buffers[name] = []

            for event in crawler.crawl(spider, jobs, settings.collect):
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
                                       bozo=o.bozo)
                    if on_source:
                        on_source(o)
            for name in buffers:
                flush(name)
    except BaseException:
        store.finish_run(db, run, now=stamp, failed=True)
        raise
    for o in outcomes.values():
        run.counts.add(o.counts)
        if o.error:
            run.errors.append(f"{o.name}: {o.error}")
    run.detail["sources"] = sorted(outcomes)
    store.finish_run(db, run, now=stamp)
    return CollectReport(run.id, list(outcomes.values()), run.counts)


def _by_spider(sources: Sequence[Source]) -> dict[str, list[Source]]:
    groups: dict[str, list[Source]] = {}
    for s in sources:
        groups.setdefault(s.type, []).append(s)
    return groups


def classify(db: sqlite_utils.Database, settings: Settings, *, everything: bool = False,
             now: datetime, on_batch: Callable[[int], None] | None = None) -> ClassifyReport:
    """Tag unclassified posts (every post with ``everything``) with sentiment, products, language."""
    stamp = iso_utc(now)
    run = store.start_run(db, "classify", now=stamp)
    matcher = compile_products(settings.products)
    k = settings.classify
    total, mentions, labels = 0, 0, {}
    try:
        for rows in store.posts_to_classify(db, everything=everything, batch_size=k.batch_size):
            results = classify_batch(rows, products=matcher, positive_threshold=k.positive_threshold,
                                     negative_threshold=k.negative_threshold)
            store.save_classifications(db, results, now=stamp, classifier=CLASSIFIER_VERSION)
            total += len(results)
            for r in results:
                labels[r.label] = labels.get(r.label, 0) + 1
                mentions += len(r.mentions)
            if on_batch:
                on_batch(len(results))
    except BaseException:
        store.finish_run(db, run, now=stamp, failed=True)
        raise
    run.counts.updated = total
    run.detail.update(labels=labels, mentions=mentions)
    store.finish_run(db, run, now=stamp)
    return ClassifyReport(run.id, total, labels, mentions)


def digest(db: sqlite_utils.Database, settings: Settings, *, day: date, days: int = 1, now: datetime,
           out_dir: Path | None = None) -> tuple[Digest, list[Path]]:
    """Build the digest for the period ending on ``day`` and write it as Markdown and HTML."""
    stamp = iso_utc(now)
    run = store.start_run(db, "digest", now=stamp)
    try:
        d = build_digest(db, settings, day=day, days=days, now=now)
        paths = write_digest(d, out_dir or settings.digest.output_dir)
    except BaseException:
        store.finish_run(db, run, now=stamp, failed=True)
        raise
    run.detail.update(day=day.isoformat(), days=days, paths=[str(p) for p in paths])
    run.counts.new = len(paths)
    store.finish_run(db, run, now=stamp)
    return d, paths


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
    run = store.start_run(db, "purge", now=stamp)
    before = iso_utc(now - timedelta(days=days)) if days > 0 else None
    deleted = 0
    try:
        if before is not None:
            deleted = store.purge_posts(db, before, keep_going=keep_going)
    except BaseException:
        store.finish_run(db, run, now=stamp, failed=True)
        raise
    run.detail.update(days=days, before=before, deleted=deleted)
    store.finish_run(db, run, now=stamp)
    return PurgeReport(run.id, deleted, before)
