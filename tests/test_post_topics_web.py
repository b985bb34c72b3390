"""An editor sets a post's topics on its page (README: Post page): the form's checkboxes (one per configured
topic), a human label that overrides the model, one ``post.topics`` audit row; a viewer sees the topics but
no form and gets 403; a form post without the CSRF token is refused."""

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
TOPICS = '\n[[topics]]\nname = "Pricing"\nterms = ["price"]\n\n[[topics]]\nname = "Support"\nterms = ["support"]\n'


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    folder = tmp_path_factory.mktemp("topics")
    (folder / "settings.toml").write_text('[store]\npath = "site.db"\n[sentiment]\nmodel = "vader"\n' + PRODUCTS
                                          + TOPICS, encoding="utf-8")
    settings = load_settings(folder / "settings.toml")
    db = store.open_db(settings.db_path)
    store.upsert_posts(db, ON_DAY, now="2026-11-22T23:59:59Z")
    pipeline.classify(db, settings, now=NOW)
    for name, role in (("ed", "editor"), ("vic", "viewer")):
        users.add_user(db, name, role, PASSWORDS[name], by="test", now=STAMP)
    pid = db.execute("SELECT id FROM posts WHERE guid = 'd1'").fetchone()[0]
    db.close()
    return settings, pid


def client(settings) -> TestClient:
    return TestClient(create_app(settings, today=lambda: date(2026, 11, 23), now=lambda: NOW), follow_redirects=False)


def test_an_editor_sets_a_posts_topics_a_viewer_cannot_and_csrf_is_needed(site):
    settings, pid = site
    c = client(settings)
    assert login(c, name="ed", password=PASSWORDS["ed"]).status_code == 303
    page = c.get(f"/posts/{pid}").text
    assert 'class="topic-form"' in page and 'value="Pricing"' in page and 'value="Support"' in page
    csrf = csrf_of(page)
    refused = c.post(f"/posts/{pid}/topics", data={"topic": ["Pricing"]})
    assert refused.status_code == 403 and "CSRF" in refused.text
    r = c.post(f"/posts/{pid}/topics", data={"topic": ["pricing", "Support"], "csrf": csrf})
    assert r.status_code == 303 and r.headers["location"] == f"/posts/{pid}?done=topics#topics", r.text
    page = c.get(r.headers["location"]).text
    assert "Topics saved" in page and 'value="Pricing" checked' in page
    r = c.post(f"/posts/{pid}/topics", data={"topic": ["Nope"], "csrf": csrf})
    assert r.status_code == 400 and "unknown topic" in r.text
    db = store.open_db(settings.db_path)
    try:
        assert [t["topic"] for t in store.get_post(db, pid)["topics"]] == ["Pricing", "Support"]
        row = next(a for a in store.audit_rows(db) if a["action"] == "post.topics")
        assert (row["who"], row["target"], row["before"], row["after"]) == ("ed", f"post {pid}", [],
                                                                            ["Pricing", "Support"])
    finally:
        db.close()

    v = client(settings)
    assert login(v, name="vic", password=PASSWORDS["vic"]).status_code == 303
    page = v.get(f"/posts/{pid}").text
    assert "topic-form" not in page and "Pricing" in page   # sees the topics, no form
    r = v.post(f"/posts/{pid}/topics", data={"topic": ["Pricing"], "csrf": csrf_of(v.get("/login").text)})
    assert r.status_code == 403 and "editor role" in r.text


def test_setting_topics_twice_is_undone_one_change_at_a_time(site):
    settings, _ = site
    c = client(settings)
    assert login(c, name="ed", password=PASSWORDS["ed"]).status_code == 303
    db = store.open_db(settings.db_path)
    pid = db.execute("SELECT id FROM posts WHERE guid = 'd2'").fetchone()[0]
    db.close()
    csrf = csrf_of(c.get(f"/posts/{pid}").text)
    for chosen in (["Pricing"], ["Support"]):
        assert c.post(f"/posts/{pid}/topics", data={"topic": chosen, "csrf": csrf}).status_code == 303
    first, second = c.get(f"/api/posts/{pid}/changes").json()
    assert second["what"] == "topics Pricing → Support" and "undo that one first" in first["why_not"]
    r = c.post(f"/posts/{pid}/changes/{second['id']}/undo", data={"csrf": csrf})
    assert r.status_code == 303, r.text
    db = store.open_db(settings.db_path)
    try:
        assert store.post_label(db, pid, "topics") == ["Pricing"]
        assert [t["topic"] for t in store.get_post(db, pid)["topics"]] == ["Pricing"]
    finally:
        db.close()
    assert c.post(f"/posts/{pid}/changes/{first['id']}/undo", data={"csrf": csrf}).status_code == 303
    db = store.open_db(settings.db_path)
    try:   # no label left: the model's topics again (none match "Acme is terrible")
        assert store.post_label(db, pid, "topics") is None and store.get_post(db, pid)["topics"] == []
    finally:
        db.close()
