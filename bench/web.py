"""Web benchmark: requests/s and p50/p95 latency of ``/api/search`` under 8 concurrent clients,
``listener serve`` with 1 worker against 2 workers, in one run.

The database is bench/search.py's (its builder and its cache under /tmp: 100,000 posts by default),
the queries its 20 representative ones, cycled, each the first page of 50 with the total and
highlighted snippets. For each worker count a real ``listener serve --workers N`` is started on
127.0.0.1, warmed up, then loaded by ``--clients`` threads (keep-alive connections, each sending its
next request when the last is answered) for ``--seconds``; then stopped. Baseline in the same run:
1 worker; the 2-worker figures are reported as a ratio to it.

Run: ``python bench/web.py [--quick] [--json PATH] [--posts N] [--seconds S] [--clients C] [--workers 1,2]``
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere
from bench.search import GENERATOR_VERSION, PRODUCTS, QUERIES, build, percentile  # noqa: E402
from listener.files import write_atomic  # noqa: E402
from tests.helpers.serve import ServeProcess  # noqa: E402

TOKEN = "bench-web-token"


def settings_file(folder: Path, db: Path) -> Path:
    """A settings file serving ``db`` with bench/search.py's products, behind a token."""
    products = "".join(f'\n[[products]]\nname = "{name}"\naliases = {json.dumps(aliases)}\n'
                       for name, aliases in PRODUCTS.items())
    path = folder / "settings.toml"
    path.write_text(f'[store]\npath = "{db}"\n\n[serve]\ntoken = "{TOKEN}"\n{products}', encoding="utf-8")
    return path


def get(conn: http.client.HTTPConnection, path: str) -> int:
    conn.request("GET", path, headers={"Authorization": f"Bearer {TOKEN}"})
    response = conn.getresponse()
    response.read()
    return response.status


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) of ``pid`` and its descendants so far, from /proc (None elsewhere)."""
    try:
        tick = os.sysconf("SC_CLK_TCK")
        total, todo = 0.0, [pid]
        while todo:
            p = todo.pop()
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        return total
    except (OSError, ValueError):
        return None


def load(port: int, paths: list[str], clients: int, seconds: float) -> dict:
    """``clients`` threads sending ``paths`` in turn for ``seconds``: their latencies and statuses."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)
    stop_at = [0.0]

    def client(k: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        i = k * 7  # clients start at different queries
        start.wait()
        while time.perf_counter() < stop_at[0]:
            t0 = time.perf_counter()
            try:
                status = get(conn, paths[i % len(paths)])
            except OSError:
                status = 0  # connection error
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            latencies[k].append(time.perf_counter() - t0)
            with lock:
                statuses[status] = statuses.get(status, 0) + 1
            i += 1
        conn.close()

    threads = [threading.Thread(target=client, args=(k,), daemon=True) for k in range(clients)]
    for t in threads:
        t.start()
    stop_at[0] = time.perf_counter() + seconds
    t0 = time.perf_counter()
    start.wait()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    every = [x * 1000 for lat in latencies for x in lat]
    return {"requests": len(every), "seconds": round(elapsed, 2), "rps": round(len(every) / elapsed, 1),
            "p50_ms": round(statistics.median(every), 1) if every else None,
            "p95_ms": round(percentile(every, 95), 1) if every else None,
            "statuses": {str(k): v for k, v in sorted(statuses.items())}}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="2,000 posts, 1 s a worker count (a smoke run)")
    ap.add_argument("--posts", type=int, help="posts in the database (default 100,000)")
    ap.add_argument("--seconds", type=float, help="load duration per worker count (default 10)")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--workers", default="1,2", help="worker counts to compare, the first is the baseline")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rebuild", action="store_true")
    ap.add_argument("--json", type=Path, metavar="PATH")
    args = ap.parse_args(argv)
    n = args.posts or (2_000 if args.quick else 100_000)
    seconds = args.seconds or (1.0 if args.quick else 10.0)
    counts = [int(w) for w in args.workers.split(",")]
    path = Path(f"/tmp/listener-bench-search-v{GENERATOR_VERSION}-{n}-{args.seed}.db")  # bench/search.py's cache
    if args.rebuild or not path.exists():
        print(f"building {n:,} posts (seed {args.seed}) -> {path}")
        build(path, n, args.seed)
    paths = [f"/api/search?{urlencode({'q': q, 'sort': sort, 'limit': 50})}" for q, sort in QUERIES]
    results = []
    with tempfile.TemporaryDirectory(prefix="listener-bench-web-") as folder:
        settings = settings_file(Path(folder), path)
        for workers in counts:
            with ServeProcess(settings, workers=workers, probe="/api/stats",
                              headers={"Authorization": f"Bearer {TOKEN}"}) as server:
                warm = load(server.port, paths, args.clients, min(2.0, seconds / 2))  # page cache, each worker's caches
                cpu = cpu_seconds(server.proc.pid)
                figures = load(server.port, paths, args.clients, seconds)
                used = cpu_seconds(server.proc.pid)
            spent = used - cpu if cpu is not None and used is not None else None
            results.append({"workers": workers, **figures,
                            "server_cpu_pct": round(100 * spent / figures["seconds"]) if spent is not None else None,
                            "cpu_ms_per_request": round(1000 * spent / figures["requests"], 1)
                            if spent is not None and figures["requests"] else None,
                            "warmup_requests": warm["requests"]})

    base = results[0]
    print(f"\n/api/search on {n:,} posts, {len(paths)} queries cycled, {args.clients} clients, "
          f"{seconds:g} s per worker count (cpus: {os.cpu_count()})")
    print(f"{'workers':>8}{'requests':>10}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'vs ' + str(base['workers']) + ' worker':>14}"
          f"{'server cpu':>12}{'cpu ms/req':>12}  statuses")
    for r in results:
        r["ratio"] = round(r["rps"] / base["rps"], 2) if base["rps"] else None
        print(f"{r['workers']:>8}{r['requests']:>10,}{r['rps']:>9.1f}{r['p50_ms'] or 0:>9.1f}{r['p95_ms'] or 0:>9.1f}"
              f"{r['ratio'] or 0:>13.2f}x{str(r['server_cpu_pct']) + '%':>12}{r['cpu_ms_per_request'] or 0:>12.1f}"
              f"  {r['statuses']}")
    failed = sum(v for k, v in base["statuses"].items() if k != "200") + sum(
        v for r in results[1:] for k, v in r["statuses"].items() if k != "200")
    if failed:
        print(f"{failed} request(s) did not answer 200")
    print(f"(server cpu: the server's processes' CPU time over the run, 100% = one core, and per request; "
          f"load now {os.getloadavg()[0]:.1f} on {os.cpu_count()} cpus: other jobs share them)")
    if args.json:
        write_atomic(args.json, json.dumps({"posts": n, "clients": args.clients, "seconds": seconds,
                                            "queries": len(paths), "results": results, "cpus": os.cpu_count(),
                                            "python": platform.python_version()}, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
