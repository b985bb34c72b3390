"""Text and value normalization shared by spiders, the store and reports."""

from __future__ import annotations

import calendar
import hashlib
import re
import time
from datetime import date, datetime, timezone
from html import unescape
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_BLOCK_TAGS = {
    "p", "div", "br", "li", "ul", "ol", "tr", "td", "th", "table", "h1", "h2", "h3", "h4", "h5",
    "h6", "blockquote", "pre", "section", "article", "header", "footer", "hr", "dd", "dt", "figcaption",
}
_SKIP_TAGS = {"script", "style", "template", "noscript", "head", "title"}
_WS_RE = re.compile(r"[ \t\r\f\v\u00a0]+")
_NL_RE = re.compile(r"\s*\n\s*")
_TRACKING_PARAMS = re.compile(r"^(utm_[a-z]+|fbclid|gclid|mc_cid|mc_eid|ref_src)$", re.I)


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in _SKIP_TAGS:
            self.skip += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")
        elif tag == "img":
            alt = dict(attrs).get("alt")
            if alt and not self.skip:
                self.parts.append(f" {alt} ")

    def handle_endtag(self, tag):
        if tag in _SKIP_TAGS:
            self.skip = max(0, self.skip - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(data)


def html_to_text(html: str | None) -> str:
    """Plain text of an HTML fragment: tags dropped, entities decoded, whitespace folded."""
    if not html:
        return ""
    if "<" not in html:
        text = unescape(html)
    else:
        parser = _TextExtractor()
        try:
            parser.feed(html)
            parser.close()
        except Exception:  # html.parser is lenient; this is a last resort for odd input
            return collapse_ws(re.sub(r"<[^>]*>", " ", unescape(html)))
        text = "".join(parser.parts)
    return collapse_ws(text)


def collapse_ws(text: str) -> str:
    """Fold runs of spaces, keep single line breaks, trim."""
    text = _WS_RE.sub(" ", text)
    text = _NL_RE.sub("\n", text)
    return text.strip()


def canonical_url(url: str | None) -> str | None:
    """URL without fragment and tracking parameters, with a lower-case host."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return url.strip()
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                       if not _TRACKING_PARAMS.match(k)])
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", query, ""))


def parse_iso(value: str | None) -> datetime | None:
    """An ISO 8601 time (``Z`` or offset) as an aware datetime, or None."""
    if not value:
        return None
    try:
        t = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


def iso_utc(value: datetime | time.struct_time | None) -> str | None:
    """``YYYY-MM-DDTHH:MM:SSZ`` in UTC (sortable as text), or None."""
    if value is None:
        return None
    if isinstance(value, time.struct_time):
        value = datetime.fromtimestamp(calendar.timegm(value), tz=timezone.utc)
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_day(value: str) -> date:
    """A ``YYYY-MM-DD`` string as a date, with a clear error."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"expected a date as YYYY-MM-DD, got {value!r}") from None


def content_hash(*parts: str | int | None) -> str:
    """Stable digest of a post's visible fields, to tell an edit from a re-fetch."""
    h = hashlib.sha1()
    for p in parts:
        h.update(b"\x1f" + ("" if p is None else str(p)).encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def language_tag(value: str | None) -> str | None:
    """``en-US`` -> ``en``; empty -> None."""
    if not value:
        return None
    tag = value.strip().split("-")[0].split("_")[0].lower()
    return tag if re.fullmatch(r"[a-z]{2,3}", tag) else None


def snippet(text: str | None, limit: int = 240) -> str:
    """First ``limit`` characters of text on one line, cut at a word."""
    if not text:
        return ""
    one = " ".join(text.split())
    if len(one) <= limit:
        return one
    cut = one[:limit].rsplit(" ", 1)[0]
    return cut + "…"
