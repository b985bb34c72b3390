"""Posts and thread links of forum pages no preset knows, found from the page's structure.

A thread page shows its posts as repeated sibling blocks (same tag, same first class)
that each hold an author, a date and a body. ``find_posts`` looks at every such group
and keeps the one whose blocks are complete; a page without one gives a reason
instead, so the spider stops with a clear error rather than store empty posts. A board
page lists its threads as a repeated group of links to thread-shaped URLs
(``find_thread_links``). Nothing here knows an engine; the names it looks for
(``author``, ``username``, ``content``, ``message``...) are what forum themes share.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Iterator
from urllib.parse import urlsplit

from lxml import etree
from parsel import Selector

from spiders.forumurls import thread_key

_AUTHOR_RE = re.compile(r"author|user-?name|poster|\bname\b|member|\buser\b", re.I)
_NAME_RE = re.compile(r"user-?name|poster-?name|author-?name|\bname\b|\bbigusername\b", re.I)
_BODY_RE = re.compile(r"content|body|message|postmsg|post-?text|entry|bbwrapper|cooked|\btext\b|\binner\b|\bpost\b",
                      re.I)
_DATE_MARK_RE = re.compile(r"date|time|posted|dateline|timestamp|postinfo|keyinfo", re.I)
_JOINED_RE = re.compile(r"join|regist|member.?since|seit|inscrit", re.I)
_POSTISH_RE = re.compile(r"\b(?:post|message|comment|reply)\b|^(?:post|msg|comment)[-_]?\d+$", re.I)
_DATEISH_RE = re.compile(r"\d{1,2}:\d{2}|\b\d{4}\b")
_PROFILE_RE = re.compile(r"member|user|profile|memberlist|/u/|/people/", re.I)
_THREAD_RE = re.compile(r"showthread|viewtopic|topic|thread|discussion|/t/|/d/\d|/questions/\d", re.I)
_THREAD_PARAMS = {"t", "topic", "threadid", "tid", "thread", "showtopic", "id"}
_ID_ATTRS = ("data-post-id", "data-pid", "data-node-id", "data-content", "data-post", "data-id")
_SKIP = {"script", "style", "noscript", "head", "select", "option", "button", "input", "textarea"}
MIN_BODY = 3  # characters: a one-word reply is a post; an empty block is not


@dataclass
class GenericPost:
    post_id: str
    author: str
    date: str
    body_html: str


def _classes(el: etree._Element) -> list[str]:
    return (el.get("class") or "").split()


def _text(el: etree._Element) -> str:
    return " ".join("".join(el.itertext()).split())


def _marks(el: etree._Element) -> str:
    return " ".join([el.get("class") or "", el.get("id") or "", el.get("itemprop") or "", el.get("data-role") or ""])


def _groups(root: etree._Element) -> Iterator[list[etree._Element]]:
    """Groups of sibling elements sharing tag and first class, two or more each."""
    for parent in root.iter():
        if not isinstance(parent.tag, str) or parent.tag in _SKIP:
            continue
        buckets: dict[tuple[str, str], list[etree._Element]] = {}
        for child in parent:
            if isinstance(child.tag, str) and child.tag not in _SKIP:
                first = (_classes(child) or [""])[0]
                # alternating rows (windowbg/windowbg2, row1/row2, bg1/bg2, odd/even) are one group
                key = (child.tag, re.sub(r"(?:[\d_-]|odd|even|alt)+$", "", first, flags=re.I))
                buckets.setdefault(key, []).append(child)
        for members in buckets.values():
            if len(members) >= 2:
                yield members


def _body(block: etree._Element) -> etree._Element | None:
    """The block's content element: the content/message-named descendant with the most text, narrowed
    to a named descendant holding most of that text (phpBB's div.content inside div.postbody)."""
    named = [el for el in block.iter() if isinstance(el.tag, str) and el is not block and el.tag not in _SKIP
             and _BODY_RE.search(_marks(el)) and not _AUTHOR_RE.search(el.get("class") or "")
             and len(_text(el)) >= MIN_BODY]
    if not named:
        return None
    # a content element holds neither the author nor the date (phpBB's div.content, not div.postbody)
    pure = [el for el in named if not any(
        isinstance(d.tag, str) and d is not el and (d.tag == "time" or _DATE_MARK_RE.search(_marks(d))
                                                    or _AUTHOR_RE.search(d.get("class") or "")
                                                    or (d.tag == "a" and _PROFILE_RE.search(d.get("href") or "")))
        for d in el.iter())]
    body = max(pure or named, key=lambda el: len(_text(el)))
    while True:
        size = len(_text(body))
        inner = [el for el in named if el is not body and body in el.iterancestors() and len(_text(el)) >= 0.6 * size]
        if not inner:
            return body
        body = max(inner, key=lambda el: len(_text(el)))


def _outside(block: etree._Element, inner: etree._Element) -> Iterator[etree._Element]:
    """The block's elements that are not inside ``inner``."""
    skip = set(inner.iter())
    for el in block.iter():
        if isinstance(el.tag, str) and el not in skip and el.tag not in _SKIP:
            yield el


def _name(text: str) -> str:
    text = re.sub(r"^\s*(?:by|von|par|por)\s+", "", text, flags=re.I).strip()
    return text if 0 < len(text) <= 40 and not _DATEISH_RE.search(text) and not text.isdigit() else ""


def _author(block: etree._Element, body: etree._Element) -> str:
    """The post's author: a data-author attribute, a name-classed element, a profile link, an author box."""
    around = list(_outside(block, body))
    for el in [block] + around:
        if el.get("data-author"):
            return el.get("data-author", "").strip()
    tests = (lambda el: el.get("itemprop") in ("author", "name") and el.tag != "meta",
             lambda el: bool(_NAME_RE.search(el.get("class") or "")),
             lambda el: bool(re.search(r"\bauthor\b", el.get("class") or "", re.I)) and len(el) <= 2,
             lambda el: el.tag == "a" and bool(_PROFILE_RE.search(el.get("href") or "")),
             lambda el: bool(_AUTHOR_RE.search(_marks(el))))
    for test in tests:
        for el in around:
            if test(el):
                name = _name(_text(el))
                if name:
                    return name
    return ""


def _date(block: etree._Element, body: etree._Element, parse: Callable[[str], str | None]) -> str | None:
    """The post's date: a machine-readable attribute, then date-named elements, then any short text,
    never a registration date from the author's box."""
    around = [el for el in _outside(block, body)
              if not any(_JOINED_RE.search(_marks(a)) for a in [el, *el.iterancestors()] if a is not block)]
    for el in around:
        for attr in ("datetime", "data-time", "data-timestamp"):
            when = parse(el.get(attr, "")) if el.get(attr) else None
            if when:
                return when
    dated = [el for el in around if _DATE_MARK_RE.search(_marks(el))] + \
        [el for el in around if el.tag in ("abbr", "span", "time") and el.get("title")]
    for text in [el.get("title") or "" for el in dated] + [_text(el) for el in dated]:  # a title is exact
        when = parse(text) if text and len(text) <= 120 else None
        if when:
            return when
    for el in around:
        for piece in (el.text, el.tail):
            if piece and 4 <= len(piece.strip()) <= 80 and not _JOINED_RE.search(piece):
                when = parse(piece)
                if when:
                    return when
    return None


def _post_id(block: etree._Element) -> str:
    if block.get("id") and re.search(r"\d", block.get("id", "")):
        return block.get("id", "")
    for attr in _ID_ATTRS:
        if block.get(attr):
            return block.get(attr, "")
    for el in block.iter():
        if isinstance(el.tag, str) and el.tag == "a" and el.get("name") and re.search(r"\d", el.get("name", "")):
            return el.get("name", "")
        if isinstance(el.tag, str) and re.fullmatch(r"(?:post|msg|comment|p|entry)[-_]?\d+", el.get("id") or ""):
            return el.get("id", "")
    return ""


def _read(block: etree._Element, parse: Callable[[str], str | None]) -> GenericPost | int:
    """A complete post from a block, else how much of one it holds (0: none of it, 1: a broken post).

    Some themes print a post's date (or author) in a header just before its block (bbPress):
    the previous sibling is read for what the block lacks."""
    body = _body(block)
    author = _author(block, body) if body is not None else ""
    when = _date(block, body, parse) if body is not None else None
    header = block.getprevious()
    while header is not None and not isinstance(header.tag, str):
        header = header.getprevious()
    pid = _post_id(block)
    if body is not None and (author or when) and header is not None and _is_header(header, block):
        author = author or _author(header, _NOTHING)
        when = when or _date(header, _NOTHING, parse)
        pid = pid or _post_id(header)
    if body is not None and author and when:
        return GenericPost(pid, author, when, etree.tostring(body, encoding="unicode", with_tail=False))
    return 1 if (body is not None and (author or when)) else 0


_NOTHING = etree.Element("nothing")  # "outside nothing" is the whole element


def _is_header(el: etree._Element, block: etree._Element) -> bool:
    """A small sibling before the block that is not another block like it (bbPress' bbp-reply-header)."""
    return el.tag != block.tag or (_classes(el) or [""])[0] != (_classes(block) or [""])[0] and \
        len(_text(el)) < 200


def find_posts(page: Selector, parse: Callable[[str], str | None]) -> tuple[list[GenericPost], str | None]:
    """The thread page's posts, or none and why (a one-line reason naming what was missing).

    A group of blocks where some look like posts but lack an author, a date or a text is an
    error for the page, not a source of partial posts."""
    root = page.root
    if not isinstance(root, etree._Element):
        return [], "not an HTML page"
    best: list[GenericPost] = []
    best_broken = 0
    for members in _groups(root):
        if len({_thread_link(block) for block in members} - {None}) >= 2:
            continue  # rows each linking to another thread: a board's thread list, not posts
        read = [_read(block, parse) for block in members]
        posts = [r for r in read if isinstance(r, GenericPost)]
        if len({(p.author, p.date, p.body_html) for p in posts}) < len(posts):
            continue  # the same "post" twice: repeated page furniture (navigation at top and bottom)
        broken = sum(1 for r in read if r == 1)
        if len(posts) < 2:
            continue  # one block of a group is chance; a thread page with one post is found below
        if len(posts) > len(best) or (len(posts) == len(best) and broken < best_broken):
            best, best_broken = posts, broken
    if not best and find_thread_links(page):
        return [], "this is a list of threads, not a thread's posts"
    if not best:  # a page with one post (a thread's last page often has one): a post-named block
        for el in root.iter():
            if isinstance(el.tag, str) and el.tag not in _SKIP and _POSTISH_RE.search(_marks(el)):
                found = _read(el, parse)
                if isinstance(found, GenericPost):
                    return [found], None
        return [], "no repeated post blocks with an author, a date and a text were found"
    if best_broken:
        return [], (f"{best_broken} of {best_broken + len(best)} post blocks lack an author, a date or a text "
                    "(none of this page's posts are stored)")
    return best, None


def _thread_link(row: etree._Element) -> str | None:
    """The row's first link to a thread (by its URL's shape; not a #post anchor), as that thread's key."""
    for a in row.iter("a"):
        href = a.get("href") or ""
        if _THREAD_RE.search(href) and "#" not in href and len(_text(a)) >= 4:
            return _thread_identity(href)
    return None


def _thread_identity(href: str) -> str:
    """What names the thread in a link: the path, and for scripts (``showthread.php``) the thread id."""
    parts = urlsplit(thread_key(href))
    if re.search(r"\.(?:php|aspx?|cgi|pl|jsp)$", parts.path) or parts.path in ("", "/"):
        ids = sorted(p for p in parts.query.split("&") if p.split("=")[0].lower() in _THREAD_PARAMS)
        return parts.path + "?" + "&".join(ids)
    return parts.path


def find_thread_links(page: Selector, parse: Callable[[str], str | None] | None = None) -> list[tuple[str, str | None]]:
    """The thread links of a board page (the largest group of sibling rows each linking to another
    thread), each with the newest date its row shows (its last post), if ``parse`` reads one."""
    root = page.root
    if not isinstance(root, etree._Element):
        return []
    best: list[tuple[str, str | None]] = []
    for members in _groups(root):
        found: list[tuple[str, str | None]] = []
        keys: set[str] = set()
        for row in members:
            key = _thread_link(row)
            link = next((a.get("href") for a in row.iter("a") if a.get("href") and "#" not in a.get("href", "")
                         and _thread_identity(a.get("href", "")) == key), None) if key else None
            if link and key not in keys:
                keys.add(key)
                found.append((link, _row_date(row, parse) if parse else None))
        if len(found) >= 2 and len(found) > len(best):
            best = found
    return best


def _row_date(row: etree._Element, parse: Callable[[str], str | None]) -> str | None:
    """The newest date a board row shows (started and last-post dates: the last post is the newer)."""
    dates = []
    for el in row.iter():
        if not isinstance(el.tag, str) or el.tag in _SKIP:
            continue
        for attr in ("datetime", "data-time", "title"):
            if el.get(attr) and (attr != "title" or el.tag in ("abbr", "span", "time")):
                dates.append(parse(el.get(attr, "")))
        for piece in (el.text, el.tail):
            if piece and 4 <= len(piece.strip()) <= 80:
                dates.append(parse(piece))
    return max((d for d in dates if d), default=None)
