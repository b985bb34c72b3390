"""Work on mentions (issue 17, README: Post page): an editor relabels a mention's sentiment, marks one not
about its product and undoes it, on the post page's forms and through ``/api/posts/{id}/mentions/{product}``;
the product's numbers follow, every change is audited with who and when, a viewer gets 403 and no forms,
CSRF-less form posts are refused, and ``train --with-labels`` reads the relabels. A real SQLite store,
TestClient, logins through the form."""

from __future__ import annotations

import re
from datetime import date, datetime, timezone

import pytest
from fastapi.testclient import TestClient

from listener import pipeline, store, users
from listener.app.web import create_app
from listener.config import load_settings
from tests.helpers.posts import ON_DAY, PRODUCTS, post
from tests.helpers.web import csrf_of, login

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
STAMP = "2026-11-23T12:00:00Z"
RANGE = {"from": "2026-11-22", "to": "2026-11-22"}
PASSWORDS = {"ed": "ed's password1", "vic": "vic's password"}
# posts of the undo tests, each its own (xdist may run any test of this module alone): a day before RANGE,
# so the other tests' numbers stay as they are
OWN = [post("u1", "Bolt is awful and broken again", "2026-11-20T08:00:00Z"),
       post("h1", "Bolt is slow", "2026-11-20T09:00:00Z"),
       post("b1", "Acme is fine", "2026-11-20T10:00:00Z"), post("b2", "Acme works", "2026-11-20T11:00:00Z")]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The digest fixture's posts (Acme 4 mentions on the day: 2 positive, 1 negative, 1 neutral), classified
    by VADER, with an editor and a viewer (each with an API token); the settings and the tokens."""
    folder = tmp_path_factory.mktemp("mentions")
    (folder / "settings.toml").write_text('[store]\npath = "site.db"\n[sentiment]\nmodel = "vader"\n' + PRODUCTS,
                                          encoding="utf-8")
    settings = load_settings(folder / "settings.toml")
    db = store.open_db(settings.db_path)
    store.upsert_posts(db, ON_DAY + OWN, now="2026-11-22T23:59:59Z")
    pipeline.classify(db, settings, now=NOW)
    tokens = {}
    for name, role in (("ed", "editor"), ("vic", "viewer")):
        users.add_user(db, name, role, PASSWORDS[name], by="test", now=STAMP)
        tokens[name] = users.issue_token(db, name, by="test", now=STAMP)
    db.close()
    return settings, tokens


def client(settings) -> TestClient:
    return TestClient(create_app(settings, today=lambda: date(2026, 11, 23), now=lambda: NOW), follow_redirects=False)


def post_id(settings, guid: str) -> int:
    db = store.open_db(settings.db_path)
    try:
        return db.execute("SELECT id FROM posts WHERE guid = ?", [guid]).fetchone()[0]
    finally:
        db.close()


def acme(c: TestClient, headers: dict | None = None) -> dict:
    r = c.get("/api/products/Acme", params=RANGE, headers=headers or {})
    assert r.status_code == 200, r.text
    return {k: r.json()[k] for k in ("mentions", "positive", "neutral", "negative")}


def test_an_editor_relabels_marks_and_undoes_through_the_api_and_the_numbers_follow(site):
    settings, tokens = site
    c, ed = client(settings), {"Authorization": f"Bearer {tokens['ed']}"}
    loved, release = post_id(settings, "d1"), post_id(settings, "d5")
    assert acme(c, ed) == {"mentions": 4, "positive": 2, "neutral": 1, "negative": 1}

    r = c.put(f"/api/posts/{loved}/mentions/acme", json={"sentiment": "negative"}, headers=ed)  # any case
    assert r.status_code == 200, r.text
    assert r.json()["counted"] and r.json()["sentiment_label"] == "negative"
    assert r.json()["labels"]["sentiment"] == {"value": "negative", "by": "ed", "at": STAMP}
    assert acme(c, ed) == {"mentions": 4, "positive": 1, "neutral": 1, "negative": 2}

    r = c.put(f"/api/posts/{release}/mentions/Acme", json={"about": False}, headers=ed)
    assert r.status_code == 200 and not r.json()["counted"], r.text
    assert acme(c, ed) == {"mentions": 3, "positive": 1, "neutral": 0, "negative": 2}  # it left every number
    detail = c.get(f"/api/posts/{release}", headers=ed).json()
    assert detail["marks"]["Acme"]["about"] == {"value": False, "by": "ed", "at": STAMP}

    for pid in (loved, release):   # undo: the model's judgement is back at once
        r = c.delete(f"/api/posts/{pid}/mentions/Acme/label", headers=ed)
        assert r.status_code == 200 and r.json()["counted"], r.text
        assert r.json()["labels"] == {"sentiment": None, "about": None}
    assert acme(c, ed) == {"mentions": 4, "positive": 2, "neutral": 1, "negative": 1}
    assert c.delete(f"/api/posts/{loved}/mentions/Acme/label", headers=ed).status_code == 404  # nothing to undo

    db = store.open_db(settings.db_path)
    audit = [(a["who"], a["action"], a["target"]) for a in reversed(store.audit_rows(db)) if a["action"].startswith("mention.")]
    assert audit == [("ed", "mention.relabel", f"post {loved} / Acme"), ("ed", "mention.not_about", f"post {release} / Acme"),
                     ("ed", "mention.clear", f"post {loved} / Acme"), ("ed", "mention.clear", f"post {release} / Acme")]
    assert store.audit_rows(db, limit=1)[0]["before"] == {"sentiment": None, "about": False}
    db.close()


@pytest.mark.parametrize("body, message", [
    ({"sentiment": "great"}, "sentiment: Input should be 'positive', 'neutral' or 'negative'"),
    ({}, 'give exactly one of "sentiment" and "about"'), ({"sentiment": None}, "sentiment: Input should be"),
    ({"sentiment": "negative", "about": True}, 'give exactly one of "sentiment" and "about"'),
    ({"about": "maybe"}, "about: Input should be a valid boolean"), ({"label": "x"}, "label: Extra inputs")])
def test_a_bad_change_is_one_400_in_the_error_shape(site, body, message):
    settings, tokens = site
    r = client(settings).put(f"/api/posts/{post_id(settings, 'd1')}/mentions/Acme", json=body,
                             headers={"Authorization": f"Bearer {tokens['ed']}"})
    assert r.status_code == 400 and r.json()["error"].startswith(message) and ";" not in r.json()["error"], r.text


def test_unknown_posts_and_products_are_404(site):
    settings, tokens = site
    c, ed = client(settings), {"Authorization": f"Bearer {tokens['ed']}"}
    for url in ("/api/posts/999999/mentions/Acme", f"/api/posts/{post_id(settings, 'd1')}/mentions/Bolt"):
        r = c.put(url, json={"sentiment": "neutral"}, headers=ed)
        assert r.status_code == 404 and set(r.json()) <= {"error", "field"}, r.text


def test_a_viewer_gets_403_everywhere_and_sees_the_labels_but_no_forms(site):
    settings, tokens = site
    c, vic = client(settings), {"Authorization": f"Bearer {tokens['vic']}"}
    pid = post_id(settings, "d2")
    assert c.put(f"/api/posts/{pid}/mentions/Acme", json={"sentiment": "neutral"}, headers=vic).status_code == 403
    assert c.delete(f"/api/posts/{pid}/mentions/Acme/label", headers=vic).status_code == 403
    assert c.put(f"/api/posts/{pid}/mentions/Acme", json={"sentiment": "neutral"}).status_code == 401
    assert login(c, name="vic", password=PASSWORDS["vic"]).status_code == 303
    page = c.get(f"/posts/{pid}")
    assert page.status_code == 200 and "mention-actions" not in page.text
    r = c.post(f"/posts/{pid}/mentions", data={"product": "Acme", "action": "neutral", "csrf": csrf_of(c.get("/login").text)})
    assert r.status_code == 403 and "editor role" in r.text


def test_the_post_page_forms_relabel_mark_and_undo_and_need_the_csrf_token(site):
    settings, _ = site
    c = client(settings)
    assert login(c, name="ed", password=PASSWORDS["ed"]).status_code == 303
    both = post_id(settings, "d3")   # "Acme and Bolt are both great"
    page = c.get(f"/posts/{both}")
    assert page.text.count('class="mention-actions"') == 2 and "undo" not in page.text
    csrf = csrf_of(page.text)
    refused = c.post(f"/posts/{both}/mentions", data={"product": "Bolt", "action": "negative"})
    assert refused.status_code == 403 and "CSRF" in refused.text
    for product, action in (("Bolt", "negative"), ("Acme", "not_about")):
        r = c.post(f"/posts/{both}/mentions", data={"product": product, "action": action, "csrf": csrf})
        assert r.status_code == 303 and r.headers["location"] == f"/posts/{both}?done={action}#mentions", r.text
    page = c.get(f"/posts/{both}?done=not_about").text
    assert 'Human label <span class="badge negative">negative</span> (relabelled by a person: ed, ' + STAMP + ")" in page
    assert "Marked not about this product by a person (ed, " + STAMP + ")" in page and 'id="done"' in page
    assert page.index("Not counted") < page.index("about this product: count it")   # Acme is set apart, with its own buttons
    assert acme(c)["mentions"] == 3
    r = c.post(f"/posts/{both}/mentions", data={"product": "Acme", "action": "clear", "csrf": csrf})
    assert r.status_code == 303 and acme(c)["mentions"] == 4
    r = c.post(f"/posts/{both}/mentions", data={"product": "Acme", "action": "explode", "csrf": csrf})
    assert r.status_code == 400 and "action must be one of" in r.text

    db = store.open_db(settings.db_path)   # train --with-labels reads the relabels with who set them kept
    assert {(m["id"], m["product"], m["label"]) for m in store.labelled_mentions(db)} >= {(both, "Bolt", "negative")}
    assert store.mention_marks(db, both)["Bolt"]["sentiment"]["by"] == "ed"
    db.close()


def test_search_results_link_their_mentions_to_the_post_page(site):
    settings, tokens = site
    r = client(settings).get("/search", params={"q": "Acme"}, headers={"Authorization": f"Bearer {tokens['vic']}"})
    assert r.status_code == 200 and re.search(r'href="/posts/\d+#mentions"', r.text)


def test_bulk_actions_on_search_results_mark_and_relabel_the_selected_mentions(site):
    settings, _ = site
    c = client(settings)
    assert login(c, name="vic", password=PASSWORDS["vic"]).status_code == 303
    page = c.get("/search", params={"q": "Acme"}).text
    assert 'name="post"' not in page and 'action="/search/bulk"' not in page   # a viewer: no bulk form
    r = c.post("/search/bulk", data={"post": "1", "product": "Acme", "action": "neutral",
                                     "csrf": csrf_of(c.get("/login").text)})
    assert r.status_code == 403
    c = client(settings)
    assert login(c, name="ed", password=PASSWORDS["ed"]).status_code == 303
    page = c.get("/search", params={"q": "Acme", "sort": "date"}).text
    assert 'action="/search/bulk"' in page and 'form="bulk"' in page
    csrf, (d1, d5, d6, d2) = csrf_of(page), (post_id(settings, g) for g in ("d1", "d5", "d6", "d2"))
    before = acme(c)["mentions"]
    assert c.post("/search/bulk", data={"post": [d1, d5], "product": "Acme", "action": "not_about"}).status_code == 403
    r = c.post("/search/bulk", data={"post": [d1, d5, d6], "product": "Acme", "action": "not_about", "csrf": csrf,
                                     "back": "/search?q=Acme&sort=date"})
    assert r.status_code == 303 and r.headers["location"] == "/search?q=Acme&sort=date&changed=2&skipped=1"
    assert "2 mention(s) changed, 1 selected post(s) skipped" in c.get(r.headers["location"]).text
    assert acme(c)["mentions"] == before - 2
    r = c.post("/search/bulk", data={"post": [d2], "product": "acme", "action": "positive", "csrf": csrf,
                                     "back": "https://evil.example/"})
    assert r.status_code == 303 and r.headers["location"] == "/search?changed=1&skipped=0"   # never off the site
    r = c.post("/search/bulk", data={"post": [d2], "product": "Acme", "action": "explode", "csrf": csrf})
    assert r.status_code == 400 and "action must be one of" in r.text
    db = store.open_db(settings.db_path)
    try:
        audited = {(a["who"], a["action"], a["target"]) for a in store.audit_rows(db, limit=20)}
        assert {("ed", "mention.not_about", f"post {d1} / Acme"), ("ed", "mention.not_about", f"post {d5} / Acme"),
                ("ed", "mention.relabel", f"post {d2} / Acme")} <= audited
        assert store.mention_marks(db, d2)["Acme"]["sentiment"]["value"] == "positive"
        assert store.mention_marks(db, d2)["Acme"]["sentiment"]["by"] == "ed"
    finally:
        db.close()


def test_each_change_is_undone_by_itself_and_a_superseded_one_is_refused(site):
    from listener import learn

    settings, tokens = site
    c, ed = client(settings), {"Authorization": f"Bearer {tokens['ed']}"}
    awful = post_id(settings, "u1")
    for body in ({"sentiment": "positive"}, {"sentiment": "neutral"}, {"about": False}):
        assert c.put(f"/api/posts/{awful}/mentions/Bolt", json=body, headers=ed).status_code == 200
    history = c.get(f"/api/posts/{awful}/changes", headers=ed).json()
    (first, second, third), ids = history, [h["id"] for h in history]
    assert [h["action"] for h in history] == ["mention.relabel", "mention.relabel", "mention.not_about"]
    assert first["what"] == "sentiment none → positive" and third["what"] == "about none → not about"
    assert not first["undoable"] and f"change {ids[1]} (mention.relabel by ed" in first["why_not"]
    assert second["undoable"] and third["undoable"] and third["who"] == "ed" and third["at"] == STAMP

    r = c.post(f"/api/changes/{ids[0]}/undo", headers=ed)   # superseded: refused, naming the later change
    assert r.status_code == 409 and "undo that one first" in r.json()["error"] and str(ids[1]) in r.json()["error"]
    r = c.post(f"/api/changes/{ids[2]}/undo", headers=ed)   # the not-about mark only: the relabel stays
    assert r.status_code == 200, r.text
    assert r.json()["undone"]["undone_by"] == r.json()["change"]["id"] and r.json()["change"]["undoes"] == ids[2]
    state = c.get(f"/api/posts/{awful}", headers=ed).json()
    assert state["marks"]["Bolt"]["about"] is None and state["marks"]["Bolt"]["sentiment"]["value"] == "neutral"
    assert any(m["product"] == "Bolt" for m in state["products"])   # counted again
    assert "already" in c.post(f"/api/changes/{ids[2]}/undo", headers=ed).json()["error"]

    assert c.post(f"/api/changes/{ids[1]}/undo", headers=ed).status_code == 200   # back to the first relabel, kept as set
    db = store.open_db(settings.db_path)
    try:
        assert store.mention_marks(db, awful)["Bolt"]["sentiment"] == {"value": "positive", "by": "ed", "at": STAMP}
        assert ("Bolt is awful and broken again", "positive") in learn.labelled_texts(db)   # train --with-labels sees it
        other = next(a["id"] for a in store.audit_rows(db) if a["action"] == "user.add")
    finally:
        db.close()
    r = c.post(f"/api/changes/{ids[0]}/undo", headers=ed)   # now the newest: the label is gone, the model's is back
    assert r.status_code == 200 and r.json()["change"]["after"] == {"about": None, "sentiment": None}
    db = store.open_db(settings.db_path)
    try:
        assert not [t for t in learn.labelled_texts(db) if t[0] == "Bolt is awful and broken again"]
    finally:
        db.close()
    undo_row = r.json()["change"]["id"]
    for change, status, words in ((undo_row, 409, "an undo itself"), (other, 409, "only changes to a post's"),
                                  (999999, 404, "no change with id 999999")):
        r = c.post(f"/api/changes/{change}/undo", headers=ed)
        assert r.status_code == status and words in r.json()["error"] and r.json()["field"] == "change_id", r.text
    assert c.post(f"/api/changes/{ids[0]}/undo", headers={"Authorization": f"Bearer {tokens['vic']}"}).status_code == 403
    assert c.get("/api/posts/999999/changes", headers=ed).status_code == 404


def test_the_post_page_shows_the_history_with_an_undo_button_per_change(site):
    settings, tokens = site
    c = client(settings)
    assert login(c, name="ed", password=PASSWORDS["ed"]).status_code == 303
    slow = post_id(settings, "h1")   # "Bolt is slow"
    csrf = csrf_of(c.get(f"/posts/{slow}").text)
    for action in ("negative", "positive"):
        assert c.post(f"/posts/{slow}/mentions", data={"product": "Bolt", "action": action, "csrf": csrf}).status_code == 303
    db = store.open_db(settings.db_path)
    first, newest = (r["id"] for r in store.post_changes(db, slow))
    db.close()
    page = c.get(f"/posts/{slow}").text
    assert 'id="history"' in page and f"#{newest} {STAMP}, ed:</span> mention.relabel <strong>Bolt</strong>" in page
    assert page.count('class="undo-change"') == 1 and f"Cannot be undone: change {newest} (mention.relabel by ed" in page
    assert c.post(f"/posts/{slow}/changes/{newest}/undo").status_code == 403   # no CSRF field
    r = c.post(f"/posts/{slow}/changes/{newest}/undo", data={"csrf": csrf})
    assert r.status_code == 303 and r.headers["location"] == f"/posts/{slow}?done=undone#history"
    page = c.get(r.headers["location"]).text
    assert "Undone: the labels are back" in page and f"Undone by #{newest + 1}" in page and ": undid #" in page
    assert page.count('class="undo-change"') == 1 and f'action="/posts/{slow}/changes/{first}/undo"' in page
    assert c.post(f"/posts/{slow}/changes/{newest}/undo", data={"csrf": csrf}).status_code == 409
    assert c.post(f"/posts/{slow + 1}/changes/{first}/undo", data={"csrf": csrf}).status_code == 404  # not its post
    viewer = client(settings)
    page = viewer.get(f"/posts/{slow}", headers={"Authorization": f"Bearer {tokens['vic']}"}).text
    assert 'id="history"' in page and 'class="undo-change"' not in page   # a viewer sees the history, no buttons


def test_bulk_about_and_bulk_undo_one_audit_row_per_post(site):
    settings, _ = site
    c = client(settings)
    assert login(c, name="ed", password=PASSWORDS["ed"]).status_code == 303
    page = c.get("/search", params={"q": "Acme"}).text
    assert '<option value="about">' in page and '<option value="undo">' in page
    csrf, (b1, b2, d6) = csrf_of(page), (post_id(settings, g) for g in ("b1", "b2", "d6"))
    day = {"from": "2026-11-20", "to": "2026-11-20"}

    def acme_that_day() -> int:
        return c.get("/api/products/Acme", params=day).json()["mentions"]

    def bulk(action: str, *posts: int) -> str:
        r = c.post("/search/bulk", data={"post": list(posts), "product": "Acme", "action": action, "csrf": csrf})
        assert r.status_code == 303, r.text
        return r.headers["location"].split("?", 1)[1]

    assert acme_that_day() == 2
    assert bulk("not_about", b1, b2) == "changed=2&skipped=0" and acme_that_day() == 0
    assert bulk("about", b1, b2) == "changed=2&skipped=0" and acme_that_day() == 2
    assert bulk("undo", b1, b2, d6) == "changed=2&skipped=1" and acme_that_day() == 0   # the about marks
    assert bulk("undo", b1, b2, d6) == "changed=2&skipped=1" and acme_that_day() == 2   # then the not-about ones
    assert bulk("undo", b1, b2, d6) == "changed=0&skipped=3"                           # nothing left to undo
    db = store.open_db(settings.db_path)
    try:
        for p in (b1, b2):   # one audit row per post and change
            assert [(r["action"], r["undone_by"] is not None) for r in store.post_changes(db, p)] == [
                ("mention.not_about", True), ("mention.about", True), ("change.undo", False), ("change.undo", False)]
        assert store.mention_marks(db, b1) == {}
    finally:
        db.close()
