"""Read settings.toml into the dataclasses of ``listener.config``, checking every key."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any, Callable

from listener.config import (DEFAULT_FILE, DEFAULT_USER_AGENT, ENV_VAR, SENSITIVITIES, SENTIMENT_MODELS, AlertRule, AlertSettings,
                             Channel, ClassifySettings, CollectSettings, ConfigError, DigestSettings,
                             EmergingSettings, Product, ScheduleSettings, SentimentSettings, ServeSettings,
                             Settings, Topic, checks)
from listener.config.checks import parse_clock, parse_interval, parse_weekly
from listener.config.sourcekeys import read_source


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

    sources = [read_source(s) for s in root.tables("sources")]
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
