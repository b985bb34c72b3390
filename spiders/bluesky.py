"""Bluesky: ``app.bsky.feed.searchPosts`` through an authenticated session.

The session (access and refresh tokens) is kept in the store between runs: a
run uses the stored access token while it is valid, refreshes it with the
refresh token when it has expired (or the server says so), and logs in with the
handle and app password from the environment only when there is no usable
session. Without any of them the source fails with one "needs credentials" line.
"""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any, Iterable
from urllib.parse import urlencode

import scrapy
from scrapy.http import Response

from listener.text import iso_utc, language_tag, parse_iso
from spiders.items import FetchResult, PostItem
from spiders.paged import Page, PagedSpider, PageError, SourceRun, as_int, json_list, read_json

LIMIT = 100
AUTH_ERRORS = {"ExpiredToken", "InvalidToken", "AuthenticationRequired", "AuthMissing"}


class BlueskySpider(PagedSpider):
    name = "bluesky"

    def begin(self, run: SourceRun) -> Iterable[scrapy.Request | FetchResult]:
        session = _load(run.source.get("session"))
        if session and not self.expired(session.get("accessJwt")):
            run.token = session["accessJwt"]
            yield self.request(run, self.first_url(run))
        else:
            yield from self.login(run, session, self.first_url(run))

    def login(self, run: SourceRun, session: dict | None, then: str) -> Iterable[scrapy.Request | FetchResult]:
        """Refresh the session if its refresh token is still good, else create one from credentials."""
        base = f"{run.source['url']}/xrpc/com.atproto.server"
        meta = {"source": run.name, "then": then, "dont_obey_robotstxt": True, "dont_merge_cookies": True,
                "handle_httpstatus_list": [400, 401]}
        if session and not self.expired(session.get("refreshJwt")) and not run.source.get("_refresh_failed"):
            yield scrapy.Request(f"{base}.refreshSession", method="POST", callback=self.on_session,
                                 errback=self.failed, dont_filter=True,
                                 headers={"Authorization": f"Bearer {session['refreshJwt']}",
                                          "Accept": "application/json"},
                                 meta={**meta, "step": "Bluesky session refresh", "refresh": True})
            return
        creds = run.credentials
        if not (creds.get("handle") and creds.get("password")):
            opts = run.options
            yield self.finish(run, None, "needs credentials: set the environment variables "
                              f"{opts['handle_env']} (your handle) and "
                              f"{opts['password_env']} (an app password)")
            return
        yield scrapy.Request(f"{base}.createSession", method="POST", callback=self.on_session,
                             errback=self.failed, dont_filter=True,
                             body=json.dumps({"identifier": creds["handle"], "password": creds["password"]}),
                             headers={"Content-Type": "application/json", "Accept": "application/json"},
                             meta={**meta, "step": "Bluesky login"})

    def on_session(self, response: Response) -> Iterable[scrapy.Request | FetchResult]:
        run = self.runs[response.meta["source"]]
        step = response.meta["step"]
        try:
            data = read_json(response)
        except PageError as exc:
            data = {"message": str(exc)}
        if response.status >= 400 or not isinstance(data, dict) or not data.get("accessJwt"):
            if response.meta.get("refresh"):  # the refresh token is dead too: log in again
                run.source["_refresh_failed"] = True
                yield from self.login(run, None, response.meta["then"])
                return
            why = data.get("message") or data.get("error") if isinstance(data, dict) else None
            yield self.finish(run, response.status, f"{step} failed (HTTP {response.status}"
                              f"{': ' + why if why else ''}): check the handle and app password")
            return
        run.token = data["accessJwt"]
        run.session = json.dumps({k: data.get(k) for k in ("accessJwt", "refreshJwt", "did", "handle")})
        yield self.request(run, response.meta["then"])

    def request(self, run: SourceRun, url: str, callback=None, **kwargs) -> scrapy.Request:
        meta = {"handle_httpstatus_list": [400, 401], **kwargs.pop("meta", {})}
        return super().request(run, url, callback, meta=meta, **kwargs)

    def on_page(self, response: Response):
        run = self.runs[response.meta["source"]]
        if response.status in (400, 401):
            try:
                data = read_json(response)
            except PageError:
                data = {}
            error = data.get("error") if isinstance(data, dict) else None
            if error in AUTH_ERRORS and not run.reauthed:  # once: a token refused again is a failure
                run.reauthed = True
                yield from self.login(run, _load(run.session or run.source.get("session")), response.url)
                return
            message = data.get("message") if isinstance(data, dict) else None
            yield self.finish(run, response.status, f"HTTP {response.status}: {error or 'error'}"
                              + (f" ({message})" if message else ""))
            return
        yield from super().on_page(response)

    def first_url(self, run: SourceRun) -> str:
        query = {"q": run.options["query"], "sort": "latest", "limit": LIMIT}
        return f"{run.source['url']}/xrpc/app.bsky.feed.searchPosts?{urlencode(query)}"

    def read_page(self, response: Response, run: SourceRun) -> Page:
        data, posts = json_list(response, ("posts",), "a searchPosts answer")
        items = []
        for p in posts:
            if isinstance(p, dict) and p.get("uri") and isinstance(p.get("record"), dict):
                key = iso_key(p.get("indexedAt") or p["record"].get("createdAt"))
                items.append((key, post_item(p, run.name)))
        cursor = data.get("cursor")
        return Page(items, f"{self.first_url(run)}&cursor={cursor}" if cursor and items else None)

    def expired(self, jwt: str | None) -> bool:
        """True when a JWT is missing, unreadable, or expires within a minute of now."""
        if not jwt:
            return True
        try:
            payload = jwt.split(".")[1]
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
            return claims["exp"] <= (self.now + timedelta(minutes=1)).timestamp()
        except (IndexError, ValueError, KeyError, TypeError):
            return True


def iso_key(value: str | None) -> str:
    """A sort key from an ISO time, with microseconds so keys of one second still order."""
    t = parse_iso(value)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if t else ""


def post_item(p: dict, source: str) -> PostItem:
    """A post from a Bluesky PostView."""
    record, author = p["record"], p.get("author") or {}
    handle = author.get("handle")
    rkey = p["uri"].rsplit("/", 1)[-1]
    langs = record.get("langs") or []
    shares = (as_int(p.get("repostCount")) or 0) + (as_int(p.get("quoteCount")) or 0) \
        if p.get("repostCount") is not None else None
    return PostItem(
        source=source, guid=p["uri"],
        url=f"https://bsky.app/profile/{handle or author.get('did')}/post/{rkey}",
        author=handle, text=_joined(str(record.get("text") or ""), embed_text(p.get("embed"), record.get("embed"))),
        published_at=iso_utc(parse_iso(record.get("createdAt"))),
        language=language_tag(langs[0]) if langs else None,
        comments=as_int(p.get("replyCount")), likes=as_int(p.get("likeCount")), shares=shares,
    )


def _joined(*parts: str) -> str:
    return "\n\n".join(part for part in parts if part.strip())


def embed_text(view: Any, record: Any = None, depth: int = 0) -> str:
    """What a post's embed says, as text: quoted posts with their author, image and video alt
    text, link cards' title and description. ``view`` is the hydrated embed of a PostView (it
    holds the quoted post); without it the record's own embed (alt texts and link cards only)."""
    embed = view if isinstance(view, dict) else record if isinstance(record, dict) else None
    if not embed or depth > 2:  # a quote of a quote of a quote: enough
        return ""
    kind = str(embed.get("$type") or "").split("#")[0]
    if kind == "app.bsky.embed.images":
        return "\n".join(_media("image", i) for i in embed.get("images") or [] if isinstance(i, dict))
    if kind == "app.bsky.embed.video":
        return _media("video", embed)
    if kind == "app.bsky.embed.external":
        ext = embed.get("external") if isinstance(embed.get("external"), dict) else {}
        title, desc = (" ".join(str(ext.get(k) or "").split()) for k in ("title", "description"))
        return " ".join(x for x in (f"[link: {title}]" if title else "[link]", desc) if x)
    if kind == "app.bsky.embed.record":
        return _quote(embed.get("record"), depth)
    if kind == "app.bsky.embed.recordWithMedia":
        quoted = embed.get("record") if isinstance(embed.get("record"), dict) else {}
        return _joined(embed_text(embed.get("media"), None, depth), _quote(quoted.get("record"), depth))
    return ""


def _media(kind: str, item: dict) -> str:
    alt = " ".join(str(item.get("alt") or "").split())
    return f"[{kind}: {alt}]" if alt else f"[{kind}]"


def _quote(rec: Any, depth: int) -> str:
    """A quoted post (``embed.record#viewRecord``) as ``[quote @handle] text``."""
    if not isinstance(rec, dict):
        return ""
    kind = str(rec.get("$type") or "")
    if kind.endswith("#viewNotFound") or kind.endswith("#viewBlocked") or kind.endswith("#viewDetached"):
        return "[quote: post unavailable]"
    value = rec.get("value") if isinstance(rec.get("value"), dict) else None
    if value is None:  # a feed generator, list or starter pack: its name
        name = rec.get("displayName") or rec.get("name")
        return f"[quote: {name}]" if name else ""
    handle = (rec.get("author") or {}).get("handle")
    nested = [embed_text(e, None, depth + 1) for e in rec.get("embeds") or []]
    return _joined(f"[quote @{handle}] {value.get('text') or ''}".rstrip(), *nested)


def _load(session: str | None) -> dict | None:
    try:
        value = json.loads(session) if session else None
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
