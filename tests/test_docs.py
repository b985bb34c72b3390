"""The README documents every command and setting, and its Quickstart is what CI runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from listener.app.cli import cli
from listener.config import ConfigError, parse_settings

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    return README.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_every_command_has_a_readme_section():
    documented = set(re.findall(r"^### listener ([a-z-]+)$", README, re.M))
    assert documented == set(cli.commands)


@pytest.mark.parametrize("option", ["--config", "--quiet"])
def test_global_options_documented(option):
    assert option in section("Commands")


def allowed_keys(data: dict, where: str) -> set[str]:
    """Ask the parser itself which keys a table accepts (from its unknown-key error)."""
    with pytest.raises(ConfigError) as err:
        parse_settings(data, Path("x.toml"))
    return set(re.search(r"allowed here: (.*)\)$", str(err.value)).group(1).split(", "))


def test_every_setting_is_documented():
    keys = set()
    for table in ("store", "collect", "classify", "digest", "schedule", "alerts", "serve", "sentiment", "emerging"):
        keys |= {f"{table}.{k}" for k in allowed_keys({table: {"zz_unknown": 1}}, table)}
    keys.discard("alerts.rules")
    keys |= {f"alerts.rules[].{k}" for k in allowed_keys(
        {"products": [{"name": "A"}],
         "alerts": {"rules": [{"name": "r", "product": "A", "zz_unknown": 1}]}}, "r")}
    keys |= {f"channels[].{k}" for k in allowed_keys(
        {"channels": [{"name": "c", "type": "email", "to": ["a@b"], "zz_unknown": 1}]}, "c")}
    keys |= {f"products[].{k}" for k in allowed_keys({"products": [{"name": "a", "zz_unknown": 1}]}, "p")}
    minimal = {"feed": {}, "hackernews": {"query": "q"}, "reddit": {"subreddit": "s"},
               "mastodon": {"hashtag": "t"}, "bluesky": {"query": "q"}, "forum": {"preset": "phpbb3"}}
    for stype, required in minimal.items():  # every source type's keys
        keys |= {f"sources[].{k}" for k in allowed_keys(
            {"sources": [{"name": "a", "type": stype, "url": "https://x/", **required, "zz_unknown": 1}]}, "s")}
    keys |= {f"topics[].{k}" for k in allowed_keys({"topics": [{"name": "a", "terms": ["x"], "zz_unknown": 1}]}, "t")}
    top = allowed_keys({"zz_unknown": 1}, "")
    assert top == {"store", "collect", "classify", "digest", "schedule", "alerts", "channels", "serve", "sentiment",
                   "emerging", "topics", "products", "sources"}
    documented = set(re.findall(r"^\| `([a-z_\[\].]+)` \|", section("Settings"), re.M))
    assert documented == keys


def test_quickstart_is_two_commands_and_ci_runs_the_second():
    blocks = re.findall(r"```sh\n(.*?)```", section("Quickstart"), re.S)
    commands = [ln for b in blocks for ln in b.strip().splitlines() if ln.strip()]
    assert len(commands) == 2
    assert commands[0] == "pip install -e . && listener demo"
    ci = (ROOT / ".ci" / "run").read_text()
    assert commands[1] in ci.splitlines()


def test_shipped_settings_keys_are_all_documented():
    text = (ROOT / "settings.toml").read_text()
    table = None
    documented = set(re.findall(r"^\| `([a-z_\[\].]+)` \|", section("Settings"), re.M))
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if m := re.match(r"^\[\[([\w.]+)\]\]$", line):
            table = m.group(1) + "[]"
        elif m := re.match(r"^\[(\w+)\]$", line):
            table = m.group(1)
        elif m := re.match(r"^(\w+)\s*=", line):
            assert f"{table}.{m.group(1)}" in documented
