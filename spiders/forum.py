"""Web forums: one spider for many engines, driven by CSS selectors (``spiders.forum_presets``).

HTML engines: the board page (or a single thread) is fetched; the engine is the
source's ``preset`` or recognised from the page (``spiders.forumdetect``); a forum
no preset fits is read by its structure (``spiders.forumgeneric``). Threads last
active since the mark (and within ``max_age``) are read from their last page
backwards (the board row's last-page link, else its last-post link, else page 1
and then its last page), until a page holds a post older than the mark or
``max_pages`` pages were read, so new replies at the end of a 200-page thread
cost one or two requests. A thread's mark is its last post read (kept in the
source's session) when that is newer than the source's. The board's own next
page is followed while its last row is still new. Session ids are stripped from
every URL requested and stored, and each URL is requested once per run.

JSON APIs: Discourse (``latest.json`` or a category's ``.json``; ``/t/ID.json``
gives a topic's first posts and ``post_stream.stream``, every post id; the newest
ids not loaded are fetched 20 at a time with ``/t/ID/posts.json?post_ids[]=``,
newest first, until a post older than the mark), Flarum (``/api/discussions``,
a discussion's post ids, ``/api/posts?filter[id]=``) and NodeBB (``/api/recent``,
``/api/topic/ID?page=N`` from the last page backwards).

Forum dates have minute resolution, so a post stamped with the mark's own
minute is fetched again (and stored once). One failed thread does not stop the
others; every failure is kept, one line each naming its URL, in the source's one
``FetchResult``; a post without a date or text is never stored.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from typing import Any, Iterable, Iterator
from urllib.parse import urlencode, urlsplit

import scrapy
from parsel import Selector, SelectorList
from scrapy.http import HtmlResponse, JsonResponse, Response, TextResponse

from listener.text import canonical_url, html_to_text, iso_utc, parse_iso
from spiders.feed import describe_failure, failure_status
from spiders.forum_presets import API_ENGINES, PRESETS, REQUIRED_SELECTORS, SESSION_PARAMS, selectors_for
from spiders.forumdates import parse_forum_date
from spiders.forumdetect import detect_engine, page_title, page_trouble
from spiders.forumgeneric import find_posts, find_thread_links
from spiders.forumurls import page_number, same_thread, strip_session, thread_key
from spiders.items import FetchResult, PostItem
from spiders.paged import PagedSpider, PageError, SourceRun, as_int, json_list, read_json

# Links a board row gives to a thread's newest post, answered with a redirect to its last page.
_LASTPOST_RE = re.compile(r"goto=lastpost|action=lastpost|/latest/?$|do=getLastComment|goto=newpost|view=unread|"
                          r"action=getlastpost", re.I)
_DISCOURSE_TOPIC_RE = re.compile(r"^/t/(?:[^/]+/)?(\d+)(?:/\d+)?/?$")
HTML_ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"
CUSTOM = "custom"  # no preset, every selector given
GENERIC = "generic"  # no preset fits: spiders.forumgeneric reads the page's structure
DISCOURSE_CHUNK = 20  # post ids per posts.json request (Discourse's own page size)
MAX_THREAD_MARKS = 2000  # threads whose last read post is remembered (the most recently active)


class ForumSpider(PagedSpider):
    name = "forum"
    api = False  # web pages: robots.txt applies

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.pending: dict[str, int] = {}
        self.errors: dict[str, list[str]] = {}
        self.last_status: dict[str, int | None] = {}
        self.engine: dict[str, str | None] = {}
        self.selectors: dict[str, dict[str, str]] = {}
        self.seen: dict[str, set[str]] = {}
        self.recognised: set[str] = set()  # sources whose engine was recognised, not named by preset
        self.marks: dict[str, dict[str, str]] = {}    # per source: thread -> date of its last post read
        self.newest: dict[str, dict[str, str]] = {}   # per source: thread -> newest post read this run
        self.broken: dict[str, set[str]] = {}         # per source: threads with a failed page this run

    # --- bookkeeping: one FetchResult when the last request of a source is done ---

    def begin(self, run: SourceRun) -> Iterable[scrapy.Request]:
        self.pending[run.name], self.errors[run.name], self.seen[run.name] = 0, [], set()
        self.marks[run.name], self.newest[run.name], self.broken[run.name] = _thread_marks(run), {}, set()
        preset = run.options.get("preset")
        self.engine[run.name] = preset
        given = dict(run.options.get("selectors") or {})
        if preset and preset not in API_ENGINES:
            self.selectors[run.name] = given or dict(PRESETS[preset])
        elif not preset and all(given.get(k) for k in REQUIRED_SELECTORS):
            self.engine[run.name], self.selectors[run.name] = CUSTOM, given  # a forum described completely
        yield from self.entry(run)

    def entry(self, run: SourceRun) -> Iterator[scrapy.Request]:
        """The first request: the board (an API engine's topic list), or a Discourse topic's JSON."""
        topic = _DISCOURSE_TOPIC_RE.match(urlsplit(run.source["url"]).path)
        if self.engine.get(run.name) == "discourse" and topic:
            yield from self.follow(run, f"{_site(run.source['url'])}/t/{topic.group(1)}.json", self.on_topic,
                                   board=True, topic=topic.group(1))
        else:
            yield from self.follow(run, self.board_url(run), self.on_board, board=True)

    def follow(self, run: SourceRun, url: str, callback: Any, **meta: Any) -> Iterator[scrapy.Request]:
        """A request for ``url`` without its session ids, unless this run already asked for it."""
        url = strip_session(url, self.session_params(run))
        if url in self.seen[run.name]:
            return
        self.seen[run.name].add(url)
        self.pending[run.name] += 1
        accept = "application/json" if self.engine.get(run.name) in API_ENGINES else HTML_ACCEPT
        yield self.request(run, url, callback, meta=meta, headers={"Accept": accept})

    def settle(self, run: SourceRun, status: int | None) -> Iterator[FetchResult]:
        self.pending[run.name] -= 1
        self.last_status[run.name] = status if self.last_status.get(run.name) is None else self.last_status[run.name]
        if self.pending[run.name] == 0 and not run.done:
            engine = self.engine.get(run.name)
            marks = self.marks[run.name]
            for thread, newest in self.newest[run.name].items():
                if thread not in self.broken[run.name]:
                    marks[thread] = max(marks.get(thread, newest), newest)
            kept = dict(sorted(marks.items(), key=lambda kv: kv[1])[-MAX_THREAD_MARKS:])
            run.session = json.dumps({"engine": engine, "threads": kept}) if engine else None
            errors = self.errors[run.name]
            yield self.finish(run, self.last_status[run.name], "\n".join(errors) if errors else None)

    def problem(self, run: SourceRun, url: str, message: str) -> None:
        """One error line of this run, naming the URL (every one is kept)."""
        line = f"{url}: {message}"
        if line not in self.errors[run.name]:
            self.errors[run.name].append(line)

    def failed(self, failure: Any) -> Iterator[FetchResult]:
        request = failure.request
        run = self.runs[request.meta["source"]]
        status = failure_status(failure)
        self.problem(run, request.url, describe_failure(failure.value, request, self.settings))
        if request.meta.get("thread"):
            self.broken[run.name].add(thread_key(request.meta["thread"]))
        if request.meta.get("board"):
            self.last_status[run.name] = status  # a 404/410 on the board is the source's status
        yield from self.settle(run, status)

    # --- helpers -------------------------------------------------------------------

    def session_params(self, run: SourceRun) -> tuple[str, ...]:
        return SESSION_PARAMS.get(self.engine.get(run.name) or "", ())

    def board_url(self, run: SourceRun) -> str:
        url = run.source["url"]
        engine = self.engine.get(run.name)
        path = urlsplit(url).path
        if engine == "discourse" and not url.endswith(".json"):
            return url.rstrip("/") + ("/latest.json" if path in ("", "/") else ".json")
        if engine == "flarum" and "/api/" not in url:
            tag = re.match(r"^/t/([^/?#]+)", path)
            query = urlencode([("sort", "-lastPostedAt")] + ([("filter[tag]", tag.group(1))] if tag else []))
            return f"{_site(url)}/api/discussions?{query}"
        if engine == "nodebb" and "/api/" not in url:
            category = re.match(r"^/category/(.+?)/?$", path)
            return f"{_site(url)}/api/category/{category.group(1)}" if category else f"{_site(url)}/api/recent"
        return url

    def is_new(self, run: SourceRun, when: str | None, thread: str | None = None) -> bool:
        """Whether something dated ``when`` may hold posts we have not stored (None: can't tell).

        In a thread whose last post a run has read, that post is the mark if it is newer than the source's
        (which a failed page holds back)."""
        if when is None:
            return True
        mark, not_before = run.source.get("high_water"), run.source.get("not_before")
        if thread:
            mark = max(filter(None, (mark, self.marks[run.name].get(thread_key(thread)))), default=None)
        return not (mark and when < mark) and not (not_before and when < not_before)

    def date(self, run: SourceRun, text: str | None) -> str | None:
        return parse_forum_date(text, run.options.get("timezone") or "UTC", self.now,
                                run.options.get("language"))

    def first_date(self, run: SourceRun, node: Selector, css: str) -> str | None:
        """The date of the first of the selector's alternatives that gives one."""
        for alt in _alternatives(css):
            nodes = node.css(alt)
            each = [v for v in nodes.getall() if v.strip()] if "::" in alt else \
                [" ".join(n.xpath("string()").get("").split()) for n in nodes]
            # each match alone first (a profile's "Joined: 03 Feb 2004" is not the post's date), then together
            for text in each + ([_text(node, alt)] if len(each) > 1 else []):
                when = self.date(run, text)
                if when:
                    return when
        return None

    def keep(self, run: SourceRun, item: PostItem, thread: str | None = None) -> Iterator[PostItem]:
        if thread and item.published_at:
            key = thread_key(thread)
            self.newest[run.name][key] = max(self.newest[run.name].get(key, item.published_at), item.published_at)
        if self.is_new(run, item.published_at, thread):
            if item.published_at:
                run.newest = max(run.newest or item.published_at, item.published_at)
            run.entries += 1
            yield item

    # --- HTML engines ------------------------------------------------------------------

    def on_board(self, response: Response) -> Iterator[Any]:
        run = self.runs[response.meta["source"]]
        self.last_status[run.name] = response.status
        engine = self.engine.get(run.name)
        if engine == "discourse":
            yield from self.discourse_board(response, run)
        elif engine == "flarum":
            yield from self.flarum_board(response, run)
        elif engine == "nodebb":
            yield from self.nodebb_board(response, run)
        elif not _is_html(response):
            self.problem(run, response.url, "expected a forum's HTML page, got "
                                            f"{response.headers.get('Content-Type', b'?').decode('latin-1')}")
        elif engine is None and not self.recognise(response, run):
            pass
        elif self.engine[run.name] in API_ENGINES:
            yield from self.entry(run)
        else:
            yield from self.html_board(response, run)
        yield from self.settle(run, response.status)

    def recognise(self, response: Response, run: SourceRun) -> bool:
        """Find the board's engine from the page; False (with the reason kept) if none is known."""
        engine = detect_engine(response.selector)
        if engine is None and not page_trouble(response.selector) and (
                find_thread_links(response.selector) or
                find_posts(response.selector, lambda text: self.date(run, text))[0]):
            engine = GENERIC
        if engine is None:
            trouble = page_trouble(response.selector)
            self.problem(run, response.url, trouble or (
                "unknown forum engine: no generator tag or markup of phpBB, SMF, vBulletin, XenForo, MyBB, "
                f"Invision, Discourse, Flarum or NodeBB ({page_title(response.selector)!r}); set preset, or "
                "selectors for every key"))
            return False
        self.engine[run.name] = engine
        self.recognised.add(run.name)
        if engine not in API_ENGINES:
            self.selectors[run.name] = selectors_for(engine, dict(run.options.get("selectors") or {}))
        if engine == GENERIC and self.selectors[run.name]:
            self.problem(run, response.url, "no preset fits this forum, so selectors alone cannot describe it: "
                                            "give every selector, or set preset")
            return False
        return True

    def html_board(self, response: Response, run: SourceRun) -> Iterator[Any]:
        run.pages += 1  # board pages (PagedSpider.on_page, which counts API pages, is not used here)
        if self.engine[run.name] == GENERIC:
            yield from self.generic_board(response, run)
            return
        sel = self.selectors[run.name]
        rows = response.css(sel["thread"])
        if not rows and response.css(sel["post"]):
            yield from self.html_thread(response, run)  # the source is one thread, not a board
            return
        if not rows and run.name in self.recognised and not page_trouble(response.selector) and (
                find_thread_links(response.selector) or
                find_posts(response.selector, lambda text: self.date(run, text))[0]):
            self.engine[run.name] = GENERIC  # a theme the recognised engine's selectors do not fit
            yield from self.generic_board(response, run)
            return
        if not rows:
            self.problem(run, response.url, page_trouble(response.selector) or (
                f"neither threads nor posts found ({self.engine[run.name]} selectors thread {sel['thread']!r} and "
                f"post {sel['post']!r} matched nothing): not a board or thread page of this engine, or a changed "
                "theme? (set preset or selectors)"))
            return
        taken, fresh = 0, True
        for row in rows:
            link = _first(row, sel["thread_link"])
            if not link:
                continue
            when = self.first_date(run, row, sel["thread_date"]) if sel.get("thread_date") else None
            fresh = self.is_new(run, when)  # rows are in last-post order (stickies first): the last one counts
            title = next((" ".join(a.xpath("string()").get("").split()) for a in row.css("a[href]")
                          if a.attrib["href"].strip() == link), None) or None
            link = response.urljoin(link)
            if not self.is_new(run, when, link):
                continue
            taken += 1
            hrefs = row.css("a::attr(href)").getall()
            last = self.last_page(response, hrefs, link, run)
            if last:
                yield from self.follow(run, last, self.on_thread, title=title, thread=link, pages=1)
                continue
            # no page links in the row: its "last post" link redirects to the thread's last page
            jump = next((h for h in hrefs if _LASTPOST_RE.search(h)), None)
            yield from self.follow(run, response.urljoin(jump) if jump else link, self.on_thread, title=title,
                                   thread=link, pages=1)
        following = self.later_page(response, sel, response.url, run)
        if taken and fresh and following and run.pages < run.source.get("max_pages", 1):
            yield from self.follow(run, following, self.on_board, board=True)

    def generic_board(self, response: Response, run: SourceRun) -> Iterator[Any]:
        """A board no preset knows: its thread links (no dates, so each is read), or the page as a thread."""
        links = find_thread_links(response.selector, lambda text: self.date(run, text))
        if not links:
            yield from self.html_thread(response, run)
            return
        for link, when in links:
            link = response.urljoin(link)
            if self.is_new(run, when, link):
                yield from self.follow(run, link, self.on_thread, thread=link, pages=1)
        following = self.later_page(response, {}, response.url, run)
        if following and self.is_new(run, links[-1][1]) and run.pages < run.source.get("max_pages", 1):
            yield from self.follow(run, following, self.on_board, board=True)

    def page_links(self, response: Response, hrefs: Iterable[str], thread: str,
                   run: SourceRun) -> dict[int, str]:
        """Page offset -> URL for the links among ``hrefs`` to pages of ``thread`` (the shortest URL each)."""
        found: dict[int, str] = {}
        params = self.session_params(run)
        for href in hrefs:
            if not href or href.startswith(("#", "javascript:")):
                continue
            link = strip_session(response.urljoin(href), params)
            if same_thread(link, thread, params):
                n = page_number(link)
                if n not in found or len(link) < len(found[n]):
                    found[n] = link
        return found

    def last_page(self, response: Response, hrefs: list[str], thread: str, run: SourceRun) -> str | None:
        """The link to the thread's last page among a board row's links, if the row has one past page 1."""
        pages = self.page_links(response, hrefs, thread, run)
        first = page_number(thread)
        later = [n for n in pages if n > first]
        return pages[max(later)] if later else None

    def later_page(self, response: Response, sel: dict[str, str], current: str, run: SourceRun) -> str | None:
        """The board's next page: the lowest page offset past this one (each link counted once)."""
        hrefs = response.css(sel["pages"]).getall() if sel.get("pages") else response.css("a::attr(href)").getall()
        if sel.get("next_page"):
            hrefs = response.css(sel["next_page"]).getall()[:1] + hrefs
        pages = self.page_links(response, hrefs, current, run)
        here = page_number(current)
        later = [n for n in pages if n > here]
        return pages[min(later)] if later else None

    def on_thread(self, response: Response) -> Iterator[Any]:
        run = self.runs[response.meta["source"]]
        yield from self.html_thread(response, run)
        yield from self.settle(run, response.status)

    def html_thread(self, response: Response, run: SourceRun) -> Iterator[Any]:
        url = response.url
        title = response.meta.get("title") or (page_title(response.selector) if _is_html(response) else "") or None
        if self.engine[run.name] == GENERIC:
            items, broken = self.generic_posts(response, run, title)
        else:
            items, broken = self.preset_posts(response, run, title)
            if (items is None or broken) and run.name in self.recognised:
                # the recognised engine's selectors do not fit this theme: the page's structure may
                found, _ = self.generic_posts(response, run, title)
                if found:
                    items, broken = found, None
        thread = response.meta.get("thread") or url
        if items is None or broken:
            self.broken[run.name].add(thread_key(thread))
        if items is None:
            self.problem(run, url, broken or "no posts found")
            return
        if broken:
            self.problem(run, url, broken)
        older = False
        for item in items:
            older = older or not self.is_new(run, item.published_at, thread)
            yield from self.keep(run, item, thread)
        if broken:
            return  # reading on would only repeat the error
        sel = self.selectors.get(run.name) or {}
        if sel.get("pages") or sel.get("next_page"):
            hrefs = response.css(sel["pages"]).getall() if sel.get("pages") else []
            hrefs += response.css(sel["next_page"]).getall() if sel.get("next_page") else []
        else:
            hrefs = response.css("a::attr(href)").getall()
        pages = self.page_links(response, hrefs, thread, run)
        here, read = page_number(url), response.meta.get("pages", 1)
        if read >= run.source.get("max_pages", 1):
            return
        later = [n for n in pages if n > here]
        earlier = [n for n in pages if n < here and pages[n] not in self.seen[run.name]]
        meta = {"title": title, "thread": thread, "pages": read + 1, "backward": True}
        if later and not response.meta.get("backward"):
            yield from self.follow(run, pages[max(later)], self.on_thread, **meta)  # new replies are at the end
        elif earlier and not older:
            yield from self.follow(run, pages[max(earlier)], self.on_thread, **meta)

    def preset_posts(self, response: Response, run: SourceRun,
                     title: str | None) -> tuple[list[PostItem] | None, str | None]:
        """The page's posts by the preset's selectors, and what is wrong with them (None: nothing)."""
        sel = self.selectors[run.name]
        posts = response.css(sel["post"]) if _is_html(response) else SelectorList([])
        if not posts:
            trouble = page_trouble(response.selector) if _is_html(response) else None
            return None, trouble or (f"no posts found ({self.engine[run.name]} selector post {sel['post']!r} "
                                     "matched nothing): not a thread page of this engine, or a changed theme?")
        items, lacking = [], {"date": 0, "body": 0}
        for post in posts:
            item, missing = self.html_post(response, run, post, title)
            for what in missing:
                lacking[what] += 1
            if item:
                items.append(item)
        broken = [f"{n} of {len(posts)} posts have no {what} (selector {what} {sel[what]!r})"
                  for what, n in lacking.items() if n]
        if items and sel.get("author") and not any(i.author for i in items):
            broken.append(f"no post has an author (selector author {sel['author']!r})")
            items = []
        if broken:
            return items, "; ".join(broken) + ": wrong selectors or a changed theme? Posts without them are not stored"
        return items, None

    def generic_posts(self, response: Response, run: SourceRun,
                      title: str | None) -> tuple[list[PostItem] | None, str | None]:
        """The page's posts as the generic extractor finds them: complete ones, or an error."""
        found, why = find_posts(response.selector, lambda text: self.date(run, text)) if _is_html(response) \
            else ([], "not an HTML page")
        if not found:
            trouble = page_trouble(response.selector) if _is_html(response) else None
            return None, trouble or (f"no preset fits this forum and the generic extractor found no posts: {why} "
                                     "(set preset or selectors)")
        page = canonical_url(strip_session(response.url)) or response.url
        items = []
        for g in found:
            text = html_to_text(g.body_html)
            items.append(PostItem(source=run.name, guid=g.post_id or f"{page}#{g.date}:{g.author}",
                                  url=page + (f"#{g.post_id}" if g.post_id else ""), author=g.author, title=title,
                                  text=text, published_at=g.date))
        return items, None

    def html_post(self, response: Response, run: SourceRun, post: Selector,
                  title: str | None) -> tuple[PostItem | None, list[str]]:
        """The post, or None and what it lacks (a body or a date): such a post is never stored."""
        sel = self.selectors[run.name]
        text = html_to_text(" ".join(post.css(sel["body"]).getall()))
        when = self.first_date(run, post, sel["date"])
        missing = [what for what, value in (("date", when), ("body", text)) if not value]
        if missing:
            return None, missing
        pid = _attr_or_text(post, sel.get("post_id") or "::attr(id)")
        page = canonical_url(strip_session(response.url, self.session_params(run))) or response.url
        author = _attr_or_text(post, sel["author"]) if sel.get("author") else ""
        return PostItem(
            source=run.name, guid=pid or f"{page}#{when}:{author}",
            url=page + (f"#{pid}" if pid else ""), author=author or None,
            title=title, text=text, published_at=when,
        ), []

    # --- Discourse ---------------------------------------------------------------------

    def discourse_board(self, response: Response, run: SourceRun) -> Iterator[Any]:
        try:
            _, topics = json_list(response, ("topic_list", "topics"), "a Discourse topic list")
        except PageError as exc:
            self.problem(run, response.url, str(exc))
            return
        site = _site(run.source["url"])
        for t in topics:
            if not isinstance(t, dict) or not str(t.get("id", "")).isdigit():
                continue
            when = iso_utc(parse_iso(t.get("last_posted_at") or t.get("bumped_at")))
            if self.is_new(run, when):
                yield from self.follow(run, f"{site}/t/{t['id']}.json", self.on_topic, title=t.get("title"),
                                       topic=t["id"])

    def on_topic(self, response: Response) -> Iterator[Any]:
        """A topic's first posts and every post id; the newest ids not loaded are asked for next."""
        run = self.runs[response.meta["source"]]
        try:
            data, posts = json_list(response, ("post_stream", "posts"), "a Discourse topic")
        except PageError as exc:
            self.problem(run, response.url, str(exc))
            data, posts = {}, []
        stream = (data.get("post_stream") or {}).get("stream") if isinstance(data, dict) else None
        loaded = yield from self.discourse_posts(run, posts, response.meta.get("title"))
        if isinstance(stream, list):
            rest = [i for i in stream if isinstance(i, int) and i not in loaded[0]]
            yield from self.more_posts(run, response.meta["topic"], rest, response.meta.get("title"), 1)
        yield from self.settle(run, response.status)

    def on_topic_posts(self, response: Response) -> Iterator[Any]:
        run = self.runs[response.meta["source"]]
        try:
            _, posts = json_list(response, ("post_stream", "posts"), "a Discourse topic's posts")
        except PageError as exc:
            self.problem(run, response.url, str(exc))
            posts = []
        _, older = yield from self.discourse_posts(run, posts, response.meta.get("title"))
        read = response.meta["pages"]
        if posts and not older and read < run.source.get("max_pages", 1):
            yield from self.more_posts(run, response.meta["topic"], response.meta["rest"],
                                       response.meta.get("title"), read + 1)
        yield from self.settle(run, response.status)

    def discourse_posts(self, run: SourceRun, posts: list, title: str | None) -> Any:
        """Yield the new posts; return (ids seen, whether a post older than the mark was among them)."""
        site, ids, older = _site(run.source["url"]), set(), False
        for p in posts:
            if isinstance(p, dict) and p.get("id") is not None:
                item = discourse_item(p, run.name, site, title)
                ids.add(p["id"])
                older = older or not self.is_new(run, item.published_at)
                yield from self.keep(run, item)
        return ids, older

    def more_posts(self, run: SourceRun, topic: Any, rest: list[int], title: str | None,
                   read: int) -> Iterator[scrapy.Request]:
        """Ask for the newest ``DISCOURSE_CHUNK`` of the ids not loaded yet."""
        if not rest:
            return
        chunk, rest = rest[-DISCOURSE_CHUNK:], rest[:-DISCOURSE_CHUNK]
        query = urlencode([("post_ids[]", i) for i in chunk])
        yield from self.follow(run, f"{_site(run.source['url'])}/t/{topic}/posts.json?{query}",
                               self.on_topic_posts, title=title, topic=topic, rest=rest, pages=read)


    # --- Flarum (JSON:API) ----------------------------------------------------------------

    def flarum_board(self, response: Response, run: SourceRun) -> Iterator[Any]:
        try:
            _, discussions = json_list(response, ("data",), "a Flarum discussion list")
        except PageError as exc:
            self.problem(run, response.url, str(exc))
            return
        site = _site(run.source["url"])
        for d in discussions:
            attrs = d.get("attributes") if isinstance(d, dict) else None
            if not isinstance(attrs, dict) or not str(d.get("id", "")).isdigit():
                continue
            if self.is_new(run, iso_utc(parse_iso(attrs.get("lastPostedAt")))):
                yield from self.follow(run, f"{site}/api/discussions/{d['id']}", self.on_flarum_discussion,
                                       title=attrs.get("title"), topic=d["id"])

    def on_flarum_discussion(self, response: Response) -> Iterator[Any]:
        """A discussion: every post id (``relationships.posts``), the first posts in ``included``."""
        run = self.runs[response.meta["source"]]
        try:
            data = read_json(response)
            ids = [int(p["id"]) for p in data["data"]["relationships"]["posts"]["data"] if str(p.get("id")).isdigit()]
        except (PageError, KeyError, TypeError) as exc:
            self.problem(run, response.url, str(exc) if isinstance(exc, PageError) else
                         "unexpected JSON: no data.relationships.posts list (not a Flarum discussion)")
            yield from self.settle(run, response.status)
            return
        loaded, _ = yield from self.flarum_posts(run, data, response.meta)
        rest = [i for i in ids if i not in loaded]
        yield from self.more_flarum(run, response.meta, rest, 1)
        yield from self.settle(run, response.status)

    def on_flarum_posts(self, response: Response) -> Iterator[Any]:
        run = self.runs[response.meta["source"]]
        try:
            data = read_json(response)
        except PageError as exc:
            self.problem(run, response.url, str(exc))
            data = {}
        loaded, older = yield from self.flarum_posts(run, data, response.meta)
        read = response.meta["pages"]
        if loaded and not older and read < run.source.get("max_pages", 1):
            yield from self.more_flarum(run, response.meta, response.meta["rest"], read + 1)
        yield from self.settle(run, response.status)

    def flarum_posts(self, run: SourceRun, data: Any, meta: dict) -> Any:
        """Yield the new comments among a JSON:API document's posts; return (ids seen, whether one was old)."""
        records = [r for r in ((data.get("data") if isinstance(data.get("data"), list) else []) +
                               (data.get("included") or []) if isinstance(data, dict) else [])
                   if isinstance(r, dict)]
        users = {u.get("id"): (u.get("attributes") or {}).get("username") for u in records if u.get("type") == "users"}
        site, ids, older = _site(run.source["url"]), set(), False
        for p in records:
            attrs = p.get("attributes") or {}
            if p.get("type") != "posts" or not str(p.get("id", "")).isdigit():
                continue
            ids.add(int(p["id"]))
            if attrs.get("contentType") != "comment":
                continue  # "discussionRenamed", "discussionTagged": events, not posts
            user = ((p.get("relationships") or {}).get("user") or {}).get("data") or {}
            item = PostItem(source=run.name, guid=str(p["id"]), url=f"{site}/d/{meta['topic']}/{attrs.get('number')}",
                            author=users.get(user.get("id")), title=meta.get("title"),
                            text=html_to_text(attrs.get("contentHtml")),
                            published_at=iso_utc(parse_iso(attrs.get("createdAt"))))
            older = older or not self.is_new(run, item.published_at)
            yield from self.keep(run, item)
        return ids, older

    def more_flarum(self, run: SourceRun, meta: dict, rest: list[int], read: int) -> Iterator[scrapy.Request]:
        """Ask for the newest ``DISCOURSE_CHUNK`` posts not loaded yet (``/api/posts?filter[id]=``)."""
        if not rest:
            return
        chunk, rest = rest[-DISCOURSE_CHUNK:], rest[:-DISCOURSE_CHUNK]
        query = urlencode([("filter[id]", ",".join(str(i) for i in chunk))])
        yield from self.follow(run, f"{_site(run.source['url'])}/api/posts?{query}", self.on_flarum_posts,
                               title=meta.get("title"), topic=meta["topic"], rest=rest, pages=read)

    # --- NodeBB (its read API: /api/recent, /api/category/…, /api/topic/…) ------------------

    def nodebb_board(self, response: Response, run: SourceRun) -> Iterator[Any]:
        try:
            _, topics = json_list(response, ("topics",), "a NodeBB topic list")
        except PageError as exc:
            self.problem(run, response.url, str(exc))
            return
        site = _site(run.source["url"])
        for t in topics:
            if not isinstance(t, dict) or not str(t.get("tid", "")).isdigit():
                continue
            if self.is_new(run, _ms(t.get("lastposttime"))):
                yield from self.follow(run, f"{site}/api/topic/{t['tid']}", self.on_nodebb_topic, title=t.get("title"),
                                       topic=t["tid"], pages=1)

    def on_nodebb_topic(self, response: Response) -> Iterator[Any]:
        """One page of a topic's posts; then its last page, then each page before it until known posts."""
        run = self.runs[response.meta["source"]]
        try:
            data, posts = json_list(response, ("posts",), "a NodeBB topic")
        except PageError as exc:
            self.problem(run, response.url, str(exc))
            yield from self.settle(run, response.status)
            return
        site, older = _site(run.source["url"]), False
        for p in posts:
            if not isinstance(p, dict) or p.get("pid") is None or p.get("deleted"):
                continue
            item = PostItem(source=run.name, guid=str(p["pid"]), url=f"{site}/post/{p['pid']}",
                            author=(p.get("user") or {}).get("username"), title=response.meta.get("title"),
                            text=html_to_text(p.get("content")), published_at=_ms(p.get("timestamp")),
                            likes=as_int(p.get("upvotes")))
            older = older or not self.is_new(run, item.published_at)
            yield from self.keep(run, item)
        pagination = data.get("pagination") if isinstance(data, dict) else None
        here = as_int((pagination or {}).get("currentPage")) or 1
        last = as_int((pagination or {}).get("pageCount")) or 1
        read, base = response.meta["pages"], f"{site}/api/topic/{response.meta['topic']}"
        meta = {"title": response.meta.get("title"), "topic": response.meta["topic"], "pages": read + 1,
                "backward": True}
        if read < run.source.get("max_pages", 1):
            if last > here and not response.meta.get("backward"):
                yield from self.follow(run, f"{base}?page={last}", self.on_nodebb_topic, **meta)
            elif here > 1 and not older:
                yield from self.follow(run, base if here == 2 else f"{base}?page={here - 1}", self.on_nodebb_topic,
                                       **meta)
        yield from self.settle(run, response.status)


def _ms(value: Any) -> str | None:
    """An ISO time from NodeBB's milliseconds since the epoch."""
    ms = as_int(value) if not isinstance(value, float) else int(value)
    return iso_utc(datetime.fromtimestamp(ms / 1000, tz=timezone.utc)) if ms else None


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


def _thread_marks(run: SourceRun) -> dict[str, str]:
    """The per-thread marks the last runs kept in the source's session (thread key -> last post read)."""
    try:
        saved = json.loads(run.source.get("session") or "{}")
    except ValueError:
        return {}
    threads = saved.get("threads") if isinstance(saved, dict) else None
    if not isinstance(threads, dict):
        return {}
    return {k: v for k, v in threads.items() if isinstance(k, str) and isinstance(v, str)}


def _site(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _is_html(response: Response) -> bool:
    """An HTML page (or text that is one): what CSS selectors can read."""
    if isinstance(response, HtmlResponse):
        return True
    return isinstance(response, TextResponse) and not isinstance(response, JsonResponse) and \
        b"<html" in response.body[:4000].lower()


def _text(sel: Selector | SelectorList | Response, css: str) -> str:
    """Text for a selector: joined ``::text``/``::attr`` values, else the elements' whole text."""
    nodes = sel.css(css)
    if "::" in css:
        return " ".join(v.strip() for v in nodes.getall() if v.strip())
    return " ".join(" ".join(n.xpath("string()").get("").split()) for n in nodes).strip()


def _alternatives(css: str) -> list[str]:
    """A selector list split at its top-level commas (not those inside ``:has(...)`` or ``[...]``)."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(css):
        depth += ch in "([" and 1 or (-1 if ch in ")]" else 0)
        if ch == "," and depth == 0:
            parts.append(css[start:i].strip())
            start = i + 1
    parts.append(css[start:].strip())
    return [p for p in parts if p]


def _first(sel: Selector, css: str) -> str:
    """The first non-empty value a selector gives (a row's thread link, however many alternatives match)."""
    return next((v.strip() for v in sel.css(css).getall() if v.strip()), "")


def _attr_or_text(post: Selector, css: str) -> str:
    """``::attr(name)`` alone reads the post element's own attribute; otherwise the first match's text."""
    if css.startswith("::attr(") and css.endswith(")"):
        return post.attrib.get(css[7:-1], "").strip()
    nodes = post.css(css)
    if not nodes:
        return ""
    if "::" in css:
        return next((v.strip() for v in nodes.getall() if v.strip()), "")
    return " ".join(nodes[0].xpath("string()").get("").split())
