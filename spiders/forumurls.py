"""Forum URLs: session ids stripped, page numbers read, and a thread's page links told apart.

Forums that keep no cookie put the session in every link (SMF ``PHPSESSID``,
phpBB ``sid``, vBulletin ``s``, Java ``;jsessionid=``); a URL is only stable,
and a post's stored URL only the same on the next run, without them. Pages are
numbered by engine-specific offsets (phpBB ``start=40``, SMF ``topic=87.40``,
vBulletin ``page=3``, XenForo ``/page-3``, Invision ``/page/3/``); their order
is all the spider needs, so page 1 (no offset) is 0.
"""

from __future__ import annotations

import re
from typing import Iterable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

SESSION_PARAMS = frozenset({"phpsessid", "sid", "s", "sessionid", "session_id", "jsessionid"})

_JSESSION_RE = re.compile(r";jsessionid=[^?#/]*", re.I)
_PAGE_PARAMS = ("start", "page", "pagenumber", "st", "pg")
_PATH_PAGE_RES = (re.compile(r"/page[-/]?(\d+)/?$"), re.compile(r"/page[-/]?(\d+)(?=/|$)"))
_SMF_RE = re.compile(r"^((?:topic|board)[=,]\d+)\.(\d+)")


def strip_session(url: str, extra: Iterable[str] = ()) -> str:
    """``url`` without session-id parameters (and the preset's own ``extra`` ones) or fragment."""
    parts = urlsplit(_JSESSION_RE.sub("", url))
    drop = SESSION_PARAMS | {p.lower() for p in extra}
    path = parts.path
    # SMF's query-less URLs carry the session in the path: index.php/topic,87.0.html?PHPSESSID=...
    # or index.php?PHPSESSID=...;topic=87.0 (SMF separates its parameters with ';' too)
    query = ";".join(_strip_query(piece, drop) for piece in parts.query.split(";")) \
        if ";" in parts.query else _strip_query(parts.query, drop)
    return urlunsplit((parts.scheme, parts.netloc, path, query.strip(";&"), ""))


def _strip_query(query: str, drop: set[str] | frozenset[str]) -> str:
    pairs = parse_qsl(query, keep_blank_values=True)
    kept = [(k, v) for k, v in pairs if k.lower() not in drop]
    if len(kept) == len(pairs):
        return query  # untouched: keep the forum's own spelling (order, encoding)
    return urlencode(kept)


def page_number(url: str) -> int:
    """The page offset a URL names (0 when it names none: the first page)."""
    parts = urlsplit(url)
    for piece in re.split(r"[;&]", parts.query):
        m = _SMF_RE.match(piece)
        if m:
            return int(m.group(2))
        key, _, value = piece.partition("=")
        if key.lower() in _PAGE_PARAMS and value.isdigit():
            return int(value)
    m = re.search(r"^\d+-[^&;=]*/page(\d+)$", parts.query)  # vBulletin 4's "showthread.php?345-Title/page2"
    if m:
        return int(m.group(1))
    m = re.search(r"/(?:topic|board),\d+\.(\d+)\.html", parts.path)
    if m:
        return int(m.group(1))
    for rx in _PATH_PAGE_RES:
        m = rx.search(parts.path)
        if m:
            return int(m.group(1))
    return 0


def thread_key(url: str, extra: Iterable[str] = ()) -> str:
    """The URL with session ids, fragment and page offset removed: the same for every page of a thread."""
    parts = urlsplit(strip_session(url, extra))
    path = re.sub(r"/page[-/]?\d+/?$", "/", parts.path)
    path = re.sub(r"/((?:topic|board),\d+)\.\d+\.html", r"/\1.html", path)
    pieces = []
    for piece in re.split(r"[;&]", re.sub(r"^(\d+)-[^&;=]*?(?:/page\d+)?(?=$|&)", r"\1", parts.query)):
        m = _SMF_RE.match(piece)
        if m:
            piece = m.group(1)
        key = piece.partition("=")[0].lower()
        if piece and key not in _PAGE_PARAMS:
            pieces.append(piece)
    return urlunsplit((parts.scheme, parts.netloc.lower(), path.rstrip("/") or "/", "&".join(sorted(pieces)), ""))


def same_thread(link: str, current: str, extra: Iterable[str] = ()) -> bool:
    """Whether ``link`` is a page of ``current``'s thread: same path, and every identifying parameter
    of ``current`` kept (links may add their own, like SA's ``perpage=40``)."""
    a, b = urlsplit(thread_key(link, extra)), urlsplit(thread_key(current, extra))
    if (a.netloc, a.path) != (b.netloc, b.path):
        return False
    have = set(a.query.split("&")) if a.query else set()
    need = set(b.query.split("&")) if b.query else set()
    return need <= have
