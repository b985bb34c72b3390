"""Spiders run in process on recorded responses: the crawl child's parsing, without the child or HTTP.

``crawl_in_process`` builds each source's job exactly as ``pipeline.collect`` does
(``pipeline.source_job``), starts the spider of its type, answers every request from
``pages`` (URL -> ``Recorded``) with the Response class Scrapy's downloader would pick
for it, hands non-2xx answers to the errback as Scrapy's HttpError middleware does, and
follows what the callbacks yield until no request is left. What stays out: the network,
retries and Retry-After waits (``spiders.middlewares``), robots.txt and the store; the
end-to-end tests through ``python -m listener.crawler`` cover those.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Mapping

import scrapy
from scrapy.http import Headers
from scrapy.responsetypes import responsetypes
from scrapy.settings import Settings as ScrapySettings
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from listener import crawler, pipeline, sources, store
from listener.config import load_settings
from listener.text import iso_utc
from spiders.items import FetchResult, PostItem
from tests.helpers import FIXTURES, NOW
from tests.helpers.sources import manifest_headers

BASE = "http://replay.test"  # the host recorded pages are served from in process


@dataclass
class Recorded:
    """One recorded answer: body, status and response headers."""

    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


def recorded(folder: str | Path, file: str, *, replace: str | None = None, status: int = 200) -> Recorded:
    """A fixture file with its manifest headers (recorded hosts, and ``replace``, pointed at ``BASE``)."""
    body = (FIXTURES / folder / file).read_bytes()
    if replace:
        body = body.replace(replace.encode(), BASE.encode())
    return Recorded(body, status, manifest_headers(str(folder), file, BASE))


def url(path: str) -> str:
    return BASE + path


@dataclass
class Crawl:
    """What the spiders yielded, and every request they made, in order."""

    posts: list[PostItem]
    fetches: dict[str, FetchResult]
    requests: list[scrapy.Request]

    def post(self, guid: str) -> PostItem:
        return next(p for p in self.posts if p.guid == guid)

    def of(self, source: str) -> list[PostItem]:
        return [p for p in self.posts if p.source == source]

    def hits(self, address: str) -> list[scrapy.Request]:
        """Requests for this exact URL."""
        return [r for r in self.requests if r.url == address]

    def state(self, source: str, previous: store.SourceState | None = None) -> store.SourceState:
        """The source's state for the next run, as the store keeps it (a mark moves only without error)."""
        f = self.fetches[source]
        prev = previous or store.SourceState(source)
        return store.SourceState(source, high_water=f.high_water if not f.error else prev.high_water,
                                 session=f.session or prev.session)


def spider_class(source_type: str) -> type[scrapy.Spider]:
    """The spider the crawl child would run for a source type."""
    return sources.source_type(source_type).spider_class()


def crawl_in_process(settings_path: Path, pages: Mapping[str, Recorded | list[Recorded]], *,
                     env: Mapping[str, str] | None = None, now: datetime = NOW,
                     state: Mapping[str, store.SourceState] | None = None) -> Crawl:
    """Run every source of a settings file through its spider on ``pages``.

    A list of answers for one URL is served in turn (the last one stays).
    ``state``: each source's stored state (high-water mark, session) for this run.
    """
    settings = load_settings(settings_path)
    stamp = iso_utc(now)
    queues = {u: deque(a if isinstance(a, list) else [a]) for u, a in pages.items()}
    crawl = Crawl([], {}, [])
    by_type: dict[str, list[dict[str, Any]]] = {}
    for s in settings.sources:
        job = pipeline.source_job(s, (state or {}).get(s.name) or store.SourceState(s.name), settings, now,
                                  env or {})
        by_type.setdefault(s.type, []).append(job)
    for source_type, jobs in by_type.items():
        spider = spider_class(source_type)(sources=jobs, now=stamp)
        spider.settings = ScrapySettings(crawler.scrapy_settings(settings.collect))
        todo: deque[Any] = deque(asyncio.run(_drain(spider.start())))
        while todo:
            out = todo.popleft()
            if isinstance(out, scrapy.Request):
                crawl.requests.append(out)
                todo.extend(_answer(out, queues))
            elif isinstance(out, FetchResult):
                assert out.source not in crawl.fetches, f"two FetchResults for {out.source}"
                crawl.fetches[out.source] = out
            elif isinstance(out, PostItem):
                crawl.posts.append(out)
            else:
                raise AssertionError(f"unexpected output {out!r}")
    return crawl


async def _drain(agen: Any) -> list[Any]:
    return [x async for x in agen]


def _answer(request: scrapy.Request, queues: Mapping[str, deque[Recorded]]) -> list[Any]:
    answers = queues.get(request.url)
    assert answers, f"no recorded response for {request.method} {request.url}"
    rec = answers.popleft() if len(answers) > 1 else answers[0]
    headers = Headers(rec.headers)
    cls = responsetypes.from_args(headers=headers, url=request.url, body=rec.body)
    response = cls(url=request.url, status=rec.status, headers=headers, body=rec.body, request=request)
    allowed = request.meta.get("handle_httpstatus_list", ())
    if 200 <= rec.status < 300 or rec.status in allowed or request.meta.get("handle_httpstatus_all"):
        return list((request.callback or (lambda r: ()))(response) or ())
    failure = Failure(HttpError(response, "Ignoring non-200 response"))
    failure.request = request  # as Scrapy's scraper sets it before calling the errback
    return list(request.errback(failure) or ())


def header(request: scrapy.Request, name: str) -> str | None:
    """A request header as text (None when absent)."""
    value = request.headers.get(name)
    return value.decode("latin-1") if value is not None else None
