"""Web forums: one spider driven by CSS selectors (presets in ``spiders.forum_presets``).

HTML engines: the board page lists threads; threads last active since the
high-water mark (and within ``max_age``) are fetched, each following its
next-page link up to ``max_pages``; the board's own next page is followed while
it still lists such threads. Discourse: ``latest.json`` (or a category's
``.json``) lists topics, ``/t/ID/posts.json`` gives their posts.

Forum dates have minute resolution, so a post stamped with the mark's own
minute is fetched again (and stored once). One failed thread does not stop the
others; the source's one ``FetchResult`` names the first failure.
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator
from urllib.parse import urlsplit

import scrapy
from parsel import Selector, SelectorList
from scrapy.http import Response

from listener.text import canonical_url, content_hash, html_to_text, iso_utc, parse_iso
from spiders.feed import describe_failure, failure_status
from spiders.forumdates import parse_forum_date
from spiders.items import FetchResult, PostItem
from spiders.paged import PagedSpider, PageError, SourceRun, as_int, json_list

HTML_ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"


class ForumSpider(PagedSpider):
    name = "forum"
    api = False  # web pages: robots.txt applies

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.pending: dict[str, int] = {}
        self.errors: dict[str, list[str]] = {}
        self.last_status: dict[str, int | None] = {}

    # --- bookkeeping: one FetchResult when the last request of a source is done ---

    def begin(self, run: SourceRun) -> Iterable[scrapy.Request]:
        self.pending[run.name], self.errors[run.name] = 0, []
        yield self.follow(run, self.board_url(run), self.on_board, board=True)

    def follow(self, run: SourceRun, url: str, callback: Any, **meta: Any) -> scrapy.Request:
        self.pending[run.name] += 1
        accept = "application/json" if self.discourse(run) else HTML_ACCEPT
        return self.request(run, url, callback, meta=meta, headers={"Accept": accept})

    def settle(self, run: SourceRun, status: int | None) -> Iterator[FetchResult]:
        self.pending[run.name] -= 1
        self.last_status[run.name] = status if self.last_status.get(run.name) is None else self.last_status[run.name]
        if self.pending[run.name] == 0 and not run.done:
            errors = self.errors[run.name]
            error = None
            if errors:
                error = errors[0] + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else "")
            yield self.finish(run, self.last_status[run.name], error)

    def problem(self, run: SourceRun, where: str, message: str) -> None:
        self.errors[run.name].append(f"{where}: {message}")

    def failed(self, failure: Any) -> Iterator[FetchResult]:
        request = failure.request
        run = self.runs[request.meta["source"]]
        status = failure_status(failure)
        what = "board" if request.meta.get("board") else f"thread {request.url}"
        self.problem(run, what, describe_failure(failure.value, request, self.settings))
        if request.meta.get("board"):
            self.last_status[run.name] = status  # a 404/410 on the board is the source's status
        yield from self.settle(run, status)

    # --- helpers -------------------------------------------------------------------

    def discourse(self, run: SourceRun) -> bool:
        return run.options.get("preset") == "discourse"

    def board_url(self, run: SourceRun) -> str:
        url = run.source["url"]
        if not self.discourse(run) or url.endswith(".json"):
            return url
        return url + ("/latest.json" if urlsplit(url).path in ("", "/") else ".json")

    def is_new(self, run: SourceRun, when: str | None) -> bool:
        """Whether something dated ``when`` may hold posts we have not stored (None: can't tell)."""
        if when is None:
            return True
        mark, not_before = run.source.get("high_water"), run.source.get("not_before")
        return not (mark and when < mark) and not (not_before and when < not_before)

    def date(self, run: SourceRun, text: str | None) -> str | None:
        return parse_forum_date(text, run.options["timezone"], self.now)

    def keep(self, run: SourceRun, item: PostItem) -> Iterator[PostItem]:
        if self.is_new(run, item.published_at):
            if item.published_at:
                run.newest = max(run.newest or item.published_at, item.published_at)
            run.entries += 1
            yield item

    # --- HTML engines ------------------------------------------------------------------

    def on_board(self, response: Response) -> Iterator[Any]:
        run = self.runs[response.meta["source"]]
        self.last_status[run.name] = response.status
        if self.discourse(run):
            yield from self.discourse_board(response, run)
        else:
            yield from self.html_board(response, run)
        yield from self.settle(run, response.status)

    def html_board(self, response: Response, run: SourceRun) -> Iterator[Any]:
        sel = run.options["selectors"]
        run.pages += 1  # board pages (PagedSpider.on_page, which counts API pages, is not used here)
        rows = response.css(sel["thread"]) if _is_html(response) else SelectorList([])
        if not rows:
            self.problem(run, "board", f"no threads found (selector {sel['thread']!r} matched nothing): "
                                       "an error page, a login wall or another forum engine?")
            return
        taken = 0
        for row in rows:
            link = _text(row, sel["thread_link"])
            if not link:
                continue
            when = self.date(run, _text(row, sel["thread_date"])) if sel.get("thread_date") else None
            if not self.is_new(run, when):
                continue
            taken += 1
            title = _text(row, sel["thread_link"].split("::")[0]) or None
            yield self.follow(run, response.urljoin(link), self.on_thread, title=title, page=1)
        more = _text(response, sel["next_page"]) if sel.get("next_page") else None
        if taken and more and run.pages < run.source.get("max_pages", 1):
            yield self.follow(run, response.urljoin(more), self.on_board, board=True)

    def on_thread(self, response: Response) -> Iterator[Any]:
        run = self.runs[response.meta["source"]]
        sel = run.options["selectors"]
        posts = response.css(sel["post"]) if _is_html(response) else SelectorList([])
        if not posts:
            self.problem(run, f"thread {response.url}", f"no posts found (selector {sel['post']!r} matched "
                                                          "nothing): an error page or a login wall?")
        for post in posts:
            item = self.html_post(response, run, post)
            if item:
                yield from self.keep(run, item)
        more = _text(response, sel["next_page"]) if sel.get("next_page") else None
        page = response.meta.get("page", 1)
        if posts and more and page < run.source.get("max_pages", 1):
            yield self.follow(run, response.urljoin(more), self.on_thread, title=response.meta.get("title"),
                              page=page + 1)
        yield from self.settle(run, response.status)

    def html_post(self, response: Response, run: SourceRun, post: Selector) -> PostItem | None:
        sel = run.options["selectors"]
        body_nodes = post.css(sel["body"])
        text = html_to_text(" ".join(body_nodes.getall()))
        pid = _attr_or_text(post, sel.get("post_id") or "::attr(id)")
        if not pid and not text:
            return None
        anchor = pid or ""
        return PostItem(
            source=run.name, guid=pid or content_hash(response.url, text),
            url=canonical_url(response.url) + (f"#{anchor}" if anchor else ""),
            author=(_text(post, sel["author"]) or None) if sel.get("author") else None,
            title=response.meta.get("title"), text=text,
            published_at=self.date(run, _text(post, sel["date"])),
        )

    # --- Discourse ---------------------------------------------------------------------

    def discourse_board(self, response: Response, run: SourceRun) -> Iterator[Any]:
        try:
            _, topics = json_list(response, ("topic_list", "topics"), "a Discourse topic list")
        except PageError as exc:
            self.problem(run, "board", str(exc))
            return
        site = _site(run.source["url"])
        for t in topics:
            if not isinstance(t, dict) or not str(t.get("id", "")).isdigit():
                continue
            when = iso_utc(parse_iso(t.get("last_posted_at") or t.get("bumped_at")))
            if self.is_new(run, when):
                yield self.follow(run, f"{site}/t/{t['id']}/posts.json", self.on_topic, title=t.get("title"))

    def on_topic(self, response: Response) -> Iterator[Any]:
        run = self.runs[response.meta["source"]]
        try:
            _, posts = json_list(response, ("post_stream", "posts"), "a Discourse topic's posts")
        except PageError as exc:
            self.problem(run, f"topic {response.url}", str(exc))
            posts = []
        site = _site(run.source["url"])
        for p in posts:
            if isinstance(p, dict) and p.get("id") is not None:
                yield from self.keep(run, discourse_item(p, run.name, site, response.meta.get("title")))
        yield from self.settle(run, response.status)


def discourse_item(p: dict, source: str, site: str, title: str | None) -> PostItem:
    """A post from one entry of Discourse's ``post_stream.posts``."""
    likes = next((as_int(a.get("count")) for a in p.get("actions_summary") or []
                  if isinstance(a, dict) and str(a.get("id")) == "2"), None)
    path = p.get("post_url") or f"/t/{p.get('topic_slug')}/{p.get('topic_id')}/{p.get('post_number')}"
    return PostItem(
        source=source, guid=str(p["id"]), url=canonical_url(site + path), author=p.get("username"),
        title=title, text=html_to_text(p.get("cooked")), published_at=iso_utc(parse_iso(p.get("created_at"))),
        comments=as_int(p.get("reply_count")), likes=likes,
    )


def _site(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _is_html(response: Response) -> bool:
    return hasattr(response, "css")


def _text(sel: Selector | SelectorList | Response, css: str) -> str:
    """Text for a selector: joined ``::text``/``::attr`` values, else the elements' whole text."""
    nodes = sel.css(css)
    if "::" in css:
        return " ".join(v.strip() for v in nodes.getall() if v.strip())
    return " ".join(" ".join(n.xpath("string()").get("").split()) for n in nodes).strip()


def _attr_or_text(post: Selector, css: str) -> str:
    """``::attr(name)`` alone reads the post element's own attribute."""
    if css.startswith("::attr(") and css.endswith(")"):
        return post.attrib.get(css[7:-1], "")
    return _text(post, css)
