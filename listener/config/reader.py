"""Read settings.toml into the dataclasses of ``listener.config``, checking every key against the schema."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Callable, Iterable

from listener.config import checks
from listener.config.settings import (DEFAULT_FILE, ENV_VAR, AlertRule, AlertSettings, Channel, ClassifySettings,
                                      CollectSettings, ConfigError, DigestSettings, EmergingSettings, Product,
                                      ScheduleSettings, SentimentSettings, ServeSettings, Settings, Topic)
from listener.config.schema import (ALERT_RULES, ALERTS, CHANNELS, CLASSIFY, COLLECT, DIGEST, EMERGING, PRODUCTS,
                                    SCHEDULE, SENTIMENT, SERVE, STORE, TOPICS, Section, Setting, default_languages)
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
            except checks.ItemError as exc:
                raise self.fail(f"{name}[{exc.index}]", str(exc)) from None
            except ValueError as exc:
                raise self.fail(name, str(exc)) from None
        return value

    def read(self, setting: Setting, required: bool | None = None) -> Any:
        """The value of one declared key, or its default; ``required`` overrides the declaration."""
        return self.get(setting.name, setting.kind, default=setting.value,
                        required=setting.required if required is None else required, check=setting.check)

    def read_all(self, settings: Iterable[Setting]) -> dict[str, Any]:
        """Every key of a ``Section`` (or any run of ``Setting``s), read in the order declared: name -> value."""
        values: dict[str, Any] = {}
        for setting in settings:
            when = setting.required_if
            values[setting.name] = self.read(setting, required=setting.required or (
                when is not None and values.get(when[0]) == when[1]))
        return values

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
    db_path = base / store.read(STORE["path"])
    store.finish()

    collect = CollectSettings(**_section(root.sub("collect"), COLLECT))
    classify = ClassifySettings(**_section(root.sub("classify"), CLASSIFY))
    if classify.negative_threshold >= classify.positive_threshold:
        raise ConfigError(f"{name}: classify.negative_threshold: must be below classify.positive_threshold")

    values = _section(root.sub("digest"), DIGEST)
    digest = DigestSettings(**{**values, "output_dir": base / values["output_dir"]})

    values = _section(root.sub("schedule"), SCHEDULE)
    log_file = values["log_file"]
    schedule = ScheduleSettings(**{**values, "log_file": base / log_file if log_file and log_file.strip() else None})

    channels = [_channel(c) for c in root.tables("channels")]
    _unique(name, "channels", [c.name for c in channels])
    alerts = _alerts(root.sub("alerts"))
    known_channels = {c.name for c in channels}
    for key, wanted in [("digest.channels", digest.channels)] + \
            [(f"alerts.rules[{i}].channels", r.channels) for i, r in enumerate(alerts.rules)]:
        for ch in wanted:
            if ch not in known_channels:
                raise ConfigError(f"{name}: {key}: no channel named {ch!r} (define it under [[channels]])")
    values = _section(root.sub("serve"), SERVE)
    serve = ServeSettings(**{**values, "token": values["token"] or None})

    table = root.sub("sentiment")
    languages_set = "languages" in table.table
    values = _section(table, SENTIMENT)
    artifact, adaptation = values["artifact"], values["adaptation"]
    if adaptation and values["model"] == "vader":
        raise ConfigError(f"{name}: sentiment.adaptation: a domain head adapts the default or the fast model, "
                          'not VADER (set sentiment.model = "default" or "fast", or remove sentiment.adaptation)')
    sentiment = SentimentSettings(model=values["model"], artifact=(base / artifact) if artifact else None,
                                  adaptation=(base / adaptation) if adaptation else None,
                                  languages=values["languages"] if languages_set and values["languages"] else default_languages(values["model"]))

    emerging = EmergingSettings(**_section(root.sub("emerging"), EMERGING))

    topics = []
    for t in root.tables("topics"):
        topic = Topic(**t.read_all(TOPICS))
        if not topic.terms and not topic.terms_by_language:
            raise t.fail("terms", "required key is missing (or give terms_by_language)" if not
                         {"terms", "terms_by_language"} & set(t.table) else
                         "needs at least one term (here or in terms_by_language)")
        t.finish()
        topics.append(topic)
    _unique(name, "topics", [t.name.lower() for t in topics])

    products = []
    for p in root.tables("products"):
        values = p.read_all(PRODUCTS)
        products.append(Product(**{**values, "aliases": values["aliases"] or (values["name"],)}))
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


def _section(table: _Reader, section: Section) -> dict[str, Any]:
    """Every key of a plain table such as ``[collect]``, then no other."""
    values = table.read_all(section)
    table.finish()
    return values


def _channel(c: _Reader) -> Channel:
    values = c.read_all(CHANNELS)
    ch = Channel(**{("sender" if key == "from" else key): value for key, value in values.items()})
    if ch.type in ("slack", "webhook") and not (ch.url or ch.url_env):
        raise c.fail("url", "required for a slack or webhook channel (or set url_env)")
    c.finish()
    return ch


def _alerts(a: _Reader) -> AlertSettings:
    values = a.read_all(ALERTS)
    rules = []
    for r in a.tables("rules"):
        rule = AlertRule(**r.read_all(ALERT_RULES))
        if not (rule.product or rule.query or rule.saved):
            raise r.fail("product", "a rule needs a product, a query or a saved search to watch")
        if rule.query and rule.saved:
            raise r.fail("saved", "give either query or saved, not both")
        r.finish()
        rules.append(rule)
    a.finish()
    _unique(a.file, "alerts.rules", [r.name for r in rules])
    return AlertSettings(**values, rules=tuple(rules))


def _unique(file: str, key: str, names: list[str]) -> None:
    seen: set[str] = set()
    for i, n in enumerate(names):
        if n in seen:
            raise ConfigError(f"{file}: {key}[{i}].name: duplicate name {n!r}")
        seen.add(n)
