"""Soak benchmark: the daemon runs N collection jobs against changing loopback feeds.

* daemon:   ``python -m listener daemon`` as a subprocess, 3 sources collected every
            second (2 workers), feeds on 127.0.0.1 gaining an entry per source every
            half second; runs until N ``collect:*`` jobs have finished (each collects one
            source and classifies what it brought). Reports the daemon's RSS after
            warm-up (``--warmup`` jobs: imports, VADER lexicon) and at the end, jobs per
            minute, failed jobs, ERROR log lines, seconds to stop on SIGTERM, and checks
            that every entry ever served is stored exactly once and classified.
* baseline: in the same run, a plain loop in this process calling what
            ``listener collect SOURCE`` + ``listener classify`` call
            (``pipeline.collect`` + ``pipeline.classify``) on the same kind of feeds;
            its RSS after warm-up and at the end, and its jobs per minute.

Run: ``python bench/soak.py [--quick] [--json PATH] [--jobs N]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from listener import pipeline, store  # noqa: E402
from listener.config import load_settings  # noqa: E402
from listener.files import write_atomic  # noqa: E402
from listener.replay import ReplayServer  # noqa: E402
from tests.helpers.feeds import Entry, atom  # noqa: E402

SOURCES = ("alpha", "beta", "gamma")
WINDOW = 40  # entries per feed document (older ones scroll out, as in real feeds)
TEXTS = ["Firefox is wonderful and fast today", "Chrome keeps crashing, awful update",
         "Safari shipped a release", "Nothing to see here", "Firefox and Chrome both feel slow"]


class ChangingFeeds:
    """Feeds that gain one entry per source every ``period`` seconds while running."""

    def __init__(self, server: ReplayServer, prefix: str, period: float = 0.5):
        self.server, self.prefix, self.period = server, prefix, period
        self.entries: dict[str, list[Entry]] = {s: [] for s in SOURCES}
        self.created = 0
        self.stop = threading.Event()
        for s in SOURCES:
            self.add(s)
        self.thread = threading.Thread(target=self._run, daemon=True)

    def url(self, source: str) -> str:
        return self.server.url(f"/{self.prefix}/{source}.atom")

    def add(self, source: str) -> None:
        n = len(self.entries[source])
        self.entries[source].append(Entry(f"tag:{self.prefix}:{source},{n}", f"{source} post {n}",
                                          TEXTS[n % len(TEXTS)], "2026-11-22T12:00:00Z"))
        self.created += 1
        body = atom(self.entries[source][-WINDOW:], title=source)
        self.server.add(f"/{self.prefix}/{source}.atom", body, headers={"Content-Type": "application/atom+xml"},
                        etag=f'"{source}-{n}"')

    def _run(self) -> None:
        while not self.stop.wait(self.period):
            for s in SOURCES:
                self.add(s)

    def start(self) -> "ChangingFeeds":
        self.thread.start()
        return self

    def freeze(self) -> None:
        self.stop.set()
        self.thread.join()


def write_settings(folder: Path, feeds: ChangingFeeds) -> Path:
    lines = ['[store]\npath = "soak.db"\n', "[collect]\ntimeout = 5\nretries = 0\n",
             '[schedule]\ndaily_digest = "off"\nweekly_digest = "off"\nworkers = 2\n',
             '[[products]]\nname = "Firefox"\nours = true\n[[products]]\nname = "Chrome"\n'
             '[[products]]\nname = "Safari"\n']
    for s in SOURCES:
        lines.append(f'[[sources]]\nname = "{s}"\nurl = "{feeds.url(s)}"\ninterval = 1\n')
    path = folder / "settings.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def scalar(db: Path, sql: str) -> int:
    conn = sqlite3.connect(db, timeout=10)
    try:
        return conn.execute(sql).fetchone()[0]
    except sqlite3.OperationalError:
        return 0
    finally:
        conn.close()


def verify(db: Path, expected: int, what: str) -> None:
    posts = scalar(db, "SELECT count(*) FROM posts")
    distinct = scalar(db, "SELECT count(DISTINCT source || '|' || guid) FROM posts")
    done = scalar(db, "SELECT count(*) FROM posts WHERE classified_at IS NOT NULL")
    print(f"verify {what}: posts={posts} distinct={distinct} classified={done} served={expected}")
    if not posts == distinct == done == expected:
        sys.exit(f"FAILED: {what}: expected {expected} posts stored once and classified")


def run_daemon(folder: Path, server: ReplayServer, jobs: int, warmup: int) -> dict:
    feeds = ChangingFeeds(server, "daemon").start()
    config = write_settings(folder, feeds)
    db = folder / "soak.db"
    log = folder / "daemon.log"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen([sys.executable, "-m", "listener", "--config", str(config), "daemon"],
                            stdout=subprocess.DEVNULL, stderr=log.open("wb"), env=env)
    count = "SELECT count(*) FROM runs WHERE kind = 'collect' AND finished_at IS NOT NULL"
    try:
        rss_start = t_start = None
        rss_peak = 0
        last_print = 0.0
        while (done := scalar(db, count)) < jobs:
            if proc.poll() is not None:
                sys.exit(f"FAILED: the daemon exited with {proc.returncode}:\n{log.read_text()[-2000:]}")
            rss = rss_kb(proc.pid)
            rss_peak = max(rss_peak, rss)
            if rss_start is None and done >= warmup:
                rss_start, t_start, jobs_start = rss, time.monotonic(), done
            if time.monotonic() - last_print > 15:
                print(f"  daemon: {done}/{jobs} collect jobs, RSS {rss / 1024:.1f} MiB", flush=True)
                last_print = time.monotonic()
            time.sleep(0.25)
        elapsed = time.monotonic() - t_start
        rss_end = rss_kb(proc.pid)
        jobs_measured = done - jobs_start
        feeds.freeze()  # stop changing; let every source collect once more, then stop
        target = scalar(db, count) + 2 * len(SOURCES)
        while scalar(db, count) < target:
            time.sleep(0.2)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
        stop_seconds = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
        feeds.stop.set()
    verify(db, feeds.created, "daemon")
    text = log.read_text(errors="replace")
    return {
        "jobs": scalar(db, count), "jobs_measured": jobs_measured, "seconds": elapsed,
        "jobs_per_min": jobs_measured / elapsed * 60,
        "rss_start_mib": rss_start / 1024, "rss_end_mib": rss_end / 1024, "rss_peak_mib": rss_peak / 1024,
        "rss_ratio": rss_end / rss_start,
        # jobs that failed; "abandoned" ones were running when SIGTERM came (expected, not errors)
        "failed_jobs": text.count("status=error"),
        "failures": [ln for ln in text.splitlines() if "status=error" in ln or " ERROR " in ln][:5],
        "abandoned_jobs": text.count("status=abandoned"),
        "error_log_lines": sum(1 for ln in text.splitlines() if " ERROR " in ln),
        "posts": scalar(db, "SELECT count(*) FROM posts"),
        "stop_seconds": stop_seconds, "exit_code": code,
        "leftover_files": sorted(p.name for p in folder.iterdir() if p.name.endswith((".lock", ".tmp"))),
    }


def run_loop(folder: Path, server: ReplayServer, jobs: int, warmup: int) -> dict:
    """The baseline: ``listener collect SOURCE`` + ``listener classify`` in a plain loop."""
    feeds = ChangingFeeds(server, "loop").start()
    settings = load_settings(write_settings(folder, feeds))
    db = store.open_db(settings.db_path)
    failed = 0
    rss_start = t_start = None
    try:
        for i in range(jobs + warmup):
            if i == warmup:
                rss_start, t_start = rss_kb(os.getpid()), time.monotonic()
            name = SOURCES[i % len(SOURCES)]
            now = datetime.now(timezone.utc)
            report = pipeline.collect(db, settings, [name], now=now)
            pipeline.classify(db, settings, now=now)
            failed += len(report.failed)
        elapsed = time.monotonic() - t_start
        rss_end = rss_kb(os.getpid())
        feeds.freeze()
        for name in SOURCES:
            pipeline.collect(db, settings, [name], now=datetime.now(timezone.utc))
        pipeline.classify(db, settings, now=datetime.now(timezone.utc))
    finally:
        feeds.stop.set()
        db.close()
    verify(settings.db_path, feeds.created, "loop")
    return {"jobs": jobs, "seconds": elapsed, "jobs_per_min": jobs / elapsed * 60,
            "rss_start_mib": rss_start / 1024, "rss_end_mib": rss_end / 1024, "rss_ratio": rss_end / rss_start,
            "failed_jobs": failed}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="60 daemon jobs and 15 loop jobs instead of 300 and 60")
    ap.add_argument("--jobs", type=int, help="collect jobs the daemon runs after warm-up")
    ap.add_argument("--json", type=Path, metavar="PATH", help="also write the figures as JSON")
    args = ap.parse_args(argv)
    warmup = 6
    daemon_jobs = args.jobs or (60 if args.quick else 300)
    loop_jobs = 15 if args.quick else 60
    with tempfile.TemporaryDirectory(prefix="listener-soak-") as tmp, ReplayServer() as server:
        (Path(tmp) / "d").mkdir()
        (Path(tmp) / "l").mkdir()
        print(f"daemon: {daemon_jobs} collect jobs after {warmup} warm-up jobs ...", flush=True)
        d = run_daemon(Path(tmp) / "d", server, daemon_jobs + warmup, warmup)
        print(f"loop: {loop_jobs} collect+classify calls after {warmup} warm-up ...", flush=True)
        loop = run_loop(Path(tmp) / "l", server, loop_jobs, warmup)

    print()
    print(f"{'path':<10} {'jobs':>6} {'jobs/min':>9} {'RSS start MiB':>14} {'RSS end MiB':>12} {'end/start':>10} "
          f"{'failed':>7}")
    for name, r in (("daemon", d), ("loop", loop)):
        print(f"{name:<10} {r['jobs']:>6} {r['jobs_per_min']:>9.1f} {r['rss_start_mib']:>14.1f} "
              f"{r['rss_end_mib']:>12.1f} {r['rss_ratio']:>10.2f} {r['failed_jobs']:>7}")
    ratio = d["jobs_per_min"] / loop["jobs_per_min"]
    print(f"\ndaemon vs loop: {ratio:.2f}x jobs/min; daemon RSS peak {d['rss_peak_mib']:.1f} MiB; "
          f"{d['error_log_lines']} ERROR log line(s); {d['abandoned_jobs']} job(s) abandoned at SIGTERM; stopped in {d['stop_seconds']:.2f}s with exit code "
          f"{d['exit_code']}; leftover files: {d['leftover_files'] or 'none'}")
    for line in d["failures"]:
        print(f"daemon failure: {line}")
    flat = d["rss_ratio"] <= 1.2
    print(f"RSS within 20% of its start: {'yes' if flat else 'NO'}")
    figures = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
               "daemon": d, "loop": loop, "jobs_per_min_ratio": ratio, "rss_flat": flat,
               "date": datetime.now(timezone.utc).date().isoformat()}
    if args.json:
        write_atomic(args.json, json.dumps(figures, indent=2, sort_keys=True) + "\n")
        print(f"wrote {args.json}")
    ok = flat and d["failed_jobs"] == 0 and d["exit_code"] == 0 and not d["leftover_files"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
