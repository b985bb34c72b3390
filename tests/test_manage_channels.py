"""Channels (README: Managing what is tracked): `listener channels`, the /manage/channels page and
/api/manage/channels edit [[channels]] in settings.toml like the other entries: checked by the real
loader, comments kept, secrets only as environment variable names, a channel in use never removed,
admins only, every web change audited."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from listener import store, users
from listener.app.cli import cli
from listener.app.web import create_app
from listener.config import load_settings
from tests.helpers.web import csrf_of

HOOK = "https://hooks.example.org/services/T0/B0/very-secret"
BEFORE = f"""\
[store]
path = "site.db"

[[products]]
name = "Firefox"

# where alerts go
[[channels]]
name = "ops"  # the ops room
type = "slack"
url = "{HOOK}"

[[alerts.rules]]
name = "fx"
product = "Firefox"
channels = ["ops"]
"""


def invoke(path: Path, *args: str):
    return CliRunner().invoke(cli, ["--config", str(path), *args])


def test_the_channels_commands_add_edit_list_and_remove(tmp_path, monkeypatch):
    path = tmp_path / "settings.toml"
    path.write_text(BEFORE, encoding="utf-8")
    monkeypatch.setenv("SMTP_PW", "x")
    monkeypatch.delenv("HOOK_SECRET", raising=False)
    for args in (["channels", "add", "mail", "--type", "email", "--to", "a@example.org", "--password-env", "SMTP_PW"],
                 ["channels", "edit", "mail", "--port", "587", "--security", "starttls"],
                 ["channels", "add", "hook", "--type", "webhook", "--url-env", "HOOK_URL", "--secret-env", "HOOK_SECRET"]):
        r = invoke(path, *args)
        assert r.exit_code == 0, (args, r.output)
    mail = load_settings(path).channels[1]
    assert (mail.to, mail.port, mail.security, mail.password_env) == (("a@example.org",), 587, "starttls", "SMTP_PW")
    assert "# the ops room" in path.read_text() and "# where alerts go" in path.read_text()
    listing = invoke(path, "channels").output
    assert "password_env: $SMTP_PW set" in listing and "secret_env: $HOOK_SECRET NOT SET" in listing
    assert HOOK not in listing and "URL in the settings file" in listing
    before = path.read_text()
    for args, message in ((["channels", "remove", "ops"], "channels[0].name: channel 'ops' is still used by alert "
                                                          "rule 'fx': take it out of them first"),
                          (["channels", "edit", "ops", "--name", "room"], "alerts.rules[0].channels: no channel named 'ops'"),
                          (["channels", "add", "x", "--type", "slack"], "channels[3].url: required for a slack or webhook"),
                          (["channels", "add", "y", "--type", "email"], "channels[3].to: required"),
                          (["channels", "remove", "nope"], "channels: no channel named 'nope'")):
        r = invoke(path, *args)
        assert r.exit_code in (1, 2) and message in r.output and r.output.count("\n") == 1, (args, r.output)
    assert path.read_text() == before
    assert invoke(path, "channels", "remove", "hook").exit_code == 0
    assert [c.name for c in load_settings(path).channels] == ["ops", "mail"]


@pytest.fixture
def site(tmp_path):
    """An open site (no users: the browser is an admin) over BEFORE, and an editor's and an admin's API tokens."""
    path = tmp_path / "settings.toml"
    path.write_text(BEFORE, encoding="utf-8")
    settings = load_settings(path)
    client = TestClient(create_app(settings, today=lambda: date(2026, 11, 23)), follow_redirects=False)
    return path, client


def test_the_page_adds_edits_and_removes_a_channel_and_never_shows_a_secret(site, monkeypatch):
    path, client = site
    monkeypatch.setenv("OPS_SECRET", "s3cret")
    page = client.get("/manage/channels")
    assert page.status_code == 200 and HOOK not in page.text and "URL in the settings file" in page.text
    assert "Add an email channel" in page.text and "Add a webhook channel" in page.text
    token = csrf_of(page.text)
    form = {"csrf": token, "original": "", "type": "webhook", "name": "hook", "url": "", "url_env": "HOOK_URL",
            "secret_env": "OPS_SECRET", "attempts": ""}
    r = client.post("/manage/channels", data=form)
    assert r.status_code == 303 and r.headers["location"] == "/manage/channels?done=saved"
    assert load_settings(path).channels[-1].secret_env == "OPS_SECRET"
    page = client.get("/manage/channels").text
    assert "secret_env: $OPS_SECRET set" in page and "url_env: $HOOK_URL NOT SET" in page
    # editing ops: its URL is not on the form, and a blank URL keeps it
    edit_page = client.get("/manage/channels", params={"edit": "ops"}).text
    assert HOOK not in edit_page and 'value="ops"' in edit_page and "kept as it is" in edit_page
    r = client.post("/manage/channels", data={"csrf": token, "original": "ops", "type": "slack", "name": "ops",
                                              "url": "", "url_env": "", "timeout": "5"})
    assert r.status_code == 303 and load_settings(path).channels[0].url == HOOK
    assert load_settings(path).channels[0].timeout == 5.0 and "# the ops room" in path.read_text()
    # a refused change: the loader's message beside the field, nothing written
    before = path.read_text()
    r = client.post("/manage/channels", data={**form, "name": "bad", "url_env": "", "attempts": "0"})
    assert r.status_code == 400 and "channels[2].attempts: " in r.text and 'class="field invalid"' in r.text
    r = client.post("/manage/channels/remove", data={"csrf": token, "name": "ops"})
    assert r.status_code == 400 and "channel &#39;ops&#39; is still used by alert rule &#39;fx&#39;" in r.text
    assert client.post("/manage/channels/remove", data={"name": "hook"}).status_code == 403  # no CSRF field
    assert path.read_text() == before
    r = client.post("/manage/channels/remove", data={"csrf": token, "name": "hook"})
    assert r.status_code == 303 and [c.name for c in load_settings(path).channels] == ["ops"]
    db = store.open_db(load_settings(path).db_path)
    rows = [(r["action"], r["target"]) for r in reversed(store.audit_rows(db))]
    assert rows == [("settings.channels.add", "hook"), ("settings.channels.edit", "ops"),
                    ("settings.channels.remove", "hook")]
    edited = store.audit_rows(db)[1]
    assert HOOK not in str(edited) and edited["after"]["url"].startswith("(not shown; sha256 ")


def test_the_api_is_for_admins_and_documents_every_status(site):
    path, client = site
    db = store.open_db(load_settings(path).db_path)
    for name, role in (("ed", "editor"), ("ann", "admin")):  # bearer tokens only: no password to hash
        store.add_user(db, name, role, "(no password)", now="2026-11-23T00:00:00Z")
    ed = {"Authorization": f"Bearer {users.issue_token(db, 'ed', by='test', now='2026-11-23T00:00:00Z')}"}
    ann = {"Authorization": f"Bearer {users.issue_token(db, 'ann', by='test', now='2026-11-23T00:00:00Z')}"}
    db.close()
    listed = client.get("/api/manage/channels", headers=ed).json()  # an editor sees them (to pick a rule's)
    assert listed[0]["name"] == "ops" and listed[0]["url_set"] is True and HOOK not in str(listed)
    body = {"name": "mail", "type": "email", "to": ["a@example.org"], "from": "me@example.org", "port": 587}
    assert client.post("/api/manage/channels", json=body, headers=ed).status_code == 403
    assert client.get("/manage/channels", headers=ed).status_code == 200  # the list, without forms
    assert "Add a webhook channel" not in client.get("/manage/channels", headers=ed).text
    r = client.post("/api/manage/channels", json=body, headers=ann)
    assert r.status_code == 201 and r.json()["from"] == "me@example.org" and r.json()["port"] == 587
    r = client.put("/api/manage/channels/ops", json={"name": "ops", "type": "slack", "attempts": 5}, headers=ann)
    assert r.status_code == 200 and r.json()["attempts"] == 5 and r.json()["url_set"] is True  # URL kept
    r = client.post("/api/manage/channels", json={"name": "x", "type": "slack"}, headers=ann)
    assert r.status_code == 400 and r.json()["field"] == "url"
    r = client.delete("/api/manage/channels/ops", headers=ann)
    assert r.status_code == 400 and "still used by alert rule 'fx'" in r.json()["error"]
    assert client.delete("/api/manage/channels/nope", headers=ann).status_code == 404
    assert client.delete("/api/manage/channels/mail", headers=ed).status_code == 403
    assert client.delete("/api/manage/channels/mail", headers=ann).status_code == 204


def test_cli_settings_edits_are_audited_when_the_database_exists(tmp_path, monkeypatch):
    """Who: cli:<OS user>; without a database the edit works and makes none."""
    import getpass

    path = tmp_path / "settings.toml"
    path.write_text(BEFORE, encoding="utf-8")
    assert invoke(path, "topics", "add", "speed", "--term", "slow").exit_code == 0
    db_path = load_settings(path).db_path
    assert not db_path.exists()  # settings edits need no database, and make none
    store.open_db(db_path).close()
    monkeypatch.setattr(getpass, "getuser", lambda: "maria")
    for args in (["products", "add", "Edge"], ["sources", "add", "blog", "--url", "https://example.org/feed"],
                 ["sources", "edit", "blog", "--interval", "2h"], ["alerts", "remove", "fx"],
                 ["channels", "edit", "ops", "--timeout", "5"], ["topics", "remove", "speed"]):
        assert invoke(path, *args).exit_code == 0, args

    def nobody() -> str:
        raise OSError("no passwd entry")

    monkeypatch.setattr(getpass, "getuser", nobody)
    assert invoke(path, "products", "remove", "Edge").exit_code == 0
    assert invoke(path, "products", "remove", "Edge").exit_code != 0  # refused: nothing changed, no row
    db = store.open_db(db_path)
    rows = [(r["who"], r["action"], r["target"]) for r in reversed(store.audit_rows(db))]
    assert rows == [("cli:maria", "settings.products.add", "Edge"), ("cli:maria", "settings.sources.add", "blog"),
                    ("cli:maria", "settings.sources.edit", "blog"), ("cli:maria", "settings.alerts.rules.remove", "fx"),
                    ("cli:maria", "settings.channels.edit", "ops"), ("cli:maria", "settings.topics.remove", "speed"),
                    (f"cli:uid{os.getuid()}", "settings.products.remove", "Edge")]
    assert store.audit_rows(db)[2]["after"]["timeout"] == 5.0 and HOOK not in str(store.audit_rows(db)[2])
