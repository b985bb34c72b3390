"""Downloader middlewares for our spiders."""

from __future__ import annotations

from typing import Any

from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware as _ScrapyRobotsTxt
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import Deferred


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
