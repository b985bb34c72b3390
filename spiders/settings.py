"""The Scrapy settings every crawl shares, as in a Scrapy project's settings.py.

The per-run values (User-Agent, timeouts, retries, concurrency, sizes) come from the
``[collect]`` settings; ``listener.crawler.scrapy_settings`` puts the two together.
"""

# 429 and 503 are retried by spiders.middlewares.RetryAfterMiddleware, after the wait asked for.
RETRY_HTTP_CODES = [500, 502, 504, 522, 524, 408]
AUTOTHROTTLE_ENABLED = True
DOWNLOAD_WARNSIZE = 0
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
HTTPCACHE_ENABLED = False
LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"
ITEM_PIPELINES = {"spiders.pipelines.EmitPipeline": 100}
DOWNLOADER_MIDDLEWARES = {
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "spiders.middlewares.RobotsTxtMiddleware": 100,
    "spiders.middlewares.RetryAfterMiddleware": 560,
}
# Scrapy 2.13+ default; named so nothing can install another reactor first.
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"


def static() -> dict:
    """The settings above as a dict (their names are Scrapy's)."""
    return {name: value for name, value in globals().items() if name.isupper()}
