"""The built-in source types, declared beside their spiders and registered as a default plugin.

Each spider is named by its ``"module:Class"`` path, so reading settings never
imports Scrapy (it would double the CLI's start-up); the crawler child imports
the spider when it crawls. A new built-in type is one spider module here plus
its ``SourceType`` below; a third-party one is a module with both and an entry
point (see ``listener.hookspecs``).
"""

from __future__ import annotations

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


@hookimpl
def register_source_types() -> list[SourceType]:
    return [FEED, HACKERNEWS, REDDIT, MASTODON, BLUESKY, FORUM]
