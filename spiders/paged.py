"""The base of every spider that pages through a source's posts, newest first.

A source arrives as a dict from ``listener.pipeline`` (name, url, options,
high_water, not_before, max_pages, credentials, session). The spider fetches the
first page, yields the posts newer than the source's high-water mark and not
older than ``not_before``, and follows the next-page link until it reaches the
mark, the age limit, ``max_pages`` or the end. It then yields exactly one
``FetchResult`` carrying the newest sort key seen, which the store keeps only
when nothing failed, so a failed run never skips posts next time.

Sort keys are strings that compare in time order: ids zero-padded by
``numeric_key``, or ISO times.

A source may read several listings side by side (a repository's issues and its
comments; the comment threads of several videos): each is a *stream*, opened
with ``open_stream``, paged and bounded on its own, all against the one mark.
The source's ``FetchResult`` comes when the last stream has ended, with the
first error any of them met.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, AsyncIterator, Iterable, Iterator

import scrapy
from scrapy.http import Response

from listener.errors import UserError
from listener.text import parse_iso
from spiders.feed import describe_failure, failure_status, header
from spiders.items import FetchResult, PostItem

_TITLE_RE = re.compile(rb"<title[^>]*>(.*?)</title>", re.I | re.S)


class PageError(UserError):
    """A page we cannot take posts from, phrased as one line for the user."""


@dataclass
class Page:
    posts: list[tuple[str, PostItem]] = field(default_factory=list)  # (sort key, item), newest first
    next_url: str | None = None
    # False for a listing read oldest first from a ``since`` the server filters on: known posts are
    # skipped instead of ending the listing, and a listing cut short by max_pages holds the mark back.
    newest_first: bool = True
    follow: list[scrapy.Request] = field(default_factory=list)  # more streams this page opened
    error: str | None = None  # the page's posts count, then its stream ends with this error


@dataclass
class SourceRun:
    """What one crawl has done for one source so far."""

    source: dict[str, Any]
    pages: int = 0
    entries: int = 0
    newest: str | None = None
    session: str | None = None   # a new login session to hand back to the store
    token: str | None = None     # bearer token for this run
    reauthed: bool = False       # the token was renewed once after the server refused it
    done: bool = False
    streams: int = 0             # listings still open when reading several (0: one listing)
    stream_pages: dict[str, int] = field(default_factory=dict)
    error: str | None = None     # the first error of a stream, kept until the last stream ends
    status: int | None = None
    ceiling: str | None = None   # an oldest-first stream stopped here: the mark may not pass it

    @property
    def name(self) -> str:
        return self.source["name"]

    @property
    def options(self) -> dict[str, Any]:
        return self.source.get("options") or {}

    @property
    def credentials(self) -> dict[str, str]:
        return self.source.get("credentials") or {}


def numeric_key(value: int | str, base: int = 10) -> str:
    """A sort key for a numeric id (``base`` 36 for Reddit's ids)."""
    return f"{int(str(value), base):020d}"


def as_int(value: object) -> int | None:
    """An engagement count from JSON: integers only (Discourse sends digit strings too)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


_NEXT_RE = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')


def next_link(response: Response) -> str | None:
    """The ``rel="next"`` URL of a ``Link`` header (RFC 8288), made absolute."""
    m = _NEXT_RE.search(header(response, b"Link") or "")
    return response.urljoin(m.group(1)) if m else None


def read_json(response: Response) -> Any:
    """The JSON body of a response, or a ``PageError`` saying what came instead."""
    body = response.body
    if not body.strip():
        raise PageError("empty response body")
    ctype = (header(response, b"Content-Type") or "").lower()
    if "html" in ctype or body.lstrip()[:1] == b"<":
        m = _TITLE_RE.search(body[:20000])
        title = " ".join(m.group(1).decode("utf-8", "replace").split())[:80] if m else ""
        raise PageError("expected JSON, got an HTML page" + (f" ({title!r})" if title else "") +
                        ": an error page or a login wall?")
    try:
        return json.loads(body)
    except ValueError as exc:
        raise PageError(f"malformed JSON ({getattr(exc, 'msg', exc)} at byte {getattr(exc, 'pos', '?')})") from None


def json_list(response: Response, path: tuple[str, ...], what: str) -> tuple[Any, list]:
    """The JSON body and the list found at ``path`` in it; a ``PageError`` naming ``what`` if absent."""
    data = read_json(response)
    value: Any = data
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    if not isinstance(value, list):
        raise PageError(f"unexpected JSON: no {'.'.join(path)} list (not {what})")
    return data, value


class PagedSpider(scrapy.Spider):
    """Shared paging, stopping, error handling and the one ``FetchResult`` per source."""

    accept = "application/json"
    api = True  # a documented API: robots.txt does not apply (web pages set this False)
    stream_meta: tuple[str, ...] = ("stream",)  # request meta a listing's next page carries on

    def __init__(self, sources: list[dict[str, Any]] | None = None, now: str | None = None,
                 **kwargs: Any):
        super().__init__(**kwargs)
        self.sources = sources or []
        self.now = parse_iso(now) or datetime.now(timezone.utc)
        self.runs: dict[str, SourceRun] = {}

    async def start(self) -> AsyncIterator[scrapy.Request | FetchResult]:
        for source in self.sources:
            run = self.runs[source["name"]] = SourceRun(source)
            for out in self.begin(run):
                yield out

    # --- what subclasses provide ---------------------------------------------

    def begin(self, run: SourceRun) -> Iterable[scrapy.Request | FetchResult]:
        """The first request(s) for a source (or a ``FetchResult`` if it cannot start)."""
        yield self.request(run, self.first_url(run))

    def first_url(self, run: SourceRun) -> str:
        raise NotImplementedError

    def read_page(self, response: Response, run: SourceRun) -> Page:
        raise NotImplementedError

    def headers(self, run: SourceRun) -> dict[str, str]:
        headers = {"Accept": self.accept}
        if run.token:
            headers["Authorization"] = f"Bearer {run.token}"
        return headers

    # --- shared machinery ------------------------------------------------------

    def request(self, run: SourceRun, url: str, callback: Any = None, **kwargs: Any) -> scrapy.Request:
        meta = {"source": run.name, "dont_merge_cookies": True, "dont_obey_robotstxt": self.api,
                **kwargs.pop("meta", {})}
        headers = {**self.headers(run), **kwargs.pop("headers", {})}
        return scrapy.Request(url, callback=callback or self.on_page, errback=self.failed, dont_filter=True,
                              meta=meta, headers=headers, **kwargs)

    def open_stream(self, run: SourceRun, url: str, stream: str, **kwargs: Any) -> scrapy.Request:
        """The first request of one more listing of this source, paged on its own (``meta["stream"]``)."""
        run.streams += 1
        return self.request(run, url, meta={"stream": stream, **kwargs.pop("meta", {})}, **kwargs)

    def on_page(self, response: Response) -> Iterator[PostItem | FetchResult | scrapy.Request]:
        run = self.runs[response.meta["source"]]
        if run.done:
            return
        run.pages += 1
        stream = response.meta.get("stream")
        pages = run.stream_pages[stream] = run.stream_pages.get(stream, 0) + 1
        try:
            page = self.read_page(response, run)
        except PageError as exc:
            yield from self.end(run, response.status, self.stream_error(response.meta, str(exc)))
            return
        mark, not_before = run.source.get("high_water"), run.source.get("not_before")
        stop = False
        for key, item in page.posts:
            if (mark is not None and key <= mark) or \
                    (not_before and item.published_at and item.published_at < not_before):
                if not page.newest_first:
                    continue
                stop = True
                break
            run.newest = max(run.newest or key, key)
            run.entries += 1
            yield item
        yield from page.follow
        if page.error:
            yield from self.end(run, response.status, self.stream_error(response.meta, page.error))
            return
        last_page = pages >= run.source.get("max_pages", 1)
        if not page.newest_first and last_page and page.next_url and page.posts:
            read_to = max(key for key, _ in page.posts)
            run.ceiling = min(run.ceiling or read_to, read_to)
        if stop or not page.next_url or not page.posts or last_page:
            yield from self.end(run, response.status)
        else:
            yield self.request(run, page.next_url, meta={k: response.meta[k] for k in self.stream_meta
                                                         if k in response.meta})

    def stream_error(self, meta: Any, error: str) -> str:
        """An error line, naming the stream when the source reads several."""
        return f"{meta['stream']}: {error}" if meta.get("stream") else error

    def end(self, run: SourceRun, status: int | None, error: str | None = None) -> Iterator[FetchResult]:
        """End one stream (or the only listing); the ``FetchResult`` once none is left open."""
        if run.done:
            return
        if error and run.error is None:
            run.error, run.status = error, status
        if run.streams > 1:
            run.streams -= 1
            return
        run.streams = 0
        yield self.finish(run, run.status if run.error else status, run.error)

    def finish(self, run: SourceRun, status: int | None, error: str | None = None) -> FetchResult:
        """The source's one ``FetchResult``; the high-water mark only moves when nothing failed."""
        run.done = True
        newest = min(run.newest, run.ceiling) if run.newest and run.ceiling else run.newest
        marks = [k for k in (newest, run.source.get("high_water")) if k]
        mark = max(marks) if marks and not error else None
        return FetchResult(source=run.name, status=status, error=error, entries=run.entries,
                           high_water=mark, session=run.session)

    def failed(self, failure: Any) -> Iterator[FetchResult]:
        request = failure.request
        run = self.runs[request.meta["source"]]
        error = describe_failure(failure.value, request, self.settings)
        response = getattr(failure.value, "response", None)
        why = self.error_message(response) if response is not None else None
        if why:
            error = f"{error}: {why}"
        if request.meta.get("step"):
            error = f"{request.meta['step']}: {error}"
        yield from self.end(run, failure_status(failure), self.stream_error(request.meta, error))

    def error_message(self, response: Response) -> str | None:
        """What an API's error answer says (overridden by APIs with a documented error shape)."""
        return None
