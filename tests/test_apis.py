"""GitHub, Stack Exchange and YouTube spiders on replayed real payloads.

Parsing, paging, marks and re-runs in process on recorded responses (tests.helpers.spiders); per type one
crawl end to end through the real Scrapy child process into real SQLite (paging, an error, a re-run that
stores nothing new and updates nothing)."""

from __future__ import annotations

import gzip
import json
import time
from urllib.parse import urlencode

import pytest
from click.testing import CliRunner

from listener.app.cli import cli
from listener.config import ConfigError, load_settings
from listener.replay import Route
from tests.helpers import FIXTURES
from tests.helpers.sources import collect, serve, settings_file, source_row
from tests.helpers.spiders import Recorded, crawl_in_process, header, recorded, url

OLD = 'max_age = "8000d"\n'  # the recorded payloads are 2012-2014; NOW is 2026-11-23
JSON = {"Content-Type": "application/json; charset=utf-8"}
NOT_BEFORE = "2004-12-28T06:00:00Z"  # NOW - 8000 days

# --- GitHub ------------------------------------------------------------------------------------------

OF, PG = "/repos/openframeworks/openFrameworks", "/repos/PyGithub/PyGithub"
ISSUES_Q = "?state=all&sort=created&direction=desc&per_page=100"
SEARCH_Q = "/search/issues?" + urlencode({"q": "compile language:C++", "sort": "created", "order": "desc",
                                          "per_page": 100})


def comments_q(since: str, kind: str = "issues") -> str:
    return f"/{kind}/comments?" + urlencode({"sort": "created", "direction": "asc", "per_page": 100, "since": since})


def gh(name: str, base: str, extra: str = "") -> str:
    return f'[[sources]]\nname = "{name}"\ntype = "github"\nurl = "{base}"\n{OLD}{extra}'


def gh_page(file: str, status: int = 200) -> Recorded:
    return recorded("github", file, status=status)


EMPTY = "repo_issues_pygithub_empty.json"  # a real empty list


def test_github_repos_and_search_page_by_link_and_a_rerun_asks_once_per_listing(tmp_path):
    src = gh("gh", url(""), 'repos = ["openframeworks/openFrameworks", "PyGithub/PyGithub"]\n'
                            'query = "compile language:C++"\nmax_pages = 3\n')
    pages = {
        url(OF + "/issues" + ISSUES_Q): gh_page("repo_issues_openframeworks_page1.json"),
        url(OF + "/issues?page=2"): gh_page("repo_issues_openframeworks_page2.json"),
        url(OF + "/issues?page=3"): gh_page(EMPTY),
        url(OF + comments_q(NOT_BEFORE)): gh_page(EMPTY),
        url(PG + "/issues" + ISSUES_Q): gh_page(EMPTY),
        url(PG + comments_q(NOT_BEFORE)): gh_page("repo_issue_comments_page1.json"),
        url(PG + "/issues/comments?page=2"): gh_page("repo_issue_comments_page2.json"),
        url(PG + "/issues/comments?page=3"): gh_page(EMPTY),
        url(OF + comments_q(NOT_BEFORE, "pulls")): gh_page(EMPTY),
        url(PG + comments_q(NOT_BEFORE, "pulls")): gh_page(EMPTY),
        url(SEARCH_Q): gh_page("search_issues_compile_cpp_page1.json"),
    }
    # the recorded search's Link points at its own query; past the last result comes the documented
    # shape of an empty search answer (written by us)
    pages[url("/search/issues?sort=comments&q=compile+language%3AC%2B%2B&order=desc&page=2")] = \
        Recorded(b'{"total_count": 29512, "items": []}', headers=JSON)
    path = settings_file(tmp_path, src)
    first = crawl_in_process(path, pages, env={"GITHUB_TOKEN": "ghp_test"})
    f = first.fetches["gh"]
    assert f.error is None and (f.entries, len(first.posts)) == (140, 140)
    assert len({p.guid for p in first.posts}) == 140
    issue = first.post("https://github.com/openframeworks/openFrameworks/issues/1280")
    assert (issue.author, issue.title, issue.published_at, issue.comments, issue.url) == (
        "danomatika", "deprecate OF_USING_POCO?", "2012-05-27T18:03:23Z", 0,
        "https://github.com/openframeworks/openFrameworks/issues/1280")
    assert issue.text.startswith("Since more and more of the OF Core now relies on Poco")
    comment = first.post("https://api.github.com/repos/PyGithub/PyGithub/issues/comments/5168757")
    assert (comment.author, comment.published_at, comment.text) == (
        "jacquev6", "2012-04-17T05:50:25Z",
        "Thank you for reporting this. I'll publish a fix as soon as possible (tonight or tomorrow)")
    top = [p for p in first.posts if p.comments == 1017]  # the search's most commented issue
    assert len(top) == 1 and top[0].title and top[0].published_at == "2013-03-15T15:46:16Z"
    for r in first.requests:  # token, API version and media type on every request
        assert header(r, "Authorization") == "Bearer ghp_test"
        assert header(r, "X-GitHub-Api-Version") == "2022-11-28"
        assert header(r, "Accept") == "application/vnd.github+json"
    mark = f.high_water
    assert mark.startswith(max(p.published_at for p in first.posts) + "#")

    # second run: every newest-first listing stops on its first page; comments start at the mark
    since = mark[:20]
    for repo in (OF, PG):
        for kind in ("issues", "pulls"):
            pages[url(repo + comments_q(since, kind))] = gh_page(EMPTY)
    second = crawl_in_process(path, pages, state={"gh": first.state("gh")})
    assert (second.posts, second.fetches["gh"].error, second.fetches["gh"].high_water) == ([], None, mark)
    assert len(second.requests) == 7  # per repo: issues, comments, review comments; the search


def test_github_comment_listing_cut_short_holds_the_mark_back(tmp_path):
    """Comments are read oldest first: a run stopped by max_pages must not move the mark past them."""
    src = gh("gh", url(""), 'repos = ["PyGithub/PyGithub"]\nquery = "compile language:C++"\nmax_pages = 1\n')
    pages = {url(PG + "/issues" + ISSUES_Q): gh_page(EMPTY),
             url(PG + comments_q(NOT_BEFORE)): gh_page("repo_issue_comments_page1.json"),
             url(PG + comments_q(NOT_BEFORE, "pulls")): gh_page(EMPTY),
             url(SEARCH_Q): gh_page("search_issues_compile_cpp_page1.json")}
    crawl = crawl_in_process(settings_file(tmp_path, src), pages)
    f = crawl.fetches["gh"]
    assert (f.error, f.entries) == (None, 60)
    # the search reached 2014, the comments only page 1 of 7 (to 2012-06-20): the mark stays there,
    # so the next run's comments start where these stopped
    assert max(p.published_at for p in crawl.posts) > "2014"
    assert f.high_water.startswith("2012-06-20T08:15:10Z#")


def test_github_bad_credentials_and_unexpected_answers_get_one_line(tmp_path):
    src = gh("bad", url("/bad"), 'repos = ["o/r"]\n') + gh("html", url("/html"), 'query = "x"\n')
    pages = {url("/bad/repos/o/r/issues" + ISSUES_Q): gh_page("error_401_bad_credentials.json", 401),
             url("/bad/repos/o/r" + comments_q(NOT_BEFORE)): gh_page("error_401_bad_credentials.json", 401),
             url("/bad/repos/o/r" + comments_q(NOT_BEFORE, "pulls")): gh_page("error_401_bad_credentials.json", 401),
             url("/html/search/issues?" + urlencode({"q": "x", "sort": "created", "order": "desc", "per_page": 100})):
                 Recorded(b"<html><title>Sign in</title></html>", headers={"Content-Type": "text/html"})}
    # a 422 as GitHub documents it for a search it cannot run (written by us)
    src += gh("bad-q", url("/q"), 'query = "repo:nobody/nothing"\n')
    pages[url("/q/search/issues?" + urlencode({"q": "repo:nobody/nothing", "sort": "created", "order": "desc",
                                               "per_page": 100}))] = Recorded(json.dumps(
        {"message": "Validation Failed", "errors": [{"message": "The listed users and repositories cannot be searched "
                                                                "either because the resources do not exist or you do not have permission to view them.",
                                                     "resource": "Search", "field": "q", "code": "invalid"}],
         "documentation_url": "https://docs.github.com/v3/search/"}).encode(), status=422, headers=JSON)
    crawl = crawl_in_process(settings_file(tmp_path, src), pages, env={"GITHUB_TOKEN": "expired"})
    assert crawl.fetches["bad-q"].error.startswith("search: HTTP 422: Validation Failed (The listed users and "
                                                   "repositories cannot be searched")
    assert crawl.fetches["bad"].error == \
        "issues of o/r: HTTP 401 Unauthorized: Bad credentials (check the token in $GITHUB_TOKEN)"
    assert crawl.fetches["bad"].high_water is None
    assert crawl.fetches["html"].error == \
        "search: expected JSON, got an HTML page ('Sign in'): an error page or a login wall?"
    assert crawl.posts == []


def test_github_engagement_and_review_comment_titles_from_current_api_shapes():
    """Today's fields the 2012 recordings lack: reactions, and review comments' pull_request_url."""
    from spiders.github import comment_item, issue_item

    reactions = {"url": "x", "total_count": 7, "+1": 5, "-1": 1, "laugh": 0, "hooray": 1, "confused": 0, "heart": 0,
                 "rocket": 0, "eyes": 0}
    issue = issue_item({"id": 1, "number": 9, "title": "Crash on start", "body": None, "comments": 3,
                        "created_at": "2026-11-20T10:00:00Z", "user": {"login": "mira"}, "reactions": reactions,
                        "html_url": "https://github.com/o/r/issues/9"}, "gh")
    assert (issue.score, issue.likes, issue.comments, issue.text) == (4, 7, 3, "")
    review = comment_item({"id": 2, "body": "nit: typo", "created_at": "2026-11-20T11:00:00Z",
                           "user": {"login": "lee"}, "html_url": "https://github.com/o/r/pull/10#discussion_r2",
                           "pull_request_url": "https://api.github.com/repos/o/r/pulls/10"}, "gh")
    assert (review.title, review.guid, review.score) == ("Re: o/r#10", "https://github.com/o/r/pull/10#discussion_r2", None)
    assert review.parent_url == "https://github.com/o/r/pull/10" and issue.parent_url is None


def test_github_end_to_end_waits_out_a_rate_limit_then_reruns_store_nothing(server, tmp_path):
    """403 with the budget spent: waited out when the reset is near, one clear line when it is not."""
    manifest = json.loads((FIXTURES / "github" / "manifest.json").read_text())
    spent = next(e["headers"] for e in manifest if e["file"] == "error_403_rate_limit_exceeded.json")
    assert spent["x-ratelimit-remaining"] == "0"
    body403 = (FIXTURES / "github" / "error_403_rate_limit_exceeded.json").read_bytes()
    page1 = serve(server, OF + "/issues", "github", "repo_issues_openframeworks_page1.json")
    reset = int(time.time()) + 3
    clock = (time.time(), time.monotonic())  # to put the server's monotonic hit times on the wall clock
    page1.queue.append(Route(body=body403, status=403, headers={**spent, "x-ratelimit-reset": str(reset)}))
    serve(server, OF + "/issues?page=2", "github", "repo_issues_openframeworks_page2.json")
    serve(server, OF + "/issues?page=3", "github", EMPTY)
    serve(server, OF + "/issues/comments", "github", EMPTY)
    serve(server, OF + "/pulls/comments", "github", EMPTY)
    serve(server, "/repos/o/slow/pulls/comments", "github", EMPTY)
    server.add("/repos/o/slow/issues", body403, status=403,
               headers={**spent, "x-ratelimit-reset": str(int(time.time()) + 3600)})
    serve(server, "/repos/o/slow/issues/comments", "github", EMPTY)
    src = gh("gh", server.url(""), 'repos = ["openframeworks/openFrameworks"]\n') + \
        gh("slow", server.url(""), 'repos = ["o/slow"]\n')
    path = settings_file(tmp_path, src, collect="timeout = 3\nretries = 2\nmax_retry_wait = 30\n")
    db, report = collect(path, env={"GITHUB_TOKEN": "ghp_test"})
    by = {o.name: o for o in report.outcomes}
    assert by["gh"].error is None and by["gh"].counts.new == 50
    hits = server.hits(OF + "/issues" + ISSUES_Q)
    assert [h.status for h in hits] == [403, 200]
    assert clock[0] + (hits[1].at - clock[1]) >= reset - 0.01  # not asked again before the reset
    assert hits[0].headers["Authorization"] == "Bearer ghp_test"
    assert by["slow"].error.startswith("issues of o/slow: HTTP 403 Forbidden (server asks to wait 3")
    assert by["slow"].error.endswith("s, more than collect.max_retry_wait): API Rate Limit Exceeded for 92.104.200.119")
    assert "\n" not in by["slow"].error and len(server.hits("/repos/o/slow/issues" + ISSUES_Q)) == 1
    stored = db.execute("SELECT author, title, comments FROM posts WHERE guid = ?",
                        ("https://github.com/openframeworks/openFrameworks/issues/1280",)).fetchone()
    assert tuple(stored) == ("danomatika", "deprecate OF_USING_POCO?", 0)

    db, again = collect(path, "gh", env={"GITHUB_TOKEN": "ghp_test"})
    assert again.outcomes[0].error is None
    assert (again.counts.new, again.counts.updated) == (0, 0)
    assert len(server.hits(OF + "/issues" + ISSUES_Q)) == 3  # one more request for the issue listing
    assert len(server.hits(OF + "/issues?page=2")) == 1
    assert source_row(db, "gh")["posts"] == 50


# --- Stack Exchange ----------------------------------------------------------------------------------

SE = "/2.3"


def se_url(path: str, query: dict, page: int = 1, base: str = "") -> str:
    return f"{base}{SE}{path}?" + urlencode({**query, "pagesize": 100, "filter": "withbody"}) + f"&page={page}"


def se_questions(since: int, **extra) -> dict:
    return {"site": "stackoverflow", "sort": "activity", "order": "desc", "min": since, "tagged": "firefox", **extra}


def se_posts(since: int) -> dict:
    return {"site": "stackoverflow", "sort": "creation", "order": "desc", "fromdate": since}


ANSWERS = {"site": "stackoverflow", "sort": "creation", "order": "desc"}
SE_SINCE = 1104213600  # NOT_BEFORE as Unix time
Q1, Q2, QREAL = "79990001", "79987777", "17992553"


def se_pages(base: str = "") -> dict[str, Recorded]:
    rec = lambda file: recorded("stackexchange", file)  # noqa: E731
    return {
        se_url("/search/advanced", se_questions(SE_SINCE), 1, base): rec("search_advanced_page1.json"),
        se_url("/search/advanced", se_questions(SE_SINCE), 2, base): rec("questions_17992553_stackoverflow.json"),
        se_url(f"/questions/{Q1};{Q2}/answers", ANSWERS, 1, base): rec("answers.json"),
        se_url(f"/posts/{Q1};{Q2};79991234;79990050;79989000/comments", se_posts(SE_SINCE), 1, base):
            rec("comments.json"),
        se_url(f"/questions/{QREAL}/answers", ANSWERS, 1, base): rec("empty.json"),
        se_url(f"/posts/{QREAL}/comments", se_posts(SE_SINCE), 1, base): rec("empty.json"),
    }


def se(name: str, base: str, extra: str = 'tagged = "firefox"\n') -> str:
    return f'[[sources]]\nname = "{name}"\ntype = "stackexchange"\nurl = "{base}{SE}"\nsite = "stackoverflow"\n{OLD}{extra}'


def test_stackexchange_questions_answers_and_comments_page_by_has_more_and_reruns_ask_once(tmp_path):
    pages = se_pages(url(""))
    path = settings_file(tmp_path, se("se", url("")))
    first = crawl_in_process(path, pages)
    f = first.fetches["se"]
    assert f.error is None and f.entries == len(first.posts) == 8  # 3 questions, 3 answers, 2 comments
    q = first.post("stackoverflow/q/79987777")
    assert (q.author, q.title, q.url, q.published_at, q.comments) == (
        "O'Brien", "storage.sync quota in Firefox extensions & Chrome",
        "https://stackoverflow.com/questions/79987777/storage-sync-quota-in-firefox-extensions",
        "2026-11-19T08:00:05Z", 1)
    assert q.text.startswith("Does storage.sync have the same 100 KB quota")
    real = first.post("stackoverflow/q/17992553")  # the real answer: a custom filter, no body
    assert (real.author, real.title, real.published_at, real.text) == (
        "codeslayer1", "Concept behind these four lines of tricky C code", "2013-08-01T11:16:08Z", "")
    a = first.post("stackoverflow/a/79990050")
    assert (a.url, a.title, a.score, a.author) == ("https://stackoverflow.com/a/79990050",
                                                   "Re: Flex gap ignored in Firefox print preview", 6, "devtools fan")
    c = first.post("stackoverflow/c/140001001")
    assert (c.url, c.title, c.text) == ("https://stackoverflow.com/posts/comments/140001001",
                                        "Re: Flex gap ignored in Firefox print preview",
                                        "Thanks, the margin workaround works in Firefox and Chrome.")
    assert a.parent_url.startswith("https://stackoverflow.com/questions/") and c.parent_url
    assert q.parent_url is None
    assert f.high_water == "2026-11-21T09:30:00Z#000079991234"  # the newest answer

    since = 1795253400  # the mark's time: only questions active since then
    pages[se_url("/search/advanced", se_questions(since), 1, url(""))] = pages[
        se_url("/search/advanced", se_questions(SE_SINCE), 1, url(""))]
    second = crawl_in_process(path, pages, state={"se": first.state("se")})
    assert (second.posts, second.fetches["se"].error, len(second.requests)) == ([], None, 1)


def test_stackexchange_key_errors_backoff_and_quota_each_get_one_line(tmp_path):
    rec = lambda file, status=200: recorded("stackexchange", file, status=status)  # noqa: E731
    pages = {
        se_url("/search/advanced", se_questions(SE_SINCE, key="k"), 1, url("/t")):
            rec("error_400_throttle_violation.json", 400),
        se_url("/search/advanced", se_questions(SE_SINCE, key="k"), 1, url("/b")): rec("search_advanced_backoff_300.json"),
        se_url("/search/advanced", se_questions(SE_SINCE, key="k"), 1, url("/q")): rec("search_advanced_quota_used_up.json"),
        se_url(f"/questions/{Q2}/answers", {**ANSWERS, "key": "k"}, 1, url("/b")): rec("empty.json"),
        se_url(f"/questions/{Q2}/answers", {**ANSWERS, "key": "k"}, 1, url("/q")): rec("empty.json"),
        se_url(f"/posts/{Q2}/comments", {**se_posts(SE_SINCE), "key": "k"}, 1, url("/b")): rec("empty.json"),
        se_url(f"/posts/{Q2}/comments", {**se_posts(SE_SINCE), "key": "k"}, 1, url("/q")): rec("empty.json"),
    }
    src = se("t", url("/t")) + se("b", url("/b")) + se("q", url("/q"))
    crawl = crawl_in_process(settings_file(tmp_path, src, collect="max_retry_wait = 60\n"), pages,
                             env={"STACKEXCHANGE_KEY": "k"})
    f = crawl.fetches
    assert f["t"].error == ("questions: HTTP 400: throttle_violation (error_id 502): too many requests from this IP, "
                            "more requests available in 82216 seconds")
    assert f["b"].error == \
        "questions: the API asks to back off 300s before the next request, more than collect.max_retry_wait"
    assert f["q"].error.startswith("questions: daily request quota used up (quota_max 300)")
    # the page's question is kept, the mark does not move, the next page is not asked for
    assert len(crawl.of("b")) == len(crawl.of("q")) == 1 and f["b"].high_water is None
    assert not [r for r in crawl.requests if r.url.endswith("&page=2")]


def test_stackexchange_end_to_end_gzip_backoff_and_a_rerun_that_stores_nothing(server, tmp_path):
    """Gzipped bodies as the API sends them; a backoff of 1 s holds the next request back."""
    for path, rec in se_pages().items():
        server.add(path, gzip.compress(rec.body), headers={**rec.headers, "Content-Encoding": "gzip"})
    throttled = recorded("stackexchange", "error_400_throttle_violation.json", status=400)
    server.add("/t" + se_url("/search/advanced", se_questions(SE_SINCE), 1), gzip.compress(throttled.body),
               status=400, headers={**throttled.headers, "Content-Encoding": "gzip"})
    src = se("se", server.url("")) + se("t", server.url("/t"))
    settings = settings_file(tmp_path, src)
    db, report = collect(settings)
    by = {o.name: o for o in report.outcomes}
    assert by["se"].error is None and by["se"].counts.new == 8
    assert by["t"].error == ("questions: HTTP 400: throttle_violation (error_id 502): too many requests from this "
                             "IP, more requests available in 82216 seconds")
    page1 = server.hits(se_url("/search/advanced", se_questions(SE_SINCE), 1))[0]
    after = sorted(h.at for h in server.log if h.at > page1.at and not h.path.startswith("/t/"))
    assert after and after[0] - page1.at >= 0.95  # backoff: 1 on page 1
    assert "gzip" in page1.headers.get("Accept-Encoding", "")
    row = db.execute("SELECT author, title FROM posts WHERE guid = 'stackoverflow/a/79991234'").fetchone()
    assert tuple(row) == ("Lee", "Re: Flex gap ignored in Firefox print preview")
    server.add(se_url("/search/advanced", se_questions(1795253400), 1),
               gzip.compress(recorded("stackexchange", "search_advanced_page1.json").body),
               headers={"Content-Type": "application/json; charset=utf-8", "Content-Encoding": "gzip"})
    db, again = collect(settings, "se")
    assert again.outcomes[0].error is None and (again.counts.new, again.counts.updated) == (0, 0)
    assert len(server.hits(se_url("/search/advanced", se_questions(1795253400), 1))) == 1
    assert source_row(db, "se")["posts"] == 8


# --- YouTube ---------------------------------------------------------------------------------------

YT = "/youtube/v3"
VIDEO, THREAD_WITH_REPLIES = "F1UP7wRCPH8", "UgwI_ylXVnzPS8Q-oAV4AaABAg"
CHANNEL_VIDEOS = ["LrQWzOkC0XQ", "lVQ1EKR1v1I", "Bud7XR8crWw", "k_NtkiMAC-o", "dfweWyVScaI"]


def yt_threads(video: str, token: str | None = None, key: str = "k") -> str:
    q = {"part": "snippet,replies", "videoId": video, "order": "time", "maxResults": 100, "textFormat": "plainText",
         "key": key}
    return f"{YT}/commentThreads?{urlencode(q)}" + (f"&pageToken={token}" if token else "")


def yt_replies(parent: str, token: str | None = None) -> str:
    q = {"part": "snippet", "parentId": parent, "maxResults": 100, "textFormat": "plainText", "key": "k"}
    return f"{YT}/comments?{urlencode(q)}" + (f"&pageToken={token}" if token else "")


def yt_search(channel: str) -> str:
    q = {"part": "snippet", "channelId": channel, "type": "video", "order": "date", "maxResults": 5, "key": "k"}
    return f"{YT}/search?{urlencode(q)}"


def yt_token(file: str) -> str:
    return json.loads((FIXTURES / "youtube" / file).read_bytes())["nextPageToken"]


def yt_video_pages() -> dict[str, tuple[str, int]]:
    """Path -> (fixture, status) for one video's two pages of threads and one thread's replies."""
    return {yt_threads(VIDEO): ("commentThreads_by_video_page1.json", 200),
            yt_threads(VIDEO, yt_token("commentThreads_by_video_page1.json")): ("commentThreads_multi_ids.json", 200),
            yt_replies(THREAD_WITH_REPLIES): ("comments_by_parent_page1.json", 200),
            yt_replies(THREAD_WITH_REPLIES, yt_token("comments_by_parent_page1.json")): ("comments_empty_page.json", 200)}


def yt(name: str, base: str, extra: str) -> str:
    return f'[[sources]]\nname = "{name}"\ntype = "youtube"\nurl = "{base}{YT}"\n{OLD}{extra}'


def test_youtube_threads_replies_and_a_channels_recent_videos_then_a_rerun_stops_at_the_mark(tmp_path):
    pages = {url(p): recorded("youtube", f, status=st) for p, (f, st) in yt_video_pages().items()}
    pages[url(yt_search("UC_x5XG1OV2P6uZZ5FSM9Ttw"))] = recorded("youtube", "search_videos_by_channel.json")
    pages[url(yt_threads(CHANNEL_VIDEOS[0]))] = recorded("youtube", "error_403_comments_disabled.json", status=403)
    for video in CHANNEL_VIDEOS[1:]:
        pages[url(yt_threads(video))] = recorded("youtube", "comments_empty_page.json")
    src = yt("yt", url(""), f'videos = ["{VIDEO}"]\nchannel = "UC_x5XG1OV2P6uZZ5FSM9Ttw"\nmax_pages = 3\n')
    path = settings_file(tmp_path, src)
    first = crawl_in_process(path, pages, env={"YOUTUBE_API_KEY": "k"})
    f = first.fetches["yt"]
    assert f.error is None and f.entries == len(first.posts) == 9  # 7 threads, 2 replies
    t = first.post("youtube/UgysQP-vp089eFP0Stl4AaABAg")
    assert (t.author, t.likes, t.comments, t.published_at, t.url) == (
        "Andres Jorquera", 4, 0, "2019-11-17T11:34:48Z",
        "https://www.youtube.com/watch?v=F1UP7wRCPH8&lc=UgysQP-vp089eFP0Stl4AaABAg")
    assert t.text.startswith("Funny that they use heroku to show a dem")
    link = first.post("youtube/UgyZ1jqkHKYvi1-ruOZ4AaABAg")
    assert link.text == "Google.com"  # textDisplay's HTML link as text
    reply = first.post("youtube/Ugw5zYU6n9pmIgAZWvN4AaABAg.91zT3cYb5B291za6voUoRh")
    assert (reply.author, reply.text, reply.url) == (
        "kun liu", "this is the third reply!",
        "https://www.youtube.com/watch?v=F1UP7wRCPH8&lc=Ugw5zYU6n9pmIgAZWvN4AaABAg.91zT3cYb5B291za6voUoRh")
    assert reply.parent_url == "https://www.youtube.com/watch?v=F1UP7wRCPH8&lc=Ugw5zYU6n9pmIgAZWvN4AaABAg"
    assert t.parent_url == "https://www.youtube.com/watch?v=F1UP7wRCPH8"
    assert f.high_water == "2019-12-01T04:46:31Z#Ugw5zYU6n9pmIgAZWvN4AaABAg.91zT3cYb5B291za6voUoRh"

    second = crawl_in_process(path, pages, env={"YOUTUBE_API_KEY": "k"}, state={"yt": first.state("yt")})
    assert (second.posts, second.fetches["yt"].error) == ([], None)
    # each video's first page of threads, and the channel search; no replies, no second pages
    assert len(second.requests) == 1 + 1 + len(CHANNEL_VIDEOS)


def test_youtube_needs_a_key_and_quota_and_api_errors_are_one_line(tmp_path):
    pages = {url("/q" + yt_threads("v1")): recorded("youtube", "error_403_quota_exceeded.json", status=403),
             url("/p" + yt_threads("v1")): recorded("youtube", "error_403_permission_denied.json", status=403)}
    # a bad key, as Google's error envelope documents it (written by us)
    pages[url("/k" + yt_threads("v1"))] = Recorded(json.dumps({"error": {
        "code": 400, "message": "API key not valid. Please pass a valid API key.",
        "errors": [{"message": "API key not valid. Please pass a valid API key.", "domain": "global",
                    "reason": "badRequest"}], "status": "INVALID_ARGUMENT",
        "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}]}}).encode(),
        status=400, headers=JSON)
    src = yt("nokey", url("/n"), 'videos = ["v1"]\nkey_env = "MY_YT_KEY"\n') + \
        yt("q", url("/q"), 'videos = ["v1"]\n') + yt("p", url("/p"), 'videos = ["v1"]\n') + \
        yt("k", url("/k"), 'videos = ["v1"]\n')
    crawl = crawl_in_process(settings_file(tmp_path, src), pages, env={"YOUTUBE_API_KEY": "k"})
    f = crawl.fetches
    assert f["nokey"].error == ("needs credentials: set the environment variable MY_YT_KEY "
                                "(an API key with the YouTube Data API v3 enabled)")
    assert f["q"].error.startswith("comments of video v1: HTTP 403: quotaExceeded: the API key's daily quota is used up")
    assert f["p"].error == "comments of video v1: HTTP 403: SERVICE_UNAVAILABLE: The caller does not have permission"
    assert f["k"].error == ("comments of video v1: HTTP 400 Bad Request: badRequest: API key not valid. "
                            "Please pass a valid API key. (check the key in $YOUTUBE_API_KEY)")
    assert crawl.posts == [] and not crawl.hits(url("/n" + yt_threads("v1")))


def test_youtube_end_to_end_pages_replies_quota_and_a_rerun_that_stores_nothing(server, tmp_path):
    for path, (file, status) in yt_video_pages().items():
        serve(server, path, "youtube", file, status=status)
    serve(server, "/q" + yt_threads("v2"), "youtube", "error_403_quota_exceeded.json", status=403)
    src = yt("yt", server.url(""), f'videos = ["{VIDEO}"]\n') + yt("q", server.url("/q"), 'videos = ["v2"]\n')
    settings = settings_file(tmp_path, src)
    db, report = collect(settings, env={"YOUTUBE_API_KEY": "k"})
    by = {o.name: o for o in report.outcomes}
    assert by["yt"].error is None and by["yt"].counts.new == 9
    assert by["q"].error.startswith("comments of video v2: HTTP 403: quotaExceeded:")
    assert len(server.hits("/q" + yt_threads("v2"))) == 1  # a spent quota is not retried
    db, again = collect(settings, "yt", env={"YOUTUBE_API_KEY": "k"})
    assert again.outcomes[0].error is None and (again.counts.new, again.counts.updated) == (0, 0)
    assert len(server.hits(yt_threads(VIDEO))) == 2 and len(server.hits(yt_replies(THREAD_WITH_REPLIES))) == 1
    assert source_row(db, "yt")["posts"] == 9


# --- settings and `listener sources add` -----------------------------------------------------------

ADD = {
    "youtube": (["--set", 'videos=["F1UP7wRCPH8"]', "--set", "channel=UC_x5XG1OV2P6uZZ5FSM9Ttw"],
                {"videos": ("F1UP7wRCPH8",), "channel": "UC_x5XG1OV2P6uZZ5FSM9Ttw", "recent": 5,
                 "key_env": "YOUTUBE_API_KEY"}, "https://www.googleapis.com/youtube/v3"),
    "stackexchange": (["--set", "site=superuser", "--set", "tagged=firefox"],
                      {"site": "superuser", "tagged": "firefox", "key_env": "STACKEXCHANGE_KEY"},
                      "https://api.stackexchange.com/2.3"),
    "github": (["--set", 'repos=["python/cpython"]', "--set", "query=firefox is:issue"],
               {"repos": ("python/cpython",), "query": "firefox is:issue", "token_env": "GITHUB_TOKEN"},
               "https://api.github.com"),
}


@pytest.mark.parametrize("kind", sorted(ADD))
def test_sources_add_takes_each_new_api_type(tmp_path, kind):
    args, options, default_url = ADD[kind]
    path = tmp_path / "settings.toml"
    path.write_text('[store]\npath = "x.db"\n', encoding="utf-8")
    r = CliRunner().invoke(cli, ["--config", str(path), "sources", "add", "s", "--type", kind, *args])
    assert r.exit_code == 0, r.output
    s = load_settings(path).source("s")
    assert (s.type, s.url) == (kind, default_url)
    assert {k: s.options[k] for k in options} == options


@pytest.mark.parametrize("source,message", [
    ('type = "github"\n', "sources[0].repos: required key is missing: give `repos`"),
    ('type = "github"\nrepos = ["python"]\n', 'sources[0].repos[0]: expected owner/name (like "python/cpython")'),
    ('type = "github"\nrepos = "python/cpython"\n', "sources[0].repos: expected"),
    ('type = "stackexchange"\ntagged = "firefox"\n', "sources[0].site: required key is missing"),
    ('type = "stackexchange"\nsite = "superuser"\n', "sources[0].tagged: required key is missing: give `tagged`"),
    ('type = "youtube"\n', "sources[0].videos: required key is missing: give `videos`"),
    ('type = "youtube"\nchannel = "UC1"\nrecent = 80\n', "sources[0].recent: expected 1 to 50"),
])
def test_bad_api_source_settings_name_the_key(tmp_path, source, message):
    path = tmp_path / "s.toml"
    path.write_text(f'[[sources]]\nname = "x"\n{source}', encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    assert message in str(err.value)
