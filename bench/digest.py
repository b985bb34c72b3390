"""Digest and product-overview benchmark: seconds to build the 1-, 7- and 30-day digests and the web
product overview (/products, /products/NAME, /api/products) on a 1,000,000-post database, against the
code of main before issue 14's speed work (commit 8d2ed24) in the same run, as a ratio.

The database is bench/search.py's (Zipf text, 30% of posts naming 1-2 of five products with their own
per-mention sentiment, 25% carrying a topic, engagement, 180 days), with two things a real month has:
a weekly pattern (weekends a third quieter) and one burst (Firefox 4x on one day, its posts naming a
new crash), so spikes are found and explained. Built once through ``listener.store`` and cached under
``--cache`` (default: the temp dir); ``--rebuild`` forces a new one.

Baseline: the tree of commit 8d2ed24 (``git archive``, exported once into the cache), imported in a
child process on a copy of the database without the report indexes (migration 0016_report_reads), timing the
same calls. Each call runs once to warm the page cache, then ``--runs`` times; the median is reported.

Targets: every digest and overview call at most 2 s on 1,000,000 posts.

Run: ``python bench/digest.py [--quick] [--json PATH] [--posts N] [--runs R] [--rebuild] [--no-baseline]``
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import platform
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASELINE_COMMIT = "8d2ed24"
TARGET_S = 2.0
BURST_DAY = 3          # days before the bench's NOW: Firefox's burst
BURST_PHRASE = " The new update crashes every tab on startup, tab crash after tab crash."
GENERATOR_VERSION = 1  # of the overlay below (bench/search.py has its own)
PRODUCTS = ("Firefox", "Chrome", "Safari", "Edge", "Brave")


def _search_bench():
    """bench/search.py as a module (its builder and constants)."""
    spec = importlib.util.spec_from_file_location("bench_search", Path(__file__).with_name("search.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _seasonal_generate(sb, n: int, seed: int):
    """bench/search.py's posts, re-dated with a weekly pattern and Firefox's one-day burst."""
    rng = random.Random(seed + 1000)
    start = sb.NOW - timedelta(days=sb.DAYS)
    burst = (sb.NOW - timedelta(days=BURST_DAY)).replace(hour=0, minute=0, second=0)
    # Firefox-naming posts are ~7.5% of all: moving 1.8% of them to one day makes it ~4x a normal day
    burst_share = 3.2 / sb.DAYS
    for batch in _original_generate(sb)(n, seed):
        for post, mentioned, _topics, _s in batch:
            if any(m == "Firefox" for m, _ in mentioned) and rng.random() < burst_share:
                at = burst + timedelta(seconds=rng.randrange(86400))
                post["text"] += BURST_PHRASE
            else:
                while True:  # weekends at two thirds of a weekday
                    at = start + timedelta(seconds=rng.randrange(sb.DAYS * 86400))
                    if at.weekday() < 5 or rng.random() < 2 / 3:
                        break
            post["published_at"] = at.strftime("%Y-%m-%dT%H:%M:%SZ")
        yield batch


def _original_generate(sb):
    return getattr(sb, "_unpatched_generate", sb.generate)


def build(path: Path, n: int, seed: int) -> None:
    """bench/search.py's builder over the re-dated posts."""
    sb = _search_bench()
    sb._unpatched_generate = sb.generate
    sb.generate = lambda n_, seed_: _seasonal_generate(sb, n_, seed_)
    sb.build(path, n, seed)


SETTINGS = """[store]
path = "{db}"

[digest]
output_dir = "{out}"
{products}"""


def write_settings(folder: Path, db: Path, name: str) -> Path:
    """A settings file over ``db`` tracking bench/search.py's five products (Firefox as ours)."""
    sb = _search_bench()
    products = "".join(f'\n[[products]]\nname = "{p}"\naliases = {json.dumps(a)}\n' + ("ours = true\n" if p == "Firefox" else "")
                       for p, a in sb.PRODUCTS.items())
    path = folder / name
    path.write_text(SETTINGS.format(db=db, out=folder / "out", products=products), encoding="utf-8")
    return path


def strip_report_reads(path: Path) -> None:
    """Leave ``path`` at main's schema before this branch (no migration 0016_report_reads), for the baseline."""
    con = sqlite3.connect(path)
    have = {r[0] for r in con.execute("SELECT name FROM sqlite_master")}
    for trigger in ("mentions_post_copy", "posts_mention_copy"):
        if trigger in have:
            con.execute(f"DROP TRIGGER {trigger}")
    for index in ("mentions_period", "posts_posted_cover"):
        if index in have:
            con.execute(f"DROP INDEX {index}")
    columns = {r[1] for r in con.execute("PRAGMA table_info(mentions)")}
    for column in ("post_posted_at", "post_fetched_at", "post_source", "post_author", "post_engagement",
                   "post_copy_of", "post_language"):
        if column in columns:
            con.execute(f"ALTER TABLE mentions DROP COLUMN {column}")
    if "period_share" in {r[1] for r in con.execute("PRAGMA table_info(emerging_topics)")}:
        con.execute("ALTER TABLE emerging_topics DROP COLUMN period_share")
    con.execute("DELETE FROM _sqlite_migrations WHERE name IN ('0016_report_reads', '0022_mention_language')")
    con.commit()
    con.close()


def databases(cache: Path, n: int, seed: int, rebuild: bool) -> tuple[Path, Path]:
    """(the database at main's schema, a copy migrated by this code), built or taken from ``cache``."""
    from listener.store import migrations

    sb = _search_bench()
    base = cache / f"digest-v{GENERATOR_VERSION}-s{sb.GENERATOR_VERSION}-{n}-{seed}.db"
    if rebuild or not base.exists():
        print(f"building {n:,} posts (seed {seed}) -> {base}", flush=True)
        build(base, n, seed)
        strip_report_reads(base)
    # a new or changed migration makes a new copy
    tag = hashlib.sha256(Path(migrations.__file__).read_bytes()).hexdigest()[:8]
    new = base.with_name(f"{base.stem}-m{tag}.db")
    if rebuild or not new.exists() or new.stat().st_mtime < base.stat().st_mtime:
        tmp = new.with_suffix(".partial")
        shutil.copyfile(base, tmp)
        t0 = time.perf_counter()
        from listener import store
        store.open_db(tmp).close()
        os.replace(tmp, new)
        print(f"migrated a copy in {time.perf_counter() - t0:.1f} s -> {new}", flush=True)
    return base, new


def baseline_tree(cache: Path) -> Path | None:
    """The tree of BASELINE_COMMIT exported once into ``cache`` (None when this is no git checkout)."""
    tree = cache / f"tree-{BASELINE_COMMIT}"
    if (tree / "reports" / "digest.py").exists():
        return tree
    try:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", BASELINE_COMMIT], capture_output=True,
                                 check=True, timeout=120).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    tmp = Path(tempfile.mkdtemp(dir=cache))
    subprocess.run(["tar", "-x", "-C", str(tmp)], input=archive, check=True)
    os.replace(tmp, tree)
    return tree


EMERGING = "emerging 7 days (once)"
CASES = ("digest 1 day", "digest 7 days", "digest 30 days", "GET /products", "GET /products/Firefox",
         "GET /api/products")


def measure(settings_path: Path, day: str, runs: int, emerging: bool = False) -> dict[str, list[float]]:
    """Seconds per call of each case (a warm-up, then ``runs`` runs), with the code importable here;
    ``emerging``: first run ``listener emerging`` for the day once (timed; the digests then show its topics)."""
    from datetime import date

    from fastapi.testclient import TestClient

    from listener import store
    from listener.app.web import create_app
    from listener.config import load_settings
    from reports.digest import build_digest

    settings = load_settings(settings_path)
    the_day = date.fromisoformat(day)
    # built after the bench's posts were fetched (bench/search.py's NOW, noon the day after): the cut-off counts them
    now = datetime.combine(the_day + timedelta(days=1), datetime.min.time(), tzinfo=timezone.utc) + timedelta(hours=13)
    db = store.open_db(settings.db_path)
    client = TestClient(create_app(settings, today=lambda: the_day))
    span = f"from={(the_day - timedelta(days=29)).isoformat()}&to={day}"

    def get(url: str) -> None:
        r = client.get(url)
        assert r.status_code == 200, (url, r.status_code, r.text[:300])

    calls = {"digest 1 day": lambda: build_digest(db, settings, day=the_day, days=1, now=now),
             "digest 7 days": lambda: build_digest(db, settings, day=the_day, days=7, now=now),
             "digest 30 days": lambda: build_digest(db, settings, day=the_day, days=30, now=now),
             "GET /products": lambda: get(f"/products?{span}"),
             "GET /products/Firefox": lambda: get(f"/products/Firefox?{span}"),
             "GET /api/products": lambda: get(f"/api/products?{span}")}
    out = {}
    if emerging:
        from listener import pipeline

        t0, c0 = time.perf_counter(), time.process_time()
        pipeline.emerging(db, settings, day=the_day, now=now)
        out[EMERGING], out[f"{EMERGING} cpu"] = [time.perf_counter() - t0], [time.process_time() - c0]
    for case in CASES:
        times, cpu = [], []
        for i in range(runs + 1):
            t0, c0 = time.perf_counter(), time.process_time()
            result = calls[case]()
            if i:
                times.append(time.perf_counter() - t0)
                cpu.append(time.process_time() - c0)
        out[case], out[f"{case} cpu"] = times, cpu
        if case == "digest 30 days":  # what the digest found: a check that the bench counts something
            out["30-day digest"] = [float(result.total_mentions),
                                    float(sum(len(p.alarms) for p in result.products))]
    db.close()
    return out


def _child(settings_path: Path, day: str, runs: int, tree: Path) -> dict[str, list[float]]:
    """``measure`` run by the baseline's code (``tree`` first on the import path) in a child process."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    code = (f"import json, sys; sys.path.insert(0, {str(tree)!r}); sys.path.insert(1, {str(Path(__file__).parent)!r}); "
            f"import importlib; bench = importlib.import_module('digest'); "
            f"print(json.dumps(bench.measure(__import__('pathlib').Path({str(settings_path)!r}), {day!r}, {runs})))")
    out = subprocess.run([sys.executable, "-c", code], cwd=tree, env=env, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"baseline run failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="2,000 posts instead of 1,000,000; no baseline, no emerging step")
    ap.add_argument("--posts", type=int)
    ap.add_argument("--runs", type=int, default=3, help="timed runs per case (after one warm-up)")
    ap.add_argument("--baseline-runs", type=int, default=1, help="timed runs per case of the baseline")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "listener-bench-digest")
    ap.add_argument("--rebuild", action="store_true")
    ap.add_argument("--no-baseline", action="store_true", help=f"do not time commit {BASELINE_COMMIT}'s code")
    ap.add_argument("--json", type=Path, metavar="PATH")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    n = args.posts or (2_000 if args.quick else 1_000_000)
    runs = 1 if args.quick else args.runs
    args.cache.mkdir(parents=True, exist_ok=True)
    base, new = databases(args.cache, n, args.seed, args.rebuild)
    sb = _search_bench()
    day = (sb.NOW - timedelta(days=1)).date().isoformat()
    ours = measure(write_settings(args.cache, new, f"settings-{new.stem}.toml"), day, runs,
                   emerging=not args.quick)
    before = None
    if not (args.quick or args.no_baseline):
        tree = baseline_tree(args.cache)
        if tree is None:
            print(f"no baseline: {ROOT} is not a git checkout holding {BASELINE_COMMIT}")
        else:
            before = _child(write_settings(args.cache, base, f"settings-{base.stem}.toml"), day,
                            args.baseline_runs, tree)
    found = ours["30-day digest"]
    print(f"\n{n:,} posts, day {day}; median of {runs} run(s) after a warm-up; target <= {TARGET_S:.0f} s each; "
          f"the 30-day digest counts {found[0]:,.0f} mentions and {found[1]:.0f} spikes or drops")
    print(f"{'case':<26}{f'{BASELINE_COMMIT} s':>12}{'now s':>9}{'ratio':>9}{'cpu then':>10}{'cpu now':>9}"
          f"{'ratio':>8}  target (wall)")
    rows = []
    for case in ((EMERGING,) if EMERGING in ours else ()) + CASES:
        now_s = statistics.median(ours[case])
        then_s = statistics.median(before[case]) if before and case in before else None
        ratio = then_s / now_s if then_s else None
        cpu_now = statistics.median(ours[f"{case} cpu"]) if f"{case} cpu" in ours else None
        cpu_then = statistics.median(before[f"{case} cpu"]) if before and f"{case} cpu" in before else None
        cpu_ratio = cpu_then / cpu_now if cpu_then and cpu_now else None
        target = case != EMERGING  # a step of the daily cycle, not a page or a digest: no 2 s target
        rows.append({"case": case, "baseline_s": then_s and round(then_s, 3), "now_s": round(now_s, 3),
                     "speedup": ratio and round(ratio, 1), "baseline_cpu_s": cpu_then and round(cpu_then, 3),
                     "now_cpu_s": cpu_now and round(cpu_now, 3), "cpu_speedup": cpu_ratio and round(cpu_ratio, 1),
                     "met": now_s <= TARGET_S if target else None})
        verdict = ("met" if now_s <= TARGET_S else "NOT met") if target else "(no target; baseline not run)"
        print(f"{case:<26}{(f'{then_s:.2f}' if then_s else '-'):>12}{now_s:>9.2f}"
              f"{(f'{ratio:.1f}x' if ratio else '-'):>9}{(f'{cpu_then:.2f}' if cpu_then else '-'):>10}"
              f"{(f'{cpu_now:.2f}' if cpu_now else '-'):>9}{(f'{cpu_ratio:.1f}x' if cpu_ratio else '-'):>8}  {verdict}")
    if before is None:
        print("(no baseline in this run" + (": --quick)" if args.quick else ")"))
    print(f"(cpu: this process's CPU seconds, which a machine shared with other work does not inflate; "
          f"load average when done: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    if args.json:
        from listener.files import write_atomic
        write_atomic(args.json, json.dumps({"posts": n, "day": day, "runs": runs, "baseline": BASELINE_COMMIT,
                                            "rows": rows, "python": platform.python_version(),
                                            "sqlite": sqlite3.sqlite_version}, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
