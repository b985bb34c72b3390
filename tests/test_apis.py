"""GitHub, Stack Exchange and YouTube spiders on replayed real payloads.

Parsing, paging, marks and re-runs in process on recorded responses (tests.helpers.spiders); per type one
crawl end to end through the real Scrapy child process into real SQLite (paging, an error, a re-run that
stores nothing new and updates nothing)."""

from __future__ import annotations

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


def comments_q(since: str) -> str:
    return "/issues/comments?" + urlencode({"sort": "created", "direction": "asc", "per_page": 100, "since": since})


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
    pages[url(OF + comments_q(since))] = pages[url(PG + comments_q(since))] = gh_page(EMPTY)
    second = crawl_in_process(path, pages, state={"gh": first.state("gh")})
    assert (second.posts, second.fetches["gh"].error, second.fetches["gh"].high_water) == ([], None, mark)
    assert len(second.requests) == 5


def test_github_comment_listing_cut_short_holds_the_mark_back(tmp_path):
    """Comments are read oldest first: a run stopped by max_pages must not move the mark past them."""
    src = gh("gh", url(""), 'repos = ["PyGithub/PyGithub"]\nquery = "compile language:C++"\nmax_pages = 1\n')
    pages = {url(PG + "/issues" + ISSUES_Q): gh_page(EMPTY),
             url(PG + comments_q(NOT_BEFORE)): gh_page("repo_issue_comments_page1.json"),
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
             url("/html/search/issues?" + urlencode({"q": "x", "sort": "created", "order": "desc", "per_page": 100})):
                 Recorded(b"<html><title>Sign in</title></html>", headers={"Content-Type": "text/html"})}
    crawl = crawl_in_process(settings_file(tmp_path, src), pages, env={"GITHUB_TOKEN": "expired"})
    assert crawl.fetches["bad"].error == \
        "issues of o/r: HTTP 401 Unauthorized: Bad credentials (check the token in $GITHUB_TOKEN)"
    assert crawl.fetches["bad"].high_water is None
    assert crawl.fetches["html"].error == \
        "search: expected JSON, got an HTML page ('Sign in'): an error page or a login wall?"
    assert crawl.posts == []


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


# --- settings and `listener sources add` -----------------------------------------------------------

ADD = {
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
])
def test_bad_api_source_settings_name_the_key(tmp_path, source, message):
    path = tmp_path / "s.toml"
    path.write_text(f'[[sources]]\nname = "x"\n{source}', encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    assert message in str(err.value)
