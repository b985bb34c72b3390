"""Settings: typed loading, and one clear line with exit code 2 for every kind of broken file."""

from __future__ import annotations

from dataclasses import MISSING, fields
from pathlib import Path

import pytest
from click.testing import CliRunner

from listener.app.cli import cli
from listener.config import (AlertRule, AlertSettings, Channel, ClassifySettings, CollectSettings, ConfigError,
                             DigestSettings, EmergingSettings, Product, ScheduleSettings, SentimentSettings,
                             ServeSettings, Settings, Source, Topic, load_settings, parse_interval, parse_settings)
from listener.config.schema import (ALERT_RULES, ALERTS, CHANNELS, CLASSIFY, COLLECT, DIGEST, EMERGING, PRODUCTS,
                                    SCHEDULE, SECTIONS, SENTIMENT, SERVE, SOURCES, TOPICS)
from listener.sources import source_type

ROOT = Path(__file__).resolve().parent.parent


def test_shipped_settings_file_is_valid():
    s = load_settings(ROOT / "settings.toml")
    assert s.products and s.sources
    assert any(p.ours for p in s.products) and any(not p.ours for p in s.products)
    assert all(src.url.startswith("https://") for src in s.sources)
    assert s.db_path == ROOT / "listener.db"
    assert len(s.topics) >= 5 and all(t.terms for t in s.topics)  # an example taxonomy a new user sees in digests


def test_defaults_and_relative_paths(tmp_path):
    f = tmp_path / "s.toml"
    f.write_text('[[products]]\nname = "Acme"\n')
    s = load_settings(f)
    assert s.db_path == tmp_path / "listener.db"
    assert s.digest.output_dir == tmp_path / "digests"
    assert s.products[0].aliases == ("Acme",) and s.products[0].ours is False
    assert s.collect.obey_robots is True and s.collect.timeout == 30.0
    assert s.classify.positive_threshold == 0.05


@pytest.mark.parametrize("value, seconds", [(90, 90), ("90s", 90), ("30m", 1800), ("6h", 21600), ("1d", 86400)])
def test_interval(value, seconds):
    assert parse_interval(value) == seconds


BROKEN = [
    ("[store\npath = 1", "invalid TOML"),
    ('[store]\npath = "x.db"\ncolour = "blue"\n', "store.colour: unknown key"),
    ('toplevel = 1\n', "toplevel: unknown key"),
    ('[collect]\ntimeout = "fast"\n', "collect.timeout: expected a number, got string 'fast'"),
    ('[collect]\nobey_robots = "yes"\n', "collect.obey_robots: expected true or false"),
    ('[collect]\nretries = -1\n', "collect.retries: must not be negative"),
    ('[[products]]\naliases = ["x"]\n', "products[0].name: required key is missing"),
    ('[[products]]\nname = "A"\n[[products]]\nname = "B"\naliases = "b"\n', "products[1].aliases: expected an array"),
    ('[[products]]\nname = "A"\nours = 1\n', "products[0].ours: expected true or false, got integer 1"),
    ('[[products]]\nname = "A"\n[[products]]\nname = "a"\n', "products[1].name: duplicate name 'a'"),
    ('[[sources]]\nname = "x"\n', "sources[0].url: required key is missing"),
    ('[[sources]]\nname = "x"\nurl = "ftp://x"\n', "sources[0].url: expected an http:// or https:// URL"),
    ('[[sources]]\nname = "x"\nurl = "https://x/"\ninterval = "often"\n', "sources[0].interval: expected a duration"),
    ('[[sources]]\nname = "x"\nurl = "https://x/"\ntype = "carrier-pigeon"\n', "sources[0].type: unknown source type"),
    ('[[sources]]\nname = "x"\nurl = "https://x/"\nurl_typo = 1\n', "sources[0].url_typo: unknown key"),
    ('[[sources]]\nname = "has space"\nurl = "https://x/"\n', "sources[0].name: use letters"),
    ('products = "Acme"\n', "products: expected an array of tables"),
    ('[classify]\npositive_threshold = 0.1\nnegative_threshold = 0.2\n', "classify.negative_threshold: must be below"),
]


@pytest.mark.parametrize("text, message", BROKEN)
def test_broken_settings_one_line_exit_2(tmp_path, text, message):
    f = tmp_path / "bad.toml"
    f.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_settings(f)
    assert message in str(err.value)
    assert str(err.value).startswith(str(f) + ": ")
    result = CliRunner().invoke(cli, ["--config", str(f), "sources"])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and str(f) in lines[0]
    assert "Traceback" not in result.output


def test_missing_file_and_env_override(tmp_path, monkeypatch):
    result = CliRunner().invoke(cli, ["--config", str(tmp_path / "nope.toml"), "sources"])
    assert result.exit_code == 2 and "settings file not found" in result.stderr
    good = tmp_path / "env.toml"
    good.write_text('[store]\npath = "env.db"\n')
    monkeypatch.setenv("LISTENER_CONFIG", str(good))
    result = CliRunner().invoke(cli, ["init-db"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "env.db").exists()


def test_not_utf8(tmp_path):
    f = tmp_path / "latin1.toml"
    f.write_bytes(b'[[products]]\nname = "Caf\xe9"\n')
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_settings(f)


MINIMAL = {  # the least each array-of-tables entry needs, so that only the unknown key is wrong
    "topics[]": {"name": "t", "terms": ["x"]},
    "alerts.rules[]": {"name": "r", "product": "A"},
    "channels[]": {"name": "c", "type": "email", "to": ["a@b"]},
    "products[]": {"name": "A"},
    "sources[]": {"name": "s", "type": "reddit", "subreddit": "x"},
}


def allowed_keys(data: dict) -> set[str]:
    """The keys the reader accepts where the unknown key ``zz_unknown`` is, from its error."""
    with pytest.raises(ConfigError) as err:
        parse_settings(data, Path("x.toml"))
    assert "zz_unknown: unknown key (allowed here: " in str(err.value)
    return set(str(err.value).split("allowed here: ", 1)[1].rstrip(")").split(", "))


@pytest.mark.parametrize("section", SECTIONS, ids=lambda s: s.key)
def test_the_reader_accepts_exactly_the_keys_of_the_schema(section):
    place, _, _ = section.key.partition("[]")
    entry = {**MINIMAL.get(section.key, {}), "zz_unknown": 1}
    data: dict = {place: [entry] if section.key.endswith("[]") else entry}
    if section.key == "alerts.rules[]":
        data = {"products": [{"name": "A"}], "alerts": {"rules": [entry]}}
    expected = {s.name for s in section}
    if section.key == "alerts":
        expected.add("rules")
    if section.key == "sources[]":
        expected |= {option.name for option in source_type("reddit").options}
    assert allowed_keys(data) == expected


def test_the_top_level_keys_are_the_sections_of_the_schema():
    assert allowed_keys({"zz_unknown": 1}) == {s.key.removesuffix("[]") for s in SECTIONS if "." not in s.key}


def test_a_missing_key_reads_as_the_dataclass_default(tmp_path):
    file = tmp_path / "s.toml"
    assert parse_settings({}, file) == Settings(path=file, db_path=tmp_path / "listener.db",
                                                digest=DigestSettings(output_dir=tmp_path / "digests"))
    assert parse_settings({"sources": [{"name": "s", "url": "https://x/"}]}, file).sources[0] == \
        Source("s", "feed", "https://x/", SOURCES.default("interval"))


DATACLASSES = [  # (dataclass, its section, field -> key where they differ; None: not a key)
    (CollectSettings, COLLECT, {}), (ClassifySettings, CLASSIFY, {}), (SentimentSettings, SENTIMENT, {}),
    (Topic, TOPICS, {}), (EmergingSettings, EMERGING, {}), (DigestSettings, DIGEST, {}),
    (AlertSettings, ALERTS, {"rules": None}), (AlertRule, ALERT_RULES, {}), (Channel, CHANNELS, {"sender": "from"}),
    (ServeSettings, SERVE, {}), (ScheduleSettings, SCHEDULE, {}), (Product, PRODUCTS, {}),
    (Source, SOURCES, {"options": None}),
]


@pytest.mark.parametrize("cls, section, renamed", DATACLASSES, ids=[row[0].__name__ for row in DATACLASSES])
def test_every_dataclass_field_is_a_schema_key_with_its_default(cls, section, renamed):
    keys = {renamed.get(f.name, f.name): f for f in fields(cls) if renamed.get(f.name, f.name)}
    assert set(keys) == {s.name for s in section}
    for name, f in keys.items():
        if f.default is not MISSING:
            assert f.default == section.default(name), name
    assert SENTIMENT.default("languages") == ("en", "de", "fr", "it") and COLLECT.default("max_age") == 7 * 86400


def test_a_domain_head_with_vader_is_a_settings_error(tmp_path):
    from listener.config import ConfigError, load_settings

    path = tmp_path / "settings.toml"
    path.write_text('[sentiment]\nmodel = "vader"\nadaptation = "team.head"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"sentiment.adaptation: a domain head adapts the default or the fast model, "
                                          r"not VADER"):
        load_settings(path)
