"""The forum spider on real pages it was not written against (byte-exact copies, tests/fixtures/forums/README.md):
Something Awful's vBulletin-derived thread with
pagination at top and bottom and its "Database Unavailable" page, and Discourse's topic JSON with
``post_stream.stream``. The engine is recognised from the page (no ``preset``)."""

from __future__ import annotations

import json

import pytest

from listener import store
from tests.helpers.sources import settings_file
from tests.helpers.spiders import Recorded, crawl_in_process, recorded, url

SA_PAGE5 = "/sa/showthread.php?threadid=3507451&userid=0&perpage=40&pagenumber=5"
SA_LAST = "/sa/showthread.php?threadid=3507451&userid=0&perpage=40&pagenumber=151"
SA_PAGE6 = "/sa/showthread.php?threadid=3507451&userid=0&perpage=40&pagenumber=6"


def engine_of(fetch) -> str:
    """The engine a run recognised, as it keeps it in the source's session."""
    return json.loads(fetch.session)["engine"]


def mark(name: str, high_water: str) -> dict[str, store.SourceState]:
    return {name: store.SourceState(name, high_water=high_water)}


def forum(name: str, address: str, extra: str = "", age: str = "6000d") -> str:
    return f'[[sources]]\nname = "{name}"\ntype = "forum"\nurl = "{address}"\nmax_age = "{age}"\n{extra}'


def test_something_awful_thread_top_and_bottom_pagination_and_database_unavailable(tmp_path):
    pages = {url(SA_PAGE5): recorded("forums", "somethingawful_showthread.html"),
             url(SA_LAST): recorded("forums", "somethingawful_database_unavailable.html")}
    crawl = crawl_in_process(settings_file(tmp_path, forum("sa", url(SA_PAGE5))), pages)
    # page 5 of 151 shows links at top and bottom: the last page is asked for once, never a joined href
    assert [r.url for r in crawl.requests] == [url(SA_PAGE5), url(SA_LAST)]
    assert crawl.fetches["sa"].error == url(SA_LAST) + (
        ": the forum answered with an error page ('Database Unavailable'): maintenance or database trouble, "
        "try again later")
    assert crawl.fetches["sa"].high_water is None and engine_of(crawl.fetches["sa"]) == "vbulletin3"
    posts = crawl.of("sa")
    assert len(posts) == 40 and all(p.author and p.published_at and p.text for p in posts)
    p = crawl.post("post407741839")
    assert (p.author, p.published_at) == ("Majuju", "2012-09-20T11:16:00Z")
    assert "a lot of room for debate" in p.text and p.url == url(SA_PAGE5) + "#post407741839"


def test_something_awful_thread_read_backwards_from_its_last_page_until_known_posts(tmp_path):
    """The last page is read, then the page before it, until a post older than the mark. (Page 5's copy
    stands in for both: its own links say 6 comes before 151.)"""
    pages = {url(SA_LAST): recorded("forums", "somethingawful_showthread.html"),
             url(SA_PAGE6): recorded("forums", "somethingawful_showthread.html")}
    path = settings_file(tmp_path, forum("sa", url(SA_LAST), "max_pages = 2\n"))
    crawl = crawl_in_process(path, pages, state=mark("sa", "2012-09-20T11:16:00Z"))
    assert crawl.fetches["sa"].error is None
    # the page has a post at the mark and none older: the page before it is read too, up to max_pages
    assert [r.url for r in crawl.requests] == [url(SA_LAST), url(SA_PAGE6)]
    crawl = crawl_in_process(path, pages, state=mark("sa", "2012-09-20T11:17:00Z"))
    assert [r.url for r in crawl.requests] == [url(SA_LAST)]  # an older post on it: nothing before is new


def test_something_awful_board_recognised_and_only_changed_threads_read(tmp_path):
    pages = {url("/sa/forumdisplay.php?forumid=46"): recorded("forums", "somethingawful_forumdisplay.html"),
             # the row's page links reach page 7; that page shows the rest, and the thread's last page is 151
             url("/sa/showthread.php?threadid=3520449&pagenumber=7"): recorded("forums", "forum_login_wall.html"),
             url("/sa/showthread.php?threadid=3526021&pagenumber=7"):
                 recorded("forums", "somethingawful_database_unavailable.html")}
    path = settings_file(tmp_path, forum("sa", url("/sa/forumdisplay.php?forumid=46")))
    crawl = crawl_in_process(path, pages, state=mark("sa", "2013-01-02T23:00:00Z"))
    assert sorted(r.url for r in crawl.requests) == sorted(pages)
    assert len(crawl.fetches["sa"].error.splitlines()) == 2


def test_discourse_topic_stream_ids_fetch_the_newest_posts_not_loaded(tmp_path):
    """``/t/ID.json`` loads the first posts; the stream's other ids are asked for, newest first."""
    pages = {url("/latest.json"): recorded("forums", "discourse_latest_long.json"),
             url("/t/2144.json"): recorded("forums", "discourse_t_2144_stream.json"),
             url("/t/2144/posts.json?" + "&".join(f"post_ids%5B%5D={i}" for i in range(20305, 20325))):
                 recorded("forums", "discourse_t_2144_post_ids.json")}
    path = settings_file(tmp_path, forum("d", url(""), 'preset = "discourse"\n', age="2000d"))
    crawl = crawl_in_process(path, pages, state=mark("d", "2026-11-05T00:00:00Z"))
    assert crawl.fetches["d"].error is None
    assert [r.url for r in crawl.requests] == list(pages)  # the 5 older chunks are not asked for
    # the chunk's posts from the mark on (one every 12 hours from Nov 1st), none of the first 20 (January)
    assert [p.guid for p in crawl.posts] == [str(i) for i in range(20313, 20325)]
    p = crawl.post("20324")
    assert (p.author, p.published_at, p.url, p.likes) == \
        ("jae", "2026-11-10T20:00:00Z", url("/t/kpop-demon-hunters/2144/140"), 1)


@pytest.mark.parametrize("extra,message", [
    ('preset = "vbulletin3"\n[sources.selectors]\nbody = "div.postbody"\n',
     ": 40 of 40 posts have no body (selector body 'div.postbody'): wrong selectors or a changed theme? "
     "Posts without them are not stored"),
    ('preset = "vbulletin3"\n[sources.selectors]\ndate = "td.postdate span"\n',
     ": 40 of 40 posts have no date (selector date 'td.postdate span'): wrong selectors or a changed theme? "
     "Posts without them are not stored"),
    ('preset = "phpbb3"\n',
     ": neither threads nor posts found (phpbb3 selectors thread 'ul.topiclist.topics > li.row' and post "
     "'div.post' matched nothing): not a board or thread page of this engine, or a changed theme? (set preset "
     "or selectors)"),
], ids=["no-body", "no-date", "other-engine"])
def test_wrong_selectors_on_a_real_thread_are_an_error_and_store_nothing(tmp_path, extra, message):
    pages = {url(SA_PAGE5): recorded("forums", "somethingawful_showthread.html")}
    crawl = crawl_in_process(settings_file(tmp_path, forum("sa", url(SA_PAGE5), extra)), pages)
    assert crawl.fetches["sa"].error == url(SA_PAGE5) + message
    assert not crawl.posts and crawl.fetches["sa"].high_water is None


def test_unknown_engine_and_maintenance_page_each_name_the_url(tmp_path):
    pages = {url("/plain"): recorded("forums", "discourse_t_2144_posts.json"),
             url("/blog"): Recorded(b"<html><head><title>My blog</title></head><body><h1>Hello</h1>"
                                    b"<p>Nothing like a forum here.</p></body></html>",
                                    headers={"content-type": "text/html"}),
             url("/down"): recorded("forums", "somethingawful_database_unavailable.html")}
    sources = forum("blog", url("/blog")) + forum("down", url("/down")) + forum("plain", url("/plain"))
    crawl = crawl_in_process(settings_file(tmp_path, sources), pages)
    errors = {name: f.error for name, f in crawl.fetches.items()}
    assert errors["blog"] == url("/blog") + (
        ": unknown forum engine: no generator tag or markup of phpBB, SMF, vBulletin, XenForo, MyBB, Invision, "
        "Discourse, Flarum or NodeBB ('My blog'); set preset, or selectors for every key")
    assert errors["down"] == url("/down") + (": the forum answered with an error page ('Database Unavailable'): "
                                             "maintenance or database trouble, try again later")
    assert errors["plain"].startswith(url("/plain") + ": expected a forum's HTML page, got application/json")


def test_discourse_topic_page_recognised_and_its_topic_json_read(tmp_path):
    """A Discourse topic's HTML (the crawler view meta.discourse.org served) names the engine; the source is
    that one topic, read from its ``/t/ID.json`` (discourse_api's recorded topic stands in for it)."""
    topic = "/t/congratulations-most-stars-in-2013-github-octoverse/12483"
    pages = {url(topic): recorded("forums", "discourse_meta_topic_12483_crawler.html"),
             url("/t/12483.json"): recorded("forums", "discourse_api_topic_57.json")}
    crawl = crawl_in_process(settings_file(tmp_path, forum("meta", url(topic))), pages)
    f = crawl.fetches["meta"]
    assert (f.error, engine_of(f)) == (None, "discourse")
    assert [r.url for r in crawl.requests] == list(pages)
    assert len(crawl.posts) == 4 and all(p.author and p.published_at and p.text for p in crawl.posts)
