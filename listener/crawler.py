"""Run a Scrapy crawl in a child process and stream its items back as JSON lines.

Why a child process: a Twisted reactor cannot be restarted, so a process that
crawls more than once (the CLI in tests, the daemon for months) cannot call
``CrawlerProcess.start()`` twice. A fresh ``python -m listener.crawler`` per
crawl costs well under a second of start-up, isolates memory growth and crashes
in the crawler from the process that owns the database, and means the only
writer to SQLite stays the parent. The child never opens the database: it
prints one JSON object per line (``{"kind": "post"|"fetch", ...}``) on a
private copy of stdout; the parent stores them.

The daemon runs every crawl this way too, for months in one process: nothing
Twisted ever lives in the daemon, so there is no reactor to restart or leak
(``tests/test_daemon.py`` runs 20+ crawls in one daemon process). A child dies
with the thread that started it (``PR_SET_PDEATHSIG`` on Linux), so a daemon
killed with ``kill -9`` leaves no crawler behind; ``cancel_all`` stops every
running crawl when the daemon is asked to stop.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
from typing import Any, Iterator

from listener.config import CollectSettings
from listener.sources import load_spider, source_types

_live: set[subprocess.Popen] = set()
_live_lock = threading.Lock()
_cancelled = threading.Event()


class CrawlCancelled(Exception):
    """The crawl was stopped by ``cancel_all`` (the process is shutting down)."""


def cancel_all() -> None:
    """Kill every running crawl child and refuse new crawls from now on (daemon shutdown).

    The interrupted ``crawl`` raises ``CrawlCancelled`` instead of reporting the
    unfinished sources as failed, so a shutdown never looks like a broken source.
    """
    _cancelled.set()
    with _live_lock:
        procs = list(_live)
    for proc in procs:
        if proc.poll() is None:
            proc.kill()


def scrapy_settings(collect: CollectSettings) -> dict[str, Any]:
    """Scrapy settings for one crawl: the shared ones (``spiders.settings``) and our collect settings."""
    from spiders import settings as shared

    return {
        **shared.static(),
        "USER_AGENT": collect.user_agent,
        "ROBOTSTXT_OBEY": collect.obey_robots,
        "DOWNLOAD_TIMEOUT": collect.timeout,
        "RETRY_ENABLED": collect.retries > 0,
        "RETRY_TIMES": collect.retries,
        "LISTENER_RETRY_BACKOFF": collect.retry_backoff,
        "LISTENER_MAX_RETRY_WAIT": collect.max_retry_wait,
        "AUTOTHROTTLE_START_DELAY": collect.delay,
        "AUTOTHROTTLE_MAX_DELAY": max(60.0, collect.delay),
        "AUTOTHROTTLE_TARGET_CONCURRENCY": float(collect.concurrency),
        "DOWNLOAD_MAXSIZE": collect.max_bytes,
        "DOWNLOAD_DELAY": collect.delay,
        "CONCURRENT_REQUESTS": max(16, collect.concurrency),
        "CONCURRENT_REQUESTS_PER_DOMAIN": collect.concurrency,
        "LOG_LEVEL": os.environ.get("LISTENER_CRAWL_LOG", "ERROR"),
    }


def crawl(spider: str, sources: list[dict[str, Any]], collect: CollectSettings, *,
          now: str | None = None) -> Iterator[dict]:
    """Yield the child's events; every source gets exactly one ``fetch`` event, even on a crash.

    ``spider`` is a registered source type's name (``listener.sources``).

    ``now`` (ISO UTC) is the time spiders use for relative forum dates ("Today at 5:04 pm").
    """
    types = source_types()
    if spider not in types:
        raise ValueError(f"unknown spider {spider!r}")
    # The child imports the spider by its path: it needs no plugin loading of its own.
    job = json.dumps({"spider": types[spider].spider_path, "sources": sources,
                      "settings": scrapy_settings(collect), "now": now, "parent": os.getpid()})
    pending = {s["name"] for s in sources}
    with tempfile.TemporaryFile() as errlog:
        with _live_lock:
            if _cancelled.is_set():
                raise CrawlCancelled("shutting down: no new crawls")
            proc = subprocess.Popen([sys.executable, "-m", "listener.crawler"], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=errlog, env=_child_env())
            _live.add(proc)
        fired = threading.Event()

        def stop() -> None:
            fired.set()
            proc.kill()

        timer = threading.Timer(collect.crawl_timeout, stop)
        timer.start()
        try:
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write(job.encode())
            proc.stdin.close()
            for line in proc.stdout:
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                if event.get("kind") == "fetch":
                    pending.discard(event.get("source"))
                yield event
            code = proc.wait()
        except GeneratorExit:
            code = None
            raise
        finally:
            timer.cancel()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            with _live_lock:
                _live.discard(proc)
        if pending and _cancelled.is_set():
            raise CrawlCancelled(f"crawl of {', '.join(sorted(pending))} stopped: shutting down")
        if pending:
            errlog.seek(0)
            tail = [ln for ln in errlog.read().decode("utf-8", "replace").splitlines() if ln.strip()]
            if fired.is_set():
                why = f"crawl stopped after {collect.crawl_timeout:g}s (collect.crawl_timeout)"
            else:
                why = f"crawler exited with code {code}" + (f": {tail[-1][:200]}" if tail else "")
            for name in sorted(pending):
                yield {"kind": "fetch", "source": name, "status": None, "error": why, "entries": 0}


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    # The child imports our packages from wherever the parent did.
    paths = [p for p in sys.path if p]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


def _die_with_parent(parent: int | None) -> None:
    """Ask Linux to SIGKILL this child when the thread that started it dies (no orphan crawls)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if parent is not None and os.getppid() != parent:  # the parent died before prctl
        os._exit(1)


def main() -> int:
    """Child entry point: read the job from stdin, crawl, print items."""
    job = json.load(sys.stdin)
    _die_with_parent(job.get("parent"))
    out_fd = os.dup(1)
    os.dup2(2, 1)  # anything else that prints goes to stderr, never into the item stream
    from scrapy.crawler import CrawlerProcess

    spider_cls = load_spider(job["spider"])
    settings = dict(job["settings"], LISTENER_OUTPUT_FD=out_fd)
    process = CrawlerProcess(settings=settings)
    process.crawl(spider_cls, sources=job["sources"], now=job.get("now"))
    process.start()
    return 0


if __name__ == "__main__":
    sys.exit(main())
