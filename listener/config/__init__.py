"""Settings: read settings.toml once into typed, frozen dataclasses.

Every problem is reported as one ``ConfigError`` line naming the file and the
key (``settings.toml: products[2].name: required key is missing``). Unknown
keys are errors, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Mapping

from listener.config import checks
from listener.config.checks import parse_clock, parse_interval, parse_weekly  # noqa: F401 (public here)
from spiders.forum_presets import PRESETS, SELECTOR_KEYS, REQUIRED_SELECTORS

ENV_VAR = "LISTENER_CONFIG"
DEFAULT_FILE = "settings.toml"
SOURCE_TYPES = ("feed", "hackernews", "reddit", "mastodon", "bluesky", "forum")
# Where each type fetches from when ``url`` is not given (feed, mastodon, forum need one).
DEFAULT_URLS = {"hackernews": "https://hn.algolia.com/api/v1", "reddit": "https://www.reddit.com",
                "bluesky": "https://bsky.social"}
_REQUIRED = object()
SENSITIVITIES = ("low", "medium", "high")  # the spike presets in reports/spikes.py
DEFAULT_USER_AGENT = "listener/0.1 (self-hosted social listening; +https://github.com/listener-dev/listener)"


class ConfigError(Exception):
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

class _Reader:
    """Walks one TOML table, remembering which keys were used."""

    def __init__(self, file: str, prefix: str, table: Any):
        self.file = file
        self.prefix = prefix
        if not isinstance(table, dict):
            raise ConfigError(f"{file}: {prefix}: expected a table, got {checks.typename(table)}")
        self.table = table
        self.used: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix else name

    def fail(self, name: str, message: str) -> ConfigError:
        return ConfigError(f"{self.file}: {self.key(name)}: {message}")

    def get(self, name: str, kind: type | tuple, default: Any = None, required: bool = False,
            check: Callable[[Any], Any] | None = None) -> Any:
        self.used.add(name)
        if name not in self.table:
            if required:
                raise self.fail(name, "required key is missing")
            return default
        value = self.table[name]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        ok = isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)
        if float in kinds and isinstance(value, int) and not isinstance(value, bool):
            ok, value = True, float(value)
        if not ok:
            want = " or ".join(checks.KIND_NAMES.get(k, k.__name__) for k in kinds)
            raise self.fail(name, f"expected {want}, got {checks.typename(value)} {value!r}")
        if check is not None:
            try:
                value = check(value)
            except ValueError as exc:
                raise self.fail(name, str(exc)) from None
        return value

    def strings(self, name: str, required: bool = False) -> tuple[str, ...]:
        values = self.get(name, list, default=[], required=required)
        for i, v in enumerate(values):
            if not isinstance(v, str) or not v.strip():
                raise self.fail(f"{name}[{i}]", f"expected a non-empty string, got {checks.typename(v)} {v!r}")
        return tuple(v.strip() for v in values)

    def sub(self, name: str) -> "_Reader":
        self.used.add(name)
        return _Reader(self.file, self.key(name), self.table.get(name, {}))

    def tables(self, name: str) -> list["_Reader"]:
        """Readers for each table of an array of tables (``[[name]]``)."""
        self.used.add(name)
        value = self.table.get(name, [])
        if not isinstance(value, list):
            raise self.fail(name, f"expected an array of tables ([[{name}]]), got {checks.typename(value)}")
        return [_Reader(self.file, f"{self.key(name)}[{i}]", t) for i, t in enumerate(value)]

    def finish(self) -> None:
        unknown = sorted(set(self.table) - self.used)
        if unknown:
            allowed = ", ".join(sorted(self.used))
            raise self.fail(unknown[0], f"unknown key (allowed here: {allowed})")


def _preset(value: str) -> str:
    if value not in PRESETS:
        raise ValueError(f"unknown forum preset {value!r} (known: {', '.join(PRESETS)})")
    return value


# Type-specific source keys: name -> (kind, default or _REQUIRED, check).
TYPE_OPTIONS: dict[str, dict[str, tuple[type, Any, Callable[[Any], Any] | None]]] = {
    "feed": {},
    "hackernews": {"query": (str, _REQUIRED, checks.non_empty), "tags": (str, "(story,comment)", checks.non_empty)},
    "reddit": {"subreddit": (str, _REQUIRED, checks.word("subreddit name", "r/")),
               "query": (str, None, checks.non_empty),
               "client_id_env": (str, "REDDIT_CLIENT_ID", checks.env_name),
               "client_secret_env": (str, "REDDIT_CLIENT_SECRET", checks.env_name)},
    "mastodon": {"hashtag": (str, _REQUIRED, checks.word("hashtag", "#")),
                 "token_env": (str, "MASTODON_TOKEN", checks.env_name)},
    "bluesky": {"query": (str, _REQUIRED, checks.non_empty),
                "handle_env": (str, "BLUESKY_HANDLE", checks.env_name),
                "password_env": (str, "BLUESKY_APP_PASSWORD", checks.env_name)},
    "forum": {"preset": (str, None, _preset), "timezone": (str, "UTC", checks.timezone),
              "selectors": (dict, None, None)},
}


def _read_source(s: "_Reader") -> Source:
    sname = s.get("name", str, required=True, check=checks.name)
    stype = s.get("type", str, default="feed")
    if stype not in SOURCE_TYPES:
        raise s.fail("type", f"unknown source type {stype!r} (known: {', '.join(SOURCE_TYPES)})")
    default_url = DEFAULT_URLS.get(stype)
    options: dict[str, Any] = {}
    for key, (kind, default, check) in TYPE_OPTIONS[stype].items():
        value = s.get(key, kind, required=default is _REQUIRED, default=default, check=check)
        if value is not None:
            options[key] = value
    if stype == "forum":
        options.update(_forum_options(s, options))
    paged = stype != "feed"
    source = Source(
        name=sname, type=stype,
        url=s.get("url", str, required=default_url is None, default=default_url, check=checks.http_url).rstrip("/")
        if paged else s.get("url", str, required=True, check=checks.http_url),
        interval=s.get("interval", (str, int), default=30 * 60, check=parse_interval),
        enabled=s.get("enabled", bool, default=True),
        silent_after=s.get("silent_after", (str, int), default=7 * 86400, check=parse_interval),
        options=MappingProxyType(options),
        max_pages=s.get("max_pages", int, check=checks.positive) if paged else None,
        max_age=s.get("max_age", (str, int), check=parse_interval) if paged else None,
    )
    s.finish()
    return source


def _forum_options(s: "_Reader", options: dict[str, Any]) -> dict[str, Any]:
    """Check a forum's preset and selector overrides; the result holds the full selector set."""
    preset = options.get("preset")
    given = options.pop("selectors", None) or {}
    for key, value in given.items():
        if key not in SELECTOR_KEYS:
            raise s.fail(f"selectors.{key}", f"unknown selector (allowed here: {', '.join(SELECTOR_KEYS)})")
        if not isinstance(value, str) or not value.strip():
            raise s.fail(f"selectors.{key}", f"expected a CSS selector string, got {checks.typename(value)} {value!r}")
    if preset == "discourse":
        if given:
            raise s.fail("selectors", "the discourse preset reads the JSON API and takes no selectors")
        return {}
    if preset is None and not given:
        raise s.fail("preset", f"required key is missing (known presets: {', '.join(PRESETS)}; "
                               "or give every selector in selectors)")
    selectors = {**PRESETS.get(preset or "", {}), **given}
    missing = [k for k in REQUIRED_SELECTORS if not selectors.get(k)]
    if missing:
        raise s.fail("selectors", f"missing selector(s) {', '.join(missing)} (no preset provides them)")
    return {"selectors": MappingProxyType(selectors)}


def _threshold(value: float) -> float:
    if not -1.0 <= value <= 1.0:
        raise ValueError(f"must be between -1 and 1, got {value}")
    return value


# --- loading ------------------------------------------------------------------


def settings_path(explicit: str | os.PathLike | None = None) -> Path:
    """The settings file to use: explicit path, else $LISTENER_CONFIG, else ./settings.toml."""
    if explicit:
        return Path(explicit)
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR])
    return Path(DEFAULT_FILE)


def load_settings(path: str | os.PathLike | None = None) -> Settings:
    """Read and validate a settings file; relative paths resolve against its folder."""
    file = settings_path(path)
    try:
        raw = file.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{file}: settings file not found (use --config or ${ENV_VAR})") from None
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read settings file: {exc.strerror}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{file}: not UTF-8 text (byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: invalid TOML: {exc}") from None
    return parse_settings(data, file)


def parse_settings(data: dict, file: Path) -> Settings:
    """Validate an already-parsed TOML document."""
    name = str(file)
    base = file.resolve().parent
    root = _Reader(name, "", data)

    store = root.sub("store")
    db_path = base / store.get("path", str, default="listener.db")
    store.finish()

    c = root.sub("collect")
    collect = CollectSettings(
        user_agent=c.get("user_agent", str, default=DEFAULT_USER_AGENT),
        timeout=c.get("timeout", float, default=30.0, check=checks.positive),
        retries=c.get("retries", int, default=2, check=checks.non_negative),
        max_bytes=c.get("max_bytes", int, default=10_000_000, check=checks.positive),
        obey_robots=c.get("obey_robots", bool, default=True),
        concurrency=c.get("concurrency", int, default=4, check=checks.positive),
        delay=c.get("delay", float, default=0.0, check=checks.non_negative),
        crawl_timeout=c.get("crawl_timeout", float, default=600.0, check=checks.positive),
        max_pages=c.get("max_pages", int, default=5, check=checks.positive),
        max_age=c.get("max_age", (str, int), default=7 * 86400, check=parse_interval),
        retry_backoff=c.get("retry_backoff", float, default=2.0, check=checks.non_negative),
        max_retry_wait=c.get("max_retry_wait", float, default=120.0, check=checks.non_negative),
    )
    c.finish()

    k = root.sub("classify")
    classify = ClassifySettings(
        positive_threshold=k.get("positive_threshold", float, default=0.05, check=_threshold),
        negative_threshold=k.get("negative_threshold", float, default=-0.05, check=_threshold),
        batch_size=k.get("batch_size", int, default=2000, check=checks.positive),
    )
    k.finish()
    if classify.negative_threshold >= classify.positive_threshold:
        raise ConfigError(f"{name}: classify.negative_threshold: must be below classify.positive_threshold")

    d = root.sub("digest")
    digest = DigestSettings(
        output_dir=base / d.get("output_dir", str, default="digests"),
        top_mentions=d.get("top_mentions", int, default=3, check=checks.positive),
        baselines=tuple(d.get("baselines", list, default=[7, 28], check=_periods)),
        channels=d.strings("channels"),
    )
    d.finish()

    sc = root.sub("schedule")
    log_file = sc.get("log_file", str, default="")
    schedule = ScheduleSettings(
        timezone=sc.get("timezone", str, default="UTC", check=checks.timezone),
        daily_digest=sc.get("daily_digest", str, default="06:15", check=checks.optional(parse_clock)),
        weekly_digest=sc.get("weekly_digest", str, default="mon 06:30", check=checks.optional(parse_weekly)),
        retention_days=sc.get("retention_days", int, default=0, check=checks.non_negative),
        purge_at=sc.get("purge_at", str, default="03:30", check=checks.optional(parse_clock)),
        backoff_max=sc.get("backoff_max", (str, int), default=6 * 3600, check=parse_interval),
        workers=sc.get("workers", int, default=2, check=checks.positive),
        alerts_interval=sc.get("alerts_interval", (str, int), default=15 * 60, check=parse_interval),
        log_file=base / log_file if log_file.strip() else None,
    )
    sc.finish()

    channels = [_channel(c) for c in root.tables("channels")]
    _unique(name, "channels", [c.name for c in channels])
    alerts = _alerts(root.sub("alerts"))
    known_channels = {c.name for c in channels}
    for key, wanted in [("digest.channels", digest.channels)] + \
            [(f"alerts.rules[{i}].channels", r.channels) for i, r in enumerate(alerts.rules)]:
        for ch in wanted:
            if ch not in known_channels:
                raise ConfigError(f"{name}: {key}: no channel named {ch!r} (define it under [[channels]])")
    v = root.sub("serve")
    serve = ServeSettings(
        host=v.get("host", str, default="127.0.0.1"),
        port=v.get("port", int, default=8080, check=checks.port),
        token=v.get("token", str, default="") or None,
        page_size=v.get("page_size", int, default=50, check=checks.positive),
        chart_days=v.get("chart_days", int, default=30, check=checks.positive),
        search_timeout=v.get("search_timeout", float, default=10.0, check=checks.positive),
    )
    v.finish()

    sn = root.sub("sentiment")
    artifact = sn.get("artifact", str, default="")
    sentiment = SentimentSettings(
        model=sn.get("model", str, default="trained", check=_one_of(*SENTIMENT_MODELS)),
        artifact=(base / artifact) if artifact else None,
        languages=tuple(x.lower() for x in sn.strings("languages")) or ("en",),
    )
    sn.finish()

    e = root.sub("emerging")
    emerging = EmergingSettings(
        days=e.get("days", int, default=7, check=checks.positive),
        baseline_days=e.get("baseline_days", int, default=28, check=checks.positive),
        clusters=e.get("clusters", int, default=5, check=checks.positive),
        min_posts=e.get("min_posts", int, default=10, check=checks.positive),
    )
    e.finish()

    topics = []
    for t in root.tables("topics"):
        tname = t.get("name", str, required=True, check=checks.name)
        topics.append(Topic(name=tname, terms=t.strings("terms", required=True), exclude=t.strings("exclude")))
        if not topics[-1].terms:
            raise t.fail("terms", "needs at least one term")
        t.finish()
    _unique(name, "topics", [t.name.lower() for t in topics])

    products = []
    for p in root.tables("products"):
        pname = p.get("name", str, required=True)
        if not pname.strip():
            raise p.fail("name", "must not be empty")
        aliases = p.strings("aliases") or (pname.strip(),)
        products.append(Product(name=pname.strip(), aliases=aliases, exclude=p.strings("exclude"),
                                ours=p.get("ours", bool, default=False)))
        p.finish()
    _unique(name, "products", [p.name.lower() for p in products])

    sources = [_read_source(s) for s in root.tables("sources")]
    _unique(name, "sources", [s.name for s in sources])
    root.finish()

    product_names = {p.name for p in products}
    for i, r in enumerate(alerts.rules):
        if r.product is not None and r.product not in product_names:
            raise ConfigError(f"{name}: alerts.rules[{i}].product: no product named {r.product!r}")
    return Settings(path=file, db_path=db_path, collect=collect, classify=classify, digest=digest,
                    schedule=schedule, alerts=alerts, channels=tuple(channels), serve=serve, sentiment=sentiment,
                    emerging=emerging, products=tuple(products), topics=tuple(topics), sources=tuple(sources))


def _periods(value: list) -> list[int]:
    if not value or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value):
        raise ValueError(f"expected a non-empty array of positive integers, got {value!r}")
    return value


def _one_of(*allowed: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        if value not in allowed:
            raise ValueError(f"expected one of {', '.join(allowed)}, got {value!r}")
        return value
    return check


_QUIET_RE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$")


def _quiet(value: str) -> str:
    if value and not _QUIET_RE.match(value):
        raise ValueError(f"expected HH:MM-HH:MM such as \"22:00-07:00\", got {value!r}")
    return value


def _query(value: str) -> str:
    from listener.search.query import QueryError, parse

    try:
        parse(value)
    except QueryError as exc:
        raise ValueError(f"invalid query: {exc}") from None
    return value


def _channel(c: "_Reader") -> Channel:
    ctype = c.get("type", str, required=True, check=_one_of("email", "slack", "webhook"))
    ch = Channel(
        name=c.get("name", str, required=True, check=checks.name), type=ctype,
        to=c.strings("to", required=ctype == "email"),
        sender=c.get("from", str, default="listener@localhost"),
        host=c.get("host", str, default="localhost"),
        port=c.get("port", int, default=25, check=checks.positive),
        security=c.get("security", str, default="none", check=_one_of("none", "starttls", "ssl")),
        user=c.get("user", str, default=""),
        password_env=c.get("password_env", str, default=""),
        url=c.get("url", str, default="", check=lambda v: checks.http_url(v) if v else v),
        url_env=c.get("url_env", str, default=""),
        secret_env=c.get("secret_env", str, default=""),
        attempts=c.get("attempts", int, default=3, check=checks.positive),
        backoff=c.get("backoff", float, default=2.0, check=checks.non_negative),
        timeout=c.get("timeout", float, default=10.0, check=checks.positive),
    )
    if ctype in ("slack", "webhook") and not (ch.url or ch.url_env):
        raise c.fail("url", "required for a slack or webhook channel (or set url_env)")
    c.finish()
    return ch


def _alerts(a: "_Reader") -> AlertSettings:
    sensitivity = a.get("sensitivity", str, default="medium", check=_one_of(*SENSITIVITIES))
    cooldown = a.get("cooldown", (str, int), default=86400, check=parse_interval)
    quiet = a.get("quiet_hours", str, default="", check=_quiet)
    tz = a.get("timezone", str, default="UTC", check=checks.timezone)
    rules = []
    for r in a.tables("rules"):
        condition = r.get("condition", str, default="spike", check=_one_of("spike", "threshold", "new_mention"))
        rule = AlertRule(
            name=r.get("name", str, required=True, check=checks.name),
            product=r.get("product", str, default=None),
            condition=condition,
            metric=r.get("metric", str, default="volume", check=_one_of("volume", "negative_share")),
            threshold=r.get("threshold", float, default=0.0, required=condition == "threshold",
                            check=checks.non_negative),
            window=r.get("window", (str, int), default=86400, check=parse_interval),
            channels=r.strings("channels"),
            cooldown=r.get("cooldown", (str, int), default=None, check=parse_interval),
            quiet_hours=r.get("quiet_hours", str, default=None, check=_quiet),
            query=r.get("query", str, default=None, check=_query),
            saved=r.get("saved", str, default=None),
        )
        if not (rule.product or rule.query or rule.saved):
            raise r.fail("product", "a rule needs a product, a query or a saved search to watch")
        if rule.query and rule.saved:
            raise r.fail("saved", "give either query or saved, not both")
        r.finish()
        rules.append(rule)
    a.finish()
    _unique(a.file, "alerts.rules", [r.name for r in rules])
    return AlertSettings(sensitivity=sensitivity, cooldown=cooldown, quiet_hours=quiet, timezone=tz,
                         rules=tuple(rules))


def _unique(file: str, key: str, names: list[str]) -> None:
    seen: set[str] = set()
    for i, n in enumerate(names):
        if n in seen:
            raise ConfigError(f"{file}: {key}[{i}].name: duplicate name {n!r}")
        seen.add(n)
