"""Reddit: a subreddit's new posts or a search in it.

With OAuth client credentials (an app's id and secret in environment variables)
the spider asks for an application-only token and reads the JSON listings on
``oauth.reddit.com``; without them it reads the public ``.rss`` feed of the same
listing (one page, no scores). Both are documented endpoints, so robots.txt
(which disallows crawling the site) is not applied to them. Reddit wants a descriptive User-Agent: set
``collect.user_agent``.
"""

from __future__ import annotations

import base64
from datetime import datetime, timezone
from typing import Iterable
from urllib.parse import urlencode, urlsplit

import scrapy
from scrapy.http import Response

from listener.text import canonical_url, iso_utc
from spiders.feed import header
from spiders.feedparse import FeedError, parse_feed
from spiders.items import FetchResult, PostItem
from spiders.paged import Page, PagedSpider, PageError, SourceRun, as_int, numeric_key, read_json

LIMIT = 100
REDDIT_HOSTS = {"www.reddit.com", "reddit.com", "old.reddit.com"}
OAUTH_BASE = "https://oauth.reddit.com"
WEB_BASE = "https://www.reddit.com"


class RedditSpider(PagedSpider):
    name = "reddit"

    def begin(self, run: SourceRun) -> Iterable[scrapy.Request | FetchResult]:
        creds = run.credentials
        if creds.get("client_id") and creds.get("client_secret"):
            basic = base64.b64encode(f"{creds['client_id']}:{creds['client_secret']}".encode()).decode()
            yield scrapy.FormRequest(
                f"{run.source['url']}/api/v1/access_token", formdata={"grant_type": "client_credentials"},
                headers={"Authorization": f"Basic {basic}", "Accept": "application/json"},
                callback=self.on_token, errback=self.failed, dont_filter=True,
                meta={"source": run.name, "step": "OAuth token", "dont_obey_robotstxt": True,
                      "dont_merge_cookies": True})
        else:
            yield self.request(run, self.rss_url(run),
                               headers={"Accept": "application/atom+xml, application/xml;q=0.9"})

    def on_token(self, response: Response) -> Iterable[scrapy.Request | FetchResult]:
        run = self.runs[response.meta["source"]]
        try:
            data = read_json(response)
        except PageError as exc:
            yield self.finish(run, response.status, f"OAuth token: {exc}")
            return
        token = data.get("access_token") if isinstance(data, dict) else None
        if not token:
            why = data.get("error") if isinstance(data, dict) else None
            yield self.finish(run, response.status, f"OAuth token: no access_token in the answer ({why or 'unexpected JSON'})")
            return
        run.token = token
        yield self.request(run, self.first_url(run))

    def api_base(self, run: SourceRun) -> str:
        url = run.source["url"]
        return OAUTH_BASE if urlsplit(url).hostname in REDDIT_HOSTS else url

    def listing(self, run: SourceRun, suffix: str) -> str:
        sub, query = run.options["subreddit"], run.options.get("query")
        if query:
            return f"/r/{sub}/search{suffix}?" + urlencode({"q": query, "restrict_sr": 1, "sort": "new",
                                                             "limit": LIMIT})
        return f"/r/{sub}/new{suffix}?limit={LIMIT}"

    def first_url(self, run: SourceRun) -> str:
        return self.api_base(run) + self.listing(run, ".json") + "&raw_json=1"

    def rss_url(self, run: SourceRun) -> str:
        return run.source["url"] + self.listing(run, ".rss")

    def read_page(self, response: Response, run: SourceRun) -> Page:
        if run.token is None:
            return self.read_rss(response, run)
        data = read_json(response)
        listing = data.get("data") if isinstance(data, dict) else None
        children = listing.get("children") if isinstance(listing, dict) else None
        if not isinstance(children, list):
            raise PageError("unexpected JSON: not a Reddit listing" +
                            (f" (error {data['error']})" if isinstance(data, dict) and "error" in data else ""))
        posts = []
        for child in children:
            d = child.get("data") if isinstance(child, dict) else None
            if isinstance(d, dict) and d.get("name") and d.get("id"):
                posts.append((numeric_key(d["id"], 36), listing_item(d, run.name)))
        after = listing.get("after")
        return Page(posts, f"{self.first_url(run)}&after={after}" if after else None)

    def read_rss(self, response: Response, run: SourceRun) -> Page:
        try:
            feed = parse_feed(response.body, source=run.name, url=response.url,
                              content_type=header(response, b"Content-Type"))
        except FeedError as exc:
            raise PageError(str(exc)) from None
        posts = []
        for item in feed.items:
            rid = item.guid.split("_", 1)[-1]
            if rid.isalnum():
                posts.append((numeric_key(rid, 36), item))
        posts.sort(key=lambda p: p[0], reverse=True)
        return Page(posts, None)


def listing_item(d: dict, source: str) -> PostItem:
    """A post from one entry (``t3`` submission or ``t1`` comment) of a Reddit listing."""
    created = d.get("created_utc")
    published = iso_utc(datetime.fromtimestamp(created, tz=timezone.utc)) if isinstance(created, (int, float)) else None
    text = d.get("selftext") or d.get("body") or ""
    if not text and d.get("url") and not d.get("is_self"):
        text = d["url"]
    return PostItem(
        source=source, guid=d["name"], url=canonical_url(WEB_BASE + d["permalink"]) if d.get("permalink") else None,
        author=d.get("author"), title=d.get("title") or d.get("link_title"), text=text,
        published_at=published, score=as_int(d.get("score")), comments=as_int(d.get("num_comments")),
    )
