"""Hacker News through the Algolia search API (``search_by_date``): stories and comments, no key."""

from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import urlencode

from scrapy.http import Response

from listener.text import html_to_text, iso_utc
from spiders.items import PostItem
from spiders.paged import Page, PagedSpider, SourceRun, as_int, json_list, numeric_key

HITS_PER_PAGE = 100
ITEM_URL = "https://news.ycombinator.com/item?id="


class HackerNewsSpider(PagedSpider):
    name = "hackernews"

    def first_url(self, run: SourceRun) -> str:
        return self.page_url(run, 0)

    def page_url(self, run: SourceRun, page: int) -> str:
        query = {"query": run.options["query"], "tags": run.options["tags"],
                 "hitsPerPage": HITS_PER_PAGE, "page": page}
        return f"{run.source['url']}/search_by_date?{urlencode(query)}"

    def read_page(self, response: Response, run: SourceRun) -> Page:
        data, hits = json_list(response, ("hits",), "an Algolia search answer")
        page = data.get("page") if isinstance(data.get("page"), int) else 0
        pages = data.get("nbPages") if isinstance(data.get("nbPages"), int) else 0
        posts = [(numeric_key(h["objectID"]), hit_item(h, run.name)) for h in hits
                 if isinstance(h, dict) and str(h.get("objectID", "")).isdigit()]
        return Page(posts, self.page_url(run, page + 1) if page + 1 < pages else None)


def hit_item(hit: dict, source: str) -> PostItem:
    """A post from one Algolia hit (a story or a comment)."""
    oid = str(hit["objectID"])
    title = hit.get("title") or (f"Re: {hit['story_title']}" if hit.get("story_title") else None)
    when = hit.get("created_at_i")
    published = iso_utc(datetime.fromtimestamp(when, tz=timezone.utc)) if isinstance(when, int) else None
    return PostItem(
        source=source, guid=oid, url=ITEM_URL + oid, author=hit.get("author"),
        title=html_to_text(title) or None,
        text=html_to_text(hit.get("comment_text") or hit.get("story_text") or hit.get("url") or ""),
        published_at=published, score=as_int(hit.get("points")), comments=as_int(hit.get("num_comments")),
    )

