"""YouTube (Data API v3): comment threads and replies of given videos, or of a channel's recent videos.

Each video's ``commentThreads`` (newest first, ``order=time``) is a stream down
to the mark; a thread's replies come inline (``part=snippet,replies``, up to
five) and, when it has more, from ``comments?parentId=`` as one more stream.
Pages follow ``nextPageToken``. A channel's recent videos are found with
``search?channelId=…&type=video&order=date`` (100 quota units a call; a
``commentThreads`` page costs 1). An API key (``YOUTUBE_API_KEY``) is required;
a spent daily quota (403 ``quotaExceeded``) or any API error is one line, and
a video whose comments are turned off is skipped with a log line.
"""

from __future__ import annotations

from typing import Any, Iterable
from urllib.parse import urlencode

import scrapy
from scrapy.http import Response

from listener.text import html_to_text, iso_utc, parse_iso
from spiders.items import FetchResult, PostItem
from spiders.paged import Page, PagedSpider, PageError, SourceRun, as_int, read_json

MAX_RESULTS = 100
WATCH = "https://www.youtube.com/watch?"
QUIET_REASONS = {"commentsDisabled"}  # a video's own setting, not a failure of the source


class YouTubeSpider(PagedSpider):
    name = "youtube"
    stream_meta = ("stream", "listing", "video", "page_url")

    def begin(self, run: SourceRun) -> Iterable[scrapy.Request | FetchResult]:
        if not run.credentials.get("key"):
            yield self.finish(run, None, "needs credentials: set the environment variable "
                              f"{run.options['key_env']} (an API key with the YouTube Data API v3 enabled)")
            return
        for video in run.options.get("videos") or ():
            yield self.threads(run, video)
        if run.options.get("channel"):
            yield self.listing(run, "search", {"part": "snippet", "channelId": run.options["channel"], "type": "video",
                                               "order": "date", "maxResults": run.options["recent"]},
                               "videos", f"recent videos of {run.options['channel']}")

    def listing(self, run: SourceRun, path: str, query: dict[str, Any], listing: str, stream: str,
                video: str | None = None) -> scrapy.Request:
        """The first page of one API listing, opened as a stream."""
        page_url = f"{run.source['url']}/{path}?{urlencode({**query, 'key': run.credentials['key']})}"
        return self.open_stream(run, page_url, stream, meta={"listing": listing, "video": video, "page_url": page_url,
                                                             "handle_httpstatus_list": [403]})

    def threads(self, run: SourceRun, video: str) -> scrapy.Request:
        return self.listing(run, "commentThreads", {"part": "snippet,replies", "videoId": video, "order": "time",
                                                    "maxResults": MAX_RESULTS, "textFormat": "plainText"},
                            "threads", f"comments of video {video}", video)

    def read_page(self, response: Response, run: SourceRun) -> Page:
        data = read_json(response)
        if not isinstance(data, dict):
            raise PageError("unexpected JSON: not a YouTube API answer")
        if isinstance(data.get("error"), dict) or response.status >= 400:
            reason = api_reason(data)
            if reason in QUIET_REASONS:
                self.logger.info("%s: %s: %s, skipped", run.name, response.meta.get("stream"), reason)
                return Page()
            raise PageError(api_error(data, response.status))
        entries = data.get("items")
        if not isinstance(entries, list):
            raise PageError("unexpected JSON: no items list (not a YouTube API answer)")
        listing, video = response.meta["listing"], response.meta.get("video")
        token = data.get("nextPageToken")
        next_url = f"{response.meta['page_url']}&pageToken={token}" if isinstance(token, str) and token else None
        if listing == "videos":
            ids = [e["id"]["videoId"] for e in entries
                   if isinstance(e, dict) and isinstance(e.get("id"), dict) and e["id"].get("videoId")]
            return Page(follow=[self.threads(run, v) for v in dict.fromkeys(ids)])
        page = Page(next_url=next_url, newest_first=listing == "threads")
        mark = run.source.get("high_water") or ""
        for entry in entries:
            if not isinstance(entry, dict):
                continue
            if listing == "replies":
                item = comment_item(entry, run.name, video)
                if item:
                    page.posts.append(item)
                continue
            snippet = entry.get("snippet") or {}
            top = snippet.get("topLevelComment")
            vid = snippet.get("videoId") or video
            thread = comment_item(top, run.name, vid, replies=as_int(snippet.get("totalReplyCount"))) \
                if isinstance(top, dict) else None
            if not thread:
                continue
            page.posts.append(thread)
            inline = [comment_item(c, run.name, vid) for c in (entry.get("replies") or {}).get("comments") or []
                      if isinstance(c, dict)]
            page.posts += [r for r in inline if r]
            total = as_int(snippet.get("totalReplyCount")) or 0
            fresh = thread[0] > mark or any(r and r[0] > mark for r in inline)
            if total > len(inline) and fresh:
                page.follow.append(self.listing(run, "comments", {"part": "snippet", "parentId": top.get("id"),
                                                                  "maxResults": MAX_RESULTS, "textFormat": "plainText"},
                                                "replies", f"replies to {top.get('id')}", vid))
        page.posts.sort(key=lambda p: p[0], reverse=True)
        return page

    def error_message(self, response: Response) -> str | None:
        try:
            data = read_json(response)
        except PageError:
            return None
        if not isinstance(data, dict) or "error" not in data:
            return None
        line = api_error(data, response.status).split(": ", 1)[-1]
        error = data["error"] if isinstance(data["error"], dict) else {}
        reasons = {d.get("reason") for d in [*(error.get("errors") or []), *(error.get("details") or [])]
                   if isinstance(d, dict)}
        if reasons & {"keyInvalid", "API_KEY_INVALID"}:
            line += f" (check the key in ${self.runs[response.meta['source']].options['key_env']})"
        return line


def api_reason(data: dict) -> str | None:
    error = data.get("error") if isinstance(data.get("error"), dict) else {}
    errors = error.get("errors") if isinstance(error.get("errors"), list) else []
    first = errors[0] if errors and isinstance(errors[0], dict) else {}
    return first.get("reason") or error.get("status")


def api_error(data: dict, status: int) -> str:
    """One line from Google's error envelope; a spent quota says so plainly."""
    error = data.get("error") if isinstance(data.get("error"), dict) else {}
    reason = api_reason(data)
    message = html_to_text(str(error.get("message") or "")) or "error"
    if reason in ("quotaExceeded", "dailyLimitExceeded", "rateLimitExceeded"):
        return (f"HTTP {status}: {reason}: the API key's daily quota is used up (it resets at midnight "
                "Pacific time; a channel search costs 100 units, a page of comments 1)")
    return f"HTTP {status}: " + (f"{reason}: " if reason else "") + " ".join(message.split())[:200]


def comment_item(c: dict, source: str, video: str | None, replies: int | None = None) -> tuple[str, PostItem] | None:
    """(sort key, post) from a YouTube ``comment`` resource (a thread's top comment or a reply)."""
    s = c.get("snippet") if isinstance(c.get("snippet"), dict) else None
    cid = c.get("id")
    if not s or not isinstance(cid, str):
        return None
    vid = s.get("videoId") or video
    published = iso_utc(parse_iso(s.get("publishedAt")))
    text = html_to_text(s.get("textDisplay")) or str(s.get("textOriginal") or "")
    parent = s.get("parentId")   # a reply answers its thread's top comment; a top comment, the video
    item = PostItem(
        source=source, guid=f"youtube/{cid}",
        url=f"{WATCH}{urlencode({'v': vid, 'lc': cid})}" if vid else None,
        parent_url=(f"{WATCH}{urlencode({'v': vid, 'lc': parent})}" if isinstance(parent, str)
                    else f"{WATCH}{urlencode({'v': vid})}") if vid else None,
        author=s.get("authorDisplayName"), text=text, published_at=published,
        likes=as_int(s.get("likeCount")), comments=replies,
    )
    return f"{published or ''}#{cid}", item
