"""The items every spider yields. Dataclasses, so Scrapy and plain code share them."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class PostItem:
    """One public post, already normalized: plain text, UTC ISO times, canonical URL."""

    source: str
    guid: str
    url: str | None = None
    author: str | None = None
    title: str | None = None
    text: str = ""
    published_at: str | None = None
    language: str | None = None
    score: int | None = None      # points / score
    comments: int | None = None   # comment or reply count
    likes: int | None = None      # likes / favourites
    shares: int | None = None     # reposts / reblogs
    parent_url: str | None = None  # what this post replies to (a comment's thread, question or issue)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class FetchResult:
    """What happened when a source was fetched: exactly one per source per crawl."""

    source: str
    status: int | None = None
    error: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    bozo: str | None = None
    entries: int = 0
    high_water: str | None = None  # newest sort key seen (paged sources); stored only without error
    session: str | None = None     # a new login session (JSON) to keep for the next run

    def to_dict(self) -> dict:
        return asdict(self)
