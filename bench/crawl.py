"""Crawl benchmark: posts/s end to end (HTTP, Scrapy child, JSON lines, SQLite) and peak memory.

A loopback ``ReplayServer`` serves N synthetic posts as Hacker News Algolia
``search_by_date`` pages of 100 hits (the ``hackernews`` spider, paging to the
end), and ``listener.pipeline.collect`` stores them in a fresh database. In the
same run, the baseline is the feed path: the ``feed`` spider fetching one Atom
feed of ``--feed-posts`` entries (feedparser), also into a fresh database.
Peak memory is the maximum resident set of the crawler child (the largest
child waited for) and of this process (which also holds the served pages).

Run: ``python bench/crawl.py [--quick] [--json PATH] [--posts N] [--feed-posts N]``
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import resource
import sys
import tempfile
import time
from datetime import datetime, timezone
from html import escape
from pathlib import Path
from typing import Any

from listener import pipeline, store
from listener.config import parse_settings
from listener.files import write_atomic
from listener.replay import ReplayServer

NOW = datetime(2026, 11, 23, 6, 0, 0, tzinfo=timezone.utc)
PER_PAGE = 100
WORDS = ("firefox chrome safari edge browser tab memory extension sync update fast slow crash "
         "privacy battery bookmark render font page window").split()
QUERY = "/api/search_by_date?query=browser&tags=%28story%2Ccomment%29&hitsPerPage=100&page="


def sentence(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 30))).capitalize() + "."


def hn_pages(n: int, seed: int) -> list[bytes]:
    """Algolia-shaped pages of ``PER_PAGE`` hits, newest first, ids and times descending."""
    rng = random.Random(seed)
    pages = -(-n // PER_PAGE)
    start = int(NOW.timestamp())
    out = []
    for p in range(pages):
        hits = []
        for i in range(p * PER_PAGE, min(n, (p + 1) * PER_PAGE)):
            oid = 40_000_000 - i
            hits.append({"objectID": str(oid), "created_at_i": start - i * 30, "author": f"user{i % 997}",
                         "title": None, "story_title": "Browsers in 2026", "points": None,
                         "num_comments": None, "comment_text": f"<p>{escape(sentence(rng))}</p>",
                         "_tags": ["comment", f"story_{oid}"]})
        out.append(json.dumps({"hits": hits, "page": p, "nbPages": pages, "hitsPerPage": PER_PAGE}).encode())
    return out


def atom_feed(n: int, seed: int) -> bytes:
    rng = random.Random(seed)
    parts = ['<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">',
             "<title>bench</title><id>urn:bench</id><updated>2026-11-23T00:00:00Z</updated>"]
    for i in range(n):
        parts.append(f"<entry><id>urn:bench:{i}</id><title>Post {i}</title>"
                     f'<link href="https://example.org/p/{i}"/><author><name>user{i % 997}</name></author>'
                     f"<updated>2026-11-2{i % 3}T00:00:00Z</updated>"
                     f'<content type="html">{escape("<p>" + sentence(rng) + "</p>")}</content></entry>')
    parts.append("</feed>")
    return "".join(parts).encode()


def settings_for(tmp: Path, name: str, source: str, pages: int):
    text = (f'[store]\npath = "{name}.db"\n[collect]\ntimeout = 30\nretries = 0\nconcurrency = 4\n'
            f'max_pages = {pages + 1}\nmax_age = "10000d"\ncrawl_timeout = 1800\n{source}')
    return parse_settings(__import__("tomllib").loads(text), tmp / f"{name}.toml")


def timed_collect(settings: Any, expect: int) -> float:
    db = store.open_db(settings.db_path)
    t0 = time.perf_counter()
    report = pipeline.collect(db, settings, now=NOW, environ={})
    seconds = time.perf_counter() - t0
    if report.failed or store.count_posts(db) != expect:
        sys.exit(f"benchmark crawl went wrong: {[o.error for o in report.failed]}, "
                 f"{store.count_posts(db)} posts stored, {expect} expected")
    db.close()
    return seconds


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="5,000 paged posts and a 500-entry feed")
    ap.add_argument("--posts", type=int, default=50_000)
    ap.add_argument("--feed-posts", type=int, default=5_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--json", type=Path, help="also write the figures here as JSON")
    args = ap.parse_args(argv)
    n, nf = (5_000, 500) if args.quick else (args.posts, args.feed_posts)

    pages = hn_pages(n, args.seed)
    with tempfile.TemporaryDirectory() as tmp_name, ReplayServer() as server:
        tmp = Path(tmp_name)
        for i, body in enumerate(pages):
            server.add(QUERY + str(i), body, headers={"Content-Type": "application/json; charset=utf-8"})
        server.add(QUERY + str(len(pages)), b'{"hits": [], "page": 0, "nbPages": 0}',
                   headers={"Content-Type": "application/json"})
        server.add("/feed.xml", atom_feed(nf, args.seed), headers={"Content-Type": "application/atom+xml"})

        hn = settings_for(tmp, "paged", f'[[sources]]\nname = "hn"\ntype = "hackernews"\n'
                                        f'url = "{server.url("/api")}"\nquery = "browser"\n', len(pages))
        paged_s = timed_collect(hn, n)
        paged_child_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        feed = settings_for(tmp, "feed", f'[[sources]]\nname = "feed"\nurl = "{server.url("/feed.xml")}"\n', 1)
        feed_s = timed_collect(feed, nf)
        child_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    paged_rate, feed_rate = n / paged_s, nf / feed_s
    figures = {
        "machine": platform.platform(), "python": platform.python_version(), "seed": args.seed,
        "paged_json": {"posts": n, "pages": len(pages), "seconds": round(paged_s, 2),
                       "posts_per_s": round(paged_rate), "pages_per_s": round(len(pages) / paged_s, 1),
                       "peak_child_rss_mb": round(paged_child_kb / 1024, 1)},
        "feed_baseline": {"posts": nf, "seconds": round(feed_s, 2), "posts_per_s": round(feed_rate)},
        "ratio_paged_to_feed": round(paged_rate / feed_rate, 2),
        "peak_child_rss_mb": round(child_kb / 1024, 1),
        "peak_parent_rss_mb": round(self_kb / 1024, 1),
    }
    print(f"{'path':<34} {'posts':>8} {'seconds':>8} {'posts/s':>8}")
    print(f"{'paged JSON (hackernews spider)':<34} {n:>8,} {paged_s:>8.2f} {paged_rate:>8,.0f}")
    print(f"{'one Atom feed (feed spider)':<34} {nf:>8,} {feed_s:>8.2f} {feed_rate:>8,.0f}")
    print(f"paged / feed posts/s: {figures['ratio_paged_to_feed']}x; {len(pages)} pages at "
          f"{figures['paged_json']['pages_per_s']} pages/s")
    print(f"peak RSS: crawler child {figures['paged_json']['peak_child_rss_mb']} MB (paged run), "
          f"{figures['peak_child_rss_mb']} MB (any child); parent {figures['peak_parent_rss_mb']} MB "
          "(includes the served pages)")
    if args.json:
        write_atomic(args.json, json.dumps(figures, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
