"""Re-tagging after a product's query changed (issue 17, README: Managing what is tracked): saving new
aliases or excludes on /manage/products offers "Re-tag existing posts"; the CSRF form starts a background
``retag`` run whose progress GET /api/manage/retag shows; one at a time; the product page names the query
version and how many posts were tagged before the change, and the numbers follow the new query once
re-tagged. A real SQLite store, TestClient."""

from __future__ import annotations

import time
from datetime import date, datetime, timezone

import pytest
from fastapi.testclient import TestClient

from listener import pipeline, store
from listener.app.web import create_app
from listener.app.web import retag
from listener.config import load_settings
from reports.digest import query_version
from tests.helpers.posts import ON_DAY, PRODUCTS
from tests.helpers.web import csrf_of

EARLIER = datetime(2026, 11, 22, 23, 59, 59, tzinfo=timezone.utc)
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
RANGE = {"from": "2026-11-22", "to": "2026-11-22"}


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    """The digest fixture's posts (Acme: 4 mentions on the day, one of them "Acme release notes for version 3"), classified
    by VADER the day before; an open app (no users: the local editor)."""
    folder = tmp_path_factory.mktemp("retag")
    (folder / "settings.toml").write_text('[store]\npath = "site.db"\n[sentiment]\nmodel = "vader"\n' + PRODUCTS,
                                          encoding="utf-8")
    settings = load_settings(folder / "settings.toml")
    db = store.open_db(settings.db_path)
    store.upsert_posts(db, ON_DAY, now="2026-11-22T23:59:59Z")
    pipeline.classify(db, settings, now=EARLIER)
    db.close()
    return settings


def client(settings) -> TestClient:
    return TestClient(create_app(settings, today=lambda: date(2026, 11, 23), now=lambda: NOW), follow_redirects=False)


def finished(c: TestClient) -> dict:
    for _ in range(1000):   # "none" until the thread has recorded its run (a loaded machine may take a while)
        job = c.get("/api/manage/retag").json()
        if job["state"] not in ("none", "running"):
            return job
        time.sleep(0.02)
    raise AssertionError("the re-tag did not finish")


def test_changing_excludes_offers_a_retag_that_runs_in_the_background_and_the_numbers_follow(settings):
    c = client(settings)
    assert c.get("/api/manage/retag").json()["state"] == "none"
    page = c.get("/manage/products")
    csrf = csrf_of(page.text)
    assert "Re-tag existing posts" not in page.text
    # an edit that leaves the query alone offers nothing
    r = c.post("/manage/products", data={"original": "Bolt", "name": "Bolt", "csrf": csrf})
    assert r.status_code == 303 and "retag" not in r.headers["location"]
    r = c.post("/manage/products", data={"original": "Acme", "name": "Acme", "exclude": "Acme release notes",
                                         "ours": "on", "csrf": csrf})
    assert r.status_code == 303 and r.headers["location"] == "/manage/products?done=saved&retag=Acme"
    offer = c.get(r.headers["location"]).text
    assert 'action="/manage/retag"' in offer and "Re-tag existing posts" in offer
    acme = c.get("/api/products/Acme", params=RANGE).json()
    assert acme["mentions"] == 4   # still tagged with the old query
    old = query_version(next(p for p in settings.products if p.name == "Acme"))
    shown = c.get("/products/Acme", params=RANGE).text
    version = query_version(next(p for p in load_settings(settings.path).products if p.name == "Acme"))
    assert version in shown and "6 post(s) were tagged before the aliases or excludes last changed" in shown
    assert acme["query"] == {"current": version, "computed_with": old, "changed_at": "2026-11-23T12:00:00Z",
                             "tagged_before_change": 6} and old != version

    assert c.post("/manage/retag", data={"product": "Acme"}).status_code == 403   # no CSRF token
    r = c.post("/manage/retag", data={"product": "Acme", "csrf": csrf})
    assert r.status_code == 303 and r.headers["location"] == "/manage/products?done=retag"
    job = finished(c)
    # only the 4 posts holding "Acme" (d1, d2, d3, d5), not "Bolt is awful" nor the one about nothing
    assert job == {**job, "state": "ok", "product": "Acme", "query_version": version, "scope": "affected",
                   "done": 4, "total": 4}
    assert "4 of 4 posts the change affects" in c.get("/manage/products").text
    acme = c.get("/api/products/Acme", params=RANGE).json()
    assert acme["mentions"] == 3   # "Acme release notes" excluded now
    assert acme["query"] == {"current": version, "computed_with": version, "changed_at": None, "tagged_before_change": 0}
    assert c.get("/api/products/Acme/retag").json() == job
    shown = c.get("/products/Acme", params=RANGE).text
    assert version in shown and "were tagged before" not in shown


def test_one_retag_at_a_time_and_unknown_products_are_refused(settings):
    c = client(settings)
    csrf = csrf_of(c.get("/manage/products").text)
    assert retag._lock.acquire(blocking=False)   # as if one were running
    try:
        r = c.post("/manage/retag", data={"product": "Acme", "csrf": csrf})
        assert r.status_code == 409 and "already running" in r.text
    finally:
        retag._lock.release()
    r = c.post("/manage/retag", data={"product": "<Nope>", "csrf": csrf})
    assert r.status_code == 404 and "no product named" in r.text and "<Nope>" not in r.text


def test_the_json_retag_endpoints_start_follow_and_refuse(settings):
    c = client(settings)
    assert c.get("/api/products/Bolt/retag").json()["state"] == "none"
    r = c.post("/api/products/Bolt/retag")
    assert r.status_code == 202 and r.json()["product"] == "Bolt" and r.json()["id"] and r.json()["total"] == 2, r.text
    for _ in range(1000):
        job = c.get("/api/products/Bolt/retag").json()
        if job["state"] != "running":
            break
        time.sleep(0.02)
    assert job == {**r.json(), "state": "ok", "done": 2, "finished_at": job["finished_at"]}
    db = store.open_db(settings.db_path)
    after = dict(db.execute("SELECT guid, classified_at FROM posts").fetchall())
    db.close()
    # d4 ("Bolt is awful") re-tagged now; d6 (about nothing) never was: still as classified the day before
    assert after["d4"] == "2026-11-23T12:00:00Z" and after["d6"] == "2026-11-22T23:59:59Z"
    assert retag._lock.acquire(blocking=False)   # as if one were running
    try:
        r = c.post("/api/products/Bolt/retag")
        assert r.status_code == 409 and "already running" in r.json()["error"]
    finally:
        retag._lock.release()
    for method in ("get", "post"):
        r = getattr(c, method)("/api/products/Nope/retag")
        assert r.status_code == 404 and r.json()["field"] == "name", r.text


def test_affected_posts_are_those_holding_an_old_or_new_alias_or_tagged_now(settings):
    db = store.open_db(settings.db_path)
    try:
        ids = dict(db.execute("SELECT guid, id FROM posts").fetchall())
        assert store.posts_matching_phrases(db, ["acme", "BOLT"]) == sorted(ids[g] for g in ("d1", "d2", "d3", "d4", "d5"))
        assert store.posts_matching_phrases(db, ["nothing about"]) == [ids["d6"]]
        assert store.posts_matching_phrases(db, ["++"]) is None   # no word the index keeps: no narrowing
        assert store.tagged_posts(db, ["Bolt"]) == sorted([ids["d3"], ids["d4"]])
        # Acme (not configured in this call) is stale: its posts (d5 too unless the first test excluded it)
        stale = set(store.tagged_posts(db, [], known=["Bolt"]))
        assert {ids[g] for g in ("d1", "d2", "d3")} <= stale <= {ids[g] for g in ("d1", "d2", "d3", "d5")}
    finally:
        db.close()
