"""Every HTML forum preset on pages written in its engine's markup (tests/fixtures/forums/engines, ours:
see the README): the engine recognised from the board page (and named by ``preset`` alike), a board whose
changed thread is read from its last page back to page 1 through links at the top and bottom of each
page, session ids stripped, an old thread skipped, a re-run that reads only the last page and stores
nothing new, and the engine's own login/permission page as one clear error."""

from __future__ import annotations

import json

import pytest

from tests.helpers import DEMO_SOCIAL
from tests.helpers.sources import settings_file
from tests.helpers.spiders import Recorded, crawl_in_process, recorded, url

# engine: (host its absolute links name, board path, thread page 1 path, last page path)
ENGINES = {
    "phpbb2": (None, "/viewforum.php?f=3", "/viewtopic.php?t=12", "/viewtopic.php?t=12&start=15"),
    "smf1": ("http://forum.example.org", "/index.php?board=2.0", "/index.php?topic=45.0", "/index.php?topic=45.15"),
    "smf2": ("https://forum.example.org", "/index.php?board=4.0", "/index.php?topic=88.0", "/index.php?topic=88.20"),
    "smf21": ("https://community.example.org", "/index.php?board=1.0", "/index.php?topic=5.0",
              "/index.php?topic=5.20"),
    "vbulletin4": ("https://vb4.example.org", "/forumdisplay.php?f=12", "/showthread.php?t=345",
                   "/showthread.php?t=345&page=2"),
    "vbulletin5": ("https://vb5.example.org", "/forum/browsers",
                   "/forum/browsers/1234-firefox-sync-keeps-logging-me-out",
                   "/forum/browsers/1234-firefox-sync-keeps-logging-me-out/page2"),
    "xenforo1": ("https://xf1.example.org", "/forums/browsers.2/", "/threads/firefox-sync-keeps-logging-me-out.77/",
                 "/threads/firefox-sync-keeps-logging-me-out.77/page-2"),
    "xenforo2": (None, "/forums/browsers.2/", "/threads/firefox-sync-keeps-logging-me-out.77/",
                 "/threads/firefox-sync-keeps-logging-me-out.77/page-2"),
    "mybb": ("https://mybb.example.org", "/forumdisplay.php?fid=2", "/showthread.php?tid=9",
             "/showthread.php?tid=9&page=2"),
    "invision": ("https://community.example.com", "/forum/3-browsers/", "/topic/55-firefox-sync-keeps-logging-me-out/",
                 "/topic/55-firefox-sync-keeps-logging-me-out/page/2/"),
}
FILES = {"smf2": "smf2core"}  # SMF 2.0's Core theme (the Curve theme is in test_forums.py)
WRITTEN = {"1001": ("alice", "2026-11-10T09:15:00Z"), "1002": ("bob", "2026-11-11T14:02:00Z"),
           "1003": ("carol", "2026-11-22T18:30:00Z"), "1004": ("dave", "2026-11-23T05:12:00Z")}


def pages_of(engine: str) -> dict:
    host, board, first, last = ENGINES[engine]
    name = FILES.get(engine, engine)
    return {url(board.rstrip("/")): recorded("forums/engines", f"{name}_board.html", replace=host),
            url(first): recorded("forums/engines", f"{name}_thread.html", replace=host),
            url(last): recorded("forums/engines", f"{name}_last.html", replace=host)}


def engine_of(fetch) -> str:
    """The engine a run recognised, as it keeps it in the source's session."""
    return json.loads(fetch.session)["engine"]


def source(engine: str, preset: bool, address: str | None = None) -> str:
    line = f'preset = "{engine}"\n' if preset else ""
    return (f'[[sources]]\nname = "f"\ntype = "forum"\nurl = "{address or url(ENGINES[engine][1])}"\n'
            f'max_age = "30d"\n{line}')


@pytest.mark.parametrize("preset", [False, True], ids=["recognised", "preset"])
@pytest.mark.parametrize("engine", list(ENGINES))
def test_engine_board_thread_pages_and_rerun(tmp_path, engine, preset):
    _, board, first, last = ENGINES[engine]
    pages = pages_of(engine)
    path = settings_file(tmp_path, source(engine, preset))
    crawl = crawl_in_process(path, pages)
    f = crawl.fetches["f"]
    assert f.error is None and engine_of(f) == engine
    # the board row's link to page 2 first, then back to page 1: each page once, the old thread never
    assert [r.url for r in crawl.requests] == [url(board.rstrip("/")), url(last), url(first)]
    got = {next(n for n in WRITTEN if n in p.guid): p for p in crawl.posts}
    assert {n: (p.author, p.published_at) for n, p in got.items()} == WRITTEN
    assert all(p.title and "Firefox sync keeps logging me out" in p.title for p in crawl.posts)
    assert "146.0.1" in got["1003"].text and "Chrome" in got["1001"].text
    assert all(p.url.startswith(url(last if n in ("1003", "1004") else first)) for n, p in got.items())
    assert not any(s in p.url for p in crawl.posts for s in ("PHPSESSID", "sid=", "s=8a7b"))
    assert f.high_water == "2026-11-23T05:12:00Z"

    again = crawl_in_process(path, pages, state={"f": crawl.state("f")})
    assert again.fetches["f"].error is None
    assert [r.url for r in again.requests] == [url(board.rstrip("/")), url(last)]  # an older post there: done
    assert [(p.guid, p.url) for p in again.posts] == [(got["1004"].guid, got["1004"].url)]


@pytest.mark.parametrize("engine", list(ENGINES))
def test_engine_error_page_is_one_clear_line(tmp_path, engine):
    host = ENGINES[engine][0]
    name = FILES.get(engine, engine)
    pages = {url("/board"): recorded("forums/engines", f"{name}_error.html", replace=host)}
    crawl = crawl_in_process(settings_file(tmp_path, source(engine, False, url("/board"))), pages)
    error = crawl.fetches["f"].error
    assert error.startswith(url("/board") + ": a login/registration wall (") and \
        error.endswith("): this board is not public, so it cannot be read")
    assert not crawl.posts


def test_generic_extractor_reads_an_engine_without_preset_or_stops_with_a_clear_error(tmp_path):
    """FluxBB has no preset: the board's thread links (with their rows' last-post dates: the 2015 topic is
    past max_age) and each topic's repeated post blocks are found from the page's structure; a topic where
    one post has no date is an error, and none of its posts is stored."""
    pages = {url("/viewforum.php?id=3"): recorded("forums/generic", "fluxbb_viewforum.html"),
             url("/viewtopic.php?id=12"): recorded("forums/generic", "fluxbb_viewtopic.html"),
             url("/viewtopic.php?id=13"): recorded("forums/generic", "fluxbb_viewtopic_nodate.html"),
             url("/viewtopic.php?id=4"): Recorded(b"must not be asked for", status=404)}
    path = settings_file(tmp_path, source("phpbb2", False, url("/viewforum.php?id=3")))
    crawl = crawl_in_process(path, pages)
    f = crawl.fetches["f"]
    assert engine_of(f) == "generic" and f.high_water is None
    assert f.error == url("/viewtopic.php?id=13") + (
        ": no preset fits this forum and the generic extractor found no posts: 1 of 3 post blocks lack an "
        "author, a date or a text (none of this page's posts are stored) (set preset or selectors)")
    assert not crawl.hits(url("/viewtopic.php?id=4"))
    assert [(p.guid, p.author, p.published_at, p.url) for p in crawl.posts] == [
        (f"p{n}", who, when, url(f"/viewtopic.php?id=12#p{n}")) for n, (who, when) in WRITTEN.items()]
    assert "146.0.1" in crawl.post("p1003").text and "Registered" not in crawl.post("p1003").text


def test_flarum_recognised_from_its_page_and_read_through_its_json_api(tmp_path):
    """The site's HTML says Flarum; its discussions come from ``/api/discussions``, a discussion's post ids
    from ``relationships.posts``, the ones not included fetched with ``/api/posts?filter[id]=`` (ours, in the
    API's JSON:API shapes). A tag event among the posts is not a post."""
    chunk = "/api/posts?filter%5Bid%5D=105%2C106%2C107%2C108%2C109"
    pages = {url(""): recorded("forums/api", "flarum_home.html", replace="https://flarum.example.org"),
             url("/api/discussions?sort=-lastPostedAt"): recorded("forums/api", "flarum_discussions.json"),
             url("/api/discussions/7"): recorded("forums/api", "flarum_discussion_7.json"),
             url(chunk): recorded("forums/api", "flarum_posts_105-109.json")}
    path = settings_file(tmp_path, source("flarum", False, url("")))
    crawl = crawl_in_process(path, pages)
    f = crawl.fetches["f"]
    assert (f.error, engine_of(f), f.high_water) == (None, "flarum", "2026-11-23T05:15:00Z")
    assert [r.url for r in crawl.requests] == list(pages)
    assert [p.guid for p in crawl.posts] == ["101", "102", "103", "105", "106", "107", "108", "109"]
    p = crawl.post("109")
    assert (p.author, p.published_at, p.url, p.title) == \
        ("dave", "2026-11-23T05:15:00Z", url("/d/7/8"), "Firefox sync keeps logging me out")
    assert p.text == "Confirmed, 146.0.1 fixed it here too after a restart. Thanks!"
    again = crawl_in_process(path, pages, state={"f": crawl.state("f")})
    assert [p.guid for p in again.posts] == ["109"] and again.fetches["f"].error is None


def test_nodebb_topic_read_from_its_last_page_backwards(tmp_path):
    """NodeBB's ``/api/recent`` and ``/api/topic/ID?page=N`` (ours, in the API's shapes): page 1, then the last
    page, then the pages before it until a post older than the mark."""
    pages = {url("/api/recent"): recorded("forums/api", "nodebb_recent.json"),
             url("/api/topic/9"): recorded("forums/api", "nodebb_topic_9_page1.json"),
             url("/api/topic/9?page=3"): recorded("forums/api", "nodebb_topic_9_page3.json"),
             url("/api/topic/9?page=2"): recorded("forums/api", "nodebb_topic_9_page2.json")}
    path = settings_file(tmp_path, source("nodebb", True, url("")))
    crawl = crawl_in_process(path, pages)
    assert crawl.fetches["f"].error is None
    assert [r.url for r in crawl.requests] == list(pages)
    assert sorted(p.guid for p in crawl.posts) == [str(n) for n in range(501, 509)]
    p = crawl.post("508")
    assert (p.author, p.published_at, p.url, p.likes) == ("dave", "2026-11-23T05:15:00Z", url("/post/508"), 1)
    again = crawl_in_process(path, pages, state={"f": crawl.state("f")})
    assert [r.url for r in again.requests] == list(pages)[:3]  # page 3 holds an older post: page 2 is not read
    assert [p.guid for p in again.posts] == ["508"]


@pytest.mark.parametrize("preset", [False, True], ids=["recognised", "preset"])
def test_a_theme_the_recognised_engines_selectors_miss_is_read_by_the_generic_extractor(tmp_path, preset):
    """phpBB 3 (recognised by body#phpbb) with a theme that renames p.author and div.content: the preset finds
    posts without dates, so the page's structure is read instead. A preset named in the settings is obeyed:
    then the same page is an error."""
    body = (DEMO_SOCIAL / "forum_phpbb3_viewtopic_t3.html").read_bytes()
    themed = body.replace(b'class="author"', b'class="byline"').replace(b'class="content"', b'class="message-text"')
    assert themed != body
    pages = {url("/viewtopic.php?f=2&t=3"): Recorded(themed, headers={"content-type": "text/html"})}
    line = 'preset = "phpbb3"\n' if preset else ""
    path = settings_file(tmp_path, f'[[sources]]\nname = "f"\ntype = "forum"\nurl = "{url("/viewtopic.php?f=2&t=3")}"\n'
                                   f'max_age = "5000d"\n{line}')
    crawl = crawl_in_process(path, pages)
    if preset:
        assert crawl.fetches["f"].error.startswith(url("/viewtopic.php?f=2&t=3") + ": 1 of 1 posts have no date")
        assert not crawl.posts
    else:
        assert crawl.fetches["f"].error is None
        assert [(p.guid, p.author, p.published_at) for p in crawl.posts] == [("p9", "carl", "2015-03-03T10:00:00Z")]


def test_a_thread_that_keeps_failing_does_not_make_the_others_be_read_again_in_full(tmp_path):
    """A failed page keeps the source's mark where it was, run after run; each thread's own mark (its last
    post read, kept in the source's session) still lets a re-run read only the changed threads' last pages."""
    host, board, first, last = ENGINES["phpbb2"]
    board2 = url("/viewforum.php?f=3&topicdays=0&start=50")  # the old thread is new now: the board reads on
    pages = {**pages_of("phpbb2"), url("/viewtopic.php?t=4"): recorded("forums", "forum_login_wall.html"),
             board2: recorded("forums/engines", "phpbb2_board.html")}
    path = settings_file(tmp_path, source("phpbb2", False).replace('max_age = "30d"', 'max_age = "5000d"'))
    crawl = crawl_in_process(path, pages)
    assert crawl.fetches["f"].error.startswith(url("/viewtopic.php?t=4") + ": a login/registration wall")
    assert crawl.fetches["f"].high_water is None and len(crawl.posts) == 4
    state = {"f": crawl.state("f")}
    assert state["f"].high_water is None
    assert json.loads(state["f"].session)["threads"] == {url("/viewtopic.php?t=12"): "2026-11-23T05:12:00Z"}
    again = crawl_in_process(path, pages, state=state)
    # thread 12's last page holds posts older than its mark: page 1 is not read again; thread 4 is retried
    assert sorted(r.url for r in again.requests) == sorted([url(board), board2, url(last), url("/viewtopic.php?t=4")])
    assert [p.guid for p in again.posts] == ["1004"]
