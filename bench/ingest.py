"""Ingest benchmark: how fast listener stores and classifies posts, compared with a naive loop.

Measures, on N synthetic but realistic posts (seeded, no network):

* store (fast):       ``listener.store.upsert_posts`` in batches of 2,000 into a fresh database;
* classify (fast):    ``listener.pipeline.classify`` (VADER + product tagging + language id),
                      the project's own batched path;
* end-to-end (fast):  both of the above, wall time;
* classify / end-to-end (trained): the same with the default trained sentiment model;
* naive end-to-end:   on a slice of the same posts, in a separate fresh database with the same
                      schema (``open_db``): per post one sqlite-utils insert, one VADER call,
                      product matching, an UPDATE and a commit.

Run: ``python bench/ingest.py [--quick] [--json PATH] [--posts N] [--seed S]``
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sqlite3
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from listener.config import Settings, parse_settings
from listener.files import write_atomic
from listener.pipeline import classify
from listener.store import POST_FIELDS, open_db, upsert_posts
from listener.text import content_hash, iso_utc
from models.classify import classifier_version, post_text
from models.language import detect_language
from models.products import compile_products, match_products
from models.sentiment import VaderScorer, label, vader_compound

NOW = datetime(2025, 1, 15, 12, 0, 0, tzinfo=timezone.utc)
STAMP = iso_utc(NOW)
VADER_VERSION = classifier_version(VaderScorer())  # what the real classify step records with VADER
BATCH = 2000
PRODUCTS: list[dict[str, Any]] = [
    {"name": "Firefox", "aliases": ["Firefox", "Mozilla Firefox", "FF"]},
    {"name": "Chrome", "aliases": ["Chrome", "Google Chrome", "Chromium"]},
    {"name": "Safari", "aliases": ["Safari", "Mobile Safari"], "exclude": ["African safari", "safari park"]},
    {"name": "Edge", "aliases": ["Microsoft Edge", "Edge"], "exclude": ["cutting edge", "edge case", "edge cases"]},
    {"name": "Brave", "aliases": ["Brave", "Brave browser"], "exclude": ["brave new world"], "ours": True},
]
MENTIONS = ["Firefox", "Mozilla Firefox", "FF", "Chrome", "Google Chrome", "Chromium", "Safari",
            "Mobile Safari", "Microsoft Edge", "Edge", "Brave", "the Brave browser"]
DECOYS = ["Our trip was an African safari.", "The kids loved the safari park.", "It has a cutting edge design.",
          "I hit an edge case again.", "It is a brave new world out there."]
POSITIVE = ["is amazing now", "feels really fast and smooth", "I love the new tab design",
            "finally fixed the memory leak, great job", "is the best browser I have used",
            "works perfectly with my extensions", "is wonderful for privacy", "made me happy today"]
NEGATIVE = ["keeps crashing on startup", "is terribly slow and bloated", "I hate the new update",
            "broke all my bookmarks, awful", "is the worst for battery life", "is a disaster on Linux",
            "has an annoying bug with video", "makes me so frustrated"]
NEUTRAL = ["released version 128 today", "moved the settings menu", "is available on the store",
           "updates every four weeks", "uses a different rendering engine", "syncs tabs across devices"]
FILLER = ["I tried it on my laptop.", "The changelog lists several items.", "Anyone else seeing this?",
          "We use it at work for testing.", "My team switched last month.", "Here is what I found.",
          "The release notes are long.", "Benchmarks vary by site.", "Not sure what to think yet."]
URLS = ["https://example.com/blog/browser-news", "https://news.example.org/item?id=4242",
        "https://bugs.example.net/show_bug.cgi?id=1234", "https://www.example.com/release-notes/128"]
SOURCES = ["hn", "reddit-browsers", "lobsters", "mastodon-tech", "dev-blog", "forum-help"]
AUTHORS = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy"]


def make_posts(n: int, seed: int) -> list[dict]:
    """N deterministic posts with the keys of ``POST_FIELDS``."""
    rng = random.Random(seed)
    start = NOW - timedelta(days=60)
    posts = []
    for i in range(n):
        source = rng.choice(SOURCES)
        mood = rng.choice((POSITIVE, NEGATIVE, NEUTRAL))
        title = f"{rng.choice(MENTIONS)} {rng.choice(mood)}"
        target = rng.randint(40, 800)
        parts: list[str] = []
        while sum(len(p) + 1 for p in parts) < target:
            r = rng.random()
            if r < 0.35:
                parts.append(f"{rng.choice(MENTIONS)} {rng.choice(rng.choice((POSITIVE, NEGATIVE, NEUTRAL, mood)))}.")
            elif r < 0.42:
                parts.append(rng.choice(DECOYS))  # near-misses the excludes must catch
            elif r < 0.47:
                parts.append(f"See {rng.choice(URLS)}")
            else:
                parts.append(rng.choice(FILLER))
        text = " ".join(parts)[:target].rsplit(" ", 1)[0]
        published = start + timedelta(seconds=rng.randrange(60 * 86400))
        social = source in ("reddit-browsers", "mastodon-tech", "hn")
        posts.append({
            "source": source, "guid": f"{source}-{i}", "url": f"https://{source}.example.com/p/{i}",
            "author": rng.choice(AUTHORS), "title": title, "text": text,
            "published_at": iso_utc(published), "language": "en" if rng.random() < 0.5 else None,
            "score": rng.randint(0, 500) if social else None,
            "comments": rng.randint(0, 200) if social else None,
            "likes": rng.randint(0, 1000) if source == "mastodon-tech" else None,
            "shares": rng.randint(0, 100) if source == "mastodon-tech" else None,
        })
    return posts


def bench_settings(db_path: Path, model: str = "vader") -> Settings:
    return parse_settings({"store": {"path": str(db_path)}, "products": PRODUCTS, "sentiment": {"model": model}},
                          Path("bench.toml"))


def scalar(db: Any, sql: str) -> int:
    return db.execute(sql).fetchone()[0]


def verify(db: Any, n: int, what: str) -> None:
    """Fail loudly unless the DB holds exactly n posts, all classified."""
    posts = scalar(db, "SELECT count(*) FROM posts")
    done = scalar(db, "SELECT count(*) FROM posts WHERE classified_at IS NOT NULL")
    print(f"verify {what}: posts={posts} classified={done} expected={n}")
    if posts != n or done != n:
        sys.exit(f"FAILED: {what}: expected {n} posts and {n} classified, got {posts} and {done}")


def run_fast(posts: list[dict], tmp: Path, model: str) -> dict[str, float]:
    db = open_db(tmp / f"fast-{model}.db")
    try:
        settings = bench_settings(tmp / f"fast-{model}.db", model)
        t0 = time.perf_counter()
        new = sum(upsert_posts(db, posts[i:i + BATCH], now=STAMP).new for i in range(0, len(posts), BATCH))
        t1 = time.perf_counter()
        report = classify(db, settings, now=NOW)
        t2 = time.perf_counter()
        if new != len(posts) or report.classified != len(posts):
            sys.exit(f"FAILED: upsert reported {new} new, classify {report.classified}; expected {len(posts)}")
        verify(db, len(posts), f"fast path ({model})")
        print(f"  labels={dict(sorted(report.labels.items()))} mentions={report.mentions}")
    finally:
        db.close()
    return {"store": t1 - t0, "classify": t2 - t1, "total": t2 - t0}


def run_naive(posts: list[dict], tmp: Path) -> float:
    """Per post: one insert, one VADER call, product matching, one UPDATE, one commit."""
    db = open_db(tmp / "naive.db")
    try:
        settings = bench_settings(tmp / "naive.db")
        matcher = compile_products(settings.products)
        analyzer = SentimentIntensityAnalyzer()
        table = db["posts"]
        t0 = time.perf_counter()
        for p in posts:
            row = {f: p.get(f) for f in POST_FIELDS}
            row.update(fetched_at=STAMP, posted_at=p["published_at"] or STAMP,
                       content_hash=content_hash(*(p.get(f) for f in POST_FIELDS[2:])))
            post_id = table.insert(row).last_pk
            body = post_text(p["title"], p["text"])
            compound = analyzer.polarity_scores(body)["compound"]
            lang = p["language"] or detect_language(body)
            db.conn.execute(
                "UPDATE posts SET sentiment = ?, sentiment_label = ?, language = ?, classified_at = ?, "
                "classifier = ? WHERE id = ?",
                [compound, label(compound), lang, STAMP, VADER_VERSION, post_id])
            for m in match_products(body, matcher):
                db.conn.execute("INSERT INTO mentions (post_id, product, alias) VALUES (?, ?, ?)",
                                [post_id, m.product, m.alias])
            db.conn.commit()
        elapsed = time.perf_counter() - t0
        verify(db, len(posts), "naive baseline")
    finally:
        db.close()
    return elapsed


def row(posts: int, seconds: float) -> dict[str, float]:
    return {"posts": posts, "seconds": round(seconds, 4), "posts_per_s": round(posts / seconds, 1)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10,000 posts, 1,000 for the naive baseline")
    ap.add_argument("--json", type=Path, metavar="PATH", help="also write the figures as JSON")
    ap.add_argument("--posts", type=int, help="number of posts (default 100,000; 10,000 with --quick)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    n = args.posts or (10_000 if args.quick else 100_000)
    n_naive = min(n, 1_000 if args.quick else 5_000)

    print(f"generating {n:,} posts (seed {args.seed}) ...")
    posts = make_posts(n, args.seed)
    # Load the langid model (~0.7 s) and VADER lexicon once, outside every timed section.
    detect_language("warming up the language model"), vader_compound("warming up")
    with tempfile.TemporaryDirectory(prefix="listener-bench-") as tmp:
        fast = run_fast(posts, Path(tmp), "vader")
        trained = run_fast(posts, Path(tmp), "trained")
        naive = run_naive(posts[:n_naive], Path(tmp))

    # The naive loop scores with VADER, so the ratio compares it with the batched VADER path;
    # the trained model (the default) is timed on the same posts for reference.
    rows = {
        "store (fast)": row(n, fast["store"]),
        "classify (fast)": row(n, fast["classify"]),
        "end-to-end (fast)": row(n, fast["total"]),
        "classify (trained)": row(n, trained["classify"]),
        "end-to-end (trained)": row(n, trained["total"]),
        "naive end-to-end": row(n_naive, naive),
    }
    speedup = (n / fast["total"]) / (n_naive / naive)
    print()
    print(f"{'':<22}{'posts':>10}{'seconds':>12}{'posts/s':>12}")
    for name, r in rows.items():
        print(f"{name:<22}{r['posts']:>10,}{r['seconds']:>12.2f}{r['posts_per_s']:>12,.0f}")
    print(f"speedup (fast end-to-end / naive end-to-end posts/s, both VADER): {speedup:.1f}x")

    if args.json:
        figures = {
            "rows": {k.replace(" (", "_").replace(")", "").replace(" ", "_").replace("-", "_"): v
                     for k, v in rows.items()},
            "speedup": round(speedup, 2), "seed": args.seed, "quick": args.quick,
            "python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
        }
        write_atomic(args.json, json.dumps(figures, indent=2, sort_keys=True) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
