"""Managing what is tracked: the CLI and the /manage pages and API edit settings.toml (comments kept,
checked by the real loader before anything is written), and the web app and the daemon follow it."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from listener import store
from listener.app import daemon as daemon_module
from listener.app.cli import cli
from listener.app.web import create_app
from listener.config import load_settings
from tests.helpers import NOW
from tests.helpers.feeds import Entry, atom

BEFORE = """\
# Our settings: hand-written, with comments
[store]
path = "test.db"  # beside this file

[alerts]
cooldown = "12h"  # one alert per half day

# --- what we track ---
[[products]]
name = "Firefox"  # ours
aliases = ["Firefox", "Mozilla Firefox"]
ours = true

[[products]]
name = "Chrome"
aliases = ["Chrome"]  # the competitor

[[sources]]
name = "blog"
url = "https://example.org/feed.xml"  # the team blog
interval = "30m"
"""

AFTER = """\
# Our settings: hand-written, with comments
[store]
path = "test.db"  # beside this file

[alerts]
cooldown = "12h"  # one alert per half day

# --- what we track ---
[[products]]
name = "Firefox"  # ours
aliases = ["Firefox", "Mozilla Firefox"]
ours = true

[[products]]
name = "Edge"
aliases = ["Edge", "Microsoft Edge"]
exclude = ["edge case"]

[[sources]]
name = "blog"
url = "https://example.org/feed.xml"  # the team blog
interval = "2h"

[[topics]]
name = "speed"
terms = ["slow", "fast"]

[[alerts.rules]]
name = "ff-spike"
product = "Firefox"
window = "1h"
"""


def invoke(path: Path, *args: str):
    return CliRunner().invoke(cli, ["--config", str(path), *args])


def test_cli_changes_keep_every_comment_and_the_layout(tmp_path):
    path = tmp_path / "settings.toml"
    path.write_text(BEFORE, encoding="utf-8")
    for args in (["products", "add", "Edge", "--alias", "Edge", "--alias", "Microsoft Edge"],
                 ["products", "edit", "edge", "--exclude", "edge case"],
                 ["products", "remove", "Chrome"],
                 ["topics", "add", "speed", "--term", "slow", "--term", "fast"],
                 ["alerts", "add", "ff-spike", "--product", "Firefox", "--window", "1h"],
                 ["sources", "edit", "blog", "--interval", "2h"]):
        r = invoke(path, *args)
        assert r.exit_code == 0, (args, r.output)
    assert path.read_text(encoding="utf-8") == AFTER
    r = invoke(path, "products")
    assert "Edge, Microsoft Edge" in r.output and "edge case" in r.output
    assert "ff-spike" in invoke(path, "alerts", "list").output and "slow, fast" in invoke(path, "topics").output
    r = invoke(path, "alerts", "remove", "ff-spike")
    assert r.exit_code == 0 and "alerts.rules" not in path.read_text() and "[alerts]" in path.read_text()
    assert invoke(path, "sources", "remove", "blog").exit_code == 0 and load_settings(path).sources == ()


@pytest.mark.parametrize("args,message", [
    (["alerts", "add", "r", "--product", "Safari"], "alerts.rules[0].product: no product named 'Safari'"),
    (["alerts", "add", "r", "--product", "Firefox", "--channel", "ops"],
     "alerts.rules[0].channels: no channel named 'ops'"),
    (["alerts", "add", "r", "--product", "Firefox", "--condition", "threshold"],
     "alerts.rules[0].threshold: required key is missing"),
    (["products", "add", "firefox"], "products[2].name: duplicate name 'firefox'"),
    (["products", "edit", "Firefox", "--alias", ""], "products[0].aliases[0]: "),
    (["topics", "add", "bad name", "--term", "x"], "topics[0].name: "),
    (["sources", "edit", "blog", "--interval", "soon"], "sources[0].interval: "),
    (["sources", "edit", "blog", "--set", "subreddit=x"], "sources[0].subreddit: unknown key"),
    (["products", "remove", "Safari"], "products: no product named 'Safari' (known: 'Firefox', 'Chrome')"),
])
def test_an_invalid_change_is_refused_with_the_loader_s_message_and_nothing_is_written(tmp_path, args, message):
    path = tmp_path / "settings.toml"
    path.write_text(BEFORE, encoding="utf-8")
    r = invoke(path, *args)
    assert r.exit_code != 0 and message in r.output, r.output
    assert "Traceback" not in r.output and r.output.count("\n") == 1
    assert path.read_text(encoding="utf-8") == BEFORE


def test_removing_a_product_a_rule_watches_is_refused(tmp_path):
    path = tmp_path / "settings.toml"
    path.write_text(BEFORE, encoding="utf-8")
    assert invoke(path, "alerts", "add", "r", "--product", "Chrome").exit_code == 0
    before = path.read_text()
    r = invoke(path, "products", "remove", "Chrome")
    assert r.exit_code == 2 and "alerts.rules[0].product: no product named 'Chrome'" in r.output
    assert path.read_text() == before


@pytest.fixture
def app_site(tmp_path):
    path = tmp_path / "settings.toml"
    path.write_text(BEFORE, encoding="utf-8")
    settings = load_settings(path)
    return path, TestClient(create_app(settings, today=lambda: date(2026, 11, 23)))


def csrf(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def test_web_pages_add_edit_and_remove_a_product(app_site):
    path, client = app_site
    page = client.get("/manage/products")
    assert page.status_code == 200 and "Mozilla Firefox" in page.text
    token = csrf(page.text)
    form = {"csrf": token, "original": "", "name": "Edge", "aliases": "Edge\nMicrosoft Edge", "exclude": ""}
    r = client.post("/manage/products", data=form, follow_redirects=False)
    # a new product: its posts so far are untagged, so the page offers a re-tag
    assert r.status_code == 303 and r.headers["location"] == "/manage/products?done=saved&retag=Edge"
    assert load_settings(path).products[-1].aliases == ("Edge", "Microsoft Edge")
    assert "# the team blog" in path.read_text()
    assert "Edge" in [p["name"] for p in client.get("/api/products").json()]  # the overview follows at once
    edit_page = client.get("/manage/products", params={"edit": "Edge"}).text
    assert 'name="original" value="Edge"' in edit_page and "Microsoft Edge</textarea>" in edit_page
    r = client.post("/manage/products", data={**form, "original": "Edge", "exclude": "edge case", "ours": "on"})
    assert r.status_code == 200 and "Saved." in r.text
    assert load_settings(path).products[-1].exclude == ("edge case",) and load_settings(path).products[-1].ours
    # a refused change: the loader's message beside the field, the form as typed, nothing written
    before = path.read_text()
    r = client.post("/manage/products", data={**form, "original": "", "name": "firefox"})
    assert r.status_code == 400 and "products[3].name: duplicate name &#39;firefox&#39;" in r.text
    assert 'class="field invalid"' in r.text and path.read_text() == before
    # no CSRF token: refused, nothing written
    r = client.post("/manage/products/remove", data={"name": "Edge"})
    assert r.status_code == 403 and path.read_text() == before
    r = client.post("/manage/products/remove", data={"csrf": token, "name": "Edge"})
    assert r.status_code == 200 and "Removed." in r.text and "Edge" not in path.read_text()


def test_the_api_writes_and_documents_every_status(app_site):
    path, client = app_site
    r = client.post("/api/manage/products", json={"name": "Edge", "aliases": ["Edge"]})
    assert r.status_code == 201 and r.json() == {"name": "Edge", "aliases": ["Edge"], "exclude": [], "ours": False}
    r = client.put("/api/manage/products/Edge", json={"name": "Edge", "exclude": ["edge case"], "ours": True})
    assert r.status_code == 200 and r.json()["exclude"] == ["edge case"]
    before = path.read_text()
    r = client.post("/api/manage/alerts", json={"name": "r", "product": "Safari"})
    assert r.status_code == 400 and r.json() == {
        "error": "settings.toml: alerts.rules[0].product: no product named 'Safari'", "field": "product"}
    assert client.delete("/api/manage/products/Safari").status_code == 404
    assert client.post("/api/manage/topics", json={"name": "t", "terms": ["x\u0000"]}).status_code == 400
    assert path.read_text() == before
    r = client.post("/api/manage/sources", json={"name": "hn", "type": "hackernews", "options": {"query": "firefox"}})
    assert r.status_code == 201 and r.json()["url"] == "https://hn.algolia.com/api/v1"
    assert client.delete("/api/manage/products/Edge").status_code == 204
    assert [p["name"] for p in client.get("/api/manage/products").json()] == ["Firefox", "Chrome"]
    types = {t["name"]: t for t in client.get("/api/manage/source-types").json()}
    assert "subreddit" in [f["name"] for f in types["reddit"]["fields"]]
    spec = client.get("/api/openapi.json").json()
    for path_, ops in spec["paths"].items():
        if path_.startswith("/api/manage/"):
            for method, op in ops.items():
                assert {"400", "401", "403", "500"} <= set(op["responses"]), (method, path_)
                if method in ("put", "delete"):
                    assert "404" in op["responses"]
    assert spec["paths"]["/api/manage/products"]["post"]["responses"].keys() >= {"201"}
    assert spec["paths"]["/api/manage/channels"]["post"]["responses"].keys() >= {"201", "403"}  # admins only
    assert spec["components"]["schemas"]["ChannelEntry"]["properties"]["type"]["enum"] == ["email", "slack", "webhook"]


def test_the_web_follows_a_change_made_by_the_cli(app_site):
    path, client = app_site
    assert client.get("/api/manage/topics").json() == []
    assert invoke(path, "topics", "add", "speed", "--term", "slow").exit_code == 0
    assert client.get("/api/manage/topics").json() == [
        {"name": "speed", "terms": ["slow"], "terms_by_language": {}, "exclude": []}]
    assert "speed" in client.get("/manage/topics").text
    r = invoke(path, "topics", "add", "laden", "--term-in", "de", "lädt*", "--term-in", "pl", "ładowa*")
    assert r.exit_code == 0, r.output
    assert client.get("/api/manage/topics").json()[-1]["terms_by_language"] == {"de": ["lädt*"], "pl": ["ładowa*"]}
    r = invoke(path, "topics", "add", "nothing")
    assert r.exit_code != 0 and "terms" in r.output and "Traceback" not in r.output
    assert invoke(path, "topics", "remove", "laden").exit_code == 0
    # terms per language through the API: kept, shown, replaced, and a topic needs a term somewhere
    r = client.post("/api/manage/topics", json={"name": "akku", "terms_by_language": {"de": ["Akku", "lädt*"]}})
    assert r.status_code == 201 and r.json()["terms_by_language"] == {"de": ["Akku", "lädt*"]}, r.text
    assert 'terms_by_language' in path.read_text() and '"Akku"' in path.read_text()
    r = client.put("/api/manage/topics/speed", json={"name": "speed", "terms": ["slow"],
                                                     "terms_by_language": {"pl": ["wolno"]}})
    assert r.status_code == 200 and r.json()["terms_by_language"] == {"pl": ["wolno"]}
    r = client.post("/api/manage/topics", json={"name": "empty"})
    assert r.status_code == 400 and "terms" in r.json()["error"], r.text
    r = client.post("/api/manage/topics", json={"name": "bad", "terms_by_language": {"german": ["x"]}})
    assert r.status_code == 400 and "expected a language code" in r.json()["error"], r.text


def test_the_sources_page_has_every_type_s_fields_and_a_test_fetch(server, tmp_path):
    server.add("/feed.atom", atom([Entry("tag:t,1", "Firefox <b>is fast</b>", "Loving it", "2026-11-22T09:00:00Z"),
                                   Entry("tag:t,2", "Second post", "more", "2026-11-22T10:00:00Z")]),
               headers={"Content-Type": "application/atom+xml"})
    path = tmp_path / "settings.toml"
    path.write_text(BEFORE.replace("https://example.org/feed.xml", server.url("/feed.atom"))
                    + '\n[collect]\ntimeout = 2\nretries = 0\n', encoding="utf-8")
    settings = load_settings(path)
    client = TestClient(create_app(settings))
    page = client.get("/manage/sources").text
    for name in ("feed", "reddit", "forum", "github", "youtube"):
        assert f"Add a {name} source" in page
    assert 'name="subreddit"' in page and 'name="selectors"' in page
    token = csrf(page)
    r = client.post("/manage/sources/test", data={"csrf": token, "name": "blog"})
    assert r.status_code == 200 and "Test fetch of blog" in r.text
    assert "2 entries" in r.text and "Firefox is fast</a>" in r.text and "Second post" in r.text
    r = client.post("/manage/sources/test", data={"csrf": token, "name": "nope"})
    assert r.status_code == 400 and "no source named &#39;nope&#39;" in r.text
    db = store.open_db(settings.db_path)
    assert store.count_posts(db) == 0  # a test fetch stores nothing in the real database
    db.close()
    r = client.post("/manage/sources", data={"csrf": token, "original": "", "type": "reddit", "name": "r1",
                                             "subreddit": "firefox", "enabled": "on", "comments": "on"})
    assert r.status_code == 200, r.text
    source = load_settings(path).source("r1")
    assert (source.type, source.options["subreddit"], source.options["comments"]) == ("reddit", "firefox", True)
    r = client.post("/manage/sources", data={"csrf": token, "original": "", "type": "reddit", "name": "r2",
                                             "enabled": "on"})
    assert r.status_code == 400 and "sources[2].subreddit: required key is missing" in r.text


def test_the_daemon_picks_up_a_new_source_without_a_restart(server, tmp_path, caplog):
    """Daemon.reload_settings (a scheduler job every 30 s) on the test's clock: a source added by the
    CLI gets its collect job; a file that no longer loads is logged and the running settings kept."""
    server.add("/a.atom", atom([]), headers={"Content-Type": "application/atom+xml"})
    path = tmp_path / "settings.toml"
    path.write_text(f'[store]\npath = "d.db"\n[schedule]\ndaily_digest = "off"\nweekly_digest = "off"\n'
                    f'[[sources]]\nname = "a"\nurl = "{server.url("/a.atom")}"\n', encoding="utf-8")
    caplog.set_level("INFO", logger=daemon_module.log.name)
    daemon = daemon_module.Daemon(load_settings(path), clock=lambda: NOW)
    try:
        daemon.schedule(NOW)
        check = daemon.scheduler.get_job(daemon_module.SETTINGS_CHECK)
        assert check.trigger.interval.total_seconds() <= 60
        assert daemon.reload_settings() is False  # unchanged
        assert invoke(path, "sources", "add", "b", "--url", server.url("/b.atom")).exit_code == 0
        assert daemon.reload_settings() is True
        assert daemon.scheduler.get_job("collect:b") is not None and daemon.scheduler.get_job("collect:a")
        assert [s.name for s in daemon.settings.sources] == ["a", "b"]
        assert "settings reloaded" in caplog.text
        path.write_text(path.read_text() + "\n[[sources]]\nname = \"broken\"\n", encoding="utf-8")
        assert daemon.reload_settings() is False
        assert "do not load" in caplog.text and [s.name for s in daemon.settings.sources] == ["a", "b"]
        assert invoke(path, "sources", "remove", "broken").exit_code == 0  # the edit that mends it is taken
        assert daemon.reload_settings() is True and daemon.scheduler.get_job("collect:b") is not None
    finally:
        daemon.db.close()


def test_every_web_change_of_the_settings_is_in_the_audit_log(app_site):
    """Who changed which entry, when, and the entry before and after (None: it did not exist)."""
    from listener import store

    path, client = app_site
    token = csrf(client.get("/manage/products").text)
    client.post("/manage/products", data={"csrf": token, "original": "", "name": "Edge", "aliases": "Edge",
                                          "exclude": ""}, follow_redirects=False)
    client.post("/manage/products/remove", data={"csrf": token, "name": "Edge"}, follow_redirects=False)
    db = store.open_db(load_settings(path).db_path)
    rows = [(r["action"], r["target"], r["before"], r["after"]) for r in reversed(store.audit_rows(db))]
    assert rows[-2:] == [("settings.products.add", "Edge", None, {"name": "Edge", "aliases": ["Edge"]}),
                         ("settings.products.remove", "Edge", {"name": "Edge", "aliases": ["Edge"]}, None)]
