"""CSS selectors for the forum engines the generic forum spider knows, and the checks of a forum
source's ``preset`` and ``selectors`` (no Scrapy: settings are read without it).

A forum source names a preset and its board URL; any selector can be overridden
in ``[sources.selectors]``. Selectors are CSS as parsel understands it
(``::text`` and ``::attr(name)`` allowed). Text selectors without ``::`` take
the whole text of the matched elements.

On the board (thread list) page:
  thread       one element per thread row
  thread_link  inside a row: the link to the thread (``::attr(href)``)
  thread_date  inside a row: when the thread last had a post (optional; lets
               the spider skip threads with nothing newer than the high-water mark)
  next_page    the link to the next page, on board and thread pages alike
On a thread page:
  post         one element per post
  post_id      inside a post: a stable id (default: the post element's id attribute)
  author       inside a post: the author's name
  date         inside a post: when it was posted (forum formats, in the source's timezone)
  body         inside a post: the post's content (HTML, converted to text)

``discourse`` reads Discourse's JSON API instead (``/latest.json``, ``/t/ID/posts.json``).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, Callable

from listener.config.checks import typename

SELECTOR_KEYS = ("thread", "thread_link", "thread_date", "next_page", "post", "post_id", "author",
                 "date", "body")
REQUIRED_SELECTORS = ("thread", "thread_link", "post", "date", "body")

PRESETS: dict[str, dict[str, str]] = {
    # phpBB 3.x, prosilver style: viewforum.php lists topics, viewtopic.php shows posts.
    "phpbb3": {
        "thread": "ul.topiclist.topics > li.row",
        "thread_link": "a.topictitle::attr(href)",
        "thread_date": "dd.lastpost > span::text",
        "next_page": "div.pagination a[rel=next]::attr(href)",
        "post": "div.post",
        "post_id": "::attr(id)",
        "author": ".author strong",
        "date": ".author::text",
        "body": "div.content",
    },
    # Simple Machines Forum 2.0 (Curve): MessageIndex lists topics, Display shows messages.
    "smf2": {
        "thread": "table.table_grid > tbody > tr",
        "thread_link": "td.subject span[id^=msg_] a::attr(href)",
        "thread_date": "td.lastpost::text",
        "next_page": "div.pagelinks strong + a.navPages::attr(href)",
        "post": "div.post_wrapper",
        "post_id": "div.inner::attr(id)",
        "author": "div.poster h4",
        "date": "div.keyinfo div.smalltext::text",
        "body": "div.inner",
    },
    # vBulletin 3-style: forumdisplay.php lists threads, showthread.php shows posts.
    "vbulletin": {
        "thread": "tbody[id^=threadbits_forum] > tr",
        "thread_link": "a[id^=thread_title_]::attr(href)",
        "thread_date": "td[title^=Replies] div.smallfont::text, td[title^=Replies] span.time::text",
        "next_page": "div.pagenav a[rel=next]::attr(href)",
        "post": "table[id^=post]",
        "post_id": "::attr(id)",
        "author": "a.bigusername",
        "date": "td.thead div.normal:not([style])::text",
        "body": "div[id^=post_message_]",
    },
    "discourse": {},
}


def check_preset(value: str) -> str:
    """A ``preset`` value: one of ``PRESETS``."""
    if value not in PRESETS:
        raise ValueError(f"unknown forum preset {value!r} (known: {', '.join(PRESETS)})")
    return value


def check_forum_options(options: dict[str, Any], fail: Callable[[str, str], Exception]) -> dict[str, Any]:
    """Check a forum's preset and selector overrides; the result holds the full selector set."""
    options = dict(options)
    preset = options.get("preset")
    given = options.pop("selectors", None) or {}
    for key, value in given.items():
        if key not in SELECTOR_KEYS:
            raise fail(f"selectors.{key}", f"unknown selector (allowed here: {', '.join(SELECTOR_KEYS)})")
        if not isinstance(value, str) or not value.strip():
            raise fail(f"selectors.{key}", f"expected a CSS selector string, got {typename(value)} {value!r}")
    if preset == "discourse":
        if given:
            raise fail("selectors", "the discourse preset reads the JSON API and takes no selectors")
        return options
    if preset is None and not given:
        raise fail("preset", f"required key is missing (known presets: {', '.join(PRESETS)}; "
                             "or give every selector in selectors)")
    selectors = {**PRESETS.get(preset or "", {}), **given}
    missing = [k for k in REQUIRED_SELECTORS if not selectors.get(k)]
    if missing:
        raise fail("selectors", f"missing selector(s) {', '.join(missing)} (no preset provides them)")
    return {**options, "selectors": MappingProxyType(selectors)}
