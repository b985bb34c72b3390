"""Every per-product number reads the mention's own sentiment, not the post's: digest, overview,
alerts, search, API and exports, on hand-checked comparative posts classified by the shipped model.

Hand-checked (what each post says about each product; the post's own label in brackets):

    c1 "Firefox crashes all the time. Still better than Chrome though."   Firefox -, Chrome -   [post +]
    c2 "Switched from Chrome to Firefox, love it"                          Firefox +, Chrome -   [post +]
    c3 "Chrome is so much faster than Firefox, great job Google"           Firefox -, Chrome +   [post +]
    c4 "Firefox is wonderful. I love the new tab page"                     Firefox +             [post +]
    c5 "Chrome keeps eating my memory, terrible browser"                   Chrome -              [post -]
    c6 "Why does Firefox crash every time I open a PDF? Any fix?"          Firefox -             [post -]
    c7 "Ditched Chrome for Firefox last week. No regrets."                 Firefox +, Chrome -   [post +]
    c8 "Nothing about browsers here, just a terrible day"                  no product            [post -]

Firefox: 3 positive, 3 negative, net 0 (post labels would say 5 / 1, net +67).
Chrome: 1 positive, 4 negative, net -60 (post labels would say 4 / 1, net +60).
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from listener import pipeline, search, store
from listener.app.web import create_app
from listener.config import load_settings
from reports.alerts import check_alerts
from reports.digest import NOT_COMPUTED_NOTICE, build_digest
from reports.overview import overviews
from reports.pdf import render_pdf
from reports.render import render_html, render_markdown
from tests.helpers.posts import post

NOW = datetime(2026, 11, 23, 6, 0, tzinfo=timezone.utc)
DAY = date(2026, 11, 22)
TEXTS = {
    "c1": "Firefox crashes all the time. Still better than Chrome though.",
    "c2": "Switched from Chrome to Firefox, love it",
    "c3": "Chrome is so much faster than Firefox, great job Google",
    "c4": "Firefox is wonderful. I love the new tab page",
    "c5": "Chrome keeps eating my memory, terrible browser",
    "c6": "Why does Firefox crash every time I open a PDF? Any fix?",
    "c7": "Ditched Chrome for Firefox last week. No regrets.",
    "c8": "Nothing about browsers here, just a terrible day",
}
SETTINGS = """
[store]
path = "m.db"

[digest]
output_dir = "out"

[sentiment]
model = "trained"

[[products]]
name = "Firefox"
ours = true

[[products]]
name = "Chrome"

[[topics]]
name = "stability"
terms = ["crash*"]

[[alerts.rules]]
name = "chrome-negative"
product = "Chrome"
condition = "threshold"
metric = "negative_share"
threshold = 0.7

[[alerts.rules]]
name = "firefox-negative"
product = "Firefox"
condition = "threshold"
metric = "negative_share"
threshold = 0.6
"""


@pytest.fixture(scope="module")
def classified(tmp_path_factory) -> Path:
    """The comparative posts stored and classified by the shipped model, on a real SQLite file."""
    folder = tmp_path_factory.mktemp("mentions")
    (folder / "settings.toml").write_text(SETTINGS, encoding="utf-8")
    settings = load_settings(folder / "settings.toml")
    db = store.open_db(settings.db_path)
    posts = [post(g, text, f"2026-11-22T{8 + i:02d}:00:00Z") for i, (g, text) in enumerate(TEXTS.items())]
    store.upsert_posts(db, posts, now="2026-11-23T05:00:00Z")
    pipeline.classify(db, settings, now=NOW)
    db.close()
    return folder


def open_copy(classified: Path, to: Path):
    """A copy of the classified folder (each test may change its database): (db, settings, guid of id)."""
    folder = Path(shutil.copytree(classified, to / "site"))
    settings = load_settings(folder / "settings.toml")
    db = store.open_db(settings.db_path)
    return db, settings, dict(db.execute("SELECT id, guid FROM posts").fetchall())


def forget_mention_sentiment(db) -> None:
    """The database as migration 0009 leaves one classified before it: mentions without sentiment."""
    db.execute("UPDATE mentions SET sentiment = NULL, sentiment_label = NULL, confidence = NULL, span = NULL, "
               "basis = NULL")
    db.conn.commit()


def test_the_classifier_judges_each_mention_as_checked_by_hand(classified, tmp_path):
    db, _, guid = open_copy(classified, tmp_path)
    got = {(guid[pid], product): label for pid, product, label in
           db.execute("SELECT post_id, product, sentiment_label FROM mentions")}
    assert got == {("c1", "Firefox"): "negative", ("c1", "Chrome"): "negative",
                   ("c2", "Firefox"): "positive", ("c2", "Chrome"): "negative",
                   ("c3", "Firefox"): "negative", ("c3", "Chrome"): "positive",
                   ("c4", "Firefox"): "positive", ("c5", "Chrome"): "negative",
                   ("c6", "Firefox"): "negative", ("c7", "Firefox"): "positive", ("c7", "Chrome"): "negative"}
    posts = dict(db.execute("SELECT guid, sentiment_label FROM posts").fetchall())
    assert [g for g, label in sorted(posts.items()) if label == "negative"] == ["c5", "c6", "c8"]


def test_digest_counts_each_products_mentions_by_their_own_sentiment(classified, tmp_path):
    db, settings, guid = open_copy(classified, tmp_path)
    d = build_digest(db, settings, day=DAY, now=NOW)
    firefox, chrome = d.products
    assert (firefox.mentions, firefox.positive, firefox.neutral, firefox.negative) == (6, 3, 0, 3)
    assert (chrome.mentions, chrome.positive, chrome.neutral, chrome.negative) == (5, 1, 0, 4)
    assert firefox.net_sentiment == 0.0 and chrome.net_sentiment == -60.0
    assert firefox.not_computed == chrome.not_computed == 0 and d.notice is None
    # strongest first (the mention's score), ties newest first; digest.top_mentions = 3
    assert [guid[m.post_id] for m in chrome.top_negative] == ["c5", "c7", "c2"]
    assert [guid[m.post_id] for m in chrome.top_positive] == ["c3"]
    assert chrome.top_negative[0].span == TEXTS["c5"]
    assert [guid[m.post_id] for m in firefox.top_negative] == ["c6", "c3", "c1"]
    assert [guid[m.post_id] for m in firefox.top_positive][-1] != "c1"  # a complaint about Firefox is not praise
    assert all(m.sentiment < 0 for m in chrome.top_negative + firefox.top_negative)
    # asking (first) or complaining, whatever the sentiment; the most engaged, then the newest
    assert [guid[m.post_id] for m in chrome.needs_response] == ["c5", "c1"]
    assert [guid[m.post_id] for m in firefox.needs_response] == ["c6", "c1"]
    topics = {p.name: [(t.topic, t.positive, t.negative, t.mentions) for t in p.topics] for p in d.products}
    assert topics == {"Firefox": [("stability", 0, 2, 2)], "Chrome": [("stability", 0, 1, 1)]}
    assert firefox.series[-1].net_sentiment == 0.0 and chrome.series[-1].net_sentiment == -60.0
    md = render_markdown(d)
    assert 'judged on "Still better than Chrome though."' in md  # c1, among Chrome's needing a response
    assert "| Chrome | competitor | 5 |" in md and "| -60 | 1 | 0 | 4 |" in md and "not computed" not in md
    assert d.total_posts == 8  # the post about no product still counts among all posts


def test_overview_and_product_api_read_mention_sentiment(classified, tmp_path):
    db, settings, guid = open_copy(classified, tmp_path)
    items = {o.name: o for o in overviews(db, settings, end=DAY, days=30, detail="Chrome")}
    chrome, firefox = items["Chrome"], items["Firefox"]
    assert (chrome.positive, chrome.neutral, chrome.negative, chrome.net_sentiment) == (1, 0, 4, -60.0)
    assert (firefox.positive, firefox.negative, firefox.net_sentiment) == (3, 3, 0.0)
    assert chrome.days[-1].net_sentiment == -60.0 and chrome.notice is None
    assert chrome.topics == [{"topic": "stability", "n": 1, "sentiment": pytest.approx(-0.6, abs=0.01)}]
    labels = {guid[m["id"]]: m["sentiment_label"] for m in chrome.top_engaged}
    assert labels == {"c1": "negative", "c2": "negative", "c3": "positive", "c5": "negative", "c7": "negative"}
    db.close()
    client = TestClient(create_app(settings, today=lambda: date(2026, 11, 23)))
    body = client.get("/api/products/Chrome").json()
    assert (body["positive"], body["negative"], body["net_sentiment"], body["notice"]) == (1, 4, -60.0, None)
    stats = client.get("/api/stats").json()
    assert stats["product_sentiment"] == {"Chrome": {"negative": 4, "positive": 1},
                                          "Firefox": {"negative": 3, "positive": 3}}
    assert stats["notice"] is None
    page = client.get("/products/Chrome").text
    assert "1 positive, 0 neutral, 4 negative" in page


def test_negative_share_alert_is_of_mentions_negative_about_the_product(classified, tmp_path):
    db, settings, _ = open_copy(classified, tmp_path)
    out = {o.rule: o for o in check_alerts(db, settings, now=NOW, send=False)}
    # post labels would give Chrome 1 of 5 and Firefox 1 of 6
    assert out["chrome-negative"].fired
    assert out["chrome-negative"].reason == "negative share 80% of 5 mentions (threshold 70%)"
    assert not out["firefox-negative"].fired
    assert out["firefox-negative"].reason == "negative share 50% of 6 mentions (threshold 60%)"
    examples = out["chrome-negative"].drivers.examples
    assert examples[0]["excerpt"] == TEXTS["c5"] and all(e["sentiment"] < 0 for e in examples)


def test_search_product_and_sentiment_means_sentiment_about_that_product(classified, tmp_path):
    db, _, guid = open_copy(classified, tmp_path)

    def found(query: str, **filters) -> list[str]:
        plan = search.prepare(db, query, filters=search.Filters(**filters) if filters else None, sort="date")
        return sorted(guid[h.id] for h in search.search(db, plan, limit=100).hits)

    assert found("product:Chrome sentiment:negative") == ["c1", "c2", "c5", "c7"]
    assert found("product:Firefox sentiment:negative") == ["c1", "c3", "c6"]
    assert found("product:Firefox sentiment:positive") == ["c2", "c4", "c7"]
    assert found("", product="Chrome", sentiment="positive") == ["c3"]  # the page's filter boxes pair too
    assert found("product:Chrome -sentiment:negative") == ["c3"]
    assert found("(product:Firefox OR product:Chrome) sentiment:positive") == ["c2", "c3", "c4", "c7"]
    assert found("product:Firefox product:Chrome sentiment:negative") == ["c1"]
    assert found("sentiment:negative") == ["c5", "c6", "c8"]  # no product: the post's own label
    assert found("product:Chrome OR sentiment:negative") == ["c1", "c2", "c3", "c5", "c6", "c7", "c8"]
    plan = search.prepare(db, "product:Chrome sentiment:negative")
    assert plan.fts_only  # still one FTS5 MATCH


def test_api_search_and_exports_carry_each_products_own_sentiment(classified, tmp_path):
    db, settings, guid = open_copy(classified, tmp_path)
    c1 = next(pid for pid, g in guid.items() if g == "c1")
    db.close()
    client = TestClient(create_app(settings, today=lambda: date(2026, 11, 23)))
    hits = client.get("/api/search", params={"q": "product:Chrome sentiment:negative", "sort": "date"}).json()["hits"]
    hit = next(h for h in hits if h["id"] == c1)
    assert client.get("/api/search", params={"q": "product:Chrome sentiment:negative"}).json()["notice"] is None
    assert [(m["product"], m["sentiment_label"]) for m in hit["products"]] == [("Chrome", "negative"),
                                                                               ("Firefox", "negative")]
    assert hit["sentiment_label"] == "positive" and hit["products"][0]["confidence"] is not None
    rows = list(csv.DictReader(io.StringIO(client.get("/search.csv", params={"q": "crash*", "sort": "date"}).text)))
    assert {r["text"]: r["product_sentiment"] for r in rows} == {TEXTS["c1"]: "Chrome:negative;Firefox:negative",
                                                                  TEXTS["c6"]: "Firefox:negative"}
    db = store.open_db(settings.db_path)
    plan = search.prepare(db, "switched", sort="date")
    [obj] = json.loads("".join(search.json_chunks(search.iter_results(db, plan))))
    assert [(p["product"], p["sentiment_label"]) for p in obj["products"]] == [("Chrome", "negative"),
                                                                               ("Firefox", "positive")]
    assert set(obj["products"][0]) == {"product", "sentiment", "sentiment_label", "confidence"}
    assert obj["products"][0]["sentiment"] < 0 < obj["products"][1]["sentiment"]


def test_an_unclassified_database_says_per_product_sentiment_is_not_computed(classified, tmp_path):
    """Mentions without sentiment (classified before 0009): counted in volume, not in sentiment,
    and every report says so in one line instead of showing the posts' labels."""
    db, settings, _ = open_copy(classified, tmp_path)
    forget_mention_sentiment(db)
    d = build_digest(db, settings, day=DAY, now=NOW)
    firefox, chrome = d.products
    assert (chrome.mentions, chrome.positive, chrome.neutral, chrome.negative, chrome.not_computed) == (5, 0, 0, 0, 5)
    assert chrome.net_sentiment is None and chrome.top_negative == [] and chrome.top_positive == []
    assert [m.post_id for m in chrome.needs_response] == [5, 1]  # a question or complaint, whatever its mood
    assert chrome.share_of_voice == 5 / 11
    assert d.notice == NOT_COMPUTED_NOTICE == "per-product sentiment not computed yet: run `listener classify --all`"
    md = render_markdown(d)
    assert md.count(NOT_COMPUTED_NOTICE) == 1 and "(sentiment not computed for 5)" in md
    assert render_html(d, []).count("per-product sentiment not computed yet") == 1
    assert render_pdf(d, []).startswith(b"%PDF")
    items = {o.name: o for o in overviews(db, settings, end=DAY, days=30)}
    assert items["Chrome"].notice == NOT_COMPUTED_NOTICE and items["Chrome"].net_sentiment is None
    assert items["Chrome"].not_computed == 5 and items["Chrome"].mentions == 5
    out = {o.rule: o for o in check_alerts(db, settings, now=NOW, send=False)}
    assert not out["chrome-negative"].fired
    assert out["chrome-negative"].reason.endswith(f"; {NOT_COMPUTED_NOTICE} (5 of 5 mentions)")
    db.close()
    client = TestClient(create_app(settings, today=lambda: date(2026, 11, 23)))
    assert NOT_COMPUTED_NOTICE in client.get("/products").text
    assert client.get("/api/stats").json()["notice"] == NOT_COMPUTED_NOTICE
    assert NOT_COMPUTED_NOTICE in client.get("/search", params={"q": "product:Chrome sentiment:negative"}).text
    assert NOT_COMPUTED_NOTICE not in client.get("/search", params={"q": "sentiment:negative"}).text
    assert client.get("/api/search", params={"product": "Chrome", "sentiment": "negative"}).json()["notice"] \
        == NOT_COMPUTED_NOTICE
    # classify --all fills the mentions in, and the notice goes
    db = store.open_db(settings.db_path)
    pipeline.classify(db, settings, everything=True, now=NOW)
    again = build_digest(db, settings, day=DAY, now=NOW)
    assert again.notice is None and again.products[1].negative == 4


def test_mention_sentiment_facets_migration(classified, tmp_path, monkeypatch):
    """A database classified after 0009 but indexed before 0012 gains the mention tokens."""
    monkeypatch.setattr("listener.store.sql.CHUNK", 2)  # several batches of posts, as in a real database
    db, _, guid = open_copy(classified, tmp_path)
    path = Path(db.conn.execute("PRAGMA database_list").fetchone()[2])
    db.execute("UPDATE posts SET facets = (SELECT group_concat(value, ' ') FROM json_each("
               "'[\"' || replace(facets, ' ', '\",\"') || '\"]') WHERE value NOT LIKE 'zzq%')")
    db.execute("DELETE FROM _sqlite_migrations WHERE name = '0012_mention_sentiment_facets'")
    db.conn.commit()
    assert search.search(db, search.prepare(db, "product:Chrome sentiment:negative")).total == 0
    db.close()
    db = store.open_db(path)
    hits = search.search(db, search.prepare(db, "product:Chrome sentiment:negative")).hits
    assert sorted(guid[h.id] for h in hits) == ["c1", "c2", "c5", "c7"]
