"""The web pages and JSON API through FastAPI's test client, and the search CLI."""

from __future__ import annotations

import csv
import html
import io
import json
from datetime import date, datetime, timezone

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from listener import pipeline, store
from listener.app.cli import cli
from listener.app.web import CSP, create_app
from tests.helpers import NOW
from tests.helpers.posts import make_posts
from tests.helpers.web import login

PRODUCTS = """
[[products]]
name = "Firefox"
aliases = ["Firefox"]
ours = true

[[products]]
name = "Chrome"
aliases = ["Chrome"]
"""


def make_site(settings_for, extra: str = ""):
    settings = settings_for(products=PRODUCTS, extra="[serve]\npage_size = 10\n" + extra)
    db = store.open_db(settings.db_path)
    store.upsert_posts(db, make_posts(), now="2026-11-23T00:00:00Z")
    pipeline.classify(db, settings, now=NOW)
    db.close()
    return settings


@pytest.fixture
def site(settings_for):
    return make_site(settings_for)


@pytest.fixture
def client(site):
    return TestClient(create_app(site, today=lambda: date(2026, 11, 23)))


def test_search_page_lists_highlighted_results_with_security_headers(client):
    r = client.get("/search", params={"q": "crash* AND product:Chrome", "sort": "date"})
    assert r.status_code == 200
    assert r.headers["content-security-policy"] == CSP and "script-src" not in CSP
    assert r.headers["x-content-type-options"] == "nosniff"
    html = r.text
    assert '<strong id="total">20</strong>' in html
    assert "<mark>crashing</mark>" in html
    assert 'class="badge negative"' in html and 'class="tag product"' in html
    assert html.count('class="hit"') == 10 and 'id="next"' in html
    assert "Read as: <code>(crash* AND product:Chrome)</code>" in html


def test_search_page_pagination_and_filters(client):
    page2 = client.get("/search", params={"q": "firefox", "sort": "date", "page": 2, "product": "Firefox"}).text
    assert 'id="prev"' in page2 and "Page 2 of 4" in page2
    filtered = client.get("/search", params={"sentiment": "positive", "source": "blog", "since": "2026-11-01",
                                             "until": "2026-11-22"}).text
    assert 'class="badge negative"' not in filtered and "badge positive" in filtered


def test_invalid_query_shows_position_not_a_traceback(client):
    r = client.get("/search", params={"q": 'firefox AND ("battery'})
    assert r.status_code == 400
    assert "quote &#39;&#34;&#39; is never closed (at position 14)" in r.text
    assert "Traceback" not in r.text and "sqlite" not in r.text.lower()
    api = client.get("/api/search", params={"q": "firefox OR"})
    assert api.status_code == 400 and api.json() == {"error": "OR needs a word after it, not the end of the query",
                                                     "position": 9}


def test_collected_text_is_escaped(client):
    html = client.get("/search", params={"q": "rocks"}).text
    assert "<script>document" not in html and "&lt;script&gt;document.title" in html
    assert "<img src=x" not in html and "javascript:" not in html
    post_id = client.get("/api/search", params={"q": "rocks"}).json()["hits"][0]["id"]
    page = client.get(f"/posts/{post_id}").text
    assert "&lt;b&gt;mallory&lt;/b&gt;" in page and "<script>" not in page.split("<main>")[1]


def test_csv_export_streams_the_whole_result(client):
    r = client.get("/search.csv", params={"q": "firefox", "sort": "date"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert len(rows) == 31 and rows[0]["posted_at"] == "2026-11-22T10:00:00Z"
    assert rows[0]["title"].startswith("'<script>") or rows[0]["title"].startswith("<script>")
    assert {r["products"] for r in rows} <= {"Firefox", "Chrome;Firefox"}


def test_api_search_and_openapi(client):
    r = client.get("/api/search", params={"q": "firefox", "limit": 5, "offset": 5, "sort": "engagement"})
    body = r.json()
    assert r.status_code == 200 and body["total"] == 31 and len(body["hits"]) == 5 and body["offset"] == 5
    assert [h["engagement"] for h in body["hits"]] == sorted((h["engagement"] for h in body["hits"]), reverse=True)
    assert "[Firefox]" in body["hits"][0]["title_highlighted"]
    spec = client.get("/api/openapi.json").json()
    assert {"/api/search", "/api/posts/{post_id}", "/api/products", "/api/products/{name}", "/api/stats",
            "/api/saved-searches"} <= set(spec["paths"])
    assert "SearchResponse" in spec["components"]["schemas"]
    assert client.get("/api/search", params={"limit": 100000}).status_code == 400


def test_api_post_explains_its_label(settings_for):
    """With sentiment.model = "vader": VADER's compound score against the thresholds."""
    client = TestClient(create_app(make_site(settings_for, '[sentiment]\nmodel = "vader"\n'),
                                   today=lambda: date(2026, 11, 23)))
    hit = client.get("/api/search", params={"q": '"keeps crashing"', "limit": 1}).json()["hits"][0]
    post = client.get(f"/api/posts/{hit['id']}").json()
    e = post["explanation"]
    assert e["label"] == "negative" and e["vader_compound"] < -0.05
    assert "at or below the negative threshold -0.05" in e["reason"]
    assert post["products"][0]["alias"] in ("Firefox", "Chrome")
    page = client.get(f"/posts/{hit['id']}").text
    assert "matched the alias" in page and "Why this label" in page
    assert client.get("/api/posts/999999").status_code == 404


def test_post_page_api_and_cli_explain_the_default_model_alike(client, site):
    """The default model's label is explained by its class probabilities, never as a VADER
    compound score (the page and the API used to claim VADER for every model)."""
    hit = client.get("/api/search", params={"q": '"keeps crashing"', "limit": 1}).json()["hits"][0]
    e = client.get(f"/api/posts/{hit['id']}").json()["explanation"]
    assert e["model"].startswith("encoder-") and e["label"] == "negative" == e["stored_label"]
    assert e["vader_compound"] is None and e["positive_threshold"] is None and e["negative_threshold"] is None
    assert e["score"] < 0 and "VADER" not in e["reason"] and f"the default model {e['model']}" in e["reason"]
    assert set(e["probabilities"]) == {"negative", "neutral", "positive"}
    assert abs(sum(e["probabilities"].values()) - 1) < 1e-6
    assert f"P(negative) {e['probabilities']['negative']:.2f}" in e["reason"]
    assert "word:terrible" in [t["feature"] for t in e["negative_terms"]]
    assert all(t["weight"] < 0 for t in e["negative_terms"])
    why = client.get(f"/posts/{hit['id']}").text.split("Why this label")[1].split("<h2>Products")[0]
    assert "VADER" not in why and e["reason"] in why.replace("&#39;", "'") and "Towards negative" in why
    out = CliRunner().invoke(cli, ["--config", str(site.path), "explain", str(hit["id"])]).output
    assert f"why: {e['reason']}\n" in out and f"by {e['model']};" in out


def test_products_overview_and_stats(client):
    products = client.get("/api/products").json()   # no digest yet: the 30 days up to today
    assert [p["name"] for p in products] == ["Firefox", "Chrome"]
    assert (products[0]["start"], products[0]["end"], len(products[0]["days"])) == ("2026-10-25", "2026-11-23", 30)
    products = client.get("/api/products?from=2026-10-24&to=2026-11-22").json()
    fx = products[0]
    assert fx["end"] == "2026-11-22" and len(fx["days"]) == 30 and fx["mentions"] == 31
    assert abs(sum(p["share_of_voice"] for p in products) - 1) < 1e-9
    detail = client.get("/api/products/Firefox").json()
    assert detail["top_engaged"][0]["engagement"] >= detail["top_engaged"][-1]["engagement"]
    html = client.get("/products/Firefox").text
    assert html.count("<svg") >= 3 and "Mentions per day" in html and "Net sentiment per day" in html
    assert client.get("/products/Nope").status_code == 404
    stats = client.get("/api/stats").json()
    assert stats["posts"] == 61 and stats["products"] == {"Chrome": 30, "Firefox": 31}


def test_token_guards_pages_and_api(site, monkeypatch):
    monkeypatch.setenv("LISTENER_API_TOKEN", "s3cret")
    app = create_app(site, token="s3cret")
    c = TestClient(app, follow_redirects=False)
    assert c.get("/api/stats").status_code == 401
    assert c.get("/api/stats", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert c.get("/api/stats", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    assert c.get("/search").status_code == 303
    assert login(c, token="nope").status_code == 403
    ok = login(c, token="s3cret")
    assert ok.status_code == 303 and "httponly" in ok.headers["set-cookie"].lower()
    assert c.get("/search").status_code == 200


def test_serve_refuses_public_host_without_token(site, monkeypatch):
    monkeypatch.delenv("LISTENER_API_TOKEN", raising=False)
    r = CliRunner().invoke(cli, ["--config", str(site.path), "serve", "--host", "0.0.0.0"])
    assert r.exit_code == 2 and "refusing to listen on 0.0.0.0 without users or a token" in r.output


def test_cli_search_table_csv_json_and_explain(site):
    run = lambda *a: CliRunner().invoke(cli, ["--config", str(site.path), "search", *a])  # noqa: E731
    r = run("crash* product:Chrome", "--sort", "date", "--limit", "3")
    assert r.exit_code == 0, r.output
    assert "20 result(s), showing 1-3, sorted by date." in r.output and "Chrome post" in r.output
    r = run("firefox", "--format", "csv", "--since", "2026-11-22")
    rows = list(csv.DictReader(io.StringIO(r.output)))
    assert r.exit_code == 0 and {row["posted_at"][:10] for row in rows} == {"2026-11-22"}
    r = run("firefox", "--format", "json", "--limit", "4", "--sort", "engagement")
    data = json.loads(r.output)
    assert len(data) == 4 and data[0]["engagement"] == 59
    r = run("a OR b AND c", "--explain")
    assert "query:  (a OR (b AND c))" in r.output and "MATCH ?" in r.output
    r = run("firefox AND (crash")
    assert r.exit_code == 2 and "unbalanced '(': it is never closed (at position 13)" in r.output
    assert "firefox AND (crash\n            ^" in r.output and "Traceback" not in r.output


def test_cli_saved_searches(site):
    run = lambda *a: CliRunner().invoke(cli, ["--config", str(site.path), *a])  # noqa: E731
    assert run("saved", "add", "fx", "firefox AND crash*", "--owner", "maria").exit_code == 0
    assert "fx" in run("saved", "list").output
    r = run("search", "--saved", "fx", "--format", "json")
    assert r.exit_code == 0 and len(json.loads(r.output)) == 20
    assert run("saved", "add", "bad", "firefox AND").exit_code == 2
    assert run("saved", "remove", "fx").exit_code == 0
    assert run("search", "--saved", "fx").exit_code == 2


def test_a_search_over_its_time_budget_says_so(site, monkeypatch):
    from dataclasses import replace

    from listener.search import run

    monkeypatch.setattr(run, "BUDGET_CHECK_STEPS", 1)  # look at the clock at every step
    slow = replace(site, serve=replace(site.serve, search_timeout=1e-9))
    client = TestClient(create_app(slow, today=lambda: date(2026, 11, 23)))
    r = client.get("/search", params={"q": "crash*"})
    assert r.status_code == 422 and 'id="search-slow"' in r.text and "narrow it" in r.text
    r = client.get("/api/search", params={"q": "crash*"})
    assert r.status_code == 422 and "took longer than" in r.json()["error"]


def _secure(r) -> None:
    assert r.headers["content-security-policy"] == CSP and "frame-ancestors 'none'" in CSP
    assert r.headers["x-content-type-options"] == "nosniff" and r.headers["x-frame-options"] == "DENY"


def test_every_api_error_has_one_json_shape_and_every_page_error_a_page(client):
    cases = {"/api/search?limit=100000": (400, {"error": "limit: Input should be less than or equal to 500",
                                                "field": "limit"}),
             "/api/posts/abc": (400, {"error": "post_id: Input should be a valid integer, unable to parse "
                                               "string as an integer", "field": "post_id"}),
             "/api/posts/999999": (404, {"error": "no post with id 999999"}),
             "/api/products/Nope": (404, {"error": "no product named 'Nope' in the settings"}),
             "/api/nope": (404, {"error": "Not Found"}),
             "/api/search?q=firefox%20AND": (400, {"error": "AND needs a word after it, not the end of the query",
                                                   "position": 9})}
    for url, (status, body) in cases.items():
        r = client.get(url)
        assert (r.status_code, r.json()) == (status, body), url
        _secure(r)
    r = client.post("/api/stats")
    assert r.status_code == 405 and r.json() == {"error": "Method Not Allowed"}
    for url, status, text in (("/nope", 404, "Not Found"), ("/posts/999999", 404, "no post with id 999999"),
                              ("/posts/abc", 400, "post_id: Input should be a valid integer"),
                              ("/search?page=0", 400, "page: Input should be greater than or equal to 1")):
        r = client.get(url)
        assert r.status_code == status and r.headers["content-type"].startswith("text/html"), url
        assert "<h1>" in r.text and text in r.text and "detail" not in r.text, url
        _secure(r)


def test_a_server_error_is_a_plain_500_with_the_security_headers(site):
    app = create_app(site, today=lambda: date(2026, 11, 23))
    site.db_path.unlink()  # requests now open an empty database: every query fails
    c = TestClient(app, raise_server_exceptions=False)
    r = c.get("/api/stats")
    assert r.status_code == 500 and r.json() == {"error": "internal error: the server log has the details"}
    _secure(r)
    r = c.get("/products")
    assert r.status_code == 500 and "<h1>Internal Server Error</h1>" in r.text and "Traceback" not in r.text
    _secure(r)


def test_a_product_name_with_a_slash_has_its_page_and_api(settings_for):
    settings = settings_for(products=PRODUCTS + '\n[[products]]\nname = "AC/DC"\naliases = ["AC/DC"]\n')
    db = store.open_db(settings.db_path)
    store.upsert_posts(db, make_posts(4) + [{**make_posts(1)[0], "guid": "acdc", "title": "AC/DC live",
                                            "text": "AC/DC played for three hours, love it"}],
                       now="2026-11-23T00:00:00Z")
    pipeline.classify(db, settings, now=NOW)
    db.close()
    c = TestClient(create_app(settings, today=lambda: date(2026, 11, 23)))
    listing = c.get("/products").text
    assert 'href="/products/AC%2FDC?from=' in listing
    page = c.get("/products/AC%2FDC")
    assert page.status_code == 200 and "<h1>AC/DC" in page.text
    api = c.get("/api/products/AC%2FDC")
    assert api.status_code == 200 and api.json()["name"] == "AC/DC" and api.json()["mentions"] == 1
    assert c.get("/products/AC").status_code == 404


def test_without_the_token_every_route_answers_only_that(site):
    c = TestClient(create_app(site, token="s3cret"), follow_redirects=False)
    for url in ("/api/nope", "/api/openapi.json", "/api/posts/abc", "/api/search?limit=0"):
        r = c.get(url)
        assert (r.status_code, r.json()) == (401, {"error": "missing or wrong bearer token"}), url
        assert r.headers["www-authenticate"] == "Bearer"
        _secure(r)
    for url in ("/nope", "/posts/abc", "/products/Firefox"):
        r = c.get(url)
        assert r.status_code == 303 and r.headers["location"] == "/login", url
        _secure(r)
    assert c.get("/login").status_code == 200 and c.get("/static/style.css").status_code == 200
    assert c.get("/api/openapi.json", headers={"Authorization": "Bearer s3cret"}).status_code == 200


COMPARATIVE = "Why is Mozilla Firefox so bad at crashes? ... Still better than Chrome though."
MENTION_PRODUCTS = PRODUCTS.replace('aliases = ["Firefox"]', 'aliases = ["Firefox", "Mozilla Firefox"]')


def comparative_site(settings_for, extra: str = ""):
    """A real SQLite store with the issue's comparative post and a hostile one, classified."""
    settings = settings_for(products=MENTION_PRODUCTS, extra=extra)
    db = store.open_db(settings.db_path)
    base = {"url": None, "author": None, "title": None, "published_at": "2026-11-22T10:00:00Z", "language": "en",
            "score": None, "comments": None, "likes": None, "shares": None}
    store.upsert_posts(db, [{**base, "source": "hn", "guid": "cmp", "text": COMPARATIVE},
                            {**base, "source": "evil", "guid": "x",
                             "text": "Chrome <script>alert('pwned')</script> is awful."}], now="2026-11-23T00:00:00Z")
    pipeline.classify(db, settings, now=NOW)
    ids = dict(db.execute("SELECT guid, id FROM posts").fetchall())
    db.close()
    return settings, ids


@pytest.mark.parametrize("model", ["vader", "default"])
def test_classify_stores_each_mention_s_own_sentiment(settings_for, model):
    """The issue's example: negative about Firefox (its own sentence) and about Chrome (it loses to a
    browser that is bad at crashes: models/mentions.py), whatever the post-level label says."""
    settings, ids = comparative_site(settings_for, '[sentiment]\nmodel = "vader"\n' if model == "vader" else "")
    db = store.open_db(settings.db_path)
    stored = {r[0]: r[1:] for r in db.execute(
        "SELECT product, sentiment, sentiment_label, confidence, span, basis FROM mentions WHERE post_id = ?",
        [ids["cmp"]])}
    assert stored["Firefox"][1] == "negative" and stored["Firefox"][0] < 0 and 0 < stored["Firefox"][2] <= 1
    assert stored["Firefox"][3:] == ("Why is Mozilla Firefox so bad at crashes?", "sentence")
    assert stored["Chrome"][:4] == (-0.6, "negative", 0.7, "Still better than Chrome though.")
    assert stored["Chrome"][4] == "comparative"
    post = store.get_post(db, ids["cmp"])
    assert [(m["product"], m["span"]) for m in post["mentions"]] == [
        ("Chrome", "Still better than Chrome though."), ("Firefox", "Why is Mozilla Firefox so bad at crashes?")]


def test_api_page_and_cli_explain_show_each_product_s_span(settings_for):
    settings, ids = comparative_site(settings_for, '[sentiment]\nmodel = "vader"\n')
    client = TestClient(create_app(settings, today=lambda: date(2026, 11, 23)))
    post = client.get(f"/api/posts/{ids['cmp']}").json()
    products = {p["product"]: p for p in post["products"]}
    assert products["Chrome"]["alias"] == "Chrome" and products["Chrome"]["sentiment_label"] == "negative"
    assert products["Chrome"]["span"] == "Still better than Chrome though."
    assert products["Chrome"]["basis"] == "comparative" and products["Chrome"]["confidence"] == 0.7
    judged = {p["product"]: p for p in post["explanation"]["products"]}
    assert judged["Firefox"]["judged"] and judged["Firefox"]["label"] == "negative"
    assert judged["Firefox"]["span"] == "Why is Mozilla Firefox so bad at crashes?"
    assert "word:bad" in [t["feature"] for t in judged["Firefox"]["negative_terms"]]
    assert judged["Chrome"]["positive_terms"] == [] == judged["Chrome"]["negative_terms"]  # a rule, not words
    page = client.get(f"/posts/{ids['cmp']}").text.split("<h2>Products")[1]
    assert "Still better than Chrome though." in page and "Why is Mozilla Firefox so bad at crashes?" in page
    assert page.count('class="badge negative"') == 2 and "basis comparative" in page and "basis sentence" in page
    out = CliRunner().invoke(cli, ["--config", str(settings.path), "explain", str(ids["cmp"])]).output
    assert "  Chrome: negative (score -0.600, confidence 0.70), basis comparative; " \
           "span 'Still better than Chrome though.'" in out
    assert "  Firefox: negative (score " in out and "span 'Why is Mozilla Firefox so bad at crashes?'" in out
    evil = client.get(f"/posts/{ids['x']}").text
    assert "<script>alert" not in evil and "&lt;script&gt;alert(" in evil.split("<h2>Products")[1]
    db = store.open_db(settings.db_path)   # as a database upgraded by 0009 has it, before classify --all
    db.execute("UPDATE mentions SET sentiment = NULL, sentiment_label = NULL, confidence = NULL, span = NULL, "
               "basis = NULL")
    db.conn.commit()
    db.close()
    assert "  Chrome: not judged yet: run classify --all" in CliRunner().invoke(
        cli, ["--config", str(settings.path), "explain", str(ids["cmp"])]).output
    assert {p["product"]: p["judged"] for p in client.get(f"/api/posts/{ids['cmp']}").json()["explanation"]["products"]} \
        == {"Chrome": False, "Firefox": False}
    assert client.get(f"/posts/{ids['cmp']}").text.count("Not judged yet") == 2


def test_the_overview_takes_a_range_defaults_to_the_latest_digest_and_keeps_it_in_links(site, settings_for):
    from listener import pipeline

    client = TestClient(create_app(site, today=lambda: date(2026, 11, 23)))
    week = client.get("/api/products?from=2026-11-16&to=2026-11-22").json()
    assert [(p["start"], p["end"], len(p["days"])) for p in week] == [("2026-11-16", "2026-11-22", 7)] * 2
    fx = week[0]
    before = client.get("/api/products?from=2026-11-09&to=2026-11-15").json()[0]
    assert fx["previous_mentions"] == before["mentions"]        # the same length, just before
    only_to = client.get("/api/products?to=2026-11-22").json()[0]
    assert (only_to["start"], only_to["end"]) == ("2026-10-24", "2026-11-22")   # the default length
    for query, message in (("from=2026-11-30&to=2026-11-01", "from (2026-11-30) is after to (2026-11-01)"),
                           ("from=yesterday", "from: expected a date as YYYY-MM-DD, got 'yesterday'"),
                           ("from=2020-01-01&to=2026-11-22", "is longer than 366 days")):
        for url in (f"/api/products?{query}", f"/api/products/Firefox?{query}", f"/products?{query}"):
            r = client.get(url)
            assert r.status_code == 400 and message in html.unescape(r.text), (url, r.text)
    page = client.get("/products/Firefox?from=2026-11-16&to=2026-11-22").text
    assert "7 days from 2026-11-16 to 2026-11-22" in page
    assert "/search?product=Firefox&amp;sort=date&amp;since=2026-11-16&amp;until=2026-11-22" in page
    assert 'href="/products?from=2026-11-16&amp;to=2026-11-22"' in page
    detail = client.get("/api/products/Firefox?from=2026-11-16&to=2026-11-22").json()
    assert detail["top_sources"] and sum(x["mentions"] for x in detail["top_sources"]) <= detail["mentions"]
    assert detail["top_sources"] == sorted(detail["top_sources"], key=lambda x: -x["mentions"])
    assert all(f'>{x["name"]}</a>' in page or f'>{x["name"]}<' in page for x in detail["top_sources"])
    assert "Top sources and authors" in page
    listing = client.get("/products?from=2026-11-16&to=2026-11-22").text
    assert 'href="/products/Firefox?from=2026-11-16&amp;to=2026-11-22"' in listing
    # after a weekly digest, the default range is that digest's period
    db = store.open_db(site.db_path)
    pipeline.digest(db, site, day=date(2026, 11, 20), days=7, now=datetime(2026, 11, 23, 6, tzinfo=timezone.utc),
                    send=False)
    db.close()
    default = client.get("/api/products").json()[0]
    assert (default["start"], default["end"]) == ("2026-11-14", "2026-11-20")
