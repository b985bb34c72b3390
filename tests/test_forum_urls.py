"""Forum URLs: session ids stripped (every engine's spelling), page offsets read, a thread's pages told apart."""

from __future__ import annotations

import pytest

from spiders.forumurls import page_number, same_thread, strip_session, thread_key


@pytest.mark.parametrize("url,extra,expected", [
    ("https://f.org/index.php?PHPSESSID=9c1185a5c5e9&topic=45.15", (), "https://f.org/index.php?topic=45.15"),
    ("https://f.org/index.php?topic=45.0;PHPSESSID=9c1185a5c5e9", (), "https://f.org/index.php?topic=45.0"),
    ("https://f.org/viewtopic.php?f=35&t=28017&sid=c523820fae82e1a4#p249760", (),
     "https://f.org/viewtopic.php?f=35&t=28017"),
    ("https://f.org/showthread.php?s=8a7b6c5d&t=345&page=2", (), "https://f.org/showthread.php?t=345&page=2"),
    ("https://f.org/thread.jsp;jsessionid=ABC123?id=7", (), "https://f.org/thread.jsp?id=7"),
    ("https://f.org/showthread.php?tid=9&my_post_key=0f1e", ("my_post_key",), "https://f.org/showthread.php?tid=9"),
    ("https://f.org/viewtopic.php?t=12&start=15", (), "https://f.org/viewtopic.php?t=12&start=15"),  # untouched
])
def test_session_ids_are_stripped(url, extra, expected):
    assert strip_session(url, extra) == expected


@pytest.mark.parametrize("url,number", [
    ("https://f.org/viewtopic.php?f=2&t=7", 0), ("https://f.org/viewtopic.php?f=2&t=7&start=40", 40),
    ("https://f.org/index.php?topic=87.20", 20), ("https://f.org/index.php/topic,87.40.html", 40),
    ("https://f.org/showthread.php?t=345&page=3", 3), ("https://f.org/threads/x.77/page-12", 12),
    ("https://f.org/topic/55-x/page/2/", 2), ("https://f.org/forum/b/1234-x/page7", 7),
    ("https://f.org/showthread.php?threadid=1&perpage=40&pagenumber=151", 151),
    ("https://f.org/viewtopic.php?p=21#p21", 0),  # a post id, not a page
    ("https://f.org/showthread.php?345-Firefox-sync/page2", 2),  # vBulletin 4's friendly URLs
    ("https://f.org/forumdisplay.php?12-General/page3", 3),
])
def test_page_numbers(url, number):
    assert page_number(url) == number


def test_pages_of_one_thread_and_not_of_another():
    thread = "https://f.org/showthread.php?threadid=3507451"
    assert same_thread("https://f.org/showthread.php?threadid=3507451&userid=0&perpage=40&pagenumber=4", thread)
    assert not same_thread("https://f.org/showthread.php?threadid=3520449&pagenumber=2", thread)
    assert not same_thread("https://f.org/viewtopic.php?p=21", "https://f.org/viewtopic.php?f=2&t=7")
    assert thread_key("https://F.org/threads/x.77/page-2#post-9") == thread_key("https://f.org/threads/x.77/")
    assert thread_key("https://f.org/index.php?topic=87.20;PHPSESSID=1") == \
        thread_key("https://f.org/index.php?topic=87.0")
    vb4 = "https://f.org/showthread.php?345-Firefox-sync"
    assert same_thread(vb4 + "/page2", vb4) and not same_thread("https://f.org/showthread.php?346-Other/page2", vb4)
