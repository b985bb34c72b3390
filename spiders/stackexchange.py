"""Stack Exchange (API 2.3): questions, answers and comments of one site, by tag and/or search terms.

Questions come from ``/search/advanced`` ordered by last activity, newest first,
from the mark on (``min``): a question shows up again when it gets a new answer
or comment. For each page of questions that changed, their answers
(``/questions/{ids}/answers``) and then the comments on the questions and those
answers (``/posts/{ids}/comments``, created since the mark) are read as further
streams; only posts newer than the mark are kept. Pages follow ``has_more``.

The API wraps every answer: ``quota_remaining`` (requests left today for this
IP or key), ``backoff`` (seconds before the next request; the API bans clients
that ignore it; ``spiders.middlewares`` holds the next request back, and a
backoff longer than ``collect.max_retry_wait`` ends the source with one line)
and, on errors, ``error_id``/``error_name``/``error_message``. Bodies are
gzipped; Scrapy's compression middleware unpacks them. An app key (from the
environment variable named by ``key_env``) raises the quota from 300 to 10,000
requests a day.
"""

from __future__ import annotations

import html
from datetime import datetime, timezone
from typing import Any, Iterable
from urllib.parse import urlencode, urlsplit

import scrapy
from scrapy.http import Response

from listener.text import html_to_text, iso_utc, parse_iso
from spiders.items import FetchResult, PostItem
from spiders.paged import Page, PagedSpider, PageError, SourceRun, as_int, read_json

PAGESIZE = 100
FILTER = "withbody"  # a built-in filter: the default fields plus each post's body


class StackExchangeSpider(PagedSpider):
    name = "stackexchange"
    stream_meta = ("stream", "listing", "questions", "page_url", "page")

    def begin(self, run: SourceRun) -> Iterable[scrapy.Request | FetchResult]:
        opts = run.options
        query = {"site": opts["site"], "sort": "activity", "order": "desc", "min": self.since(run)}
        if opts.get("tagged"):
            query["tagged"] = opts["tagged"]
        if opts.get("query"):
            query["q"] = opts["query"]
        yield self.listing(run, "/search/advanced", query, "questions", "questions")

    def since(self, run: SourceRun) -> int:
        """Unix time from which questions (by activity) and comments (by creation) are asked for."""
        mark = run.source.get("high_water")
        times = [t for t in ((mark or "")[:20] or None, run.source.get("not_before")) if t]
        newest = parse_iso(max(times)) if times else None
        return int(newest.timestamp()) if newest else 0

    def listing(self, run: SourceRun, path: str, query: dict[str, Any], listing: str, stream: str,
                questions: dict[str, list[str]] | None = None) -> scrapy.Request:
        """The first page of one listing, opened as a stream."""
        key = {"key": run.credentials["key"]} if run.credentials.get("key") else {}
        query = {**query, **key, "pagesize": PAGESIZE, "filter": FILTER}
        page_url = f"{run.source['url']}{path}?{urlencode(query)}"
        return self.open_stream(run, f"{page_url}&page=1", stream,
                                meta={"listing": listing, "questions": questions or {}, "page_url": page_url,
                                      "page": 1})

    def request(self, run: SourceRun, url: str, callback: Any = None, **kwargs: Any) -> scrapy.Request:
        meta = kwargs.pop("meta", {})
        if "page_url" in meta and url.startswith(meta["page_url"] + "&page="):
            meta = {**meta, "page": int(url.rsplit("=", 1)[1])}
        # the API answers errors with 400 and a JSON body saying why: read it in read_page
        return super().request(run, url, callback, meta={"handle_httpstatus_list": [400], **meta}, **kwargs)

    def read_page(self, response: Response, run: SourceRun) -> Page:
        data = read_json(response)
        if not isinstance(data, dict):
            raise PageError("unexpected JSON: not a Stack Exchange API answer")
        if data.get("error_id") is not None or response.status == 400:
            raise PageError(api_error(data, response.status))
        entries = data.get("items")
        if not isinstance(entries, list):
            raise PageError("unexpected JSON: no items list (not a Stack Exchange API answer)")
        listing = response.meta["listing"]
        questions: dict[str, list[str]] = response.meta.get("questions") or {}
        page = Page(newest_first=listing == "questions")
        mark = run.source.get("high_water") or ""
        if listing == "questions":
            changed = {}
            for q in entries:
                if isinstance(q, dict) and isinstance(q.get("question_id"), int):
                    # a question sorts by its last activity, before any post of that second: it is
                    # "changed" only when something happened after the mark
                    key = sort_key(q.get("last_activity_date") or q.get("creation_date"), 0)
                    page.posts.append((key, question_item(q, run.name, run.options["site"])))
                    if key > mark:
                        changed[str(q["question_id"])] = [str(q.get("link") or ""), html.unescape(q.get("title") or "")]
            if changed:
                ids = ";".join(changed)
                page.follow.append(self.listing(run, f"/questions/{ids}/answers",
                                                {"site": run.options["site"], "sort": "creation", "order": "desc"},
                                                "answers", f"answers of {len(changed)} question(s)", changed))
        elif listing == "answers":
            for a in entries:
                if isinstance(a, dict) and isinstance(a.get("answer_id"), int):
                    key = sort_key(a.get("creation_date"), a["answer_id"])
                    page.posts.append((key, answer_item(a, run.name, run.options["site"], questions)))
            # the comments on this page's answers, and (once) on their questions
            posts = {str(a["answer_id"]): questions.get(str(a.get("question_id")), ["", ""])
                     for a in entries if isinstance(a, dict) and isinstance(a.get("answer_id"), int)}
            if response.meta.get("page", 1) == 1:
                posts = {**questions, **posts}
            ids = list(posts)
            for i in range(0, len(ids), PAGESIZE):
                chunk = ids[i:i + PAGESIZE]
                page.follow.append(self.listing(
                    run, f"/posts/{';'.join(chunk)}/comments",
                    {"site": run.options["site"], "sort": "creation", "order": "desc", "fromdate": self.since(run)},
                    "comments", f"comments of {len(chunk)} post(s)", {k: posts[k] for k in chunk}))
        else:
            for c in entries:
                if isinstance(c, dict) and isinstance(c.get("comment_id"), int):
                    key = sort_key(c.get("creation_date"), c["comment_id"])
                    page.posts.append((key, comment_item(c, run.name, run.options["site"], questions)))
        page.posts.sort(key=lambda p: p[0], reverse=True)
        if data.get("has_more") and entries:
            page.next_url = f"{response.meta['page_url']}&page={response.meta['page'] + 1}"
        backoff = as_int(data.get("backoff"))
        limit = self.settings.getfloat("LISTENER_MAX_RETRY_WAIT", 120.0)
        if backoff and backoff > limit:
            page.error = (f"the API asks to back off {backoff}s before the next request, more than "
                          "collect.max_retry_wait")
        elif data.get("quota_remaining") == 0 and page.next_url:
            page.error = (f"daily request quota used up (quota_max {data.get('quota_max')}); it resets at "
                          "midnight UTC (an app key in the key_env variable raises it)")
        return page

    def error_message(self, response: Response) -> str | None:
        try:
            data = read_json(response)
        except PageError:
            return None
        return api_error(data, response.status) if isinstance(data, dict) and "error_id" in data else None


def api_error(data: dict, status: int) -> str:
    """One line from the API's error wrapper (error_id, error_name, error_message)."""
    name, message = data.get("error_name") or "error", data.get("error_message") or ""
    line = f"HTTP {status}: {name}" + (f" (error_id {data['error_id']})" if data.get("error_id") else "")
    return line + (f": {' '.join(str(message).split())[:200]}" if message else "")


def sort_key(when: Any, post_id: int) -> str:
    """Event time (creation, or a question's last activity), then the id."""
    t = datetime.fromtimestamp(when, tz=timezone.utc) if isinstance(when, int) else None
    return f"{iso_utc(t) or ''}#{post_id:012d}"


def _author(post: dict) -> str | None:
    name = (post.get("owner") or {}).get("display_name")
    return html.unescape(name) if isinstance(name, str) else None


def _time(value: Any) -> str | None:
    return iso_utc(datetime.fromtimestamp(value, tz=timezone.utc)) if isinstance(value, int) else None


def _host(link: str | None, site: str) -> str:
    parts = urlsplit(link or "")
    if parts.scheme and parts.netloc:
        return f"{parts.scheme}://{parts.netloc}"
    return f"https://{site if '.' in site else site + '.stackexchange.com'}"


def question_item(q: dict, source: str, site: str) -> PostItem:
    """A post from a question."""
    return PostItem(
        source=source, guid=f"{site}/q/{q['question_id']}",
        url=q.get("link") or f"{_host(None, site)}/q/{q['question_id']}",
        author=_author(q), title=html.unescape(q.get("title") or "") or None,
        text=html_to_text(q.get("body") or ""), published_at=_time(q.get("creation_date")),
        score=as_int(q.get("score")), comments=as_int(q.get("answer_count")),
    )


def answer_item(a: dict, source: str, site: str, questions: dict[str, list[str]]) -> PostItem:
    """A post from an answer; its question's title (when read in this run) as the title."""
    link, title = questions.get(str(a.get("question_id")), ["", ""])
    return PostItem(
        source=source, guid=f"{site}/a/{a['answer_id']}", url=f"{_host(link, site)}/a/{a['answer_id']}",
        parent_url=link or (f"{_host(None, site)}/q/{a['question_id']}" if a.get("question_id") else None),
        author=_author(a), title=f"Re: {title}" if title else None,
        text=html_to_text(a.get("body") or ""), published_at=_time(a.get("creation_date")),
        score=as_int(a.get("score")), comments=as_int(a.get("comment_count")),
    )


def comment_item(c: dict, source: str, site: str, posts: dict[str, list[str]]) -> PostItem:
    """A post from a comment on a question or an answer."""
    link, title = posts.get(str(c.get("post_id")), ["", ""])
    return PostItem(
        source=source, guid=f"{site}/c/{c['comment_id']}",
        url=f"{_host(link, site)}/posts/comments/{c['comment_id']}", parent_url=link or None,
        author=_author(c), title=f"Re: {title}" if title else None,
        text=html_to_text(c.get("body") or ""), published_at=_time(c.get("creation_date")),
        score=as_int(c.get("score")),
    )
