"""Downloader middlewares for our spiders."""

from __future__ import annotations

import json
import time
from email.utils import parsedate_to_datetime
from typing import Any

from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware as _ScrapyRobotsTxt
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import Deferred

from listener.text import parse_iso


class RobotsTxtMiddleware(_ScrapyRobotsTxt):
    """Scrapy's robots.txt middleware, fixed for several requests waiting on one host.

    In Scrapy 2.13+ every request that arrives while robots.txt is still being
    fetched awaits the same Deferred through ``asFuture``, whose callback returns
    None: only the first waiter sees the parser, the rest see None and are let
    through unchecked (scrapy/scrapy#6802 dropped the relay that prevented it).
    Each waiter here gets its own Deferred, and the shared one passes its result on.
    """

    async def robot_parser(self, request: Any) -> Any:
        parser = self._parsers.get(urlparse_cached(request).netloc)
        if isinstance(parser, Deferred):
            waiter: Deferred = Deferred()

            def relay(result: Any) -> Any:
                waiter.callback(result)
                return result

            parser.addCallback(relay)
            return await maybe_deferred_to_future(waiter)
        return await super().robot_parser(request)


RATE_LIMITED = (429, 503)


class RetryAfterMiddleware:
    """Retry 429, 503 and rate-limit 403 answers after the wait the server asks for, never in a tight loop.

    The wait is ``Retry-After`` (seconds or an HTTP date), else the reset of an
    exhausted ``X-Ratelimit-*`` budget (Reddit sends seconds, Mastodon an ISO
    time), else exponential backoff from ``LISTENER_RETRY_BACKOFF``. A wait
    longer than ``LISTENER_MAX_RETRY_WAIT`` is not honoured: the response goes
    on to the spider as a failure. A successful answer that says the budget is
    spent (``X-Ratelimit-Remaining: 0``) holds back the next request to that host
    until the reset. Scrapy's own RetryMiddleware keeps retrying timeouts and the
    other 5xx codes; it has no notion of Retry-After.
    """

    def __init__(self, retries: int, backoff: float, max_wait: float):
        self.retries = retries
        self.backoff = backoff
        self.max_wait = max_wait
        self.resume_at: dict[str, float] = {}  # host -> time.monotonic() when it may be asked again

    @classmethod
    def from_crawler(cls, crawler: Any) -> "RetryAfterMiddleware":
        s = crawler.settings
        return cls(s.getint("RETRY_TIMES") if s.getbool("RETRY_ENABLED") else 0,
                   s.getfloat("LISTENER_RETRY_BACKOFF", 2.0), s.getfloat("LISTENER_MAX_RETRY_WAIT", 120.0))

    async def process_request(self, request: Any, spider: Any = None) -> None:
        host = urlparse_cached(request).netloc
        wait = self.resume_at.get(host, 0.0) - time.monotonic()
        if wait > 0:
            await _sleep(min(wait, self.max_wait))

    async def process_response(self, request: Any, response: Any, spider: Any = None) -> Any:
        if not rate_limited(response):
            # Most responses: only an exhausted budget, or a body asking to back off, means waiting
            # before the next request.
            wait = None
            remaining = _header_float(response.headers, b"X-Ratelimit-Remaining")
            if remaining is not None and remaining < 1:
                wait = rate_limit_wait(response.headers, time.time())
            wait = max(wait or 0.0, body_backoff(response) or 0.0)
            if wait:
                host = urlparse_cached(request).netloc
                self.resume_at[host] = max(self.resume_at.get(host, 0.0), time.monotonic() + min(wait, self.max_wait))
            return response
        wait = rate_limit_wait(response.headers, time.time())
        tries = request.meta.get("rate_limit_retries", 0)
        if request.meta.get("dont_retry") or tries >= self.retries:
            return response
        if wait is None:
            wait = self.backoff * (2 ** tries)
        if wait > self.max_wait:
            request.meta["rate_limit_wait"] = wait  # for the spider's error line
            return response
        await _sleep(wait)
        retry = request.replace(dont_filter=True)
        retry.meta["rate_limit_retries"] = tries + 1
        return retry


def rate_limited(response: Any) -> bool:
    """A 429 or 503, or a 403 that is a rate limit: GitHub answers 403 with the budget spent
    (``X-Ratelimit-Remaining: 0``) or, for its secondary limits, with ``Retry-After``."""
    if response.status in RATE_LIMITED:
        return True
    if response.status != 403:
        return False
    return bool(response.headers.get(b"Retry-After")) or _header_float(response.headers, b"X-Ratelimit-Remaining") == 0


def body_backoff(response: Any) -> float | None:
    """Seconds a JSON answer's ``backoff`` field asks for (Stack Exchange: no request to the API before
    they have passed, or the client is banned), else None."""
    body = getattr(response, "body", b"")
    if b'"backoff"' not in body[-4096:] and b'"backoff"' not in body[:4096]:
        return None
    try:
        value = json.loads(body).get("backoff")
    except (ValueError, AttributeError):
        return None
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0 else None


def rate_limit_wait(headers: Any, now: float) -> float | None:
    """Seconds the server asks us to wait, from Retry-After or an exhausted X-Ratelimit budget."""
    value = headers.get(b"Retry-After")
    if value:
        text = value.decode("latin-1").strip()
        try:
            return max(0.0, float(text))
        except ValueError:
            try:
                return max(0.0, parsedate_to_datetime(text).timestamp() - now)
            except (TypeError, ValueError):
                pass
    remaining = _header_float(headers, b"X-Ratelimit-Remaining")
    reset = headers.get(b"X-Ratelimit-Reset")
    if remaining is None or remaining >= 1 or not reset:
        return None
    text = reset.decode("latin-1").strip()
    try:
        seconds = float(text)  # Reddit: seconds until the window resets
        return seconds if seconds < 10 ** 9 else max(0.0, seconds - now)  # or a Unix time
    except ValueError:
        pass
    reset_at = parse_iso(text)  # Mastodon: an ISO 8601 time
    return max(0.0, reset_at.timestamp() - now) if reset_at else None


def _header_float(headers: Any, name: bytes) -> float | None:
    value = headers.get(name)
    try:
        return float(value.decode("latin-1")) if value else None
    except ValueError:
        return None


async def _sleep(seconds: float) -> None:
    from twisted.internet import reactor
    from twisted.internet.task import deferLater

    await maybe_deferred_to_future(deferLater(reactor, seconds, lambda: None))
