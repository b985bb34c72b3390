"""Saved searches on the web (README: Web UI, "Saved searches"): an editor saves the search page's search
(with its filters), renames and deletes it on /saved, each with its audit row; a viewer sees the list but
no forms and gets 403 on a write; form posts without the CSRF field are refused; ``PUT
/api/saved-searches/{name}`` renames (200/400/404); a saved search an alert rule watches is neither renamed
nor deleted; the /manage/alerts form comes prefilled from the "Add an alert rule" link."""

from __future__ import annotations

from datetime import date, datetime, timezone
from urllib.parse import quote

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from listener import store, users
from listener.app.cli import cli
from listener.app.web import create_app
from listener.config import load_settings
from tests.helpers.posts import make_posts
from tests.helpers.web import csrf_of, login

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
SETTINGS = """\
[store]
path = "saved.db"

[[products]]
name = "Firefox"
aliases = ["Firefox"]
ours = true

[[alerts.rules]]
name = "watching-crashes"
saved = "crashes"
condition = "new_mention"
"""
PASSWORDS = {"ed": "ed's password1", "vic": "vic's password"}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A store of 60 posts with an editor (ed) and a viewer (vic); the settings' alert rule watches the
    saved search "crashes"; and a logged-in client for each."""
    folder = tmp_path_factory.mktemp("saved")
    (folder / "settings.toml").write_text(SETTINGS, encoding="utf-8")
    settings = load_settings(folder / "settings.toml")
    db = store.open_db(settings.db_path)
    store.upsert_posts(db, make_posts(), now="2026-11-23T00:00:00Z")
    for name, role in (("ed", "editor"), ("vic", "viewer")):
        users.add_user(db, name, role, PASSWORDS[name], by="test", now="2026-11-23T00:00:00Z")
    store.save_search(db, "crashes", "crash*", owner="ed", now="2026-11-23T00:00:00Z")
    db.close()
    clients = {}
    for name in PASSWORDS:
        c = TestClient(create_app(settings, today=lambda: date(2026, 11, 23), now=lambda: NOW), follow_redirects=False)
        assert login(c, name=name, password=PASSWORDS[name]).status_code == 303
        clients[name] = c
    return settings, clients


def audit(settings) -> list[tuple]:
    db = store.open_db(settings.db_path)
    try:
        return [(r["who"], r["action"], r["target"], r["before"], r["after"]) for r in store.audit_rows(db, limit=5)]
    finally:
        db.close()


def test_an_editor_saves_from_the_search_page_renames_and_deletes(site):
    settings, clients = site
    ed = clients["ed"]
    page = ed.get("/search", params={"q": "firefox OR chrome", "source": "hn", "since": "2026-11-01"})
    assert page.status_code == 200 and 'action="/saved"' in page.text and "Save this search as" in page.text
    form = {"csrf": csrf_of(page.text), "q": "firefox OR chrome", "source": "hn", "since": "2026-11-01",
            "name": "  negative browsers "}
    r = ed.post("/saved", data=form)
    assert (r.status_code, r.headers["location"]) == (303, "/saved?done=saved")
    listing = ed.get("/saved").text
    query = "(firefox OR chrome) source:hn published:[2026-11-01 TO *]"  # the filters are in the query
    assert "negative browsers" in listing and query in listing and "saved by ed" in listing
    assert f'href="/search?q={quote(query, safe="").replace("%20", "+")}"' in listing  # Run
    assert "listener digest --search &#39;negative browsers&#39;" in listing
    assert 'href="/manage/alerts?saved=negative+browsers"' in listing
    assert audit(settings)[0] == ("ed", "saved_search.save", "negative browsers", None,
                                  {"query": query, "owner": "ed"})
    # the saved query finds what the page with its filter boxes found
    by_boxes = ed.get("/api/search", params={"q": "firefox OR chrome", "source": "hn", "since": "2026-11-01"})
    by_saved = ed.get("/api/search", params={"q": query})
    assert by_boxes.json()["total"] > 0 and [h["id"] for h in by_saved.json()["hits"]] == [
        h["id"] for h in by_boxes.json()["hits"]]

    csrf = csrf_of(listing)
    r = ed.post("/saved/rename", data={"csrf": csrf, "original": "negative browsers", "name": "grumbles"})
    assert (r.status_code, r.headers["location"]) == (303, "/saved?done=renamed")
    listing = ed.get("/saved?done=renamed").text
    assert "Renamed." in listing and "grumbles" in listing and "negative browsers" not in listing
    assert audit(settings)[0] == ("ed", "saved_search.rename", "negative browsers", {"name": "negative browsers"},
                                  {"name": "grumbles"})

    taken = ed.post("/saved/rename", data={"csrf": csrf, "original": "grumbles", "name": "crashes"})
    assert taken.status_code == 400 and "a saved search named &#39;crashes&#39; exists already" in taken.text
    bad = ed.post("/saved", data={"csrf": csrf, "q": "firefox AND (", "name": "broken"})
    assert bad.status_code == 400 and 'id="saved-error"' in bad.text and "broken" not in ed.get("/saved").text

    r = ed.post("/saved/delete", data={"csrf": csrf, "name": "grumbles"})
    assert (r.status_code, r.headers["location"]) == (303, "/saved?done=deleted")
    assert "grumbles" not in ed.get("/saved").text
    assert audit(settings)[0] == ("ed", "saved_search.delete", "grumbles", {"query": query, "owner": "ed"}, None)
    gone = ed.post("/saved/delete", data={"csrf": csrf, "name": "grumbles"})
    assert gone.status_code == 404 and "no saved search named &#39;grumbles&#39;" in gone.text


def test_a_search_an_alert_rule_watches_is_kept_and_the_rule_is_named(site):
    settings, clients = site
    ed = clients["ed"]
    listing = ed.get("/saved").text
    assert 'href="/manage/alerts?edit=watching-crashes"' in listing  # "Alert rules watching it"
    csrf = csrf_of(listing)
    for path, data in (("/saved/rename", {"original": "crashes", "name": "crash talk"}),
                       ("/saved/delete", {"name": "crashes"})):
        r = ed.post(path, data={"csrf": csrf, **data})
        assert r.status_code == 400 and "alert rule(s) watching-crashes watch it" in r.text, path
    assert ed.put("/api/saved-searches/crashes", json={"name": "crash talk"}).json()["field"] == "name"
    assert ed.delete("/api/saved-searches/crashes").status_code == 400
    r = CliRunner().invoke(cli, ["--config", str(settings.path), "saved", "remove", "crashes"])
    assert r.exit_code == 2 and "alert rule(s) watching-crashes watch it" in r.output, r.output
    # the link on /saved opens the alert form watching the search
    form = ed.get("/manage/alerts", params={"saved": "crashes"}).text
    assert 'name="saved" value="crashes"' in form and 'name="name" value="crashes"' in form
    r = ed.post("/manage/alerts", data={"csrf": csrf_of(form), "original": "", "name": "crash-spike",
                                        "saved": "crashes", "condition": "spike", "metric": "volume"})
    assert (r.status_code, r.headers["location"]) == (303, "/manage/alerts?done=saved"), r.text
    assert "watching-crashes</a>, <a href=\"/manage/alerts?edit=crash-spike\">crash-spike" in ed.get("/saved").text


def test_a_viewer_reads_the_list_but_every_write_is_refused(site):
    settings, clients = site
    vic = clients["vic"]
    listing = vic.get("/saved")
    assert listing.status_code == 200 and "crashes" in listing.text and "crash*" in listing.text
    assert "<form" not in listing.text and "Add an alert rule" not in listing.text  # no forms for a viewer
    assert 'action="/saved"' not in vic.get("/search?q=firefox").text
    csrf = vic.cookies.get("listener_csrf") or csrf_of(clients["ed"].get("/saved").text)
    for path, data in (("/saved", {"name": "mine", "q": "firefox"}), ("/saved/rename", {"original": "crashes",
                       "name": "x"}), ("/saved/delete", {"name": "crashes"})):
        r = vic.post(path, data={"csrf": csrf, **data})
        assert r.status_code == 403, path
    assert vic.put("/api/saved-searches/crashes", json={"name": "x"}).json() == {
        "error": "this needs the editor role: vic is a viewer"}
    assert [s["name"] for s in vic.get("/api/saved-searches").json()] == ["crashes"]


def test_form_posts_without_the_csrf_field_are_refused(site):
    settings, clients = site
    ed = clients["ed"]
    before = len(audit(settings))
    for path, data in (("/saved", {"name": "mine", "q": "firefox"}), ("/saved/rename", {"original": "crashes",
                       "name": "x"}), ("/saved/delete", {"name": "crashes"})):
        r = ed.post(path, data=data)
        assert r.status_code == 403 and "CSRF" in r.text, path
        assert ed.post(path, data={**data, "csrf": "forged"}).status_code == 403
    assert len(audit(settings)) == before and "crashes" in ed.get("/saved").text


def test_the_api_renames_a_saved_search(site):
    settings, clients = site
    ed = clients["ed"]
    assert ed.post("/api/saved-searches", json={"name": "fx", "query": "firefox"}).status_code == 201
    r = ed.put("/api/saved-searches/fx", json={"name": "firefox talk"})
    assert r.status_code == 200 and (r.json()["name"], r.json()["query"], r.json()["owner"]) == (
        "firefox talk", "firefox", "ed")
    assert audit(settings)[0][:3] == ("ed", "saved_search.rename", "fx")
    assert ed.put("/api/saved-searches/firefox%20talk", json={"name": "firefox talk"}).status_code == 200  # no change
    assert ed.put("/api/saved-searches/fx", json={"name": "y"}).json() == {"error": "no saved search named 'fx'"}
    assert ed.put("/api/saved-searches/fx", json={"name": "y"}).status_code == 404
    for body, message in (({"name": "crashes"}, "a saved search named 'crashes' exists already"),
                          ({"name": "   "}, "a saved search needs a name"),
                          ({"name": ""}, "name"), ({}, "name"), ({"name": "a\x00b"}, "name")):
        r = ed.put("/api/saved-searches/firefox%20talk", json=body)
        assert r.status_code == 400 and message in r.json()["error"] + r.json().get("field", ""), (body, r.text)
    assert ed.delete("/api/saved-searches/firefox%20talk").status_code == 204


def test_the_rename_is_documented_with_every_status(site):
    settings, clients = site
    doc = clients["vic"].get("/api/openapi.json").json()
    put = doc["paths"]["/api/saved-searches/{name}"]["put"]
    assert {"200", "400", "401", "403", "404", "500"} <= set(put["responses"])
    assert "alert rule" in put["responses"]["400"]["description"]
    assert "alert rule" in doc["paths"]["/api/saved-searches/{name}"]["delete"]["responses"]["400"]["description"]
