"""Crawl benchmark: posts/s end to end (HTTP, Scrapy child, JSON lines, SQLite) and peak memory.

A loopback ``ReplayServer`` serves N synthetic posts as Hacker News Algolia
``search_by_date`` pages of 100 hits (the ``hackernews`` spider, paging to the
end), and ``listener.pipeline.collect`` stores them in a fresh database. In the
same run, the baseline is the feed path: the ``feed`` spider fetching one Atom
feed of ``--feed-posts`` entries (feedparser), also into a fresh database.
Peak memory is the maximum resident set of the crawler child (the largest
child waited for) and of this process (which also holds the served pages).

The forum case: a phpBB 3 board (prosilver markup) of ``--forum-threads`` threads of
``--forum-pages`` pages of 5 posts (5 x 200 x 5 = 5,000 posts), served on the same
loopback server, collected by the ``forum`` spider (the engine recognised from the
page) with ``max_pages`` large enough to read every page on the first run; then two
threads get three new replies on a new last page and a second run collects them. The
figures are the requests of each run, the second run's requests per new reply, and
both runs' times.

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


FORUM_PER_PAGE = 5
FORUM_START = datetime(2026, 1, 1, tzinfo=timezone.utc)


def phpbb_date(minutes: int) -> str:
    t = datetime.fromtimestamp(FORUM_START.timestamp() + minutes * 60, tz=timezone.utc)
    return t.strftime("%a %b %d, %Y ") + f"{t.hour % 12 or 12}:{t.minute:02d} {'am' if t.hour < 12 else 'pm'}"


def phpbb_pagination(topic: int, page: int, last: int) -> str:
    """prosilver's page list: first, previous, current, next, last (top and bottom of each page)."""
    def link(n: int, label: str = "", rel: str = "") -> str:
        start = f"&amp;start={(n - 1) * FORUM_PER_PAGE}" if n > 1 else ""
        return (f'<li><a class="button" href="./viewtopic.php?f=2&amp;t={topic}{start}&amp;sid=0f1e2d3c"'
                f'{f" rel={rel!r}" if rel else ""} role="button">{label or n}</a></li>')
    items = [link(n) for n in sorted({1, page - 1, page + 1, last} - {page}) if 1 <= n <= last]
    items.insert(sum(1 for n in {1, page - 1} if 1 <= n < page), f'<li class="active"><span>{page}</span></li>')
    if page < last:
        items.append(link(page + 1, "Next", "next"))
    return f'<div class="pagination">{last * FORUM_PER_PAGE} posts &bull; <ul>{"".join(items)}</ul></div>'


def phpbb_topic_page(topic: int, page: int, last: int, posts: list[tuple[int, str, int, str]]) -> bytes:
    """One viewtopic page: posts (id, author, minute, text), pagination at the top and bottom."""
    nav = phpbb_pagination(topic, page, last)
    body = "".join(
        f'<div id="p{pid}" class="post has-profile bg{1 + pid % 2}"><div class="inner">'
        f'<dl class="postprofile" id="profile{pid}"><dt><a href="./memberlist.php?mode=viewprofile&amp;u=3" '
        f'class="username">{who}</a></dt></dl><div class="postbody"><div id="post_content{pid}">'
        f'<h3><a href="#p{pid}">Re: Browser thread {topic}</a></h3><p class="author"><span class="responsive-hide">'
        f'by <strong><a href="./memberlist.php?mode=viewprofile&amp;u=3" class="username">{who}</a></strong> '
        f'&raquo; </span>{phpbb_date(minute)} </p><div class="content">{escape(text)}</div></div></div></div></div>'
        for pid, who, minute, text in posts)
    return (f'<!DOCTYPE html><html dir="ltr" lang="en-gb"><head><meta charset="utf-8" /><title>Browser thread '
            f'{topic} - Bench Board</title></head><body id="phpbb" class="section-viewtopic ltr"><div id="wrap">'
            f'<div class="action-bar bar-top">{nav}</div>{body}<div class="action-bar bar-bottom">{nav}</div>'
            '</div></body></html>').encode()


def phpbb_board(threads: dict[int, tuple[int, int]]) -> bytes:
    """viewforum: a row per thread (last page, minute of its last post), newest first, with page links."""
    rows = []
    for topic, (last, minute) in sorted(threads.items(), key=lambda kv: -kv[1][1]):
        pages = "".join(f'<li><a class="button" href="./viewtopic.php?f=2&amp;t={topic}'
                        f'{f"&amp;start={(n - 1) * FORUM_PER_PAGE}" if n > 1 else ""}&amp;sid=0f1e2d3c">{n}</a></li>'
                        for n in (1, 2, 3, last - 1, last))
        rows.append(f'<li class="row bg1"><dl class="row-item topic_read"><dt><div class="list-inner">'
                    f'<a href="./viewtopic.php?f=2&amp;t={topic}&amp;sid=0f1e2d3c" class="topictitle">Browser thread '
                    f'{topic}</a><div class="pagination"><ul>{pages}</ul></div></div></dt>'
                    f'<dd class="posts">{last * FORUM_PER_PAGE}</dd><dd class="lastpost"><span>by bench '
                    f'&raquo; {phpbb_date(minute)}</span></dd></dl></li>')
    return ('<!DOCTYPE html><html dir="ltr" lang="en-gb"><head><meta charset="utf-8" /><title>Browsers - Bench '
            'Board</title></head><body id="phpbb" class="section-viewforum ltr"><div id="wrap"><div class="forumbg">'
            f'<ul class="topiclist topics">{"".join(rows)}</ul></div></div></body></html>').encode()


def forum_case(server: ReplayServer, tmp: Path, n_threads: int, n_pages: int, seed: int) -> dict[str, Any]:
    """Collect the board twice: everything, then three new replies; requests and seconds of each run."""
    rng = random.Random(seed)
    topics = list(range(101, 101 + n_threads))
    last_minute: dict[int, int] = {}
    total = 0

    def serve_page(topic: int, page: int, last: int, posts: list[tuple[int, str, int, str]]) -> None:
        start = f"&start={(page - 1) * FORUM_PER_PAGE}" if page > 1 else ""
        server.add(f"/viewtopic.php?f=2&t={topic}{start}", phpbb_topic_page(topic, page, last, posts),
                   headers={"Content-Type": "text/html; charset=utf-8"})

    for k, topic in enumerate(topics):
        for page in range(1, n_pages + 1):
            posts = []
            for j in range(FORUM_PER_PAGE):
                index = (page - 1) * FORUM_PER_PAGE + j
                minute = index * n_threads + k
                posts.append((topic * 100_000 + index, f"user{rng.randrange(997)}", minute, sentence(rng)))
                last_minute[topic] = minute
            total += len(posts)
            serve_page(topic, page, n_pages, posts)
    server.add("/viewforum.php?f=2", phpbb_board({t: (n_pages, last_minute[t]) for t in topics}),
               headers={"Content-Type": "text/html; charset=utf-8"})
    settings = settings_for(tmp, "forum", f'[[sources]]\nname = "board"\ntype = "forum"\n'
                                          f'url = "{server.url("/viewforum.php?f=2")}"\n', n_pages + 50)
    before = len(server.log)
    first_s = timed_collect(settings, total)
    first_requests = len(server.log) - before

    # three new replies on a new last page: two in the thread with the newest post, one in another
    newest = max(topics, key=lambda t: last_minute[t])
    other = topics[0] if topics[0] != newest else topics[1]
    minute = max(last_minute.values())
    new_pages = {newest: [], other: []}
    for topic, count in ((newest, 2), (other, 1)):
        for j in range(count):
            minute += 1
            new_pages[topic].append((topic * 100_000 + n_pages * FORUM_PER_PAGE + j, "newcomer", minute, sentence(rng)))
        last_minute[topic] = minute
        serve_page(topic, n_pages + 1, n_pages + 1, new_pages[topic])
    server.add("/viewforum.php?f=2", phpbb_board({t: (n_pages + (1 if t in new_pages else 0), last_minute[t])
                                                   for t in topics}),
               headers={"Content-Type": "text/html; charset=utf-8"})
    before = len(server.log)
    second_s = timed_collect(settings, total + 3)
    second_requests = len(server.log) - before
    return {"threads": n_threads, "pages_per_thread": n_pages, "posts": total, "first_run_seconds": round(first_s, 2),
            "first_run_requests": first_requests, "new_replies": 3, "second_run_seconds": round(second_s, 2),
            "second_run_requests": second_requests, "requests_per_new_reply": round(second_requests / 3, 2)}


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
    ap.add_argument("--forum-threads", type=int, default=5)
    ap.add_argument("--forum-pages", type=int, default=200)
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
        forum = forum_case(server, tmp, args.forum_threads, args.forum_pages, args.seed)
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
        "forum": forum,
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
    print(f"forum: {forum['posts']:,} posts in {forum['threads']} threads of {forum['pages_per_thread']} pages: "
          f"first run {forum['first_run_requests']} requests in {forum['first_run_seconds']} s; "
          f"{forum['new_replies']} new replies: {forum['second_run_requests']} requests "
          f"({forum['requests_per_new_reply']} per new reply) in {forum['second_run_seconds']} s")
    if args.json:
        write_atomic(args.json, json.dumps(figures, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
