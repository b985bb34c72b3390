"""CSS selectors for the forum engines the forum spider knows, how each engine is recognised, and the
checks of a forum source's ``preset`` and ``selectors`` (no Scrapy: settings are read without it).

A forum source names its board URL; the spider recognises the engine from the
page (``GENERATORS``, ``MARKERS``) unless ``preset`` names it, and any selector
can be overridden in ``[sources.selectors]``. Selectors are CSS as parsel
understands it (``::text`` and ``::attr(name)`` allowed, ``:has()`` too). Text
selectors without ``::`` take the whole text of the matched elements. Several
selectors joined by commas cover the themes of one engine.

On the board (thread list) page:
  thread       one element per thread row
  thread_link  inside a row: the link to the thread (``::attr(href)``)
  thread_date  inside a row: when the thread last had a post (optional; lets
               the spider skip threads with nothing newer than the high-water mark)
On a thread page:
  post         one element per post
  post_id      inside a post: a stable id (default: the post element's id attribute)
  author       inside a post: the author's name
  date         inside a post: when it was posted (forum formats, in the source's timezone)
  body         inside a post: the post's content (HTML, converted to text)
On both:
  pages        the pagination links (``::attr(href)``); the spider orders them by
               their page offset (``start=``, ``page=``, ``/page-N``, SMF's ``.N``)
  next_page    the next page's link (optional: ``pages`` usually says enough)

``discourse``, ``flarum`` and ``nodebb`` read the engines' JSON APIs instead.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, Callable

from listener.config.checks import typename

SELECTOR_KEYS = ("thread", "thread_link", "thread_date", "next_page", "pages", "post", "post_id", "author",
                 "date", "body")
REQUIRED_SELECTORS = ("thread", "thread_link", "post", "date", "body")
API_ENGINES = ("discourse", "flarum", "nodebb")

PRESETS: dict[str, dict[str, str]] = {
    # phpBB 2.0, subSilver: viewforum.php rows of table.forumline, viewtopic.php one <tr> per post.
    "phpbb2": {
        "thread": "table.forumline tr:has(a.topictitle)",
        "thread_link": "a.topictitle::attr(href)",
        "thread_date": "td.row3Right span.postdetails",
        "pages": "span.nav a::attr(href), span.gensmall a::attr(href)",
        "post": "table.forumline tr:has(span.name):has(span.postbody)",
        "post_id": "span.name a::attr(name)",
        "author": "span.name b",
        "date": "td[width='100%'] > span.postdetails::text",
        "body": "span.postbody",
    },
    # phpBB 3.x, prosilver (and subsilver2's div.post-less tables are not covered): viewforum.php, viewtopic.php.
    "phpbb3": {
        "thread": "ul.topiclist.topics > li.row",
        "thread_link": "a.topictitle::attr(href)",
        "thread_date": "dd.lastpost > span, dd.lastpost time::attr(datetime), dd:last-of-type time",
        "pages": "div.pagination a::attr(href)",
        "post": "div.post",
        "post_id": "::attr(id)",
        "author": ".author strong, .author a.username, .author a.username-coloured",
        "date": ".author time::attr(datetime), .author",
        "body": "div.content",
    },
    # Simple Machines Forum 1.1 (default theme): tables throughout.
    "smf1": {
        "thread": "div.tborder table tr:has(span[id^=msg_])",
        "thread_link": "span[id^=msg_] a::attr(href)",
        "thread_date": "td.windowbg2 span.smalltext",
        "pages": "td.middletext a.navPages::attr(href)",
        "post": "form#quickModForm td.windowbg > table:has(div.post), "
                "form#quickModForm td.windowbg2 > table:has(div.post)",
        "post_id": "div[id^=subject_]::attr(id)",
        "author": "td[rowspan] b a, td[rowspan] b",
        "date": "div.smalltext",
        "body": "div.post",
    },
    # Simple Machines Forum 2.0: Curve (table.table_grid, div.post_wrapper) and Core (table.boardsframe, ul li).
    "smf2": {
        "thread": "#messageindex table tr:has(td.subject span[id^=msg_])",
        "thread_link": "td.subject span[id^=msg_] a::attr(href)",
        "thread_date": "td.lastpost span.smalltext, td.lastpost",
        "pages": "div.pagelinks a.navPages::attr(href), div.middletext a.navPages::attr(href)",
        "post": "div.post_wrapper, #forumposts li:has(div.postarea)",
        "post_id": "div.inner::attr(id)",
        "author": "div.poster h4 a, div.poster h4",
        "date": "div.keyinfo div.smalltext",
        "body": "div.inner",
    },
    # Simple Machines Forum 2.1: div rows in #topic_container, div.windowbg messages in #forumposts.
    "smf21": {
        "thread": "#topic_container > div.windowbg",
        "thread_link": "div.message_index_title span[id^=msg_] a::attr(href), "
                       "span.preview span[id^=msg_] a::attr(href)",
        "thread_date": "div.lastpost p a, div.lastpost p",
        "pages": "div.pagelinks a.nav_page::attr(href)",
        "post": "#forumposts div.windowbg[id^=msg], #forumposts div.windowbg:has(div.post_wrapper)",
        "post_id": "div.inner::attr(id)",
        "author": "div.poster h4 a",
        "date": "div.postinfo a.smalltext, div.keyinfo a.smalltext",
        "body": "div.inner",
    },
    # vBulletin 3.x (and vBulletin-derived boards like Something Awful's): tables, showthread.php.
    "vbulletin3": {
        "thread": "tbody[id^=threadbits_forum] > tr, table.threadlist tr.thread[id^=thread]",
        "thread_link": "a[id^=thread_title_]::attr(href), a.thread_title::attr(href)",
        "thread_date": "td[title^=Replies] div.smallfont, td.lastpost div.date",
        "pages": "div.pagenav a::attr(href), div.pages a::attr(href)",
        "post": "div#posts table[id^=post], table.post[id^=post]",
        "post_id": "::attr(id)",
        "author": "a.bigusername, dt.author",
        "date": "td.thead div.normal:not([style]), td.postdate",
        "body": "div[id^=post_message_], td.postbody",
    },
    # vBulletin 4.x: ol#threads li.threadbit, ol#posts li.postcontainer.
    "vbulletin4": {
        "thread": "ol#threads > li.threadbit",
        "thread_link": "a.title::attr(href)",
        "thread_date": "dl.threadlastpost dd:last-child",
        "pages": "form.pagination a::attr(href), div.pagination a::attr(href)",
        "post": "ol#posts > li.postcontainer",
        "post_id": "::attr(id)",
        "author": "a.username strong, a.username",
        "date": "span.postdate span.date",
        "body": "blockquote.postcontent",
    },
    # vBulletin 5.x: div.topic-list-container tr.topic-item, ul.conversation-list li.b-post.
    "vbulletin5": {
        "thread": "tr.topic-item",
        "thread_link": "a.topic-title::attr(href)",
        "thread_date": "td.cell-lastpost span.post-date",
        "pages": "div.pagenav a.pagenav-button::attr(href), div.pagenav a::attr(href)",
        "post": "li.b-post[data-node-id]",
        "post_id": "::attr(data-node-id)",
        "author": "div.author a",
        "date": "div.b-post__timestamp time::attr(datetime), div.b-post__timestamp time",
        "body": "div.js-post__content-text",
    },
    # XenForo 1.x: ol.discussionListItems li.discussionListItem, ol#messageList li.message.
    "xenforo1": {
        "thread": "ol.discussionListItems > li.discussionListItem",
        "thread_link": "h3.title a::attr(href)",
        "thread_date": "dl.lastPostInfo abbr.DateTime::attr(data-time), dl.lastPostInfo span.DateTime::attr(title)",
        "pages": "div.PageNav a::attr(href)",
        "post": "ol#messageList > li.message",
        "post_id": "::attr(id)",
        "author": "::attr(data-author)",
        "date": "a.datePermalink abbr.DateTime::attr(data-time), a.datePermalink span.DateTime::attr(title)",
        "body": "blockquote.messageText",
    },
    # XenForo 2.x: div.structItem--thread rows, article.message--post.
    "xenforo2": {
        "thread": "div.structItem--thread",
        "thread_link": "div.structItem-title a[href*='threads/']::attr(href)",
        "thread_date": "div.structItem-cell--latest time::attr(datetime)",
        "pages": "ul.pageNav-main a::attr(href), a.pageNav-jump::attr(href)",
        "post": "article.message--post",
        "post_id": "::attr(data-content)",
        "author": "::attr(data-author)",
        "date": "header.message-attribution time::attr(datetime), ul.message-attribution-main time::attr(datetime)",
        "body": "article.message-body div.bbWrapper",  # not the signature's bbWrapper
    },
    # MyBB 1.8: forumdisplay.php tr.inline_row, showthread.php div.post.
    "mybb": {
        "thread": "tr.inline_row",
        "thread_link": "span.subject_new a::attr(href), span.subject_old a::attr(href), "
                       "span[id^=tid_] a::attr(href)",
        "thread_date": "span.lastpost",
        "pages": "div.pagination a::attr(href)",
        "post": "div#posts > div.post",
        "post_id": "::attr(id)",
        "author": "div.author_information strong span.largetext a, div.author_information span.largetext",
        "date": "span.post_date",
        "body": "div.post_body",
    },
    # Invision Community 4.x: li.ipsDataItem rows, article.ipsComment posts with <time datetime>.
    "invision": {
        "thread": "ol.ipsDataList li.ipsDataItem[data-rowid]",
        "thread_link": "span.ipsType_break a::attr(href), h4.ipsDataItem_title a::attr(href)",
        "thread_date": "ul.ipsDataItem_lastPoster time::attr(datetime)",
        "pages": "ul.ipsPagination a::attr(href)",
        "post": "article.ipsComment[id^=elComment_]",
        "post_id": "::attr(id)",
        "author": "aside.ipsComment_author h3 a, aside.ipsComment_author h3",
        "date": "div.ipsComment_meta time::attr(datetime)",
        "body": "div[data-role=commentContent]",
    },
    "discourse": {},
    "flarum": {},
    "nodebb": {},
}

# Older names kept working.
ALIASES = {"vbulletin": "vbulletin3"}

# Query parameters a preset's engine uses for sessions (beyond the common ones in spiders.forumurls).
SESSION_PARAMS: dict[str, tuple[str, ...]] = {"mybb": ("my_post_key",), "smf2": ("sesc",), "smf1": ("sesc",)}

# Recognising an engine: a generator meta tag (lower-cased substring -> preset), then markup.
GENERATORS: tuple[tuple[str, str], ...] = (
    ("discourse", "discourse"), ("vbulletin 5", "vbulletin5"), ("vbulletin 4", "vbulletin4"),
    ("vbulletin 3", "vbulletin3"), ("vbulletin", "vbulletin3"), ("xenforo", "xenforo2"),
    ("mybb", "mybb"), ("invision", "invision"), ("phpbb", "phpbb3"), ("smf", "smf2"),
    ("flarum", "flarum"), ("nodebb", "nodebb"),
)
MARKERS: tuple[tuple[str, str], ...] = (
    # CSS that matches only that engine's pages (board or thread), most specific first.
    ("html#XenForo", "xenforo1"), ("html#XF", "xenforo2"), ("html[data-app][data-template]", "xenforo2"),
    ("body.ipsApp, [data-pageapp=forums]", "invision"),
    ("#flarum-loading, script[src*=flarum]", "flarum"),
    ("script[src*=nodebb], [data-nbb-]", "nodebb"),
    ("meta[name=discourse_theme_id], #data-discourse-setup", "discourse"),
    ("li.b-post[data-node-id], tr.topic-item", "vbulletin5"),
    ("ol#posts > li.postcontainer, ol#threads > li.threadbit", "vbulletin4"),
    ("[id^=threadbits_forum], div#posts table[id^=post], table.threadlist, table.post[id^=post]", "vbulletin3"),
    ("#topic_container, #forumposts div.windowbg[id^=msg]", "smf21"),
    ("#messageindex, div.post_wrapper, #forumposts li:has(div.postarea)", "smf2"),
    ("span[id^=msg_], div.post[id^=msg_]", "smf1"),
    ("tr.inline_row, div#posts > div.post div.post_body", "mybb"),
    ("body#phpbb, ul.topiclist, div.post div.postbody", "phpbb3"),
    ("table.forumline a.topictitle, table.forumline span.postbody", "phpbb2"),
)


def check_preset(value: str) -> str:
    """A ``preset`` value: one of ``PRESETS`` (or an older alias of one)."""
    value = ALIASES.get(value, value)
    if value not in PRESETS:
        raise ValueError(f"unknown forum preset {value!r} (known: {', '.join(PRESETS)})")
    return value


DATE_LANGUAGES = ("en", "de", "fr", "es", "it", "nl", "pt")  # the words spiders.forumdates knows


def check_date_language(value: str) -> str:
    """A ``language`` value: a two-letter code whose date words the forum spider reads."""
    code = value.strip().lower()
    if code not in DATE_LANGUAGES:
        raise ValueError(f"unknown date language {value!r} (known: {', '.join(DATE_LANGUAGES)})")
    return code


def check_forum_options(options: dict[str, Any], fail: Callable[[str, str], Exception]) -> dict[str, Any]:
    """Check a forum's preset and selector overrides.

    With a preset the result holds its full selector set; without one, ``selectors``
    holds the overrides, merged with the detected engine's at crawl time.
    """
    options = dict(options)
    preset = options.get("preset")
    given = options.pop("selectors", None) or {}
    for key, value in given.items():
        if key not in SELECTOR_KEYS:
            raise fail(f"selectors.{key}", f"unknown selector (allowed here: {', '.join(SELECTOR_KEYS)})")
        if not isinstance(value, str) or not value.strip():
            raise fail(f"selectors.{key}", f"expected a CSS selector string, got {typename(value)} {value!r}")
    if preset in API_ENGINES:
        if given:
            raise fail("selectors", f"the {preset} preset reads the JSON API and takes no selectors")
        return options
    if preset is None:
        return {**options, "selectors": MappingProxyType(dict(given))}
    selectors = {**PRESETS[preset], **given}
    missing = [k for k in REQUIRED_SELECTORS if not selectors.get(k)]
    if missing:
        raise fail("selectors", f"missing selector(s) {', '.join(missing)} (no preset provides them)")
    return {**options, "selectors": MappingProxyType(selectors)}


def selectors_for(preset: str, overrides: dict[str, str]) -> dict[str, str]:
    """The selectors of a detected engine with the source's overrides on top."""
    return {**PRESETS.get(preset, {}), **overrides}
