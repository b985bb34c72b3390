"""Reddit: a subreddit's new posts or a search in it, and (``comments = true``) its new comments.

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
    stream_meta = ("stream", "page_url")

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
            yield from self.listings(run, ".rss")

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
        yield from self.listings(run, ".json")

    def listings(self, run: SourceRun, suffix: str) -> Iterable[scrapy.Request]:
        """The subreddit's posts, and with ``comments = true`` its new comments beside them."""
        feed = suffix == ".rss"
        base = run.source["url"] if feed else self.api_base(run)
        headers = {"Accept": "application/atom+xml, application/xml;q=0.9"} if feed else {}
        posts = base + self.listing(run, suffix) + ("" if feed else "&raw_json=1")
        if not run.options.get("comments"):
            yield self.request(run, posts, headers=headers, meta={"page_url": posts})
            return
        comments = f"{base}/r/{run.options['subreddit']}/comments{suffix}?limit={LIMIT}" + ("" if feed else "&raw_json=1")
        yield self.open_stream(run, posts, "posts", headers=headers, meta={"page_url": posts})
        yield self.open_stream(run, comments, "comments", headers=headers, meta={"page_url": comments})

    def api_base(self, run: SourceRun) -> str:
        url = run.source["url"]
        return OAUTH_BASE if urlsplit(url).hostname in REDDIT_HOSTS else url

    def listing(self, run: SourceRun, suffix: str) -> str:
        sub, query = run.options["subreddit"], run.options.get("query")
        if query:
            return f"/r/{sub}/search{suffix}?" + urlencode({"q": query, "restrict_sr": 1, "sort": "new",
                                                             "limit": LIMIT})
        return f"/r/{sub}/new{suffix}?limit={LIMIT}"

    def key(self, run: SourceRun, reddit_id: str, published: str | None, fullname: str) -> str:
        """Ids order one kind of thing; posts and comments read together are ordered by time."""
        if run.options.get("comments"):
            return f"{published or ''}#{fullname}"
        return numeric_key(reddit_id, 36)

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
                item = listing_item(d, run.name)
                posts.append((self.key(run, d["id"], item.published_at, d["name"]), item))
        posts.sort(key=lambda p: p[0], reverse=True)
        after = listing.get("after")
        return Page(posts, f"{response.meta['page_url']}&after={after}" if after else None)

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
                if item.guid.startswith("t1_") and item.url:
                    item.parent_url = thread_of(item.url)
                posts.append((self.key(run, rid, item.published_at, item.guid), item))
        posts.sort(key=lambda p: p[0], reverse=True)
        return Page(posts, None)


def listing_item(d: dict, source: str) -> PostItem:
    """A post from one entry (``t3`` submission or ``t1`` comment) of a Reddit listing."""
    created = d.get("created_utc")
    published = iso_utc(datetime.fromtimestamp(created, tz=timezone.utc)) if isinstance(created, (int, float)) else None
    text = d.get("selftext") or d.get("body") or ""
    if not text and d.get("url") and not d.get("is_self"):
        text = d["url"]
    title = d.get("title") or (f"Re: {d['link_title']}" if d.get("link_title") else None)
    return PostItem(
        source=source, guid=d["name"], url=canonical_url(WEB_BASE + d["permalink"]) if d.get("permalink") else None,
        parent_url=thread_url(d) if d.get("name", "").startswith("t1_") else None,
        author=d.get("author"), title=title, text=text,
        published_at=published, score=as_int(d.get("score")), comments=as_int(d.get("num_comments")),
    )


def thread_url(comment: dict) -> str | None:
    """The thread a ``t1`` comment belongs to: its ``link_permalink``, else its permalink without the
    comment's own id."""
    link = comment.get("link_permalink")
    if isinstance(link, str) and link.startswith("http"):
        return canonical_url(link)
    permalink = comment.get("permalink")
    return thread_of(WEB_BASE + permalink) if isinstance(permalink, str) else None


def thread_of(comment_url: str) -> str | None:
    """``https://…/r/SUB/comments/ID/SLUG/CID/`` -> ``https://…/r/SUB/comments/ID/SLUG/`` (None for
    another shape)."""
    head, _, path = comment_url.partition("/r/")
    parts = path.rstrip("/").split("/")
    if not head or len(parts) != 5 or parts[1] != "comments":
        return None
    return canonical_url(f"{head}/r/{'/'.join(parts[:4])}/")
