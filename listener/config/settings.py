"""The settings dataclasses: typed and frozen, read once from settings.toml by ``listener.config.reader``.

Every key's type, default, check and help is declared once, in ``listener.config.schema``; the
dataclasses below take their defaults from there. Every problem is reported as one ``ConfigError``
line naming the file and the key (``settings.toml: products[2].name: required key is missing``).
Unknown keys are errors, so a typo never silently falls back to a default.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

from listener.errors import UserError
from listener.config.schema import (ALERT_RULES, ALERTS, CHANNELS, CLASSIFY, COLLECT, DIGEST, EMERGING, PRODUCTS,
                                    SCHEDULE, SENTIMENT, SERVE, SOURCES, TOPICS)
from listener.config.schema import DEFAULT_USER_AGENT, SENSITIVITIES, SENTIMENT_MODELS  # noqa: F401

ENV_VAR = "LISTENER_CONFIG"
DEFAULT_FILE = "settings.toml"


class ConfigError(UserError):
    """A settings problem, already phrased as one line for the user."""


@dataclass(frozen=True)
class Product:
    name: str
    aliases: tuple[str, ...]
    exclude: tuple[str, ...] = PRODUCTS.default("exclude")
    ours: bool = PRODUCTS.default("ours")
    description: str = PRODUCTS.default("description")
    context: tuple[str, ...] = PRODUCTS.default("context")
    query: str | None = PRODUCTS.default("query")
    relevance: float = PRODUCTS.default("relevance")


@dataclass(frozen=True)
class Source:
    """One ``[[sources]]`` entry. ``options`` holds the type-specific keys (see ``listener.sources``)."""

    name: str
    type: str
    url: str
    interval: int  # seconds between collections (used by the scheduler)
    enabled: bool = SOURCES.default("enabled")
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    max_pages: int | None = SOURCES.default("max_pages")  # paged types: overrides collect.max_pages
    max_age: int | None = SOURCES.default("max_age")      # paged types: seconds, overrides collect.max_age
    silent_after: int = SOURCES.default("silent_after")   # no new post for this long: `listener status` flags it


@dataclass(frozen=True)
class CollectSettings:
    user_agent: str = COLLECT.default("user_agent")
    timeout: float = COLLECT.default("timeout")
    retries: int = COLLECT.default("retries")
    max_bytes: int = COLLECT.default("max_bytes")
    obey_robots: bool = COLLECT.default("obey_robots")
    concurrency: int = COLLECT.default("concurrency")
    delay: float = COLLECT.default("delay")
    crawl_timeout: float = COLLECT.default("crawl_timeout")
    max_pages: int = COLLECT.default("max_pages")  # pages per paged source and run
    max_age: int = COLLECT.default("max_age")  # seconds: older posts are not fetched
    # seconds before the first retry of a 429/503 without Retry-After
    retry_backoff: float = COLLECT.default("retry_backoff")
    # longest wait honoured; a longer Retry-After fails the source
    max_retry_wait: float = COLLECT.default("max_retry_wait")


@dataclass(frozen=True)
class ClassifySettings:
    positive_threshold: float = CLASSIFY.default("positive_threshold")
    negative_threshold: float = CLASSIFY.default("negative_threshold")
    batch_size: int = CLASSIFY.default("batch_size")


@dataclass(frozen=True)
class SentimentSettings:
    model: str = SENTIMENT.default("model")
    artifact: Path | None = SENTIMENT.default("artifact")  # None: the model shipped in the package
    adaptation: Path | None = SENTIMENT.default("adaptation")  # a domain head on the trained model; None: none
    # detected languages the model scores; others are "unscored"
    languages: tuple[str, ...] = SENTIMENT.default("languages")


@dataclass(frozen=True)
class Topic:
    name: str
    terms: tuple[str, ...]
    exclude: tuple[str, ...] = TOPICS.default("exclude")
    # (language code, terms) pairs, sorted: added to ``terms`` for posts in that language
    terms_by_language: tuple[tuple[str, tuple[str, ...]], ...] = ()


@dataclass(frozen=True)
class EmergingSettings:
    days: int = EMERGING.default("days")  # the period clustered ("this week")
    baseline_days: int = EMERGING.default("baseline_days")  # the trailing period it is compared with
    clusters: int = EMERGING.default("clusters")  # at most this many clusters per product and period
    min_posts: int = EMERGING.default("min_posts")  # fewer posts in the period: no clustering


@dataclass(frozen=True)
class DigestSettings:
    output_dir: Path = DIGEST.default("output_dir")
    top_mentions: int = DIGEST.default("top_mentions")
    baselines: tuple[int, ...] = DIGEST.default("baselines")
    channels: tuple[str, ...] = DIGEST.default("channels")
    note: str = DIGEST.default("note")


@dataclass(frozen=True)
class Channel:
    """Where digests and alerts go: an email recipient list, a Slack webhook or a JSON webhook."""

    name: str
    type: str                      # email | slack | webhook
    to: tuple[str, ...] = CHANNELS.default("to")  # email recipients
    sender: str = CHANNELS.default("from")  # email From:
    host: str = CHANNELS.default("host")  # SMTP server
    port: int = CHANNELS.default("port")
    security: str = CHANNELS.default("security")  # none | starttls | ssl
    user: str = CHANNELS.default("user")
    password_env: str = CHANNELS.default("password_env")  # name of the environment variable holding the SMTP password
    url: str = CHANNELS.default("url")  # slack / webhook URL
    url_env: str = CHANNELS.default("url_env")  # or the environment variable holding it (webhook URLs are secrets)
    secret_env: str = CHANNELS.default("secret_env")  # webhook: environment variable with the HMAC-SHA256 secret
    attempts: int = CHANNELS.default("attempts")
    backoff: float = CHANNELS.default("backoff")  # seconds before the first retry; doubles each time (max 60)
    timeout: float = CHANNELS.default("timeout")


@dataclass(frozen=True)
class AlertRule:
    name: str
    product: str | None            # the product watched; with a query, only its mentions that match
    condition: str                 # spike | threshold | new_mention
    metric: str = ALERT_RULES.default("metric")  # volume | negative_share
    # for condition = threshold: mentions per window, or a share 0..1
    threshold: float = ALERT_RULES.default("threshold")
    window: int = ALERT_RULES.default("window")  # seconds of recent data a check looks at
    channels: tuple[str, ...] = ALERT_RULES.default("channels")
    cooldown: int | None = ALERT_RULES.default("cooldown")  # seconds; default from [alerts]
    quiet_hours: str | None = ALERT_RULES.default("quiet_hours")
    query: str | None = ALERT_RULES.default("query")  # a query in the search language
    saved: str | None = ALERT_RULES.default("saved")  # or the name of a saved search (`listener saved add`)

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
    sensitivity: str = ALERTS.default("sensitivity")  # low | medium | high
    cooldown: int = ALERTS.default("cooldown")
    quiet_hours: str = ALERTS.default("quiet_hours")  # e.g. "22:00-07:00" in `timezone`; empty = never quiet
    timezone: str = ALERTS.default("timezone")
    rules: tuple[AlertRule, ...] = ()


@dataclass(frozen=True)
class ServeSettings:
    host: str = SERVE.default("host")
    port: int = SERVE.default("port")
    token: str | None = SERVE.default("token")  # bearer token; $LISTENER_API_TOKEN wins over this
    page_size: int = SERVE.default("page_size")
    chart_days: int = SERVE.default("chart_days")
    # seconds a page or API search may take before it is stopped
    search_timeout: float = SERVE.default("search_timeout")
    base_url: str | None = SERVE.default("base_url")  # the public URL behind a reverse proxy


@dataclass(frozen=True)
class ScheduleSettings:
    """When ``listener daemon`` runs its jobs. Times are local to ``timezone``."""
    timezone: str = SCHEDULE.default("timezone")
    daily_digest: str = SCHEDULE.default("daily_digest")  # "HH:MM[:SS]" or "off"
    weekly_digest: str = SCHEDULE.default("weekly_digest")  # "DAY HH:MM[:SS]" or "off"
    retention_days: int = SCHEDULE.default("retention_days")  # 0: keep posts forever
    purge_at: str = SCHEDULE.default("purge_at")  # "HH:MM[:SS]": when the retention purge runs
    backoff_max: int = SCHEDULE.default("backoff_max")  # cap of the exponential backoff of a failing source
    workers: int = SCHEDULE.default("workers")  # jobs that may run at the same time
    alerts_interval: int = SCHEDULE.default("alerts_interval")  # how often the alert rules are checked
    log_file: Path | None = SCHEDULE.default("log_file")  # None: log to stderr


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
