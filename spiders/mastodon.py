"""Mastodon: a hashtag's timeline on one instance, following the ``Link: <...>; rel="next"`` header.

An access token (from the environment variable named by ``token_env``) is sent
when set, for instances that only show timelines to logged-in clients.
"""

from __future__ import annotations

from typing import Iterable
from urllib.parse import quote

import scrapy
from scrapy.http import Response

from listener.text import canonical_url, html_to_text, iso_utc, language_tag, parse_iso
from spiders.items import FetchResult, PostItem
from spiders.paged import Page, PagedSpider, PageError, SourceRun, as_int, next_link, numeric_key, read_json

LIMIT = 40


class MastodonSpider(PagedSpider):
    name = "mastodon"

    def begin(self, run: SourceRun) -> Iterable[scrapy.Request | FetchResult]:
        run.token = run.credentials.get("token") or None
        yield from super().begin(run)

    def first_url(self, run: SourceRun) -> str:
        return f"{run.source['url']}/api/v1/timelines/tag/{quote(run.options['hashtag'])}?limit={LIMIT}"

    def read_page(self, response: Response, run: SourceRun) -> Page:
        data = read_json(response)
        if not isinstance(data, list):
            why = data.get("error") if isinstance(data, dict) else None
            raise PageError("unexpected JSON: expected a list of statuses" + (f" ({why})" if why else ""))
        posts = [(numeric_key(s["id"]), status_item(s, run.name)) for s in data
                 if isinstance(s, dict) and str(s.get("id", "")).isdigit()]
        return Page(posts, next_link(response))


def status_item(status: dict, source: str) -> PostItem:
    """A post from a Mastodon status (its reblogged status when it is a reblog)."""
    s = status.get("reblog") or status
    account = s.get("account") or {}
    return PostItem(
        source=source, guid=s.get("uri") or s.get("url") or str(s["id"]),
        url=canonical_url(s.get("url") or s.get("uri")), author=account.get("acct"),
        title=html_to_text(s.get("spoiler_text")) or None, text=html_to_text(s.get("content")),
        published_at=iso_utc(parse_iso(s.get("created_at"))), language=language_tag(s.get("language")),
        comments=as_int(s.get("replies_count")), likes=as_int(s.get("favourites_count")),
        shares=as_int(s.get("reblogs_count")),
    )
