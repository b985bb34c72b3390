"""``listener daemon``: APScheduler runs the jobs of ``listener/jobs.py`` until SIGTERM or SIGINT.

* Each enabled source is a ``collect:NAME`` interval job (collect, then classify);
  ``digest:daily`` and ``digest:weekly`` are cron jobs in ``schedule.timezone``;
  ``purge`` runs daily when ``schedule.retention_days`` is set; ``heartbeat`` tells
  ``listener status`` the daemon is alive; ``alerts`` checks the alert rules every
  ``schedule.alerts_interval`` when there are any; ``settings`` re-reads the settings file
  every ``SETTINGS_CHECK_SECONDS`` when it changed and re-schedules (no restart). Every job
  has ``max_instances=1``, ``coalesce=True`` and no misfire grace limit: a late or missed run happens once.
* Crawls run in a child process each (see ``listener/crawler.py``): the daemon
  itself never imports Twisted, so it can crawl for months.
* A failing source backs off exponentially (``jobs.backoff_delay``). Next run
  times and failure counts live in the ``jobs`` table, so a restart keeps them; a
  cron job whose time passed while the daemon was down runs once at start-up.
* Stopping: the first SIGTERM/SIGINT stops scheduling, kills running crawl
  children and lets running jobs unwind between transactions (committed posts
  stay, nothing is half-written), then exits 0 well within 10 seconds. One
  daemon per database: an exclusive ``flock`` on ``DB.daemon.lock``, removed on exit.
"""

from __future__ import annotations

import dataclasses
import fcntl
import logging
import logging.handlers
import os
import signal
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable
from zoneinfo import ZoneInfo

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from listener import crawler, store
from listener.app import jobs
from listener.config import Settings, load_settings, parse_clock, parse_weekly
from listener.errors import UserError
from listener.files import check_paths, file_stamp, remove_stale_temp_files
from listener.text import iso_utc

HEARTBEAT = "heartbeat"
SETTINGS_CHECK = "settings"
SETTINGS_CHECK_SECONDS = 30  # a change to settings.toml (CLI, web, editor) is running within a minute
STOP_GRACE = 8.0  # seconds running jobs get to unwind after a stop signal (the promise is 10)
log = logging.getLogger("listener.app.daemon")


class DaemonError(UserError):
    """The daemon cannot start (another one runs on the same database, ...)."""


def utcnow() -> datetime:
    """The only clock the daemon reads; jobs receive its value as ``now``."""
    return datetime.now(timezone.utc)


def parse_utc(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


# --- triggers -----------------------------------------------------------------------


def cron_trigger(job_id: str, settings: Settings) -> CronTrigger:
    """The cron trigger of a digest or purge job, in the configured time zone."""
    s = settings.schedule
    tz = ZoneInfo(s.timezone)
    if job_id == jobs.WEEKLY_DIGEST:
        day, hour, minute, second = parse_weekly(s.weekly_digest)
        return CronTrigger(day_of_week=day, hour=hour, minute=minute, second=second, timezone=tz)
    hour, minute, second = parse_clock(s.daily_digest if job_id == jobs.DAILY_DIGEST else s.purge_at)
    return CronTrigger(hour=hour, minute=minute, second=second, timezone=tz)


def previous_fire(trigger: CronTrigger, now: datetime) -> datetime | None:
    """The last time at or before ``now`` the trigger fired (looking back 8 days)."""
    t = trigger.get_next_fire_time(None, now - timedelta(days=8))
    previous = None
    while t is not None and t <= now:
        previous = t
        t = trigger.get_next_fire_time(None, t + timedelta(seconds=1))
    return previous


def missed(trigger: CronTrigger, *, since: datetime, now: datetime) -> bool:
    """True when the trigger fired after ``since`` (the last run, or when the job was first
    scheduled) and before ``now``: the daemon was down, so the job runs once at start-up."""
    prev = previous_fire(trigger, now)
    return prev is not None and prev > since


# --- process plumbing ------------------------------------------------------------------


class DaemonLock:
    """An exclusive flock on ``PATH`` held while the daemon runs; the file is removed on release."""

    def __init__(self, path: Path):
        self.path = path
        self.fd: int | None = None

    def acquire(self) -> "DaemonLock":
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                other = os.read(fd, 32).decode(errors="replace").strip() or "?"
                os.close(fd)
                raise DaemonError(f"{self.path}: another daemon (pid {other}) is running on this database")
            try:  # the previous holder may have unlinked the file between our open and flock
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self.fd = fd
        return self

    def release(self) -> None:
        if self.fd is not None:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
            os.close(self.fd)
            self.fd = None


def lock_path(settings: Settings) -> Path:
    return settings.db_path.with_name(settings.db_path.name + ".daemon.lock")


def setup_logging(settings: Settings, level: str) -> None:
    """One line per event on stderr, or in ``schedule.log_file`` (reopened if logrotate moves it)."""
    if settings.schedule.log_file:
        settings.schedule.log_file.parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.handlers.WatchedFileHandler(settings.schedule.log_file)
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # APScheduler reports every skipped overlapping run: normal here (max_instances=1).
    logging.getLogger("apscheduler").setLevel("DEBUG" if level.upper() == "DEBUG" else "ERROR")


# --- the daemon ---------------------------------------------------------------------


class Daemon:
    """The scheduler, its jobs, and an orderly stop."""

    def __init__(self, settings: Settings, *, clock: Callable[[], datetime] = utcnow):
        self.settings = settings
        self.clock = clock  # the one place the daemon reads the time (the jobs are handed ``now``)
        self.ctx = jobs.JobContext(stop=threading.Event(), classify_lock=threading.Lock())
        self.stop_requested = threading.Event()
        self.signal_name = ""
        self.running: dict[str, float] = {}
        self.cond = threading.Condition()
        self.db = store.open_db(settings.db_path)  # applies migrations once, for every job
        self.db_lock = threading.Lock()
        self.settings_stamp = file_stamp(settings.path)
        self.scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(settings.schedule.workers)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone=ZoneInfo(settings.schedule.timezone))

    def schedule(self, now: datetime) -> None:
        """Add every job with its explicit id and first run time."""
        s = self.settings
        store.sync_sources(self.db, s.sources)
        rows = store.ensure_jobs(self.db, jobs.job_ids(s), now=iso_utc(now))
        for source in s.sources:
            if not source.enabled:
                continue
            job_id = jobs.COLLECT + source.name
            row = rows[job_id]
            first = jobs.first_run(now=now, planned=parse_utc(row["next_run_at"]), interval=source.interval,
                                   failures=row["failures"], cap=s.schedule.backoff_max)
            self.scheduler.add_job(self._run, IntervalTrigger(seconds=source.interval), args=[job_id],
                                   id=job_id, name=job_id, next_run_time=first)
        for job_id in (jobs.DAILY_DIGEST, jobs.WEEKLY_DIGEST, jobs.PURGE):
            if job_id not in rows:
                continue
            trigger = cron_trigger(job_id, s)
            row = rows[job_id]
            since = parse_utc(row["last_run_at"] or row["created_at"])
            catch_up = missed(trigger, since=since, now=now)
            if catch_up:
                log.info("job=%s missed while the daemon was down: running it once now", job_id)
            self.scheduler.add_job(self._run, trigger, args=[job_id], id=job_id, name=job_id,
                                   **({"next_run_time": now} if catch_up else {}))
        if jobs.ALERTS in rows:
            every = s.schedule.alerts_interval
            self.scheduler.add_job(self._run, IntervalTrigger(seconds=every), args=[jobs.ALERTS], id=jobs.ALERTS,
                                   name=jobs.ALERTS, next_run_time=jobs.first_run(
                                       now=now, planned=parse_utc(rows[jobs.ALERTS]["next_run_at"]),
                                       interval=every, failures=0, cap=every))
        self.scheduler.add_job(self._heartbeat, IntervalTrigger(seconds=jobs.HEARTBEAT_SECONDS),
                               id=HEARTBEAT, name=HEARTBEAT)
        if s.path is not None:
            self.scheduler.add_job(self.reload_settings, IntervalTrigger(seconds=SETTINGS_CHECK_SECONDS),
                                   id=SETTINGS_CHECK, name=SETTINGS_CHECK)

    def reload_settings(self) -> bool:
        """When the settings file changed since it was read: load it and re-schedule every job (plans
        and failure counts live in the ``jobs`` table, so they carry over). A file that does not load
        is logged and the running settings kept. True when the new settings were taken."""
        path = self.settings.path
        stamp = file_stamp(path)
        if path is None or stamp == self.settings_stamp or self.ctx.stop.is_set():
            return False
        self.settings_stamp = stamp
        try:
            new = load_settings(path)
        except UserError as exc:
            log.warning("settings changed but do not load; keeping the running ones: %s", exc)
            return False
        if new.db_path != self.settings.db_path:
            log.warning("store.path changed in %s: the daemon keeps %s until it is restarted", path,
                        self.settings.db_path)
            new = dataclasses.replace(new, db_path=self.settings.db_path)
        started = self.scheduler.running  # (a test calls this before starting it)
        if started:
            self._save_next_runs()  # the plans in memory (a backoff) survive the re-scheduling
        self.settings = new
        self.scheduler.remove_all_jobs()
        with self.db_lock:
            self.schedule(self.clock())
        if started:
            self._save_next_runs()
        log.info("settings reloaded from %s: jobs=%s", path, ",".join(j.id for j in self.scheduler.get_jobs()))
        return True

    def run(self) -> int:
        """Run until a stop signal; return the exit code."""
        now = self.clock()
        for p in remove_stale_temp_files(self.settings.digest.output_dir):
            log.info("removed a temp file left by a killed process: %s", p)
        with self.db_lock:
            store.daemon_started(self.db, pid=os.getpid(), now=iso_utc(now))
            stale = store.close_stale_runs(self.db, started_before=iso_utc(
                now - timedelta(seconds=self.settings.collect.crawl_timeout + 600)), now=iso_utc(now))
        if stale:
            log.info("marked %d run(s) left 'running' by a killed process as interrupted", stale)
        self.schedule(now)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)
        self.scheduler.start()
        self._save_next_runs()
        log.info("daemon started: pid=%d jobs=%s", os.getpid(),
                 ",".join(j.id for j in self.scheduler.get_jobs()))
        while not self.stop_requested.wait(0.5):
            pass
        return self.stop()

    def stop(self) -> int:
        """Stop scheduling, cancel crawls, wait briefly for running jobs; exit code 0."""
        deadline = time.monotonic() + STOP_GRACE
        log.info("stopping (%s)", self.signal_name or "requested")
        self.ctx.stop.set()
        self.scheduler.shutdown(wait=False)
        crawler.cancel_all()
        with self.cond:
            while self.running and (left := deadline - time.monotonic()) > 0:
                self.cond.wait(left)
            left_over = dict(self.running)
        with self.db_lock:
            store.daemon_stopped(self.db, now=iso_utc(self.clock()))
        if left_over:
            log.warning("abandoning unfinished jobs: %s (their open transactions roll back)",
                        ", ".join(sorted(left_over)))
            return -1
        self.db.close()
        log.info("daemon stopped")
        return 0

    def _on_signal(self, signum: int, frame: object) -> None:
        self.signal_name = signal.Signals(signum).name
        self.stop_requested.set()

    def _run(self, job_id: str) -> None:
        if self.ctx.stop.is_set():
            return
        with self.cond:
            self.running[job_id] = time.monotonic()
        try:
            result = jobs.run_job(self.settings, job_id, now=self.clock(), ctx=self.ctx)
            if result.status == "error" and job_id.startswith(jobs.COLLECT):
                result.retry_in = self._back_off(job_id, result.failures)
            log.log(logging.INFO if result.status == "ok" else logging.WARNING, result.line())
            self._save_next_runs()
        finally:
            with self.cond:
                self.running.pop(job_id, None)
                self.cond.notify_all()

    def _back_off(self, job_id: str, failures: int) -> int | None:
        """Move a failing source's next run out by the backoff delay; return the delay."""
        try:
            source = self.settings.source(job_id[len(jobs.COLLECT):])
        except UserError:  # removed from the settings while it ran
            return None
        delay = jobs.backoff_delay(source.interval, failures, self.settings.schedule.backoff_max)
        try:
            self.scheduler.modify_job(job_id, next_run_time=self.clock() + timedelta(seconds=delay))
        except JobLookupError:  # the scheduler is shutting down
            return None
        return delay

    def _save_next_runs(self) -> None:
        if self.ctx.stop.is_set():
            return
        planned = {j.id: iso_utc(j.next_run_time) for j in self.scheduler.get_jobs()
                   if j.id not in (HEARTBEAT, SETTINGS_CHECK)}
        with self.db_lock:
            store.set_next_runs(self.db, planned)
            store.daemon_heartbeat(self.db, now=iso_utc(self.clock()))

    def _heartbeat(self) -> None:
        if not self.ctx.stop.is_set():
            with self.db_lock:
                store.daemon_heartbeat(self.db, now=iso_utc(self.clock()))


def run_daemon(settings: Settings, *, log_level: str = "INFO") -> int:
    """Start the daemon for these settings and block until it stops; return the exit code."""
    # every path the daemon writes, checked now: one line, not a traceback in a job hours later
    check_paths(settings, "schedule.log_file", "store.path", "digest.output_dir")
    setup_logging(settings, log_level)
    lock = DaemonLock(lock_path(settings))
    settings.db_path.parent.mkdir(parents=True, exist_ok=True)
    lock.acquire()
    try:
        daemon = Daemon(settings)
        code = daemon.run()
    finally:
        lock.release()
    logging.shutdown()
    if code < 0:  # a job ignored the stop: leave without waiting for its thread
        os._exit(0)
    return code
