"""The README documents every command and setting, and its Quickstart is what CI runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from listener import users
from listener.app.cli import cli
from listener.config import docs
from listener.config.schema import SECTIONS
from listener.sources import source_types

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    return README.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def app_routes(folder: Path) -> list[tuple[str, str]]:
    """(method, path) of every route of the web app but its stylesheet and the OpenAPI document."""
    from listener.app.web import create_app
    from listener.app.web.handlers import _leaf_routes
    from listener.config import load_settings

    (folder / "settings.toml").write_text('[store]\npath = "site.db"\n', encoding="utf-8")
    app = create_app(load_settings(folder / "settings.toml"))
    return sorted((method, route.path) for route in _leaf_routes(app.routes) for method in route.methods
                  if method != "HEAD" and route.path not in ("/static/style.css", "/api/openapi.json"))


def documented(method: str, path: str, text: str) -> bool:
    """Whether ``text`` names the route: its path in backticks or after a method (a parameter as
    ``{name}`` or ``NAME``); a route other than a GET with its method before it (``PUT|DELETE /api/x/{name}``)."""
    segment = r"(?:\{[^}/]+\}|[A-Z][A-Z_]*)"
    where = re.sub(r"\\\{[^}]+\\\}", lambda _: segment, re.escape(path)) + r"(?![\w/{-])"
    if method != "GET":
        methods = r"(?:GET|POST|PUT|DELETE)"
        return re.search(rf"\b{method}\b(?:(?:\||`?/`?){methods})*`?\s+`?" + where, text) is not None
    return re.search(r"(?:`|\b(?:GET|POST|PUT|DELETE)`?\s+`?)" + where, text) is not None


def test_every_page_and_api_endpoint_is_documented(tmp_path):
    """Each route of ``listener serve`` (method and path) is in "Web UI and API", with what it does, and every role."""
    text = section("Web UI and API")
    routes = app_routes(tmp_path)
    assert len(routes) > 80 and ("DELETE", "/api/users/{name}/tokens/{label}") in routes
    assert [r for r in routes if not documented(*r, text)] == []
    roles = section("Web UI and API").split("### Users and roles\n", 1)[1]
    assert set(re.findall(r"^\| `([a-z]+)` \|", roles, re.M)) == set(users.ROLES)


def test_the_route_check_can_fail():
    assert not documented("GET", "/api/users/{name}", "`/api/users`")
    assert not documented("DELETE", "/api/users/{name}", "`GET /api/users/{name}`")
    assert documented("DELETE", "/api/users/{name}", "`PUT|DELETE /api/users/NAME`")
    assert documented("POST", "/saved", "(`/saved`, `POST`/`PUT`/`DELETE /saved`)")


def test_every_command_has_a_readme_section():
    documented = set(re.findall(r"^### listener ([a-z-]+)$", README, re.M))
    assert documented == set(cli.commands)


@pytest.mark.parametrize("option", ["--config", "--quiet"])
def test_global_options_documented(option):
    assert option in section("Commands")


def documented_keys(text: str) -> set[str]:
    return set(re.findall(r"^\| `([a-z_\[\].]+)` \|", text, re.M))


def test_every_setting_is_documented():
    keys = {f"{section.key}.{s.name}" for section in SECTIONS for s in section}
    keys |= type_keys()  # every source type's keys
    assert documented_keys(section("Settings")) == keys


def test_readme_settings_table_is_written_from_the_schema():
    """Same keys, order, defaults and help: after a schema change, run python -m listener.config.docs."""
    block = README.split(docs.BEGIN + "\n", 1)[1].split(docs.END, 1)[0]
    assert block == docs.settings_table()


def type_keys() -> set[str]:
    return {f"sources[].{option.name}" for kind in source_types().values() for option in kind.options}


def test_source_type_keys_are_documented_apart_from_the_registry():
    block = README.split(docs.TYPES_BEGIN + "\n", 1)[1].split(docs.TYPES_END, 1)[0]
    assert documented_keys(block) == type_keys()
    assert block == docs.source_keys_table()


def test_docs_command_checks_and_rewrites_the_table(tmp_path, capsys):
    readme = tmp_path / "README.md"
    readme.write_text(README.replace("| honour robots.txt |", "| obey robots.txt |"), encoding="utf-8")
    assert docs.main(["--check", str(readme)]) == 1
    assert "settings table is out of date" in capsys.readouterr().err
    assert docs.main([str(readme)]) == 0
    assert readme.read_text(encoding="utf-8") == README
    assert docs.main(["--check", str(readme)]) == 0


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
    documented = documented_keys(section("Settings"))
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if m := re.match(r"^\[\[([\w.]+)\]\]$", line):
            table = m.group(1) + "[]"
        elif m := re.match(r"^\[(\w+)\]$", line):
            table = m.group(1)
        elif m := re.match(r"^(\w+)\s*=", line):
            assert f"{table}.{m.group(1)}" in documented
