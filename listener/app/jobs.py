"""The daemon's jobs, one per job id: each runs its steps of ``pipeline.cycle`` (purge: ``pipeline.purge``).

Job ids are explicit and stable: ``collect:NAME`` (collect one source, then classify
what is new), ``digest:daily``, ``digest:weekly``, ``purge`` and ``alerts``. ``run_job`` takes
the time as ``now`` and records the outcome in the ``jobs`` table; only the
scheduler (``listener/daemon.py``) reads the clock.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from listener import crawler, pipeline, store
from listener.config import Settings
from listener.text import iso_utc

COLLECT = "collect:"
DAILY_DIGEST = "digest:daily"
WEEKLY_DIGEST = "digest:weekly"
PURGE = "purge"
ALERTS = "alerts"
HEARTBEAT_SECONDS = 30  # the daemon writes a heartbeat this often; `listener status` reads it


class Stopping(Exception):
    """Raised inside a job between two transactions when the daemon is stopping."""


@dataclass
class JobResult:
    job: str
    status: str = "ok"  # ok | error | abandoned
    duration: float = 0.0
    new: int = 0
    updated: int = 0
    errors: int = 0
    classified: int = 0
    failures: int = 0  # consecutive failures of a collect job, after this run
    retry_in: int | None = None  # seconds until the next try of a backing-off source
    note: str = ""

    @property
    def source(self) -> str:
        return self.job[len(COLLECT):] if self.job.startswith(COLLECT) else "-"

    def line(self) -> str:
        """The one log line for this run."""
        parts = [f"job={self.job}", f"source={self.source}", f"status={self.status}",
                 f"duration={self.duration:.2f}s", f"new={self.new}", f"updated={self.updated}",
                 f"errors={self.errors}"]
        if self.job.startswith(COLLECT):
            parts.append(f"classified={self.classified}")
            if self.failures:
                parts.append(f"failures={self.failures}")
            if self.retry_in is not None:
                parts.append(f"backoff={self.retry_in}s")
        if self.note:
            parts.append(f"note={self.note!r}")
        return " ".join(parts)


@dataclass
class JobContext:
    """What jobs share inside one daemon: a stop flag and one classifier at a time."""
    stop: threading.Event
    classify_lock: threading.Lock

    def keep_going(self) -> bool:
        return not self.stop.is_set()

    def check(self, *_: object) -> None:
        if self.stop.is_set():
            raise Stopping("stopping")


def job_ids(settings: Settings) -> list[str]:
    """Every job the daemon schedules for these settings."""
    ids = [COLLECT + s.name for s in settings.sources if s.enabled]
    if settings.schedule.daily_digest != "off":
        ids.append(DAILY_DIGEST)
    if settings.schedule.weekly_digest != "off":
        ids.append(WEEKLY_DIGEST)
    if settings.schedule.retention_days > 0 and settings.schedule.purge_at != "off":
        ids.append(PURGE)
    if settings.alerts.rules:
        ids.append(ALERTS)
    return ids


def backoff_delay(interval: int, failures: int, cap: int) -> int:
    """Seconds until the next try: the interval, doubled per consecutive failure, at most ``cap``
    (but never less than the interval itself)."""
    if failures <= 0:
        return interval
    return min(interval * 2 ** min(failures, 32), max(cap, interval))


def first_run(*, now: datetime, planned: datetime | None, interval: int, failures: int,
              cap: int) -> datetime:
    """When a source runs first after a (re)start: as planned by the last daemon (so a restart
    neither skips nor repeats a collection, and keeps a backoff), but no later than one current
    backoff delay from now, and right away if the plan is in the past (caught up once)."""
    if planned is None or planned <= now:
        return now
    return min(planned, now + timedelta(seconds=backoff_delay(interval, failures, cap)))


def run_job(settings: Settings, job_id: str, *, now: datetime, ctx: JobContext) -> JobResult:
    """Run one job and record its outcome in ``jobs``; never raises for a failing source."""
    started = time.monotonic()
    db = store.open_db(settings.db_path)
    try:
        previous = store.job_rows(db).get(job_id, {}).get("failures") or 0
        try:
            result = _dispatch(db, settings, job_id, now=now, ctx=ctx, failures=previous)
        except (Stopping, crawler.CrawlCancelled) as exc:
            result = JobResult(job_id, status="abandoned", failures=previous, note=str(exc))
        except Exception as exc:  # a bug or a full disk: reported, and the daemon keeps going
            result = JobResult(job_id, status="error", errors=1, failures=previous + 1,
                               note=f"{type(exc).__name__}: {exc}")
        result.duration = time.monotonic() - started
        store.record_job(db, job_id, now=iso_utc(now), status=result.status, duration=result.duration,
                         summary=result.line(), failures=result.failures)
        return result
    finally:
        db.close()


def _dispatch(db, settings: Settings, job_id: str, *, now: datetime, ctx: JobContext,
              failures: int) -> JobResult:
    if job_id.startswith(COLLECT):
        return _collect(db, settings, job_id, now=now, ctx=ctx, failures=failures)
    if job_id in (DAILY_DIGEST, WEEKLY_DIGEST):
        daily = job_id == DAILY_DIGEST
        report = pipeline.cycle(db, settings, now=now, steps=("emerging", "digest") if daily else ("digest",),
                                days=1 if daily else 7).digest
        failed = [r.channel for r in report.deliveries if not r.ok]
        return JobResult(job_id, status="error" if failed else "ok", new=len(report.paths), errors=len(failed),
                         note=str(report.paths[0]) + (f"; delivery failed: {', '.join(failed)}" if failed else ""))
    if job_id == ALERTS:
        outcomes = pipeline.cycle(db, settings, now=now, steps=("alerts",)).alerts or []
        fired = [o for o in outcomes if o.fired]
        failed = [r for o in fired for r in o.deliveries if not r.ok]
        return JobResult(job_id, status="error" if failed else "ok", new=len(fired), errors=len(failed),
                         note=", ".join(o.rule for o in fired))
    if job_id == PURGE:
        report = pipeline.purge(db, settings, now=now, keep_going=ctx.keep_going)
        return JobResult(job_id, updated=report.deleted, note=f"deleted {report.deleted} post(s)")
    raise ValueError(f"unknown job {job_id!r}")


def _collect(db, settings: Settings, job_id: str, *, now: datetime, ctx: JobContext,
             failures: int) -> JobResult:
    """Collect one source, then classify whatever waits (its new posts, or leftovers of a crash)."""
    ctx.check()
    cycle = pipeline.cycle(db, settings, now=now, steps=("collect", "classify"), names=[job_id[len(COLLECT):]],
                           classify_lock=ctx.classify_lock, classify_if_waiting=True,
                           hooks=pipeline.CycleHooks(on_batch=ctx.check))
    report = cycle.collect
    result = JobResult(job_id, new=report.counts.new, updated=report.counts.updated,
                       errors=len(report.failed), failures=failures + 1 if report.failed else 0,
                       note="; ".join(o.error or "" for o in report.failed),
                       classified=cycle.classify.classified if cycle.classify else 0)
    if report.failed:
        result.status = "error"
    return result
