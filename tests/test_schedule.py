"""The daemon's parts in-process, with injected time: jobs, backoff, catch-up, status, purge, lock."""

from __future__ import annotations

import os
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from listener import store
from listener.app import jobs
from listener.app.cli import cli
from listener.config import ConfigError, load_settings
from listener.app.daemon import Daemon, DaemonError, DaemonLock, cron_trigger, missed, previous_fire, \
    remove_stale_temp_files
from listener.text import iso_utc
from tests.helpers import NOW
from tests.helpers.feeds import Entry, atom

ATOM = {"Content-Type": "application/atom+xml"}


def ctx() -> jobs.JobContext:
    return jobs.JobContext(stop=threading.Event(), classify_lock=threading.Lock())


def cli_at(settings_path: Path, now: datetime, *args: str):
    return CliRunner().invoke(cli, ["--config", str(settings_path), "--now", iso_utc(now), *args])


def test_backoff_doubles_per_failure_and_is_capped():
    assert [jobs.backoff_delay(60, f, 600) for f in range(6)] == [60, 120, 240, 480, 600, 600]
    assert jobs.backoff_delay(3600, 3, 600) == 3600  # never sooner than the normal interval
    assert jobs.backoff_delay(60, 10_000, 600) == 600


def test_first_run_after_restart_keeps_the_plan_but_catches_up_once():
    later = NOW + timedelta(minutes=5)
    assert jobs.first_run(now=NOW, planned=None, interval=60, failures=0, cap=600) == NOW
    assert jobs.first_run(now=NOW, planned=NOW - timedelta(days=3), interval=60, failures=0, cap=600) == NOW
    assert jobs.first_run(now=NOW, planned=later, interval=600, failures=0, cap=600) == later
    # a plan from an older, longer interval is pulled in to the current one
    assert jobs.first_run(now=NOW, planned=later, interval=60, failures=0, cap=600) == NOW + timedelta(minutes=1)
    assert jobs.first_run(now=NOW, planned=later, interval=60, failures=2, cap=600) == NOW + timedelta(minutes=4)


def test_cron_runs_in_the_configured_zone_and_a_missed_run_is_caught_up_once(write_settings):
    settings = load_settings(write_settings(extra='[schedule]\ntimezone = "Europe/Berlin"\n'
                                                  'daily_digest = "06:15"\nweekly_digest = "fri 07:00:30"\n'))
    daily = cron_trigger(jobs.DAILY_DIGEST, settings)
    # 06:15 in Berlin is 05:15 UTC in winter; NOW is 2026-11-23 06:00 UTC
    assert previous_fire(daily, NOW) == datetime(2026, 11, 23, 5, 15, tzinfo=timezone.utc)
    assert missed(daily, since=NOW - timedelta(days=3), now=NOW)       # down for 3 days: once
    assert not missed(daily, since=NOW - timedelta(minutes=30), now=NOW)  # ran after 05:15
    weekly = cron_trigger(jobs.WEEKLY_DIGEST, settings)
    assert previous_fire(weekly, NOW) == datetime(2026, 11, 20, 6, 0, 30, tzinfo=timezone.utc)


def test_daemon_schedule_uses_stored_plans_and_catches_up_missed_digests(server, write_settings):
    path = write_settings({"a": server.url("/a.atom"), "b": server.url("/b.atom")},
                          extra='[schedule]\ndaily_digest = "05:00"\nweekly_digest = "off"\nretention_days = 30\n')
    settings = load_settings(path)
    db = store.open_db(settings.db_path)
    store.ensure_jobs(db, jobs.job_ids(settings), now=iso_utc(NOW - timedelta(days=2)))
    store.set_next_runs(db, {"collect:b": iso_utc(NOW + timedelta(minutes=3))})
    store.record_job(db, "purge", now=iso_utc(NOW - timedelta(hours=1)), status="ok", duration=0.1, summary="")
    daemon = Daemon(settings)
    try:
        daemon.schedule(NOW)
        planned = {j.id: getattr(j, "next_run_time", None) for j in daemon.scheduler.get_jobs()}
    finally:
        daemon.db.close()
    assert set(planned) == {"collect:a", "collect:b", "digest:daily", "purge", "heartbeat", "settings"}
    assert planned["collect:a"] == NOW
    assert planned["collect:b"] == NOW + timedelta(minutes=3)
    assert planned["digest:daily"] == NOW  # 05:00 UTC passed while no daemon ran: once, now
    assert planned["purge"] is None       # ran after 03:30 today: waits for its next time


def test_collect_job_classifies_then_backs_off_and_recovers(server, write_settings):
    route = server.add("/a.atom", atom([Entry("t:1", "Firefox rocks", "Firefox is great", "2026-11-22T09:00:00Z")]),
                       headers=ATOM)
    # scheduling, not mood: VADER spares loading the default model
    settings = load_settings(write_settings({"a": server.url("/a.atom")}, extra='[sentiment]\nmodel = "vader"\n'))
    store.ensure_jobs(store.open_db(settings.db_path), jobs.job_ids(settings), now=iso_utc(NOW))

    r = jobs.run_job(settings, "collect:a", now=NOW, ctx=ctx())
    assert (r.status, r.new, r.classified, r.failures) == ("ok", 1, 1, 0)
    assert r.line().startswith("job=collect:a source=a status=ok duration=")
    route.status = 503
    r1 = jobs.run_job(settings, "collect:a", now=NOW + timedelta(minutes=10), ctx=ctx())
    r2 = jobs.run_job(settings, "collect:a", now=NOW + timedelta(minutes=20), ctx=ctx())
    assert (r1.status, r1.failures, r2.failures, r2.errors) == ("error", 1, 2, 1)
    db = store.open_db(settings.db_path)
    row = store.job_rows(db)["collect:a"]
    assert (row["last_status"], row["failures"], row["last_run_at"]) == ("error", 2, "2026-11-23T06:20:00Z")
    route.status = 200
    r3 = jobs.run_job(settings, "collect:a", now=NOW + timedelta(minutes=30), ctx=ctx())
    assert (r3.status, r3.new, r3.failures) == ("ok", 0, 0)
    assert store.job_rows(db)["collect:a"]["failures"] == 0
    assert db.execute("SELECT sentiment_label FROM posts").fetchall() == [("positive",)]


def test_a_stopping_daemon_abandons_a_job_without_counting_a_failure(server, write_settings):
    server.add("/a.atom", atom([]), headers=ATOM)
    settings = load_settings(write_settings({"a": server.url("/a.atom")}))
    store.ensure_jobs(store.open_db(settings.db_path), jobs.job_ids(settings), now=iso_utc(NOW))
    stopping = ctx()
    stopping.stop.set()
    r = jobs.run_job(settings, "collect:a", now=NOW, ctx=stopping)
    assert (r.status, r.failures) == ("abandoned", 0)
    assert server.hits("/a.atom") == []


def test_digest_job_writes_yesterdays_digest(write_settings):
    settings = load_settings(write_settings())
    r = jobs.run_job(settings, jobs.WEEKLY_DIGEST, now=NOW, ctx=ctx())
    assert r.status == "ok" and r.new >= 2 and r.note.endswith("digest-2026-11-22-week.html")
    assert (settings.digest.output_dir / "digest-2026-11-22-week.md").exists()


def test_status_flags_failing_and_silent_sources_and_reports_the_daemon(server, write_settings):
    server.add("/a.atom", atom([Entry("t:1", "Hello", "Firefox", "2026-11-22T09:00:00Z")]), headers=ATOM)
    server.add("/down", "x", status=500)
    path = write_settings({"a": server.url("/a.atom"), "down": server.url("/down")})
    assert cli_at(path, NOW, "init-db").exit_code == 0
    assert cli_at(path, NOW, "collect").exit_code == 1
    assert cli_at(path, NOW, "digest").exit_code == 0
    db = store.open_db(load_settings(path).db_path)
    store.daemon_started(db, pid=4242, now=iso_utc(NOW + timedelta(minutes=59)))

    r = cli_at(path, NOW + timedelta(hours=1), "status")
    assert r.exit_code == 1 and "Failing: down" in r.stderr
    rows = {ln.split()[1]: ln for ln in r.stdout.splitlines() if ln.startswith("│ ")}
    assert "failing" in rows["down"] and "HTTP 500" in rows["down"]
    assert " ok " in rows["a"] and " 1 " in rows["a"]
    assert "Daemon: running (pid 4242" in r.stdout
    assert "Last digest: " in r.stdout and "digest-2026-11-22.html" in r.stdout

    # 8 days later nothing new came from a: silent (default silent_after = 7 days); daemon gone
    r = cli_at(path, NOW + timedelta(days=8), "status")
    rows = {ln.split()[1]: ln for ln in r.stdout.splitlines() if ln.startswith("│ ")}
    assert "silent" in rows["a"] and " 0 " in rows["a"]
    assert "Daemon: not running? (pid 4242" in r.stdout

    server.add("/down", atom([]), headers=ATOM)
    assert cli_at(path, NOW + timedelta(hours=2), "collect", "down").exit_code == 0
    assert cli_at(path, NOW + timedelta(hours=2), "status").exit_code == 0


def test_purge_deletes_posts_older_than_retention_with_mentions_and_search(server, write_settings):
    old, new = Entry("t:old", "Firefox old", "Firefox", "2026-01-01T00:00:00Z"), \
        Entry("t:new", "Firefox new", "Firefox", "2026-11-20T00:00:00Z")
    server.add("/a.atom", atom([old, new]), headers=ATOM)
    path = write_settings({"a": server.url("/a.atom")})
    assert cli_at(path, NOW, "init-db").exit_code == 0
    assert cli_at(path, NOW, "collect").exit_code == 0
    assert cli_at(path, NOW, "classify").exit_code == 0
    r = cli_at(path, NOW, "purge")
    assert r.exit_code == 0 and "Retention is off" in r.output
    r = cli_at(path, NOW, "purge", "--days", "30")
    assert r.exit_code == 0 and "Deleted 1 post(s) published before 2026-10-24T06:00:00Z" in r.output
    db = store.open_db(load_settings(path).db_path)
    assert db.execute("SELECT guid FROM posts").fetchall() == [("t:new",)]
    assert db.execute("SELECT count(*) FROM mentions").fetchone() == (1,)
    assert db.execute("SELECT count(*) FROM posts_fts WHERE posts_fts MATCH 'old'").fetchone() == (0,)


def test_schedule_settings_are_validated(write_settings):
    with pytest.raises(ConfigError, match=r"schedule.daily_digest: expected a time of day"):
        load_settings(write_settings(extra='[schedule]\ndaily_digest = "6pm"\n'))
    with pytest.raises(ConfigError, match=r"schedule.timezone: unknown time zone 'Mars/Base'"):
        load_settings(write_settings(extra='[schedule]\ntimezone = "Mars/Base"\n'))
    with pytest.raises(ConfigError, match=r"schedule.wokers: unknown key"):
        load_settings(write_settings(extra='[schedule]\nwokers = 2\n'))
    s = load_settings(write_settings(extra='[schedule]\nweekly_digest = "off"\nlog_file = "logs/d.log"\n'))
    assert s.schedule.weekly_digest == "off" and s.schedule.log_file.name == "d.log"
    assert s.schedule.backoff_max == 6 * 3600 and s.schedule.retention_days == 0
    assert jobs.WEEKLY_DIGEST not in jobs.job_ids(s) and jobs.PURGE not in jobs.job_ids(s)


def test_one_daemon_per_database_and_stale_temp_files_are_removed(tmp_path):
    lock = DaemonLock(tmp_path / "x.db.daemon.lock").acquire()
    with pytest.raises(DaemonError, match=rf"another daemon \(pid {os.getpid()}\) is running"):
        DaemonLock(tmp_path / "x.db.daemon.lock").acquire()
    lock.release()
    assert not (tmp_path / "x.db.daemon.lock").exists()
    DaemonLock(tmp_path / "x.db.daemon.lock").acquire().release()

    stale, fresh = tmp_path / ".digest-2026-11-22.html.abc.tmp", tmp_path / ".digest-2026-11-23.html.def.tmp"
    stale.write_text("half")
    fresh.write_text("being written")
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    assert remove_stale_temp_files(tmp_path) == [stale]
    assert fresh.exists()


def test_systemd_unit_runs_unprivileged_and_restarts_on_failure():
    unit = (Path(__file__).resolve().parent.parent / "deploy" / "listener.service").read_text()
    keys = dict(ln.split("=", 1) for ln in unit.splitlines() if "=" in ln and not ln.startswith("#"))
    assert keys["User"] == "listener" and keys["User"] != "root"
    assert keys["Restart"] == "on-failure" and keys["KillSignal"] == "SIGTERM"
    assert int(keys["TimeoutStopSec"]) > 10  # the daemon stops within 10 s
    assert keys["ExecStart"].endswith("listener daemon --log-level INFO")
