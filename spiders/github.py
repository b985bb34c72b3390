"""GitHub: issues, pull requests and their comments of repositories, and issue search (REST API v3).

Per repository three listings are read side by side (``PagedSpider`` streams):
``/repos/O/R/issues`` (issues and pull requests, newest first, down to the
mark), ``/repos/O/R/issues/comments`` (the conversation comments on both) and
``/repos/O/R/pulls/comments`` (review comments on pull requests' code), the
comments oldest first from ``since`` = the mark, which the server filters on. A ``query`` reads
``/search/issues`` newest first. Pages follow the ``Link: rel="next"`` header.
A token from the environment variable named by ``token_env`` is optional
(60 requests an hour without, 5,000 with). Rate limits are the middleware's:
an exhausted ``X-Ratelimit-*`` budget holds the next request back until the
reset, a 403/429 rate-limit answer is retried after the reset when that is
within ``collect.max_retry_wait``, else the source fails with one line.
"""

from __future__ import annotations

import re
from typing import Any, Iterable
from urllib.parse import urlencode

import scrapy
from scrapy.http import Response

from listener.text import canonical_url, iso_utc, parse_iso
from spiders.items import FetchResult, PostItem
from spiders.paged import Page, PagedSpider, PageError, SourceRun, as_int, next_link, read_json

PER_PAGE = 100
API_VERSION = "2022-11-28"
_ISSUE_NUMBER_RE = re.compile(r"/repos/([^/]+/[^/]+)/(?:issues|pulls)/(\d+)$")


class GitHubSpider(PagedSpider):
    name = "github"
    accept = "application/vnd.github+json"
    stream_meta = ("stream", "listing")

    def begin(self, run: SourceRun) -> Iterable[scrapy.Request | FetchResult]:
        run.token = run.credentials.get("token") or None
        base = run.source["url"]
        since = self.since(run)
        for repo in run.options.get("repos") or ():
            yield self.open_stream(run, f"{base}/repos/{repo}/issues?" + urlencode(
                {"state": "all", "sort": "created", "direction": "desc", "per_page": PER_PAGE}),
                f"issues of {repo}", meta={"listing": "issues"})
            for kind, what in (("issues", "comments"), ("pulls", "review comments")):
                yield self.open_stream(run, f"{base}/repos/{repo}/{kind}/comments?" + urlencode(
                    {"sort": "created", "direction": "asc", "per_page": PER_PAGE, **({"since": since} if since else {})}),
                    f"{what} of {repo}", meta={"listing": "comments"})
        if run.options.get("query"):
            yield self.open_stream(run, f"{base}/search/issues?" + urlencode(
                {"q": run.options["query"], "sort": "created", "order": "desc", "per_page": PER_PAGE}),
                "search", meta={"listing": "search"})

    def since(self, run: SourceRun) -> str | None:
        """Where the oldest-first comment listing starts: the mark's time, else the age limit."""
        mark = run.source.get("high_water")
        times = [t for t in ((mark or "")[:20] or None, run.source.get("not_before")) if t]
        return max(times) if times else None

    def headers(self, run: SourceRun) -> dict[str, str]:
        return {**super().headers(run), "X-GitHub-Api-Version": API_VERSION}

    def read_page(self, response: Response, run: SourceRun) -> Page:
        listing = response.meta["listing"]
        data = read_json(response)
        if listing == "search":
            if not isinstance(data, dict) or not isinstance(data.get("items"), list):
                raise PageError("unexpected JSON: not a search/issues answer" + _message(data))
            if data.get("incomplete_results"):
                self.logger.info("%s: GitHub search answered with incomplete results", run.name)
            entries = data["items"]
        elif not isinstance(data, list):
            raise PageError(f"unexpected JSON: expected a list of {listing}" + _message(data))
        else:
            entries = data
        make = comment_item if listing == "comments" else issue_item
        posts = []
        for entry in entries:
            if isinstance(entry, dict) and isinstance(entry.get("id"), int) and entry.get("created_at"):
                item = make(entry, run.name)
                posts.append((sort_key(entry), item))
        newest_first = listing != "comments"
        posts.sort(key=lambda p: p[0], reverse=newest_first)
        return Page(posts, next_link(response), newest_first=newest_first)

    def error_message(self, response: Response) -> str | None:
        try:
            data = read_json(response)
        except PageError:
            return None
        message = data.get("message") if isinstance(data, dict) else None
        if not isinstance(message, str):
            return None
        details = [e.get("message") for e in data.get("errors") or [] if isinstance(e, dict) and e.get("message")]
        if details:  # 422 Validation Failed: what was wrong with the query
            message += " (" + "; ".join(str(d) for d in details[:3]) + ")"
        if response.status == 401:
            run = self.runs[response.meta["source"]]
            message += f" (check the token in ${run.options.get('token_env', 'GITHUB_TOKEN')})"
        return " ".join(message.split())[:200]


def _message(data: Any) -> str:
    return f" ({data['message']})" if isinstance(data, dict) and isinstance(data.get("message"), str) else ""


def sort_key(entry: dict) -> str:
    """Creation time, then the id: keys of issues and comments compare in time order."""
    t = iso_utc(parse_iso(entry.get("created_at"))) or ""
    return f"{t}#{entry['id']:020d}"


def _reactions(entry: dict) -> tuple[int | None, int | None]:
    """(score, likes): thumbs up minus thumbs down, and all reactions."""
    r = entry.get("reactions")
    if not isinstance(r, dict):
        return None, None
    up, down = as_int(r.get("+1")), as_int(r.get("-1"))
    score = (up or 0) - (down or 0) if up is not None or down is not None else None
    return score, as_int(r.get("total_count"))


def issue_item(entry: dict, source: str) -> PostItem:
    """A post from an issue or pull request (the listing and search give the same shape)."""
    score, likes = _reactions(entry)
    link = entry.get("html_url") or entry.get("url")
    return PostItem(
        source=source, guid=str(link or f"github-issue-{entry['id']}"), url=canonical_url(link),
        author=(entry.get("user") or {}).get("login"), title=entry.get("title") or None,
        text=str(entry.get("body") or ""), published_at=iso_utc(parse_iso(entry.get("created_at"))),
        score=score, likes=likes, comments=as_int(entry.get("comments")),
    )


def comment_item(entry: dict, source: str) -> PostItem:
    """A post from a comment on an issue or pull request."""
    score, likes = _reactions(entry)
    link = entry.get("html_url") or entry.get("url")
    m = _ISSUE_NUMBER_RE.search(str(entry.get("issue_url") or entry.get("pull_request_url") or ""))
    return PostItem(
        source=source, guid=str(link or f"github-comment-{entry['id']}"), url=canonical_url(link),
        parent_url=canonical_url(str(link).split("#", 1)[0]) if link and "#" in str(link) else None,
        author=(entry.get("user") or {}).get("login"), title=f"Re: {m.group(1)}#{m.group(2)}" if m else None,
        text=str(entry.get("body") or ""), published_at=iso_utc(parse_iso(entry.get("created_at"))),
        score=score, likes=likes,
    )
