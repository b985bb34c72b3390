"""The built-in source types, declared beside their spiders and registered as a default plugin.

Each spider is named by its ``"module:Class"`` path, so reading settings never
imports Scrapy (it would double the CLI's start-up); the crawler child imports
the spider when it crawls. A new built-in type is one spider module here plus
its ``SourceType`` below; a third-party one is a module with both and an entry
point (see ``listener.hookspecs``).
"""

from __future__ import annotations

import re
from typing import Any, Callable

from listener.config import checks
from listener.config.schema import REQUIRED, Setting
from listener.hookspecs import hookimpl
from listener.sources import SourceType
from spiders.forum_presets import check_date_language, check_forum_options, check_preset


def _env(name: str, default: str, help: str) -> Setting:
    """An option naming the environment variable that holds a credential."""
    return Setting(name, str, default, checks.env_name, help)


FEED = SourceType(
    name="feed", spider="spiders.feed:FeedSpider", paged=False,
)

HACKERNEWS = SourceType(
    name="hackernews", spider="spiders.hackernews:HackerNewsSpider",
    default_url="https://hn.algolia.com/api/v1",
    options=(
        Setting("query", str, REQUIRED, checks.non_empty, "Algolia search terms"),
        Setting("tags", str, "(story,comment)", checks.non_empty, "Algolia tag filter"),
    ),
)

REDDIT = SourceType(
    name="reddit", spider="spiders.reddit:RedditSpider",
    default_url="https://www.reddit.com",
    options=(
        Setting("subreddit", str, REQUIRED, checks.word("subreddit name", "r/"),
                "subreddit name, with or without `r/`"),
        Setting("query", str, None, checks.non_empty, "search the subreddit instead of listing its new posts"),
        Setting("comments", bool, False, None, "also read the subreddit's new comments (`/r/SUB/comments`) as posts"),
        _env("client_id_env", "REDDIT_CLIENT_ID", "environment variable holding the OAuth app's client id"),
        _env("client_secret_env", "REDDIT_CLIENT_SECRET", "environment variable holding its secret (without both: the `.rss` feed)"),
    ),
    credentials={"client_id_env": "client_id", "client_secret_env": "client_secret"},
)

MASTODON = SourceType(
    name="mastodon", spider="spiders.mastodon:MastodonSpider",
    options=(
        Setting("hashtag", str, REQUIRED, checks.word("hashtag", "#"), "hashtag to follow, with or without `#`"),
        _env("token_env", "MASTODON_TOKEN", "environment variable holding an access token (optional)"),
    ),
    credentials={"token_env": "token"},
)

BLUESKY = SourceType(
    name="bluesky", spider="spiders.bluesky:BlueskySpider",
    default_url="https://bsky.social",
    options=(
        Setting("query", str, REQUIRED, checks.non_empty, "search terms"),
        _env("handle_env", "BLUESKY_HANDLE", "environment variable holding your handle"),
        _env("password_env", "BLUESKY_APP_PASSWORD", "environment variable holding an app password"),
    ),
    credentials={"handle_env": "handle", "password_env": "password"},
)

FORUM = SourceType(
    name="forum", spider="spiders.forum:ForumSpider",
    options=(
        Setting("preset", str, None, check_preset, "the forum engine, if not to be recognised from the page: "
                "`phpbb2`, `phpbb3`, `smf1`, `smf2`, `smf21`, `vbulletin3`, `vbulletin4`, `vbulletin5`, `xenforo1`, "
                "`xenforo2`, `mybb`, `invision`, `discourse`, `flarum` or `nodebb`", shown_default="recognised"),
        Setting("timezone", str, "UTC", checks.timezone,
                "IANA time zone the forum shows its dates in (`\"Europe/Berlin\"`)"),
        Setting("language", str, "en", check_date_language,
                "language of the forum's dates (`en`, `de`, `fr`, `es`, `it`, `nl`, `pt`): month names, \"Gestern\""),
        Setting("selectors", dict, None, None, "table of CSS selectors overriding the preset (`thread`, `thread_link`, "
                "`thread_date`, `pages`, `next_page`, `post`, `post_id`, `author`, `date`, `body`)", shown_default="the preset's"),
    ),
    check_options=check_forum_options,
)

_REPO_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}$")


def check_github_options(options: dict[str, Any], fail: Callable[[str, str], Exception]) -> dict[str, Any]:
    """A github source reads ``repos``, a ``query``, or both; each repo is ``owner/name``."""
    repos = options.get("repos") or ()
    for i, repo in enumerate(repos):
        if not _REPO_RE.match(repo):
            raise fail(f"repos[{i}]", f"expected owner/name (like \"python/cpython\"), got {repo!r}")
    if not repos and not options.get("query"):
        raise fail("repos", "required key is missing: give `repos` (a list of owner/name) or a search `query`")
    return options


GITHUB = SourceType(
    name="github", spider="spiders.github:GitHubSpider",
    default_url="https://api.github.com",
    options=(
        Setting("repos", list, None, checks.strings,
                "repositories (`[\"owner/name\"]`): their issues, pull requests and comments",
                shown_default="required (unless `query` is given)"),
        Setting("query", str, None, checks.non_empty, "issue search (`search/issues?q=`), e.g. `\"firefox is:issue\"`"),
        _env("token_env", "GITHUB_TOKEN", "environment variable holding a token (optional: 60 requests an hour without)"),
    ),
    credentials={"token_env": "token"},
    check_options=check_github_options,
)



def check_stackexchange_options(options: dict[str, Any], fail: Callable[[str, str], Exception]) -> dict[str, Any]:
    """A Stack Exchange source needs a tag or search terms: a whole site is too much to follow."""
    if not options.get("tagged") and not options.get("query"):
        raise fail("tagged", "required key is missing: give `tagged` (a tag, or several separated by `;`) "
                             "or a search `query`")
    return options


STACKEXCHANGE = SourceType(
    name="stackexchange", spider="spiders.stackexchange:StackExchangeSpider",
    default_url="https://api.stackexchange.com/2.3",
    options=(
        Setting("site", str, REQUIRED, checks.non_empty, "site's API name (`stackoverflow`, `superuser`, `unix`)"),
        Setting("tagged", str, None, checks.non_empty, "tag(s) the questions carry (`firefox`; `a;b` for both)",
                shown_default="required (unless `query` is given)"),
        Setting("query", str, None, checks.non_empty, "free-text search of questions (`/search/advanced?q=`)"),
        _env("key_env", "STACKEXCHANGE_KEY", "environment variable holding an app key (optional: 10,000 requests "
                                            "a day instead of 300)"),
    ),
    credentials={"key_env": "key"},
    check_options=check_stackexchange_options,
)



def check_youtube_options(options: dict[str, Any], fail: Callable[[str, str], Exception]) -> dict[str, Any]:
    """A YouTube source reads given ``videos``, a ``channel``'s recent ones, or both."""
    if not options.get("videos") and not options.get("channel"):
        raise fail("videos", "required key is missing: give `videos` (a list of video ids) or a `channel` id")
    if not 1 <= options["recent"] <= 50:
        raise fail("recent", f"expected 1 to 50 (the API's page size), got {options['recent']}")
    return options


YOUTUBE = SourceType(
    name="youtube", spider="spiders.youtube:YouTubeSpider",
    default_url="https://www.googleapis.com/youtube/v3",
    options=(
        Setting("videos", list, None, checks.strings, "video ids (`[\"dQw4w9WgXcQ\"]`): their comments and replies",
                shown_default="required (unless `channel` is given)"),
        Setting("channel", str, None, checks.non_empty, "channel id (`UC…`): the comments of its `recent` videos"),
        Setting("recent", int, 5, None, "how many of the channel's latest videos are read"),
        _env("key_env", "YOUTUBE_API_KEY", "environment variable holding the API key (required)"),
    ),
    credentials={"key_env": "key"},
    check_options=check_youtube_options,
)

NEW_TYPES = [GITHUB, STACKEXCHANGE, YOUTUBE]  # issue 15's API types, kept apart so merges with the forum work stay small


@hookimpl
def register_source_types() -> list[SourceType]:
    return [FEED, HACKERNEWS, REDDIT, MASTODON, BLUESKY, FORUM, *NEW_TYPES]
