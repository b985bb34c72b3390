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
    shown = c.get("/products/Acme", params=RANGE).text
    version = query_version(next(p for p in load_settings(settings.path).products if p.name == "Acme"))
    assert version in shown and "6 post(s) were tagged before the aliases or excludes last changed" in shown

    assert c.post("/manage/retag", data={"product": "Acme"}).status_code == 403   # no CSRF token
    r = c.post("/manage/retag", data={"product": "Acme", "csrf": csrf})
    assert r.status_code == 303 and r.headers["location"] == "/manage/products?done=retag"
    job = finished(c)
    assert job == {**job, "state": "ok", "product": "Acme", "query_version": version, "done": 6, "total": 6}
    assert "Re-tag for Acme" in c.get("/manage/products").text
    assert c.get("/api/products/Acme", params=RANGE).json()["mentions"] == 3   # "Acme release notes" excluded now
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
