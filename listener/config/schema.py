"""Every settings key, declared once: its name, type, default, check and help.

The dataclasses in ``listener.config`` take their defaults from here, the reader reads a table by
looping over its ``Section``, ``python -m listener.config.docs`` writes the README settings table
from it and the docs tests compare the two. Source types declare their own keys with the same
``Setting`` (see ``listener.sources``).

A ``default`` is written as it would be in settings.toml (``"7d"``, ``["en"]``); ``Setting.value``
is what the code holds when the key is not given: the default passed through the key's check.
Within a section the keys are listed in the order the reader reads them, which decides the error
reported when several keys of one table are wrong.
"""

from __future__ import annotations

import json

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, Iterator

from listener.config import checks


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()  # the default of a key that must be given


@dataclass(frozen=True)
class Setting:
    """One settings key: ``kind`` is the TOML type (or a tuple of them), ``check`` cleans or rejects a value."""

    name: str
    kind: type | tuple[type, ...]
    default: Any = None
    check: Callable[[Any], Any] | None = None
    help: str = ""
    shown_default: str | None = None  # how the README shows the default, when not as TOML
    required_if: tuple[str, Any] | None = None  # (key, value): required when that key, read before, has that value

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    @cached_property
    def value(self) -> Any:
        """The default as the code holds it (``None`` for a required key or one without a default)."""
        if self.default is None or self.required:
            return None
        value = self.check(self.default) if self.check is not None else self.default
        return tuple(value) if isinstance(value, list) else value


@dataclass(frozen=True)
class Section:
    """The keys of one table of settings.toml; ``key`` is its place (``"collect"``, ``"alerts.rules[]"``)."""

    key: str
    settings: tuple[Setting, ...]

    def __iter__(self) -> Iterator[Setting]:
        return iter(self.settings)

    def __getitem__(self, name: str) -> Setting:
        for setting in self.settings:
            if setting.name == name:
                return setting
        raise KeyError(f"{self.key}.{name}")

    def default(self, name: str) -> Any:
        """The value the code holds for ``name`` when the file does not give it."""
        return self[name].value


DEFAULT_USER_AGENT = "listener/0.1 (self-hosted social listening; +https://github.com/listener-dev/listener)"
SENSITIVITIES = ("low", "medium", "high")  # the spike presets in reports/spikes.py
SENTIMENT_MODELS = ("default", "fast", "vader", "trained")
RELEVANCE_THRESHOLD = 0.25  # entity-held-out recall >= 0.85 on WePS-3 at this score (README "Relevance")  # "trained": the earlier name of "fast"

_duration = (str, int)  # seconds, or a string such as "30m"

STORE = Section("store", (
    Setting("path", str, "listener.db", help="SQLite database file"),
))

COLLECT = Section("collect", (
    Setting("user_agent", str, DEFAULT_USER_AGENT, shown_default='`"listener/0.1 (…)"`',
            help="User-Agent sent with every request (also the robots.txt agent)"),
    Setting("timeout", float, 30.0, checks.positive, "seconds before one request times out"),
    Setting("retries", int, 2, checks.non_negative, "retries after a timeout, a connection error or a 5xx/429"),
    Setting("max_bytes", int, 10_000_000, checks.positive, "responses larger than this are refused"),
    Setting("obey_robots", bool, True, help="honour robots.txt"),
    Setting("concurrency", int, 4, checks.positive, "parallel requests per host"),
    Setting("delay", float, 0.0, checks.non_negative, "seconds between requests to one host"),
    Setting("crawl_timeout", float, 600.0, checks.positive,
            "a whole collection run is stopped after this many seconds"),
    Setting("max_pages", int, 5, checks.positive,
            "pages a paged source (everything but `feed`) reads per run, at most"),
    Setting("max_age", _duration, "7d", checks.parse_interval,
            "paged sources do not fetch posts older than this (bounds a first run)"),
    Setting("retry_backoff", float, 2.0, checks.non_negative,
            "seconds before retrying a 429/503 that names no wait (doubles each retry)"),
    Setting("max_retry_wait", float, 120.0, checks.non_negative,
            "longest `Retry-After` / rate-limit reset honoured; a longer one fails the source"),
))

CLASSIFY = Section("classify", (
    Setting("positive_threshold", float, 0.05, checks.threshold, 'VADER compound at or above this is "positive"'),
    Setting("negative_threshold", float, -0.05, checks.threshold, 'VADER compound at or below this is "negative"'),
    Setting("batch_size", int, 2000, checks.positive, "posts classified per transaction"),
))

# sentiment.languages when unset, by sentiment.model: English and every language whose recorded validation
# figure met its target in that model's tier (models.multilingual: the n-gram models, with the encoder part
# averaged in for the default model); tests/test_multilingual.py checks them against the artifact.
TIER_LANGUAGES = {"default": ("en", "de", "fr", "it"), "fast": ("en", "de"), "vader": ("en", "de")}


def default_languages(model: str) -> tuple[str, ...]:
    """``sentiment.languages`` when the settings do not set it, for ``sentiment.model`` ``model``."""
    return TIER_LANGUAGES.get("fast" if model == "trained" else model, TIER_LANGUAGES["default"])


SENTIMENT = Section("sentiment", (
    Setting("artifact", str, None, shown_default="shipped model",
            help="the model's artifact written by `listener train`: a folder for `default`, a file for `fast`"),
    Setting("adaptation", str, None, shown_default="none",
            help="path of the domain heads written by `listener train --with-labels` (your relabels), "
                 "applied on top of the configured model (`default` or `fast`) and, for posts in another language of "
                 "`languages`, on top of that language's own model; none: no head. Run `listener classify --all` "
                 "after changing it"),
    Setting("model", str, "default", checks.one_of(*SENTIMENT_MODELS),
            '`"default"` (a fine-tuned transformer run with onnxruntime; the most accurate on TweetEval val, see "Sentiment models"), '
            '`"fast"` (the linear scikit-learn model, about 2.5 times the throughput; `"trained"` is read as `"fast"`) '
            'or `"vader"`'),
    Setting("languages", list, list(TIER_LANGUAGES["default"]), checks.language_codes,
            "detected languages scored; posts in other languages get the label `unscored`. English by the configured "
            "model, de fr es it pt pl ar hi by their own (see \"Sentiment beyond English\"); the default is every "
            "language whose measured figure met its target with the configured model: "
            f"`{json.dumps(list(TIER_LANGUAGES['default']))}` with `default`, "
            f"`{json.dumps(list(TIER_LANGUAGES['fast']))}` with `fast` or `vader`"),
))

TOPICS = Section("topics[]", (
    Setting("name", str, REQUIRED, checks.name, "topic name (letters, digits, `.`, `_`, `-`)"),
    Setting("terms", list, [], checks.strings,
            'words or phrases that put a post in the topic, whole words, any case; '
            '`crash*` matches any word starting with "crash"; they apply to posts in every language',
            shown_default="required (unless `terms_by_language`)"),
    Setting("exclude", list, [], checks.strings, "phrases masked out before matching"),
    Setting("terms_by_language", dict, {}, checks.terms_by_language,
            'more terms for posts in one language, by language code: `{ de = ["Akku", "lädt*"], fr = ["batterie"] }` '
            "(a post's language as classified, see \"Sentiment beyond English\"); they add to `terms`",
            shown_default="`{}`"),
))

EMERGING = Section("emerging", (
    Setting("days", int, 7, checks.positive, "length of the period `listener emerging` clusters"),
    Setting("baseline_days", int, 28, checks.positive, "the trailing period it is compared with"),
    Setting("clusters", int, 5, checks.positive, "at most this many clusters per product and period"),
    Setting("min_posts", int, 10, checks.positive, "fewer posts than this in the period: no clusters"),
))

DIGEST = Section("digest", (
    Setting("output_dir", str, "digests", Path, "where digests are written"),
    Setting("top_mentions", int, 3, checks.positive, "most positive and most negative mentions listed per product"),
    Setting("baselines", list, [7, 28], checks.periods,
            '"change" compares with the daily average over each of these numbers of previous days '
            "(at least the period's length; a daily digest's 28 or more: the same weekday), known days only"),
    Setting("channels", list, [], checks.strings, "names of `[[channels]]` that receive every digest"),
    Setting("note", str, "", help="a line shown under every digest's title (`listener demo` writes "
            '"demo data, dates shifted by N days" here); empty: none'),
))

ALERTS = Section("alerts", (
    Setting("sensitivity", str, "medium", checks.one_of(*SENSITIVITIES),
            'spike detector preset: `low`, `medium` or `high` (see "Spikes and alerts")'),
    Setting("cooldown", _duration, "24h", checks.parse_interval,
            "after an alert, the same rule stays silent this long (one episode, one alert)"),
    Setting("quiet_hours", str, "", checks.quiet_hours,
            '`"HH:MM-HH:MM"`: no alerts are sent then; they go out when it ends if still true'),
    Setting("timezone", str, "UTC", checks.timezone, "IANA time zone of `quiet_hours`"),
))

ALERT_RULES = Section("alerts.rules[]", (
    Setting("condition", str, "spike", checks.one_of("spike", "threshold", "new_mention"),
            "`spike`, `threshold` or `new_mention`"),
    Setting("name", str, REQUIRED, checks.name, "rule name"),
    Setting("product", str, None, help="the product the rule watches (with a query: its mentions that match)"),
    Setting("metric", str, "volume", checks.one_of("volume", "negative_share"),
            "`volume` (mentions) or `negative_share`"),
    Setting("threshold", float, 0.0, checks.non_negative, "mentions in the window, or a share from 0 to 1",
            shown_default="required for `threshold`", required_if=("condition", "threshold")),
    Setting("window", _duration, "24h", checks.parse_interval,
            'how much recent data one check judges (`"1h"` uses hour-of-day seasonality)'),
    Setting("channels", list, [], checks.strings, "channel names to send to (none: recorded only)"),
    Setting("cooldown", _duration, None, checks.parse_interval, "per-rule cooldown",
            shown_default="`alerts.cooldown`"),
    Setting("quiet_hours", str, None, checks.quiet_hours, "per-rule quiet hours",
            shown_default="`alerts.quiet_hours`"),
    Setting("query", str, None, checks.query,
            'a query in the search language (see "Search"); the rule counts its matches'),
    Setting("saved", str, None, help="or the name of a saved search (`listener saved add`); "
                                     "a rule needs a product, a query or a saved search"),
))

CHANNELS = Section("channels[]", (
    Setting("type", str, REQUIRED, checks.one_of("email", "slack", "webhook"), "`email`, `slack` or `webhook`"),
    Setting("name", str, REQUIRED, checks.name, "channel name used by `digest.channels` and rules"),
    Setting("to", list, [], checks.strings, "recipient addresses", shown_default="required for email",
            required_if=("type", "email")),
    Setting("from", str, "listener@localhost", help="email sender"),
    Setting("host", str, "localhost", help="SMTP server"),
    Setting("port", int, 25, checks.positive, "SMTP port"),
    Setting("security", str, "none", checks.one_of("none", "starttls", "ssl"), "`none`, `starttls` or `ssl`"),
    Setting("user", str, "", help="SMTP user (login only when set)"),
    Setting("password_env", str, "", help="environment variable holding the SMTP password"),
    Setting("url", str, "", checks.empty_or(checks.http_url), "Slack incoming-webhook or webhook URL"),
    Setting("url_env", str, "", help="or the environment variable holding the URL (webhook URLs are secrets)"),
    Setting("secret_env", str, "", help="webhook: environment variable with the HMAC-SHA256 signing secret"),
    Setting("attempts", int, 3, checks.positive, "tries before a delivery counts as failed"),
    Setting("backoff", float, 2.0, checks.non_negative,
            "seconds before the first retry; doubles each time, at most 60"),
    Setting("timeout", float, 10.0, checks.positive, "seconds per attempt"),
))

SERVE = Section("serve", (
    Setting("host", str, "127.0.0.1", help="address `listener serve` listens on (non-loopback needs users or a token)"),
    Setting("port", int, 8080, checks.port, "port `listener serve` listens on"),
    Setting("token", str, None, help="read-only (viewer) bearer token for the web UI and API (`$LISTENER_API_TOKEN` overrides); users have their own"),
    Setting("page_size", int, 50, checks.positive, "search results per page"),
    Setting("chart_days", int, 30, checks.positive, "days shown in the product overview charts"),
    Setting("search_timeout", float, 10.0, checks.positive,
            "seconds a search page or `/api/search` call may run; a longer one is stopped with a message "
            "to narrow it (HTTP 422)"),
    Setting("base_url", str, None, checks.http_url,
            "public URL of the web UI behind a reverse proxy, such as `https://listen.example.com`; "
            "`https://` marks the login cookie `Secure`"),
))

SCHEDULE = Section("schedule", (
    Setting("log_file", str, None, shown_default='`""`',
            help="daemon log file (reopened after logrotate moves it); empty: stderr"),
    Setting("timezone", str, "UTC", checks.timezone,
            'IANA time zone of the times below and of the times digests show, e.g. `"Europe/Berlin"`'),
    Setting("daily_digest", str, "06:15", checks.optional(checks.parse_clock),
            "local time (`HH:MM` or `HH:MM:SS`) the daemon writes yesterday's digest; `\"off\"`"),
    Setting("weekly_digest", str, "mon 06:30", checks.optional(checks.parse_weekly),
            'weekday and local time of the 7-day digest (ending yesterday); `"off"`'),
    Setting("retention_days", int, 0, checks.non_negative,
            "keep posts published in the last N days; `0` keeps them forever"),
    Setting("purge_at", str, "03:30", checks.optional(checks.parse_clock),
            "local time of the daily retention purge (when `retention_days` is set)"),
    Setting("backoff_max", _duration, "6h", checks.parse_interval, "longest wait between tries of a failing source"),
    Setting("workers", int, 2, checks.positive, "jobs the daemon runs at the same time"),
    Setting("alerts_interval", _duration, "15m", checks.parse_interval,
            "how often the daemon checks `[[alerts.rules]]` (when there are any)"),
))

PRODUCTS = Section("products[]", (
    Setting("name", str, REQUIRED, checks.non_empty, "product name as shown in digests"),
    Setting("aliases", list, [], checks.strings, "words or phrases that count as a mention: whole words, any case",
            shown_default="`[name]`"),
    Setting("exclude", list, [], checks.strings,
            'phrases masked out before matching ("Firefox OS" is not "Firefox")'),
    Setting("ours", bool, False, help="`true` for your products (listed first), `false` for competitors"),
    Setting("description", str, "", checks.one_line,
            'what the product is, in one line ("US airline", "Google\'s web browser"): with it, the relevance '
            'model judges whether each mention is about the product (see "Relevance")'),
    Setting("context", list, [], checks.strings,
            'words that make a mention likely to be about the product ("flight", "gate"); like a description, '
            "they turn the relevance model on"),
    Setting("query", str, None, checks.text_query,
            'a query in the search language a post must match for a mention to count (full control: '
            '`apple AND (iphone OR mac OR "apple store")`; text terms only); none: every mention',
            shown_default="none"),
    Setting("relevance", float, RELEVANCE_THRESHOLD, checks.probability,
            "mentions whose relevance score (0 to 1) is below this are kept but count in no number "
            "(`relevance:low` finds them); products without description or context keep every mention, and so does "
            "a mention by a handle alias (`@delta`)"),
))

# The keys every [[sources]] entry has; each source type adds its own (listener.config.sourcekeys).
SOURCES = Section("sources[]", (
    Setting("name", str, REQUIRED, checks.name, "short unique name (letters, digits, `.`, `_`, `-`)"),
    Setting("type", str, "feed", help='`feed` (RSS, Atom or JSON Feed), `hackernews`, `reddit`, `mastodon`, `bluesky`, '
                                      '`forum`, `github`, `stackexchange`, `youtube` (see "Sources")'),
    Setting("url", str, None, checks.http_url, shown_default="required for `feed`, `mastodon`, `forum`",
            help="feed URL; Mastodon instance (`https://mastodon.social`); forum board URL; API base for the "
                 "others (defaults: `https://hn.algolia.com/api/v1`, `https://www.reddit.com`, `https://bsky.social`, "
                 "`https://api.github.com`, `https://api.stackexchange.com/2.3`, "
                 "`https://www.googleapis.com/youtube/v3`)"),
    Setting("interval", _duration, "30m", checks.parse_interval,
            "how often the source should be collected (for the scheduler)"),
    Setting("enabled", bool, True, help="`false` keeps the source and its posts but skips it in `collect`"),
    Setting("silent_after", _duration, "7d", checks.parse_interval,
            "no new post for this long: `listener status` flags the source as silent"),
    Setting("max_pages", int, None, checks.positive, "paged types: pages per run for this source",
            shown_default="`collect.max_pages`"),
    Setting("max_age", _duration, None, checks.parse_interval, "paged types: oldest posts fetched for this source",
            shown_default="`collect.max_age`"),
))

# Every section, in the order of the README settings table; their names are the top-level keys.
SECTIONS: tuple[Section, ...] = (STORE, COLLECT, CLASSIFY, SENTIMENT, TOPICS, EMERGING, DIGEST, ALERTS, ALERT_RULES,
                                 CHANNELS, SERVE, SCHEDULE, PRODUCTS, SOURCES)
