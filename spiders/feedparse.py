"""Turn the bytes of an RSS/Atom response into post items with feedparser.

feedparser only ever sees bytes here: given a ``str`` it would treat it as a URL
or a file name and fetch it. Its loose parser expands entities in pure Python,
so DOCTYPE blocks (where entities are declared) are cut out first and the body
size is capped: a "billion laughs" feed then parses as plain, bounded text.
"""

from __future__ import annotations

import re
from urllib.parse import urljoin
from dataclasses import dataclass, field

import feedparser

from listener.errors import UserError
from listener.text import canonical_url, content_hash, html_to_text, iso_utc, language_tag
from spiders.items import PostItem

MAX_FEED_BYTES = 20_000_000
_DOCTYPE_RE = re.compile(rb"<!DOCTYPE[^\[>]*(?:\[.*?\]\s*)?>", re.I | re.S)
_ENTITY_DECL_RE = re.compile(rb"<!ENTITY[^>]*>", re.I | re.S)


_LINK_ONLY_BODIES = {"comments", "comment", "discuss", "discussion"}


class FeedError(UserError):
    """The body is not a feed we can take anything from."""


@dataclass
class ParsedFeed:
    items: list[PostItem] = field(default_factory=list)
    bozo: str | None = None  # what the parser complained about, when it still produced entries
    title: str | None = None


def strip_doctype(body: bytes) -> bytes:
    """Remove DOCTYPE (with any internal subset) and stray ENTITY declarations."""
    if b"<!" not in body:
        return body
    return _ENTITY_DECL_RE.sub(b"", _DOCTYPE_RE.sub(b"", body))


def parse_feed(body: bytes, *, source: str, url: str | None = None, content_type: str | None = None,
               max_bytes: int = MAX_FEED_BYTES) -> ParsedFeed:
    """Parse feed bytes into ``PostItem``s for ``source``; raise ``FeedError`` if none can be had."""
    if not isinstance(body, (bytes, bytearray)):
        raise TypeError("parse_feed takes the response body as bytes")
    if len(body) > max_bytes:
        raise FeedError(f"body is {len(body):,} bytes, over the {max_bytes:,} byte limit")
    if not body.strip():
        raise FeedError("empty response body")
    # No content-location: feedparser would resolve entry ids against it, and an
    # id must not change when the feed moves (it is half of the dedup key).
    headers = {"content-type": content_type or "application/xml"}
    parsed = feedparser.parse(strip_doctype(bytes(body)), response_headers=headers,
                              sanitize_html=True, resolve_relative_uris=True)
    bozo = None
    if parsed.get("bozo"):
        exc = parsed.get("bozo_exception")
        bozo = f"{type(exc).__name__}: {exc}" if exc else "malformed feed"
    if not parsed.entries:
        if bozo or not parsed.get("version"):
            raise FeedError(f"not an RSS/Atom feed ({bozo or 'no feed elements found'})")
    feed_lang = language_tag(parsed.feed.get("language"))
    items = [_item(entry, source, feed_lang, url) for entry in parsed.entries]
    return ParsedFeed(items=items, bozo=bozo, title=html_to_text(parsed.feed.get("title")) or None)


def _item(entry: dict, source: str, feed_lang: str | None, base: str | None) -> PostItem:
    title = html_to_text(entry.get("title")) or None
    bodies = [c.get("value", "") for c in entry.get("content", []) if c.get("value")]
    body = max(bodies, key=len) if bodies else entry.get("summary", "")
    text = html_to_text(body)
    if entry.get("comments") and text.strip().lower() in _LINK_ONLY_BODIES:
        text = ""  # the body is only a link to the discussion (Lobsters, hnrss): not something said
    link = entry.get("link")
    if link and base:
        link = urljoin(base, link)
    published = entry.get("published_parsed") or entry.get("updated_parsed")
    guid = entry.get("id") or link or content_hash(title, text)
    author = (entry.get("author_detail") or {}).get("name") or entry.get("author")
    lang = None
    for c in entry.get("content", []):
        lang = lang or language_tag(c.get("language"))
    return PostItem(
        source=source,
        guid=str(guid).strip(),
        url=canonical_url(link),
        author=html_to_text(author) or None,
        title=title,
        text=text,
        published_at=iso_utc(published),
        language=lang or feed_lang,
        comments=_int(entry.get("slash_comments") or entry.get("thr_total")),
    )


def _int(value: object) -> int | None:
    try:
        return int(str(value).strip()) if value not in (None, "") else None
    except ValueError:
        return None
