"""The generic forum extractor (spiders.forumgeneric) alone, on thread pages of engines it has no preset for
(bbPress, Invision 3, Vanilla, FluxBB: ours, tests/fixtures/forums/generic) and on every engine's page the
presets read (real and ours): each post with its author, date and text; board pages are not read as posts."""

from __future__ import annotations

import pytest
from parsel import Selector

from spiders.forumdates import parse_forum_date
from spiders.forumgeneric import find_posts, find_thread_links
from tests.helpers import DEMO_SOCIAL, FIXTURES, NOW

FORUMS = FIXTURES / "forums"


def read(path) -> tuple[list, str | None]:
    page = Selector(text=path.read_text(encoding="utf-8", errors="replace"))
    return find_posts(page, lambda text: parse_forum_date(text, "UTC", NOW))


@pytest.mark.parametrize("file,expected", [
    ("generic/bbpress_topic.html", [("post-12", "alice", "2026-11-10T09:15:00Z"),
                                    ("post-15", "bob", "2026-11-11T14:02:00Z")]),
    ("generic/ipb3_topic.html", [("post_id_123", "alice", "2026-11-10T09:15:00Z"),
                                 ("post_id_124", "bob", "2026-11-11T14:02:00Z")]),
    ("generic/vanilla_discussion.html", [("Comment_201", "alice", "2026-11-10T09:15:00Z"),
                                         ("Comment_202", "bob", "2026-11-11T14:02:00Z")]),
    ("generic/fluxbb_viewtopic.html", [("p1001", "alice", "2026-11-10T09:15:00Z"),
                                       ("p1002", "bob", "2026-11-11T14:02:00Z"),
                                       ("p1003", "carol", "2026-11-22T18:30:00Z"),
                                       ("p1004", "dave", "2026-11-23T05:12:00Z")]),
])
def test_engines_without_a_preset(file, expected):
    posts, why = read(FORUMS / file)
    assert why is None
    assert [(p.post_id, p.author, p.date) for p in posts] == expected
    assert all("Registered" not in p.body_html and "Joined" not in p.body_html for p in posts)


@pytest.mark.parametrize("file,count,first", [
    ("somethingawful_showthread.html", 40, ("post407741839", "Majuju", "2012-09-20T11:16:00Z")),
    ("smf2_display.html", 2, ("msg_412", "eve", "2026-11-19T08:15:02Z")),
    ("vbulletin_showthread.html", 2, ("post901", "gus", "2026-11-22T10:01:00Z")),
] + [(f"engines/{e}_thread.html", 2, None)
      for e in ("phpbb2", "smf1", "smf2core", "smf21", "vbulletin4", "vbulletin5", "xenforo1", "xenforo2", "mybb",
                "invision")])
def test_pages_the_presets_read_are_read_by_structure_too(file, count, first):
    posts, why = read(FORUMS / file)
    assert why is None and len(posts) == count
    assert all(p.author and p.date and p.body_html for p in posts)
    if first:
        assert (posts[0].post_id, posts[0].author, posts[0].date) == first
    else:
        assert [(p.author, p.date) for p in posts] == [("alice", "2026-11-10T09:15:00Z"),
                                                       ("bob", "2026-11-11T14:02:00Z")]


@pytest.mark.parametrize("path", [FORUMS / "somethingawful_forumdisplay.html",
                                  DEMO_SOCIAL / "forum_phpbb3_viewforum.html",
                                  FORUMS / "generic/fluxbb_viewforum.html"])
def test_boards_give_thread_links_not_posts(path):
    posts, why = read(path)
    assert not posts and why == "this is a list of threads, not a thread's posts"
    page = Selector(text=path.read_text(encoding="utf-8", errors="replace"))
    assert len(find_thread_links(page)) >= 2


@pytest.mark.parametrize("file", ["somethingawful_database_unavailable.html", "forum_login_wall.html",
                                  "generic/fluxbb_viewtopic_nodate.html"])
def test_pages_without_complete_posts_give_a_reason(file):
    posts, why = read(FORUMS / file)
    assert not posts and why
