"""Turn the bytes of an RSS/Atom or JSON Feed response into post items.

RSS and Atom go through feedparser; JSON Feed 1.0 and 1.1 (https://jsonfeed.org)
are read here, chosen by the content type or, when it says nothing useful, by a
body that starts with ``{``.

feedparser only ever sees bytes here: given a ``str`` it would treat it as a URL
or a file name and fetch it. Its loose parser expands entities in pure Python,
so DOCTYPE blocks (where entities are declared) are cut out first and the body
size is capped: a "billion laughs" feed then parses as plain, bounded text.
"""

from __future__ import annotations

import json
import re
from urllib.parse import urljoin
from dataclasses import dataclass, field

import feedparser

from listener.errors import UserError
from listener.text import canonical_url, content_hash, html_to_text, iso_utc, language_tag, parse_iso
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
    if _is_json(body, content_type):
        return parse_json_feed(bytes(body), source=source, url=url)
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


JSON_FEED_VERSION = re.compile(r"^https?://jsonfeed\.org/version/1(\.\d+)?/?$")


def _is_json(body: bytes, content_type: str | None) -> bool:
    """JSON by its content type (unless the body is plainly markup), else by its first character."""
    ctype = (content_type or "").split(";")[0].strip().lower()
    first = body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if ctype.endswith("json"):  # application/feed+json, application/json
        return first != b"<"  # an RSS file served as JSON is still RSS
    if "xml" in ctype or "rss" in ctype or "atom" in ctype:
        return False
    return first in (b"{", b"[")


def parse_json_feed(body: bytes, *, source: str, url: str | None = None) -> ParsedFeed:
    """Parse a JSON Feed 1.0/1.1 document into ``PostItem``s; ``FeedError`` if it is not one."""
    try:
        data = json.loads(body.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise FeedError("not a JSON Feed (the body is not UTF-8)") from None
    except ValueError as exc:
        raise FeedError(f"malformed JSON Feed ({getattr(exc, 'msg', exc)} at byte {getattr(exc, 'pos', '?')})") from None
    version = data.get("version") if isinstance(data, dict) else None
    if not isinstance(version, str) or not JSON_FEED_VERSION.match(version.strip()):
        raise FeedError("not a JSON Feed (no https://jsonfeed.org/version/1 or 1.1 \"version\"): "
                        "JSON, but not a feed")
    entries = data.get("items")
    if not isinstance(entries, list):
        raise FeedError("not a JSON Feed (no \"items\" list)")
    base = url or (data.get("home_page_url") if isinstance(data.get("home_page_url"), str) else None)
    feed_lang = language_tag(_str(data.get("language")))
    feed_author = _json_author(data)
    items = []
    skipped = 0
    for entry in entries:
        item = _json_item(entry, source, base, feed_lang, feed_author) if isinstance(entry, dict) else None
        if item is None:
            skipped += 1
        else:
            items.append(item)
    bozo = f"{skipped} item(s) without an id, text or link skipped" if skipped else None
    return ParsedFeed(items=items, bozo=bozo, title=html_to_text(_str(data.get("title"))) or None)


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _json_author(obj: dict) -> str | None:
    """The first named author: ``authors`` (1.1) or ``author`` (1.0)."""
    authors = obj.get("authors")
    candidates = (authors if isinstance(authors, list) else []) + [obj.get("author")]
    for a in candidates:
        if isinstance(a, dict) and _str(a.get("name")):
            return html_to_text(a["name"]) or None
    return None


def _json_item(entry: dict, source: str, base: str | None, feed_lang: str | None,
               feed_author: str | None) -> PostItem | None:
    title = html_to_text(_str(entry.get("title"))) or None
    if _str(entry.get("content_html")):
        text = html_to_text(entry["content_html"])
    else:
        text = _str(entry.get("content_text")) or html_to_text(_str(entry.get("summary"))) or ""
    link = _str(entry.get("url")) or _str(entry.get("external_url"))
    if link and base:
        link = urljoin(base, link)
    raw_id = entry.get("id")
    guid = str(raw_id).strip() if isinstance(raw_id, (str, int)) and not isinstance(raw_id, bool) else ""
    if not guid:  # required by the spec; some feeds still leave it out
        guid = link or (content_hash(title, text) if title or text else "")
    if not guid or not (title or text or link):
        return None
    published = _str(entry.get("date_published")) or _str(entry.get("date_modified"))
    return PostItem(
        source=source, guid=guid, url=canonical_url(link), author=_json_author(entry) or feed_author,
        title=title, text=text, published_at=iso_utc(parse_iso(published)),
        language=language_tag(_str(entry.get("language"))) or feed_lang,
    )
