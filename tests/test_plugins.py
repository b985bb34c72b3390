"""Source types come from the registry: built-in ones and a plugin's, installed with an entry point."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from listener import plugins
from listener.app.cli import cli
from listener.config import ConfigError, load_settings
from listener.sources import source_type, source_types
from spiders import sourcetypes
from tests.helpers import FIXTURES, NOW

ROOT = Path(__file__).resolve().parent.parent
PLUGIN = FIXTURES / "plugins" / "listener_jsonposts.py"
BUILT_IN = [t.name for t in sourcetypes.register_source_types()]


def install(site: Path, dist: str, entry_points: dict[str, str], modules: dict[str, str] = {}) -> None:
    """Install a distribution into ``site`` as pip would: its modules and a dist-info with entry points."""
    info = site / f"{dist.replace('-', '_')}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n", encoding="utf-8")
    lines = ["[listener]"] + [f"{name} = {target}" for name, target in entry_points.items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    for name, text in modules.items():
        (site / f"{name}.py").write_text(text, encoding="utf-8")


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A site folder on ``sys.path`` (and so on the crawler child's PYTHONPATH); plugins reloaded around the test."""
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    plugins.reload()
    yield folder
    monkeypatch.undo()
    plugins.reload()


@pytest.fixture
def jsonposts(site):
    install(site, "listener-jsonposts", {"jsonposts": "listener_jsonposts"},
            {"listener_jsonposts": PLUGIN.read_text(encoding="utf-8")})
    plugins.reload()
    return site


def settings(tmp_path: Path, source: str) -> Path:
    path = tmp_path / "settings.toml"
    path.write_text(f'[store]\npath = "test.db"\n\n[collect]\ntimeout = 3\nretries = 0\n\n[[sources]]\n{source}',
                    encoding="utf-8")
    return path


def posts_page(ids: list[int], next_path: str | None) -> str:
    return json.dumps({"posts": [{"id": i, "author": f"user{i}", "text": f"Firefox post {i}",
                                  "time": f"2026-11-22T{i:02d}:00:00Z"} for i in ids], "next": next_path})


def test_a_plugin_source_type_is_collected_over_loopback(jsonposts, server, tmp_path):
    server.add("/posts?tag=firefox", posts_page([12, 11], "/posts?tag=firefox&page=2"),
               headers={"Content-Type": "application/json"})
    server.add("/posts?tag=firefox&page=2", posts_page([10], None), headers={"Content-Type": "application/json"})
    path = settings(tmp_path, f'name = "jp"\ntype = "jsonposts"\nurl = "{server.url("")}/"\ntag = "firefox"\n')
    run = CliRunner().invoke
    args = ["--config", str(path), "--now", NOW.isoformat()]

    assert run(cli, [*args, "init-db"]).exit_code == 0
    r = run(cli, [*args, "collect"], env={"JSONPOSTS_TOKEN": "sekrit"})
    assert r.exit_code == 0, r.output
    with sqlite3.connect(tmp_path / "test.db") as conn:
        rows = conn.execute("SELECT source, guid, author, text, published_at FROM posts ORDER BY guid").fetchall()
    assert rows == [("jp", str(i), f"user{i}", f"Firefox post {i}", f"2026-11-22T{i:02d}:00:00Z") for i in (10, 11, 12)]
    assert [h.headers.get("Authorization") for h in server.log] == ["Bearer sekrit", "Bearer sekrit"]

    r = run(cli, [*args, "collect"], env={"JSONPOSTS_TOKEN": None})  # the mark stops it at the first page
    assert r.exit_code == 0, r.output
    assert len(server.hits("/posts?tag=firefox")) == 2 and len(server.hits("/posts?tag=firefox&page=2")) == 1
    assert server.log[-1].headers.get("Authorization") is None
    with sqlite3.connect(tmp_path / "test.db") as conn:
        assert conn.execute("SELECT count(*) FROM posts").fetchone() == (3,)


def test_a_plugin_source_type_is_checked_and_offered_like_a_built_in_one(jsonposts, tmp_path):
    assert list(source_types()) == [*BUILT_IN, "jsonposts"]
    assert source_type("jsonposts").spider_path == "listener_jsonposts:JsonPostsSpider"
    s = load_settings(settings(tmp_path, 'name = "jp"\ntype = "jsonposts"\nurl = "https://j.example/"\ntag = "x"\n'))
    assert (s.sources[0].url, dict(s.sources[0].options)) == \
        ("https://j.example", {"tag": "x", "token_env": "JSONPOSTS_TOKEN"})
    for source, message in [
        ('name = "jp"\ntype = "jsonposts"\nurl = "https://j.example/"\n', "sources[0].tag: required key is missing"),
        ('name = "jp"\ntype = "jsonposts"\nurl = "https://j.example/"\ntag = "x"\nhashtag = "y"\n',
         "sources[0].hashtag: unknown key (allowed here: enabled, interval, max_age, max_pages, name, "
         "silent_after, tag, token_env, type, url)"),
        ('name = "x"\ntype = "twitter"\nurl = "https://x/"\n',
         f"sources[0].type: unknown source type 'twitter' (known: {', '.join(BUILT_IN)}, jsonposts)"),
    ]:
        with pytest.raises(ConfigError, match=re.escape(message)):
            load_settings(settings(tmp_path, source))

    path = settings(tmp_path, 'name = "a"\nurl = "https://f.example/feed"\n')
    r = CliRunner().invoke(cli, ["--config", str(path), "sources", "add", "jp", "--type", "jsonposts",
                                 "--url", "https://j.example", "--set", "tag=firefox"])
    assert r.exit_code == 0, r.output
    assert load_settings(path).source("jp").options["tag"] == "firefox"
    r = CliRunner().invoke(cli, ["sources", "add", "--help"])
    assert BUILT_IN[:6] == ["feed", "hackernews", "reddit", "mastodon", "bluesky", "forum"]
    assert "[" + "|".join([*BUILT_IN, "jsonposts"]) + "]" in " ".join(r.output.split()).replace("| ", "|")


def test_a_broken_or_clashing_plugin_is_one_line_on_the_type_key(site, tmp_path):
    path = settings(tmp_path, 'name = "a"\nurl = "https://f.example/feed"\n')
    install(site, "listener-broken", {"broken": "listener_missing_module"})
    plugins.reload()
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    assert str(err.value) == (f"{path}: sources[0].type: plugin 'broken' (listener_missing_module) cannot be "
                              "loaded: ModuleNotFoundError: No module named 'listener_missing_module'")
    empty = tmp_path / "empty.toml"
    empty.write_text("", encoding="utf-8")
    r = CliRunner().invoke(cli, ["--config", str(empty), "sources", "add", "f", "--url", "https://f.example/feed"])
    assert (r.exit_code, r.output) == (2, "Error: plugin 'broken' (listener_missing_module) cannot be loaded: "
                                          "ModuleNotFoundError: No module named 'listener_missing_module'\n")

    (site / "listener_broken-0.1.dist-info" / "entry_points.txt").write_text("[listener]\nfeed2 = listener_feed2\n")
    (site / "listener_feed2.py").write_text(
        "from listener.hookspecs import hookimpl\nfrom listener.sources import SourceType\n\n"
        "@hookimpl\ndef register_source_types():\n    return [SourceType('feed', 'listener_feed2:Spider')]\n")
    plugins.reload()
    with pytest.raises(ConfigError, match=re.escape("sources[0].type: source type 'feed' is registered twice")):
        load_settings(path)


def test_reading_settings_imports_neither_scrapy_nor_plugins_until_needed(tmp_path):
    """The CLI's start-up: importing it loads no plugin; reading every type's settings imports no Scrapy."""
    path = settings(tmp_path, 'name = "f"\nurl = "https://f.example/feed"\n\n'
                              '[[sources]]\nname = "hn"\ntype = "hackernews"\nquery = "x"\n\n'
                              '[[sources]]\nname = "r"\ntype = "reddit"\nsubreddit = "x"\n\n'
                              '[[sources]]\nname = "m"\ntype = "mastodon"\nurl = "https://m.example"\nhashtag = "x"\n\n'
                              '[[sources]]\nname = "b"\ntype = "bluesky"\nquery = "x"\n\n'
                              '[[sources]]\nname = "fo"\ntype = "forum"\nurl = "https://f.example/"\npreset = "smf2"\n')
    code = ("import sys; import listener.app.cli; a = 'spiders.sourcetypes' in sys.modules; "
            f"from listener.config import load_settings; s = load_settings({str(path)!r}); "
            "print(a, len(s.sources), 'scrapy' in sys.modules, 'twisted' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}).stdout
    assert out.split() == ["False", "6", "False", "False"]


def test_readme_source_type_table_matches_the_registry():
    """The README's table has a row per built-in type naming what it requires and its credential variables."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("\n## Sources\n", 1)[1].split("\n\n| type |", 1)[1].split("\n\n", 1)[0]
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| `(\w+)` \|(.*)$", table, re.M)}
    assert list(rows) == BUILT_IN
    for st in sourcetypes.register_source_types():
        you_give, credentials = rows[st.name].split(" | ")[:2]
        needed = [o.name for o in st.options if o.required] + ([] if st.default_url else ["url"])
        assert all(f"`{name}`" in you_give for name in needed), (st.name, needed)
        env_defaults = [o.default for o in st.options if o.name in st.credentials]
        assert all(f"`{var}`" in credentials for var in env_defaults), (st.name, env_defaults)
        assert (credentials.strip().startswith("none")) == (not st.credentials), st.name


@pytest.mark.parametrize("name", BUILT_IN)
def test_every_built_in_type_names_a_spider_of_its_own_name(name):
    spider = source_type(name).spider_class()
    assert spider.name == name and callable(getattr(spider, "start", None))
