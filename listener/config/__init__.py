"""Settings: read settings.toml once into typed, frozen dataclasses.

Every problem is reported as one ``ConfigError`` line naming the file and the
key (``settings.toml: products[2].name: required key is missing``). Unknown
keys are errors, so a typo never silently falls back to a default.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

from listener.errors import UserError


ENV_VAR = "LISTENER_CONFIG"
DEFAULT_FILE = "settings.toml"
SOURCE_TYPES = ("feed", "hackernews", "reddit", "mastodon", "bluesky", "forum")
# Where each type fetches from when ``url`` is not given (feed, mastodon, forum need one).
DEFAULT_URLS = {"hackernews": "https://hn.algolia.com/api/v1", "reddit": "https://www.reddit.com",
                "bluesky": "https://bsky.social"}
SENSITIVITIES = ("low", "medium", "high")  # the spike presets in reports/spikes.py
DEFAULT_USER_AGENT = "listener/0.1 (self-hosted social listening; +https://github.com/listener-dev/listener)"


class ConfigError(UserError):
    """A settings problem, already phrased as one line for the user."""


@dataclass(frozen=True)
class Product:
    name: str
    aliases: tuple[str, ...]
    exclude: tuple[str, ...] = ()
    ours: bool = False


@dataclass(frozen=True)
class Source:
    """One ``[[sources]]`` entry. ``options`` holds the type-specific keys (see ``TYPE_OPTIONS``)."""

    name: str
    type: str
    url: str
    interval: int  # seconds between collections (used by the scheduler)
    enabled: bool = True
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    max_pages: int | None = None   # paged types: overrides collect.max_pages
    max_age: int | None = None     # paged types: seconds, overrides collect.max_age
    silent_after: int = 7 * 86400  # no new post for this long: flagged as silent by `listener status`


@dataclass(frozen=True)
class CollectSettings:
    user_agent: str = DEFAULT_USER_AGENT
    timeout: float = 30.0
    retries: int = 2
    max_bytes: int = 10_000_000
    obey_robots: bool = True
    concurrency: int = 4
    delay: float = 0.0
    crawl_timeout: float = 600.0
    max_pages: int = 5             # pages per paged source and run
    max_age: int = 7 * 86400       # seconds: older posts are not fetched
    retry_backoff: float = 2.0     # seconds before the first retry of a 429/503 without Retry-After
    max_retry_wait: float = 120.0  # longest wait honoured; a longer Retry-After fails the source


@dataclass(frozen=True)
class ClassifySettings:
    positive_threshold: float = 0.05
    negative_threshold: float = -0.05
    batch_size: int = 2000


SENTIMENT_MODELS = ("vader", "trained")


@dataclass(frozen=True)
class SentimentSettings:
    model: str = "trained"
    artifact: Path | None = None          # None: the model shipped in the package
    languages: tuple[str, ...] = ("en",)  # detected languages the model scores; others are "unscored"


@dataclass(frozen=True)
class Topic:
    name: str
    terms: tuple[str, ...]
    exclude: tuple[str, ...] = ()


@dataclass(frozen=True)
class EmergingSettings:
    days: int = 7                # the period clustered ("this week")
    baseline_days: int = 28      # the trailing period it is compared with
    clusters: int = 5            # at most this many clusters per product and period
    min_posts: int = 10          # fewer posts in the period: no clustering


@dataclass(frozen=True)
class DigestSettings:
    output_dir: Path = Path("digests")
    top_mentions: int = 3
    baselines: tuple[int, ...] = (7, 28)
    channels: tuple[str, ...] = ()


@dataclass(frozen=True)
class Channel:
    """Where digests and alerts go: an email recipient list, a Slack webhook or a JSON webhook."""

    name: str
    type: str                      # email | slack | webhook
    to: tuple[str, ...] = ()       # email recipients
    sender: str = ""               # email From:
    host: str = "localhost"        # SMTP server
    port: int = 25
    security: str = "none"         # none | starttls | ssl
    user: str = ""
    password_env: str = ""         # name of the environment variable holding the SMTP password
    url: str = ""                  # slack / webhook URL
    url_env: str = ""              # or the environment variable holding it (webhook URLs are secrets)
    secret_env: str = ""           # webhook: environment variable with the HMAC-SHA256 secret
    attempts: int = 3
    backoff: float = 2.0           # seconds before the first retry; doubles each time (max 60)
    timeout: float = 10.0


@dataclass(frozen=True)
class AlertRule:
    name: str
    product: str | None            # the product watched; with a query, only its mentions that match
    condition: str                 # spike | threshold | new_mention
    metric: str = "volume"         # volume | negative_share
    threshold: float = 0.0         # for condition = threshold: mentions per window, or a share 0..1
    window: int = 86400            # seconds of recent data a check looks at
    channels: tuple[str, ...] = ()
    cooldown: int | None = None    # seconds; default from [alerts]
    quiet_hours: str | None = None
    query: str | None = None       # a query in the search language
    saved: str | None = None       # or the name of a saved search (`listener saved add`)

    @property
    def subject(self) -> str:
        """What the rule watches, for messages."""
        parts = [self.product] if self.product else []
        if self.saved:
            parts.append(f"saved search {self.saved!r}")
        elif self.query:
            parts.append(f"query {self.query!r}")
        return " matching ".join(parts)


@dataclass(frozen=True)
class AlertSettings:
    sensitivity: str = "medium"    # low | medium | high
    cooldown: int = 86400
    quiet_hours: str = ""          # e.g. "22:00-07:00" in `timezone`; empty = never quiet
    timezone: str = "UTC"
    rules: tuple[AlertRule, ...] = ()


@dataclass(frozen=True)
class ServeSettings:
    host: str = "127.0.0.1"
    port: int = 8080
    token: str | None = None   # bearer token; $LISTENER_API_TOKEN wins over this
    page_size: int = 50
    chart_days: int = 30
    search_timeout: float = 10.0  # seconds a page or API search may take before it is stopped


@dataclass(frozen=True)
class ScheduleSettings:
    """When ``listener daemon`` runs its jobs. Times are local to ``timezone``."""
    timezone: str = "UTC"
    daily_digest: str = "06:15"        # "HH:MM[:SS]" or "off"
    weekly_digest: str = "mon 06:30"   # "DAY HH:MM[:SS]" or "off"
    retention_days: int = 0            # 0: keep posts forever
    purge_at: str = "03:30"            # "HH:MM[:SS]": when the retention purge runs
    backoff_max: int = 6 * 3600        # cap of the exponential backoff of a failing source
    workers: int = 2                   # jobs that may run at the same time
    alerts_interval: int = 15 * 60     # how often the alert rules are checked
    log_file: Path | None = None       # None: log to stderr


@dataclass(frozen=True)
class Settings:
    path: Path | None
    db_path: Path
    collect: CollectSettings = field(default_factory=CollectSettings)
    classify: ClassifySettings = field(default_factory=ClassifySettings)
    digest: DigestSettings = field(default_factory=DigestSettings)
    schedule: ScheduleSettings = field(default_factory=ScheduleSettings)
    alerts: AlertSettings = field(default_factory=AlertSettings)
    channels: tuple[Channel, ...] = ()
    serve: ServeSettings = field(default_factory=ServeSettings)
    sentiment: SentimentSettings = field(default_factory=SentimentSettings)
    emerging: EmergingSettings = field(default_factory=EmergingSettings)
    products: tuple[Product, ...] = ()
    topics: tuple[Topic, ...] = ()
    sources: tuple[Source, ...] = ()

    def source(self, name: str) -> Source:
        for s in self.sources:
            if s.name == name:
                return s
        known = ", ".join(s.name for s in self.sources) or "none configured"
        raise ConfigError(f"{self.path or 'settings'}: sources: no source named {name!r} (known: {known})")


# --- validation helpers -------------------------------------------------------


# The reader needs the dataclasses above, so it is imported last.
from listener.config import checks  # noqa: E402,F401
from listener.config.checks import parse_clock, parse_interval, parse_weekly  # noqa: E402,F401
from listener.config.reader import load_settings, parse_settings, settings_path  # noqa: E402,F401
