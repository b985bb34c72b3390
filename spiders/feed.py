"""RSS/Atom/JSON Feed spider: Scrapy fetches, feedparser parses the bytes.

Takes the sources to fetch as a list of dicts (name, url, etag, last_modified)
and yields ``PostItem``s plus exactly one ``FetchResult`` per source, so the
caller can record success, a 304, or one clear error line for each.
"""

from __future__ import annotations

from typing import Any, AsyncIterator, Iterator

import scrapy
from scrapy.http import Response

from spiders.feedparse import FeedError, parse_feed
from spiders.items import FetchResult, PostItem

FEED_ACCEPT = ("application/rss+xml, application/atom+xml, application/feed+json, application/rdf+xml;q=0.9, "
               "application/xml;q=0.8, text/xml;q=0.8, application/json;q=0.8, */*;q=0.5")


class FeedSpider(scrapy.Spider):
    name = "feed"

    def __init__(self, sources: list[dict[str, Any]] | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.sources = sources or []

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for source in self.sources:
            headers = {"Accept": FEED_ACCEPT}
            if source.get("etag"):
                headers["If-None-Match"] = source["etag"]
            if source.get("last_modified"):
                headers["If-Modified-Since"] = source["last_modified"]
            yield scrapy.Request(
                source["url"], headers=headers, callback=self.parse_feed, errback=self.failed,
                dont_filter=True,
                meta={"source": source["name"], "handle_httpstatus_list": [304],
                      "dont_merge_cookies": True},
            )

    def parse_feed(self, response: Response) -> Iterator[PostItem | FetchResult]:
        source = response.meta["source"]
        etag = header(response, b"ETag")
        modified = header(response, b"Last-Modified")
        if response.status == 304:
            yield FetchResult(source=source, status=304, etag=etag, last_modified=modified)
            return
        try:
            parsed = parse_feed(response.body, source=source, url=response.url,
                                content_type=header(response, b"Content-Type"),
                                max_bytes=self.settings.getint("DOWNLOAD_MAXSIZE") or 20_000_000)
        except FeedError as exc:
            yield FetchResult(source=source, status=response.status, error=str(exc))
            return
        yield from parsed.items
        yield FetchResult(source=source, status=response.status, etag=etag, last_modified=modified,
                          bozo=parsed.bozo, entries=len(parsed.items))

    def failed(self, failure: Any) -> Iterator[FetchResult]:
        request = failure.request
        yield FetchResult(source=request.meta["source"], status=failure_status(failure),
                          error=describe_failure(failure.value, request, self.settings))


def failure_status(failure: Any) -> int | None:
    """The HTTP status of a failed request, when the failure carries a response."""
    response = getattr(failure.value, "response", None)
    return response.status if response is not None else None


def describe_failure(exc: BaseException, request: scrapy.Request, settings: Any) -> str:
    """One short human sentence for a download failure."""
    name = type(exc).__name__
    response = getattr(exc, "response", None)
    if response is not None and getattr(response, "status", None):
        reason = _REASONS.get(response.status, "")
        line = f"HTTP {response.status}{' ' + reason if reason else ''}"
        wait, tries = request.meta.get("rate_limit_wait"), request.meta.get("rate_limit_retries")
        if wait is not None:
            line += f" (server asks to wait {wait:g}s, more than collect.max_retry_wait)"
        elif tries:
            line += f" (still after {tries} polite retr{'y' if tries == 1 else 'ies'})"
        return line
    text = str(exc)
    if "robots.txt" in text:
        return "blocked by robots.txt"
    if "Timeout" in name or "took longer than" in text:
        timeout = request.meta.get("download_timeout") or settings.getfloat("DOWNLOAD_TIMEOUT")
        return f"timed out after {timeout:g}s"
    if "Cancelled" in name or "maxsize" in text.lower() or "max size" in text.lower():
        limit = settings.getint("DOWNLOAD_MAXSIZE")
        return f"response larger than the {limit:,} byte limit (collect.max_bytes)"
    if "DNS" in name:
        return f"cannot resolve host ({text or name})"
    if "ConnectionRefused" in name:
        return "connection refused"
    if "ResponseNeverReceived" in name or "PartialDownload" in name or "DataLoss" in name:
        return f"connection broken before the whole response arrived ({name})"
    return f"{name}: {text}" if text else name


_REASONS = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
            410: "Gone", 429: "Too Many Requests", 500: "Internal Server Error",
            502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}


def header(response: Response, name: bytes) -> str | None:
    """A response header as text (None when absent)."""
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None
