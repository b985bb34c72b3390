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

    def on_page(self, response: Response) -> Iterator[PostItem | FetchResult | scrapy.Request]:
        run = self.runs[response.meta["source"]]
        run.pages += 1
        try:
            page = self.read_page(response, run)
        except PageError as exc:
            yield self.finish(run, response.status, error=str(exc))
            return
        mark, not_before = run.source.get("high_water"), run.source.get("not_before")
        stop = False
        for key, item in page.posts:
            if (mark is not None and key <= mark) or \
                    (not_before and item.published_at and item.published_at < not_before):
                stop = True
                break
            run.newest = max(run.newest or key, key)
            run.entries += 1
            yield item
        if stop or not page.next_url or not page.posts or run.pages >= run.source.get("max_pages", 1):
            yield self.finish(run, response.status)
        else:
            yield self.request(run, page.next_url)

    def finish(self, run: SourceRun, status: int | None, error: str | None = None) -> FetchResult:
        """The source's one ``FetchResult``; the high-water mark only moves when nothing failed."""
        run.done = True
        mark = None if error else (run.newest or run.source.get("high_water"))
        return FetchResult(source=run.name, status=status, error=error, entries=run.entries,
                           high_water=mark, session=run.session)

    def failed(self, failure: Any) -> Iterator[FetchResult]:
        request = failure.request
        run = self.runs[request.meta["source"]]
        error = describe_failure(failure.value, request, self.settings)
        if request.meta.get("step"):
            error = f"{request.meta['step']}: {error}"
        yield self.finish(run, failure_status(failure), error)
