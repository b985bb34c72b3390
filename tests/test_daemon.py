"""`listener daemon` as a real subprocess against loopback feeds, with 1-2 s intervals, and the
daemon's backoff in process on a clock the test sets.

The subprocess tests use the real clock (the scheduler needs it); each waits on conditions
with deadlines instead of fixed sleeps, asserts only lower bounds on time, and SIGTERMs the
daemon at the end.
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from listener import store
from listener.app import daemon as daemon_module
from listener.app import jobs
from listener.config import load_settings
from listener.text import iso_utc
from tests.helpers import NOW, ROOT
from tests.helpers.feeds import Entry, atom

ATOM = {"Content-Type": "application/atom+xml"}
pytestmark = pytest.mark.timeout(150)


def yesterday_noon() -> str:
    day = datetime.now(timezone.utc).date() - timedelta(days=1)
    return f"{day.isoformat()}T12:00:00Z"


def entries(prefix: str, n: int, start: int = 0) -> list[Entry]:
    moods = ["Firefox is wonderful and fast", "Chrome keeps crashing, awful", "Firefox 200 released today"]
    return [Entry(f"tag:{prefix},{i}", f"{prefix} post {i}", moods[i % 3], yesterday_noon())
            for i in range(start, start + n)]


def write_config(tmp_path: Path, sources: dict[str, tuple[str, int]], schedule: str = "", extra: str = "") -> Path:
    lines = ['[store]\npath = "test.db"\n', '[digest]\noutput_dir = "out"\n', extra,
             "[collect]\ntimeout = 2\nretries = 0\n",
             '[[products]]\nname = "Firefox"\nours = true\n[[products]]\nname = "Chrome"\n',
             f"[schedule]\n{schedule}\n"]
    for name, (url, interval) in sources.items():
        lines.append(f'[[sources]]\nname = "{name}"\nurl = "{url}"\ninterval = {interval}\n')
    path = tmp_path / "settings.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


class Daemon:
    """`python -m listener daemon` in a subprocess, logging to a file we can read."""

    def __init__(self, config: Path):
        self.config = config
        self.log = config.parent / f"daemon-{time.monotonic_ns()}.log"
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
        self.proc = subprocess.Popen([sys.executable, "-m", "listener", "--config", str(config), "daemon"],
                                     stdout=subprocess.DEVNULL, stderr=self.log.open("wb"), env=env)

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def children(self) -> set[int]:
        """Pids of the crawler processes the daemon runs right now."""
        pids: set[int] = set()
        for task in Path(f"/proc/{self.proc.pid}/task").glob("*"):
            try:
                pids |= {int(p) for p in (task / "children").read_text().split()}
            except OSError:
                pass
        return pids

    def terminate(self) -> tuple[int, float]:
        """SIGTERM; return (exit code, seconds to exit)."""
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"daemon ignored SIGTERM for 15 s; log:\n{self.text()}")
        return code, time.monotonic() - t0

    def __enter__(self) -> "Daemon":
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def query(db: Path, sql: str, params: tuple = ()) -> list[tuple]:
    if not db.exists():
        return []
    conn = sqlite3.connect(db, timeout=10)
    try:
        return conn.execute(sql, params).fetchall()
    except sqlite3.OperationalError:  # tables not created yet
        return []
    finally:
        conn.close()


def scalar(db: Path, sql: str, params: tuple = ()) -> int:
    rows = query(db, sql, params)
    return rows[0][0] if rows else 0


LOADED = 3  # deadlines are upper bounds for a loaded machine (CI runs two test workers); a pass never waits them out


def wait_for(what: str, check, timeout: float, daemon: Daemon, every: float = 0.05):
    timeout *= LOADED
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        if daemon.proc.poll() is not None:
            raise AssertionError(f"daemon exited ({daemon.proc.returncode}) waiting for {what}:\n{daemon.text()}")
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; log:\n{daemon.text()[-3000:]}")


def status(config: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "listener", "--config", str(config), "status"],
                          capture_output=True, text=True, env=env, timeout=60)


def alive(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def leftovers(folder: Path) -> list[str]:
    """Lock and temp files anywhere under the folder."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                  if p.name.endswith((".lock", ".tmp")) or p.name.startswith(".digest"))


@pytest.mark.slow
@pytest.mark.timeout(400)  # the waits below are upper bounds (see LOADED)
def test_daemon_collects_classifies_backs_off_writes_digest_and_stops(server, tmp_path):
    feed = entries("a", 3)
    route = server.add("/a.atom", atom(feed), headers=ATOM)
    server.add("/b.atom", atom(entries("b", 4)), headers=ATOM, etag='"b1"')
    server.add("/down.atom", "broken", status=500)
    tz = ZoneInfo("Europe/Berlin")
    digest_at = (datetime.now(tz) + timedelta(seconds=8)).replace(microsecond=0)  # cron has 1 s steps
    config = write_config(tmp_path, {
        "a": (server.url("/a.atom"), 1), "b": (server.url("/b.atom"), 1), "down": (server.url("/down.atom"), 1),
    }, schedule=f'timezone = "Europe/Berlin"\ndaily_digest = "{digest_at:%H:%M:%S}"\n'
                f'weekly_digest = "off"\nbackoff_max = 3\nworkers = 2\n')
    db = tmp_path / "test.db"
    digest = tmp_path / "out" / f"digest-{(datetime.now(timezone.utc).date() - timedelta(days=1))}.html"

    with Daemon(config) as daemon:
        # posts arrive, and classification follows right after the collection
        wait_for("posts of a and b", lambda: scalar(db, "SELECT count(*) FROM posts") == 7, 30, daemon)
        wait_for("classification", lambda: scalar(
            db, "SELECT count(*) FROM posts WHERE classified_at IS NOT NULL") == 7, 15, daemon)
        assert query(db, "SELECT sentiment_label, count(*) FROM posts WHERE source = 'a' GROUP BY 1 ORDER BY 1") \
            == [("negative", 1), ("neutral", 1), ("positive", 1)]
        # the feed changes: new entries are picked up by the next collection
        feed += entries("a", 2, start=3)
        route.body = atom(feed)
        wait_for("new entries of a", lambda: scalar(
            db, "SELECT count(*) FROM posts WHERE source = 'a' AND classified_at IS NOT NULL") == 5, 15, daemon)

        # the digest appears at its cron time in the configured zone, not before
        if datetime.now(tz) < digest_at - timedelta(seconds=1):
            assert not digest.exists()
        wait_for("the daily digest", digest.exists, 30, daemon)
        assert datetime.now(tz) >= digest_at
        assert "Firefox" in digest.read_text()

        # many crawls in this one daemon process (each in its own child process)
        wait_for("10 collections", lambda: scalar(db, "SELECT count(*) FROM runs WHERE kind = 'collect'") >= 10,
                 60, daemon, every=0.2)
        assert daemon.proc.poll() is None
        assert query(db, "SELECT pid FROM daemon") == [(daemon.proc.pid,)]

        # the failing source backs off (2 s, then 3 s: capped) while the others keep running: each
        # retry of "down" comes at least its backoff after the previous one (a lower bound, whatever
        # the load), and "a" is still collected after "down" first failed. The exact planned times
        # are checked on a set clock in test_a_failing_source_backs_off_on_schedule_...
        wait_for("three tries of down", lambda: len(server.hits("/down.atom")) >= 3, 30, daemon)
        down = [h for h in server.log if h.path == "/down.atom"]
        gaps = [later.at - earlier.at for earlier, later in zip(down, down[1:])]
        assert all(gap >= jobs.backoff_delay(1, n, 3) for n, gap in enumerate(gaps, 1)), gaps
        wait_for("collections of a after down failed", lambda: len(
            [h for h in server.hits("/a.atom") if h.at > down[0].at]) >= 2, 30, daemon)
        (failures,) = query(db, "SELECT failures FROM jobs WHERE id = 'collect:down'")[0]
        assert failures == len(down) or failures == len(down) - 1  # the last one may still be recording
        assert "job=collect:down source=down status=error" in daemon.text()
        assert "failures=1 backoff=2s" in daemon.text() and "failures=2 backoff=3s" in daemon.text()

        # `listener status` reports all of it, and fails because one source is failing
        st = status(config)
        assert st.returncode == 1, st.stdout + st.stderr
        lines = {ln.split()[1]: ln for ln in st.stdout.splitlines() if ln.startswith("│ ")}
        assert "failing" in lines["down"] and "retry in" in lines["down"] and "HTTP 500" in lines["down"]
        assert " ok " in lines["a"] and " 5 " in lines["a"]  # 5 posts in the last 24 h
        assert f"Last digest: {digest}" in st.stdout
        assert f"Daemon: running (pid {daemon.proc.pid}" in st.stdout
        assert "Failing: down" in st.stderr

        code, seconds = daemon.terminate()
        assert code == 0 and seconds < 10, (code, seconds)

    log = daemon.text()
    # one line per job with job, source, duration and counts; no progress bars
    line = next(ln for ln in log.splitlines() if "job=collect:a " in ln and "new=3" in ln)
    assert "source=a status=ok duration=" in line and "updated=0 errors=0 classified=" in line
    # (another source's job may have classified a's posts first: one classifier at a time)
    assert re.search(r"job=collect:[ab] .* classified=[1-9]", log)
    assert "━" not in log and "\r" not in log
    assert "daemon stopped" in log
    assert leftovers(tmp_path) == []
    assert query(db, "SELECT count(*) FROM runs WHERE status = 'running'") == [(0,)]
    # the digest ran once, at its time
    assert scalar(db, "SELECT count(*) FROM runs WHERE kind = 'digest'") == 1


@pytest.mark.slow
@pytest.mark.timeout(400)  # the waits below are upper bounds (see LOADED)
def test_sigterm_during_a_slow_crawl_exits_within_10s_and_leaves_nothing(server, tmp_path):
    slow = server.add("/slow.atom", atom(entries("s", 2)), headers=ATOM, delay=60)
    config = write_config(tmp_path, {"slow": (server.url("/slow.atom"), 1)},
                          schedule='weekly_digest = "off"\n')
    config.write_text(config.read_text().replace("timeout = 2", "timeout = 120"))
    db = tmp_path / "test.db"
    with Daemon(config) as daemon:
        wait_for("the slow request", lambda: slow.hits, 30, daemon)
        crawlers = wait_for("the crawler child", daemon.children, 5, daemon)
        code, seconds = daemon.terminate()
        assert code == 0 and seconds < 10, (code, seconds)
    assert not any(alive(pid) for pid in crawlers)
    assert leftovers(tmp_path) == []
    # the interrupted collection is closed, and is not counted as a failure of the source
    assert query(db, "SELECT kind, status FROM runs") == [("collect", "error")]
    assert query(db, "SELECT last_error, last_fetch_at FROM sources") == [(None, None)]
    assert query(db, "SELECT last_status, failures FROM jobs WHERE id = 'collect:slow'") == [("abandoned", 0)]
    assert "status=abandoned" in daemon.text()


@pytest.mark.slow
@pytest.mark.timeout(400)  # the waits below are upper bounds (see LOADED)
def test_kill_9_mid_collection_then_restart_loses_and_duplicates_nothing(server, tmp_path):
    big = entries("big", 2000)
    server.add("/big.atom", atom(big), headers=ATOM, etag='"big1"')
    server.add("/small.atom", atom(entries("small", 5)), headers=ATOM, etag='"small1"')
    # durability, not mood: VADER classifies the 2,005 posts several times faster than the trained model
    config = write_config(tmp_path, {"big": (server.url("/big.atom"), 2), "small": (server.url("/small.atom"), 1)},
                          schedule='weekly_digest = "off"\nworkers = 2\n', extra='[sentiment]\nmodel = "vader"\n')
    db = tmp_path / "test.db"
    total = 2005

    with Daemon(config) as first:
        wait_for("part of the big feed", lambda: 0 < scalar(
            db, "SELECT count(*) FROM posts WHERE source = 'big'") < 2000, 60, first, every=0.01)
        crawlers = first.children()
        first.proc.kill()
        first.proc.wait()
    stored = scalar(db, "SELECT count(*) FROM posts WHERE source = 'big'")
    assert 0 < stored < 2000  # killed mid-collection: some batches committed, not all
    time.sleep(0.5)
    assert crawlers and not any(alive(pid) for pid in crawlers)  # no orphan crawler

    with Daemon(config) as second:  # the stale lock of the killed daemon does not block it
        wait_for("every post, classified", lambda: scalar(
            db, "SELECT count(*) FROM posts WHERE classified_at IS NOT NULL") == total, 60, second, every=0.2)
        # the big feed was refetched whole (its ETag was never saved); small resumes from its ETag
        wait_for("a conditional request for small", lambda: any(
            h.status == 304 for h in server.hits("/small.atom")), 20, second)
        code, _ = second.terminate()
        assert code == 0
    assert scalar(db, "SELECT count(*) FROM posts") == total
    assert scalar(db, "SELECT count(DISTINCT source || guid) FROM posts") == total
    assert scalar(db, "SELECT count(*) FROM posts_fts") == total
    assert {g for (g,) in query(db, "SELECT guid FROM posts WHERE source = 'big'")} == {e.guid for e in big}
    assert leftovers(tmp_path) == []


def test_a_failing_source_backs_off_on_schedule_while_the_others_keep_their_interval(
        server, tmp_path, caplog):
    """Daemon._run (what the scheduler calls) -> jobs.run_job -> the backoff, on the test's clock:
    each failure moves the next run out by 2 s, 4 s, 4 s (capped); a healthy source keeps its plan."""
    server.add("/a.atom", atom([]), headers=ATOM)  # nothing to classify: no model to load
    server.add("/down.atom", "broken", status=500)
    config = write_config(tmp_path, {"a": (server.url("/a.atom"), 1), "down": (server.url("/down.atom"), 1)},
                          schedule='daily_digest = "off"\nweekly_digest = "off"\nbackoff_max = 4\n')
    clock = [NOW]
    caplog.set_level("INFO", logger=daemon_module.log.name)
    daemon = daemon_module.Daemon(load_settings(config), clock=lambda: clock[0])
    try:
        daemon.schedule(NOW)
        planned_a = daemon.scheduler.get_job("collect:a").next_run_time
        assert planned_a == NOW and daemon.scheduler.get_job("collect:down").next_run_time == NOW
        for failures, delay in [(1, 2), (2, 4), (3, 4)]:
            daemon._run("collect:down")
            expected = clock[0] + timedelta(seconds=delay)
            assert daemon.scheduler.get_job("collect:down").next_run_time == expected
            row = store.job_rows(daemon.db)["collect:down"]
            assert (row["last_status"], row["failures"], row["next_run_at"]) == ("error", failures, iso_utc(expected))
            assert "job=collect:down source=down status=error" in caplog.text
            assert f"failures={failures} backoff={delay}s" in caplog.text
            clock[0] = expected  # the next try comes when planned
        daemon._run("collect:a")
        assert daemon.scheduler.get_job("collect:a").next_run_time == planned_a  # its interval, not moved
        row = store.job_rows(daemon.db)["collect:a"]
        assert (row["last_status"], row["failures"]) == ("ok", 0)
        assert len(server.hits("/down.atom")) == 3 and len(server.hits("/a.atom")) == 1
        assert not re.search(r"job=collect:a .*backoff=", caplog.text)
    finally:
        daemon.db.close()
