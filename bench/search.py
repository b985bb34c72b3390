"""Search benchmark: latency of 20 representative queries on a 1,000,000-post database.

Every query runs through ``listener.search.prepare`` + ``listener.search.search`` (the code
path of the CLI, the web pages and the API): first page of 50 results with the total count
and highlighted snippets. Baseline in the same run: a naive ``LIKE '%word%'`` scan with the
same page and count, on a few single-word queries, reported as a ratio.

The database (seeded text from a Zipf vocabulary, product mentions, topics, engagement) is
built once through ``listener.store`` and cached under /tmp; ``--rebuild`` forces a new one.

``--extra`` also times harder shapes outside the target set (very common words, queries of NOTs
only, low engagement steps, broad wildcards, filters alone sorted newest first), reported apart.

``--mentions`` also times product-and-sentiment queries both ways, interleaved in the same run:
the sentiment as the post's label (before per-mention sentiment) and as the mention's (now).

Run: ``python bench/search.py [--quick] [--json PATH] [--posts N] [--runs R] [--rebuild] [--extra]``
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import random
import re
import sqlite3
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import vaderSentiment

from listener import search, store
from listener.search import plan as search_plan  # RANK_DEPTH is read there
from listener.files import write_atomic
from listener.text import iso_utc
from models.classify import Classification, TopicSentiment
from models.mentions import MentionSentiment
from models.products import Mention

GENERATOR_VERSION = 4  # 3: topics saved through the store (search facets); 4: per-mention sentiment
NOW = datetime(2026, 11, 20, 12, 0, 0, tzinfo=timezone.utc)
DAYS = 180
PRODUCTS = {"Firefox": ["Firefox", "Mozilla Firefox"], "Chrome": ["Chrome", "Google Chrome"],
            "Safari": ["Safari"], "Edge": ["Microsoft Edge", "Edge"], "Brave": ["Brave browser", "Brave"]}
TOPICS = {"battery": "battery life", "support": "customer service", "pricing": "price increase",
          "security": "data breach", "performance": "slow startup", "memory": "memory leak",
          "design": "dark mode", "sync": "sync issues"}
SOURCES = ["hn", "reddit", "mastodon", "lobsters", "forum", "blog-a", "blog-b", "news"]
SITES = ["reddit.com", "news.ycombinator.com", "mastodon.social", "lobste.rs", "example.com",
         "blog.example.org", "techcrunch.com", "theverge.com"]
FUNCTION = ("the a to and of i it is in that for you this my on with but was have be not are just "
            "so at as if or can do they me all what about one from there when like get out up").split()
TECH = ("browser update version tab tabs window extension extensions page site website download bug "
        "crash crashes crashing crashed fix fixed release beta nightly settings menu profile password "
        "sync bookmark bookmarks history cache cookie cookies privacy tracking ads adblock video audio "
        "laptop phone android ios linux windows mac desktop mobile app apps store screen keyboard "
        "startup memory cpu performance speed fast slow faster slower battery power install uninstall "
        "complain complaint complaints complaining support ticket refund price pricing expensive cheap "
        "subscription sponsored ad feature features design theme dark light mode font zoom").split()


def vocabulary() -> list[str]:
    """Function words, tech words, then VADER's lexicon words (mood-bearing English), Zipf-ranked."""
    lexicon = Path(vaderSentiment.__file__).with_name("vader_lexicon.txt").read_text(encoding="utf-8")
    words = [ln.split("\t")[0] for ln in lexicon.splitlines() if ln]
    words = [w for w in words if re.fullmatch(r"[a-z]{3,}", w)]
    rng = random.Random(7)
    rng.shuffle(words)
    seen, out = set(), []
    for w in FUNCTION + TECH + words:
        if w not in seen:
            seen.add(w)
            out.append(w)
    return out


def generate(n: int, seed: int):
    """Yield batches of (post dict, products [(name, alias)], topics, sentiment)."""
    rng = random.Random(seed)
    vocab = vocabulary()
    cum, total = [], 0.0
    for rank in range(1, len(vocab) + 1):
        total += 1 / rank ** 1.05
        cum.append(total)
    start = NOW - timedelta(days=DAYS)
    batch = []
    for i in range(n):
        words = rng.choices(vocab, cum_weights=cum, k=rng.randint(18, 90))
        title = rng.choices(vocab[len(FUNCTION):], cum_weights=None, k=rng.randint(3, 8))
        mentioned, topics = [], []
        if rng.random() < 0.3:
            for name in rng.sample(list(PRODUCTS), rng.choice((1, 1, 1, 2))):
                alias = rng.choice(PRODUCTS[name])
                words.insert(rng.randrange(len(words) + 1), alias)
                if rng.random() < 0.3:
                    title.insert(0, alias)
                mentioned.append((name, alias))
        if rng.random() < 0.25:
            topic = rng.choice(list(TOPICS))
            words.insert(rng.randrange(len(words) + 1), TOPICS[topic])
            topics.append(topic)
        text = " ".join(words)
        text = ". ".join(s.capitalize() for s in re.split(r"(?<=\w) (?=the |but |so )", text)) + "."
        source = SOURCES[i % len(SOURCES)]
        site = SITES[rng.randrange(len(SITES))]
        social = source in ("hn", "reddit", "mastodon")
        published = start + timedelta(seconds=rng.randrange(DAYS * 86400))
        post = {"source": source, "guid": f"{source}-{i}",
                "url": f"https://{'www.' if rng.random() < 0.3 else ''}{site}/p/{i}",
                "author": f"user{int(rng.paretovariate(1.2)) % 20000}", "title": " ".join(title).capitalize(),
                "text": text, "published_at": iso_utc(published), "language": "en" if rng.random() < 0.9 else "de",
                "score": int(rng.lognormvariate(2, 1.5)) if social else None,
                "comments": int(rng.lognormvariate(1, 1.2)) if social else None,
                "likes": int(rng.lognormvariate(2, 1.3)) if source == "mastodon" else None,
                "shares": int(rng.lognormvariate(0.5, 1)) if source == "mastodon" else None}
        sentiment = max(-1.0, min(1.0, rng.gauss(0.05, 0.5)))
        batch.append((post, mentioned, topics, sentiment))
        if len(batch) == 5000:
            yield batch
            batch = []
    if batch:
        yield batch


def _label(s: float) -> str:
    return "positive" if s >= 0.05 else "negative" if s <= -0.05 else "neutral"


def build(path: Path, n: int, seed: int) -> None:
    """Create the benchmark database through the store: upserts (FTS triggers), classifications."""
    tmp = path.with_suffix(".partial")
    for p in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
        p.unlink(missing_ok=True)
    db = store.open_db(tmp)
    stamp = iso_utc(NOW)
    t0 = time.perf_counter()
    done = 0
    for batch in generate(n, seed):
        store.upsert_posts(db, [b[0] for b in batch], now=stamp)
        ids = dict(db.execute(f"SELECT guid, id FROM posts WHERE guid IN ({','.join('?' * len(batch))})",
                              [b[0]["guid"] for b in batch]).fetchall())
        results = []
        for post, mentioned, topics, s in batch:
            label = _label(s)
            # A comparison post: the second product named is on the other side of the post's mood.
            judged = tuple(MentionSentiment(m, a, _label(-s if i else s), -s if i else s, 0.8, "", "sentence")
                           for i, (m, a) in enumerate(mentioned))
            results.append(Classification(ids[post["guid"]], s, label, post["language"],
                                          tuple(Mention(m, a) for m, a in mentioned),
                                          tuple(TopicSentiment(t, TOPICS[t], s) for t in topics),
                                          mention_sentiment=judged))
        store.save_classifications(db, results, now=stamp, classifier="bench")
        done += len(batch)
        if done % 100_000 == 0:
            print(f"  built {done:,} posts in {time.perf_counter() - t0:.0f} s", flush=True)
    db.execute("ANALYZE")
    db.execute("INSERT INTO posts_fts (posts_fts) VALUES ('optimize')")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    tmp.rename(path)
    print(f"built {path} ({path.stat().st_size / 1e6:,.0f} MB) in {time.perf_counter() - t0:.0f} s")


D1 = (NOW - timedelta(days=30)).date().isoformat()
D2 = (NOW - timedelta(days=15)).date().isoformat()
QUERIES = [  # (query, sort)
    ("firefox", "relevance"),
    ('"battery life"', "relevance"),
    ("complain*", "relevance"),
    ("firefox AND crash*", "relevance"),
    ('(firefox OR chrome) AND "memory leak"', "relevance"),
    ("crash NEAR/5 firefox", "relevance"),
    ("crash NEAR/5f firefox", "relevance"),
    ('"slow startup"~4 -safari', "relevance"),
    ("product:Firefox sentiment:negative", "date"),
    ('product:Chrome "customer service"', "relevance"),
    ("site:reddit.com update", "date"),
    ("source:hn firefox -chrome", "relevance"),
    ("title:update extension", "relevance"),
    ("lang:de browser", "date"),
    ('topic:security product:Safari', "date"),
    (f"published:[{D1} TO {D2}] firefox", "date"),
    ("engagement:[100 TO *] product:Firefox", "engagement"),
    ("author:user42 OR author:user7", "date"),
    ("(price OR pricing OR expensive) AND NOT (ad OR sponsored)", "relevance"),
    ("love* AND sentiment:positive <<<happy users>>>", "date"),
]
EXTRA = [  # harder shapes, reported apart from the 20 (--extra)
    ("firefox engagement:[10 TO *]", "relevance"),
    ("firefox engagement:[10 TO *]", "date"),
    ("firefox engagement:[7 TO *]", "relevance"),   # not a step: checked on the posts rows
    ("sentiment:negative", "date"),
    ("lang:en", "engagement"),
    ("-firefox", "date"),
    ("NOT lang:en", "date"),
    ("the", "relevance"),
    ("the", "date"),
    ("st*", "relevance"),
    ("battery NEAR/10f life", "relevance"),
    ("the NEAR/3f browser", "relevance"),
]
BASELINE = ["firefox", "battery", "refund"]
MENTION_QUERIES = [  # product:X sentiment:S: the post's label before, the mention's now (--mentions)
    ("product:Firefox sentiment:negative", "date"),
    ("product:Chrome sentiment:positive firefox", "relevance"),
    ("(product:Safari OR product:Brave) sentiment:negative", "date"),
    ("product:Edge -sentiment:negative update", "relevance"),
]


def time_mentions(db, runs: int) -> list[dict]:
    """Each of MENTION_QUERIES with sentiment as the post's label and as the mention's, interleaved."""
    from listener.search import compiler

    about = compiler.about_products
    out = []
    for query, sort in MENTION_QUERIES:
        post, mention = [], []
        for _ in range(runs + 1):  # the first of each is a warm-up
            compiler.about_products = lambda tree, products=(): tree
            try:
                ms, post_total, _ = run_query(db, query, sort)
            finally:
                compiler.about_products = about
            post.append(ms)
            ms, mention_total, _ = run_query(db, query, sort)
            mention.append(ms)
        a, b = statistics.median(post[1:]), statistics.median(mention[1:])
        out.append({"query": query, "sort": sort, "post_total": post_total, "mention_total": mention_total,
                    "post_p50_ms": round(a, 2), "mention_p50_ms": round(b, 2), "ratio": round(b / a, 2)})
    return out


def percentile(values: list[float], p: float) -> float:
    s = sorted(values)
    k = max(0, math.ceil(p / 100 * len(s)) - 1)
    return s[k]


def run_query(db, query: str, sort: str) -> tuple[float, int, int]:
    t0 = time.perf_counter()
    plan = search.prepare(db, query, sort=sort)
    page = search.search(db, plan, limit=50)
    return (time.perf_counter() - t0) * 1000, page.total, len(page.hits)


def run_naive(db, word: str) -> tuple[float, int]:
    t0 = time.perf_counter()
    like = f"%{word}%"
    db.execute("SELECT id, title, text, posted_at FROM posts WHERE title LIKE ? OR text LIKE ? "
               "ORDER BY posted_at DESC LIMIT 50", [like, like]).fetchall()
    total = db.execute("SELECT count(*) FROM posts WHERE title LIKE ? OR text LIKE ?", [like, like]).fetchone()[0]
    return (time.perf_counter() - t0) * 1000, total


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="100,000 posts instead of 1,000,000")
    ap.add_argument("--posts", type=int)
    ap.add_argument("--runs", type=int, default=7, help="timed runs per query (after one warm-up)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rebuild", action="store_true")
    ap.add_argument("--json", type=Path, metavar="PATH")
    ap.add_argument("--extra", action="store_true", help="also time harder shapes, reported apart")
    ap.add_argument("--mentions", action="store_true",
                    help="also time product:X sentiment:S as the post's label vs the mention's, same run")
    ap.add_argument("--rank-all", action="store_true",
                    help=f"rank every match by relevance (default: the newest {search_plan.RANK_DEPTH:,})")
    args = ap.parse_args(argv)
    if args.rank_all:
        search_plan.RANK_DEPTH = 10 ** 12
    n = args.posts or (100_000 if args.quick else 1_000_000)
    path = Path(f"/tmp/listener-bench-search-v{GENERATOR_VERSION}-{n}-{args.seed}.db")
    if args.rebuild or not path.exists():
        print(f"building {n:,} posts (seed {args.seed}) -> {path}")
        build(path, n, args.seed)
    db = store.open_db(path)
    posts = store.count_posts(db)
    print(f"database: {path} ({posts:,} posts)")

    def time_queries(queries: list[tuple[str, str]], runs: int) -> tuple[list[dict], list[float]]:
        rows, every = [], []
        for query, sort in queries:
            run_query(db, query, sort)  # warm-up: page cache, statement cache
            times = []
            for _ in range(runs):
                ms, total, shown = run_query(db, query, sort)
                times.append(ms)
            every += times
            rows.append({"query": query, "sort": sort, "total": total, "page": shown,
                         "p50_ms": round(statistics.median(times), 2), "p95_ms": round(percentile(times, 95), 2)})
        return rows, every

    rows, all_ms = time_queries(QUERIES, args.runs)
    extra = time_queries(EXTRA, max(3, args.runs // 2))[0] if args.extra else []
    mentions = time_mentions(db, max(args.runs, 15)) if args.mentions else []
    base = []
    for word in BASELINE:
        run_naive(db, word)
        naive = [run_naive(db, word) for _ in range(max(2, args.runs // 2))]
        ours = [run_query(db, word, "date") for _ in range(args.runs)]
        base.append({"query": word, "naive_total": naive[0][1], "ours_total": ours[0][1],
                     "naive_p50_ms": round(statistics.median(t for t, _ in naive), 2),
                     "ours_p50_ms": round(statistics.median(t for t, _, _ in ours), 2)})
    db.close()

    print(f"\n{'query':<62}{'sort':>11}{'total':>10}{'p50 ms':>9}{'p95 ms':>9}")
    for r in rows:
        print(f"{r['query'][:61]:<62}{r['sort']:>11}{r['total']:>10,}{r['p50_ms']:>9.1f}{r['p95_ms']:>9.1f}")
    p50, p95 = statistics.median(all_ms), percentile(all_ms, 95)
    print(f"{'all queries':<62}{'':>11}{'':>10}{p50:>9.1f}{p95:>9.1f}")
    print(f"target p95 <= 50 ms: {'met' if p95 <= 50 else 'NOT met'}")
    if extra:
        print("\nharder shapes, not in the target set:")
        for r in extra:
            print(f"{r['query'][:61]:<62}{r['sort']:>11}{r['total']:>10,}{r['p50_ms']:>9.1f}{r['p95_ms']:>9.1f}")
    if mentions:
        print("\nproduct:X sentiment:S, the post's label (before) vs the mention's (now), interleaved:")
        print(f"{'query':<55}{'sort':>10}{'hits before':>12}{'now':>7}{'p50 before':>11}{'now':>7}{'ratio':>7}")
        for m in mentions:
            print(f"{m['query']:<55}{m['sort']:>10}{m['post_total']:>12,}{m['mention_total']:>7,}"
                  f"{m['post_p50_ms']:>11.1f}{m['mention_p50_ms']:>7.1f}{m['ratio']:>7.2f}")
    print("\nbaseline (naive LIKE scan, newest first, same page and count) vs listener, sorted by date:")
    print(f"{'word':<12}{'naive total':>12}{'fts total':>10}{'naive p50':>11}{'ours p50':>10}{'ratio':>8}")
    for b in base:
        b["ratio"] = round(b["naive_p50_ms"] / max(b["ours_p50_ms"], 0.01), 1)
        print(f"{b['query']:<12}{b['naive_total']:>12,}{b['ours_total']:>10,}{b['naive_p50_ms']:>11.1f}"
              f"{b['ours_p50_ms']:>10.1f}{b['ratio']:>7.1f}x")
    print("(LIKE '%word%' also matches inside longer words; FTS matches words and their Porter stems)")
    if args.json:
        figures = {"posts": posts, "runs": args.runs, "rank_depth": search_plan.RANK_DEPTH, "queries": rows,
                   "extra": extra, "mentions": mentions,
                   "p50_ms": round(p50, 2),
                   "p95_ms": round(p95, 2), "baseline": base, "seed": args.seed,
                   "python": platform.python_version(), "sqlite": sqlite3.sqlite_version}
        write_atomic(args.json, json.dumps(figures, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
