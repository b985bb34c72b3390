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
from typing import Any, Callable

ENV_VAR = "LISTENER_CONFIG"
DEFAULT_FILE = "settings.toml"
SOURCE_TYPES = ("feed",)
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
    name: str
    type: str
    url: str
    interval: int  # seconds between collections (used by the scheduler)
    enabled: bool = True
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


@dataclass(frozen=True)
class ClassifySettings:
    positive_threshold: float = 0.05
    negative_threshold: float = -0.05
    batch_size: int = 2000


@dataclass(frozen=True)
class DigestSettings:
    output_dir: Path = Path("digests")
    top_mentions: int = 3
    trailing_periods: int = 7


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
    log_file: Path | None = None       # None: log to stderr


@dataclass(frozen=True)
class Settings:
    path: Path | None
    db_path: Path
    collect: CollectSettings = field(default_factory=CollectSettings)
    classify: ClassifySettings = field(default_factory=ClassifySettings)
    digest: DigestSettings = field(default_factory=DigestSettings)
    schedule: ScheduleSettings = field(default_factory=ScheduleSettings)
    products: tuple[Product, ...] = ()
    sources: tuple[Source, ...] = ()

    def source(self, name: str) -> Source:
        for s in self.sources:
            if s.name == name:
                return s
        known = ", ".join(s.name for s in self.sources) or "none configured"
        raise ConfigError(f"{self.path or 'settings'}: sources: no source named {name!r} (known: {known})")


# --- validation helpers -------------------------------------------------------

_INTERVAL_RE = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_interval(value: str | int) -> int:
    """Seconds from ``90``, ``"90s"``, ``"30m"``, ``"6h"`` or ``"1d"``."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as \"30m\"")
    if isinstance(value, int):
        seconds = value
    else:
        m = _INTERVAL_RE.match(str(value))
        if not m:
            raise ValueError(f"expected a duration such as \"30m\", \"6h\" or 900, got {value!r}")
        seconds = int(m.group(1)) * _UNITS[m.group(2)]
    if seconds <= 0:
        raise ValueError("must be greater than zero")
    return seconds


class _Reader:
    """Walks one TOML table, remembering which keys were used."""

    def __init__(self, file: str, prefix: str, table: Any):
        self.file = file
        self.prefix = prefix
        if not isinstance(table, dict):
            raise ConfigError(f"{file}: {prefix}: expected a table, got {_typename(table)}")
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
            want = " or ".join(_KIND_NAMES.get(k, k.__name__) for k in kinds)
            raise self.fail(name, f"expected {want}, got {_typename(value)} {value!r}")
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
                raise self.fail(f"{name}[{i}]", f"expected a non-empty string, got {_typename(v)} {v!r}")
        return tuple(v.strip() for v in values)

    def sub(self, name: str) -> "_Reader":
        self.used.add(name)
        return _Reader(self.file, self.key(name), self.table.get(name, {}))

    def tables(self, name: str) -> list["_Reader"]:
        """Readers for each table of an array of tables (``[[name]]``)."""
        self.used.add(name)
        value = self.table.get(name, [])
        if not isinstance(value, list):
            raise self.fail(name, f"expected an array of tables ([[{name}]]), got {_typename(value)}")
        return [_Reader(self.file, f"{self.key(name)}[{i}]", t) for i, t in enumerate(value)]

    def finish(self) -> None:
        unknown = sorted(set(self.table) - self.used)
        if unknown:
            allowed = ", ".join(sorted(self.used))
            raise self.fail(unknown[0], f"unknown key (allowed here: {allowed})")


_KIND_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false",
               list: "an array", dict: "a table"}


def _typename(value: Any) -> str:
    return {str: "string", int: "integer", float: "number", bool: "boolean", list: "array",
            dict: "table"}.get(type(value), type(value).__name__)


def _positive(value: float | int) -> float | int:
    if value <= 0:
        raise ValueError(f"must be greater than zero, got {value}")
    return value


def _non_negative(value: float | int) -> float | int:
    if value < 0:
        raise ValueError(f"must not be negative, got {value}")
    return value


def _http_url(value: str) -> str:
    if not re.match(r"^https?://[^\s/]+", value):
        raise ValueError(f"expected an http:// or https:// URL, got {value!r}")
    return value


def _name(value: str) -> str:
    if not _NAME_RE.match(value):
        raise ValueError(f"use letters, digits, '.', '_' or '-' (at most 64), got {value!r}")
    return value


_TIME_RE = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?$")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def parse_clock(value: str) -> tuple[int, int, int]:
    """(hour, minute, second) from ``"06:15"`` or ``"06:15:30"``."""
    m = _TIME_RE.match(value.strip())
    if not m:
        raise ValueError(f"expected a time of day such as \"06:15\" or \"06:15:30\", got {value!r}")
    return int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)


def parse_weekly(value: str) -> tuple[str, int, int, int]:
    """(weekday, hour, minute, second) from ``"mon 06:30"``."""
    day, _, clock = value.strip().partition(" ")
    if day.lower()[:3] not in WEEKDAYS or not clock:
        raise ValueError(f"expected a weekday and a time such as \"mon 06:30\", got {value!r}")
    return (day.lower()[:3], *parse_clock(clock))


def _optional(check: Callable[[str], Any]) -> Callable[[str], str]:
    """A check that also accepts ``"off"``; returns the trimmed value."""
    def run(value: str) -> str:
        value = value.strip()
        if value.lower() == "off":
            return "off"
        check(value)
        return value
    return run


def _timezone(value: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r} (use an IANA name such as \"Europe/Berlin\")") from None
    return value


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
        timeout=c.get("timeout", float, default=30.0, check=_positive),
        retries=c.get("retries", int, default=2, check=_non_negative),
        max_bytes=c.get("max_bytes", int, default=10_000_000, check=_positive),
        obey_robots=c.get("obey_robots", bool, default=True),
        concurrency=c.get("concurrency", int, default=4, check=_positive),
        delay=c.get("delay", float, default=0.0, check=_non_negative),
        crawl_timeout=c.get("crawl_timeout", float, default=600.0, check=_positive),
    )
    c.finish()

    k = root.sub("classify")
    classify = ClassifySettings(
        positive_threshold=k.get("positive_threshold", float, default=0.05, check=_threshold),
        negative_threshold=k.get("negative_threshold", float, default=-0.05, check=_threshold),
        batch_size=k.get("batch_size", int, default=2000, check=_positive),
    )
    k.finish()
    if classify.negative_threshold >= classify.positive_threshold:
        raise ConfigError(f"{name}: classify.negative_threshold: must be below classify.positive_threshold")

    d = root.sub("digest")
    digest = DigestSettings(
        output_dir=base / d.get("output_dir", str, default="digests"),
        top_mentions=d.get("top_mentions", int, default=3, check=_positive),
        trailing_periods=d.get("trailing_periods", int, default=7, check=_positive),
    )
    d.finish()

    sc = root.sub("schedule")
    log_file = sc.get("log_file", str, default="")
    schedule = ScheduleSettings(
        timezone=sc.get("timezone", str, default="UTC", check=_timezone),
        daily_digest=sc.get("daily_digest", str, default="06:15", check=_optional(parse_clock)),
        weekly_digest=sc.get("weekly_digest", str, default="mon 06:30", check=_optional(parse_weekly)),
        retention_days=sc.get("retention_days", int, default=0, check=_non_negative),
        purge_at=sc.get("purge_at", str, default="03:30", check=_optional(parse_clock)),
        backoff_max=sc.get("backoff_max", (str, int), default=6 * 3600, check=parse_interval),
        workers=sc.get("workers", int, default=2, check=_positive),
        log_file=base / log_file if log_file.strip() else None,
    )
    sc.finish()

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

    sources = []
    for s in root.tables("sources"):
        sname = s.get("name", str, required=True, check=_name)
        stype = s.get("type", str, default="feed")
        if stype not in SOURCE_TYPES:
            raise s.fail("type", f"unknown source type {stype!r} (known: {', '.join(SOURCE_TYPES)})")
        sources.append(Source(
            name=sname, type=stype,
            url=s.get("url", str, required=True, check=_http_url),
            interval=s.get("interval", (str, int), default="30m", check=parse_interval),
            enabled=s.get("enabled", bool, default=True),
            silent_after=s.get("silent_after", (str, int), default=7 * 86400, check=parse_interval),
        ))
        s.finish()
    _unique(name, "sources", [s.name for s in sources])
    root.finish()

    return Settings(path=file, db_path=db_path, collect=collect, classify=classify, digest=digest,
                    schedule=schedule, products=tuple(products), sources=tuple(sources))


def _unique(file: str, key: str, names: list[str]) -> None:
    seen: set[str] = set()
    for i, n in enumerate(names):
        if n in seen:
            raise ConfigError(f"{file}: {key}[{i}].name: duplicate name {n!r}")
        seen.add(n)
