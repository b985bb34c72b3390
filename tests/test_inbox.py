"""The alert inbox and the digest archive (issue 17, README: Alerts and Digests pages): an alert that fired
(``store.record_alert`` as ``check_alerts`` records one) shows on ``/alerts`` and ``GET /api/alerts`` with its
reason, drivers and example posts; an editor marks it seen / handled (form with CSRF, ``PUT
/api/alerts/{id}/status``), audited; a viewer reads but gets 403 on a change; filters validate; a digest
written by ``pipeline.digest`` is listed on ``/digests`` and opened from it; no path leaves ``output_dir``.
A real SQLite store, TestClient, logins through the form."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from fastapi.testclient import TestClient

from listener import pipeline, store, users
from listener.app.web import create_app
from listener.config import load_settings
from tests.helpers.posts import ON_DAY, PRODUCTS
from tests.helpers.web import csrf_of, login

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
STAMP = "2026-11-23T12:00:00Z"
PASSWORDS = {"ed": "ed's password1", "vic": "vic's password"}


def fire(db, post_id: int, *, rule: str, product: str, fired_at: str, reason: str) -> int:
    """An alert as ``reports.alerts.check_alerts`` records one: the reason and the drivers in its detail."""
    drivers = {"terms": [["hate", 2]], "sources": [["fixture", 3]], "authors": [["ann", 3]], "topics": [],
               "examples": [{"post_id": post_id, "title": "<b>Acme</b> is terrible", "url": "https://example.org/d2",
                             "source": "fixture", "posted_at": "2026-11-22T09:00:00Z", "sentiment": -0.8,
                             "excerpt": "Acme is terrible, I hate it"}]}
    return store.record_alert(db, rule=rule, product=product, condition="spike", metric="negative",
                              fired_at=fired_at, window_start="2026-11-22T12:00:00Z", window_end=fired_at,
                              value=3.0, expected=0.5, p=0.01, detail={"reason": reason, "drivers": drivers})


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The digest fixture's posts, two fired alerts (the newer on Bolt), a digest written by ``pipeline.digest``
    into ``digest.output_dir`` beside a file that is not a digest, an editor and a viewer with API tokens."""
    folder = tmp_path_factory.mktemp("inbox")
    (folder / "settings.toml").write_text('[store]\npath = "site.db"\n[sentiment]\nmodel = "vader"\n'
                                          '[digest]\noutput_dir = "out"\n' + PRODUCTS, encoding="utf-8")
    settings = load_settings(folder / "settings.toml")
    db = store.open_db(settings.db_path)
    store.upsert_posts(db, ON_DAY, now="2026-11-22T23:59:59Z")
    pid = db.execute("SELECT id FROM posts WHERE guid = 'd2'").fetchone()[0]
    ids = [fire(db, pid, rule="acme-negative", product="Acme", fired_at="2026-11-22T20:00:00Z",
                reason="negative mentions 3, expected 0.5"),
           fire(db, pid, rule="bolt-spike", product="Bolt", fired_at="2026-11-23T08:00:00Z", reason="a spike")]
    pipeline.digest(db, settings, day=date(2026, 11, 22), now=NOW, send=False)
    (settings.digest.output_dir / "notes.txt").write_text("not a digest", encoding="utf-8")
    (folder / "secret-digest-2026-11-22.html").write_text("outside", encoding="utf-8")
    tokens = {}
    for name, role in (("ed", "editor"), ("vic", "viewer")):
        users.add_user(db, name, role, PASSWORDS[name], by="test", now=STAMP)
        tokens[name] = {"Authorization": f"Bearer {users.issue_token(db, name, by='test', now=STAMP)}"}
    db.close()
    APPS[settings.path] = create_app(settings, today=lambda: date(2026, 11, 23), now=lambda: NOW)
    return settings, tokens, ids, pid


APPS: dict = {}   # one app per settings file: each test's client has its own cookies


def client(settings) -> TestClient:
    return TestClient(APPS[settings.path], follow_redirects=False)


def test_the_api_lists_fired_alerts_newest_first_with_reason_drivers_and_examples(site):
    settings, tokens, (acme, bolt), pid = site
    r = client(settings).get("/api/alerts", headers=tokens["vic"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == 2 and [a["id"] for a in body["alerts"]] == [bolt, acme]
    first = body["alerts"][1]
    assert first["reason"] == "negative mentions 3, expected 0.5" and first["status"] == "new"
    assert first["drivers"]["terms"] == [["hate", 2]] and first["examples"][0]["post_id"] == pid
    assert first["status_by"] is None and first["status_at"] is None


@pytest.mark.parametrize("params, ids", [({"status": "new"}, "both"), ({"rule": "bolt-spike"}, "bolt"),
                                         ({"product": "Acme"}, "acme"), ({"from": "2026-11-23"}, "bolt"),
                                         ({"to": "2026-11-22"}, "acme"), ({"limit": 1, "offset": 1}, "acme")])
def test_the_api_filters(site, params, ids):
    settings, tokens, (acme, bolt), _ = site
    r = client(settings).get("/api/alerts", params=params, headers=tokens["vic"])
    assert r.status_code == 200, r.text
    assert [a["id"] for a in r.json()["alerts"]] == {"both": [bolt, acme], "bolt": [bolt], "acme": [acme]}[ids]


@pytest.mark.parametrize("path", ["/api/alerts", "/alerts"])
@pytest.mark.parametrize("params, field", [({"status": "done"}, "status"), ({"from": "22-11-2026"}, "from"),
                                           ({"to": "2026-13-01"}, "to"), ({"rule": "a\x00b"}, "rule"),
                                           ({"from": "2026-11-23", "to": "2026-11-22"}, "from"),
                                           ({"offset": "9223372036854775808"}, "offset")])
def test_bad_filters_are_one_line_400s(site, path, params, field):
    settings, tokens, _, _ = site
    r = client(settings).get(path, params=params, headers=tokens["vic"])
    assert r.status_code == 400, r.text
    if path.startswith("/api/"):
        assert r.json()["field"] == field and "\n" not in r.json()["error"] and ";" not in r.json()["error"], r.text
    else:
        assert field in r.text and "Traceback" not in r.text


def test_an_editor_marks_an_alert_through_the_api_and_the_audit_log_keeps_it(site):
    settings, tokens, (acme, _), _ = site
    c = client(settings)
    r = c.put(f"/api/alerts/{acme}/status", json={"status": "seen"}, headers=tokens["ed"])
    assert r.status_code == 200 and r.json() == {"id": acme, "status": "seen", "status_by": "ed", "status_at": STAMP}
    assert [a["id"] for a in c.get("/api/alerts?status=seen", headers=tokens["ed"]).json()["alerts"]] == [acme]
    r = c.put(f"/api/alerts/{acme}/status", json={"status": "new"}, headers=tokens["ed"])
    assert r.json() == {"id": acme, "status": "new", "status_by": None, "status_at": None}
    db = store.open_db(settings.db_path)
    row = store.audit_rows(db, limit=1)[0]
    db.close()
    assert (row["who"], row["action"], row["target"]) == ("ed", "alert.status", f"alert {acme} (acme-negative)")
    assert row["before"]["status"] == "seen" and row["after"] == {"status": "new", "status_by": None, "status_at": None}
    for body, start in (({"status": "done"}, "status: Input should be 'new', 'seen' or 'handled'"),
                        ({}, "status: Field required"), ({"status": "seen", "x": 1}, "x: Extra inputs")):
        r = c.put(f"/api/alerts/{acme}/status", json=body, headers=tokens["ed"])
        assert r.status_code == 400 and r.json()["error"].startswith(start), r.text
    assert c.put("/api/alerts/999999/status", json={"status": "seen"}, headers=tokens["ed"]).status_code == 404


def test_a_viewer_reads_the_inbox_but_cannot_change_a_status(site):
    settings, tokens, (acme, _), pid = site
    c = client(settings)
    assert c.put(f"/api/alerts/{acme}/status", json={"status": "handled"}, headers=tokens["vic"]).status_code == 403
    assert login(c, name="vic", password=PASSWORDS["vic"]).status_code == 303
    page = c.get("/alerts")
    assert page.status_code == 200 and "negative mentions 3, expected 0.5" in page.text
    assert f'href="/posts/{pid}"' in page.text and "&lt;b&gt;Acme&lt;/b&gt;" in page.text  # escaped
    assert "hate (2)" in page.text and 'action="/alerts/' not in page.text   # no forms for a viewer
    r = c.post(f"/alerts/{acme}/status", data={"status": "handled", "csrf": c.cookies.get("listener_csrf", "")})
    assert r.status_code == 403


def test_an_editor_marks_an_alert_handled_on_the_page(site):
    settings, _, (_, bolt), _ = site
    c = client(settings)
    assert login(c, name="ed", password=PASSWORDS["ed"]).status_code == 303
    page = c.get("/alerts?product=Bolt")
    assert f'action="/alerts/{bolt}/status"' in page.text
    assert c.post(f"/alerts/{bolt}/status", data={"status": "handled"}).status_code == 403   # no CSRF field
    r = c.post(f"/alerts/{bolt}/status", data={"status": "handled", "csrf": csrf_of(page.text), "back": "?product=Bolt"})
    assert r.status_code == 303 and r.headers["location"] == f"/alerts?product=Bolt&done=handled#alert-{bolt}"
    page = c.get(r.headers["location"])
    assert "handled by ed, 2026-11-23 12:00:00Z" in page.text and "Marked handled" in page.text
    assert "No alert matches these filters" in c.get("/alerts?status=seen").text


def test_the_digest_archive_lists_and_opens_the_digests_written(site):
    settings, tokens, _, _ = site
    c = client(settings)
    page = c.get("/digests", headers=tokens["vic"])
    assert page.status_code == 200 and "digest-2026-11-22" in page.text and "notes.txt" not in page.text
    for name, media in (("digest-2026-11-22.html", "text/html"), ("digest-2026-11-22.md", "text/plain"),
                        ("digest-2026-11-22.json", "application/json"), ("digest-2026-11-22.pdf", "application/pdf")):
        assert f'href="/digests/{name}"' in page.text
        r = c.get(f"/digests/{name}", headers=tokens["vic"])
        assert r.status_code == 200 and r.headers["content-type"].startswith(media), (name, r.headers)
    r = c.get("/digests/digest-2026-11-22.html", headers=tokens["vic"])
    assert "Daily digest for 2026-11-22" in r.text and r.headers["content-security-policy"].startswith("sandbox")
    assert r.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("path", ["/digests/..%2fsettings.toml", "/digests/..%2fsecret-digest-2026-11-22.html",
                                  "/digests/%2e%2e%2fsite.db", "/digests/notes.txt", "/digests/digest-2026-11-23.html",
                                  "/digests/..%5csettings.toml", "/digests/digest-2026-11-22.html%00.txt"])
def test_no_path_leaves_the_digest_folder(site, path):
    settings, tokens, _, _ = site
    r = client(settings).get(path, headers=tokens["vic"])
    assert r.status_code == 404 and "outside" not in r.text and "[store]" not in r.text, r.text


def test_an_alert_recorded_in_an_older_shape_still_shows():
    """Rows fired before drivers were a dict (``{"drivers": ["crash"]}``) show with empty drivers, not a 500."""
    from listener.app.web.routes.inbox import alert_json

    row = alert_json({"id": 1, "detail": {"drivers": ["crash"]}})
    assert row["reason"] == "" and row["examples"] == [] and row["drivers"]["terms"] == []
    row = alert_json({"id": 2, "detail": {"reason": "r", "drivers": {"terms": [["a", 2], "bad", ["b"]],
                                                                     "examples": [{"title": "no id"}]}}})
    assert row["drivers"]["terms"] == [["a", 2]] and row["examples"] == []
