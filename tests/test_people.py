"""Author and source pages and their API (issue 17) over the web tests' posts (tests.helpers.posts.make_posts).

The numbers are counted by hand from make_posts(60): post i is by ``user{i % 5}`` on ``hn`` (``blog`` when
i % 4 == 0), on November 1 + i % 22 at hour i % 24, about Firefox (even i) or Chrome (odd i), loving it when
i % 3 == 0 and calling it terrible otherwise; engagement is i (score) + 1 (comments).
"""

from __future__ import annotations

import html
import re
from datetime import date
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from listener import pipeline, store, users
from listener.app.web import create_app
from listener.config import load_settings
from tests.helpers import NOW
from tests.helpers.posts import make_posts

RANGE = "from=2026-11-01&to=2026-11-22"
MALLORY = "<b>mallory</b>"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    folder = tmp_path_factory.mktemp("people")
    (folder / "settings.toml").write_text(
        '[store]\npath = "web.db"\n[sentiment]\nmodel = "vader"\n'
        '[[products]]\nname = "Firefox"\naliases = ["Firefox"]\nours = true\n'
        '[[products]]\nname = "Chrome"\naliases = ["Chrome"]\n', encoding="utf-8")
    settings = load_settings(folder / "settings.toml")
    db = store.open_db(settings.db_path)
    posts = make_posts()
    # a copy of user1's post 51 on hn: it must count nowhere
    posts.append({**posts[51], "guid": "copy51", "url": "https://example.com/copy51", "score": 1000})
    store.upsert_posts(db, posts, now="2026-11-23T00:00:00Z")
    pipeline.classify(db, settings, now=NOW)
    original = db.execute("SELECT id FROM posts WHERE guid = '51'").fetchone()[0]
    db.execute("UPDATE posts SET copy_of = ? WHERE guid = 'copy51'", [original])
    db.conn.commit()
    db.close()
    return settings


@pytest.fixture(scope="module")
def client(site):
    return TestClient(create_app(site, today=lambda: date(2026, 11, 23)))


def test_an_authors_numbers_are_counted_by_hand(client):
    got = client.get(f"/api/authors/hn/user1?{RANGE}")
    assert got.status_code == 200, got.text
    a = got.json()
    # user1 on hn: i in 1 6 11 21 26 31 41 46 51 (16 36 56 are on the blog); the copy of 51 is left out
    assert (a["source"], a["author"], a["start"], a["end"]) == ("hn", "user1", "2026-11-01", "2026-11-22")
    assert a["posts"] == 9
    assert a["engagement"] == sum((1, 6, 11, 21, 26, 31, 41, 46, 51)) + 9 == 243
    assert (a["first_post"], a["last_post"]) == ("2026-11-02T01:00:00Z", "2026-11-22T21:00:00Z")
    # Chrome: 1 11 21 31 41 51, of which 21 and 51 positive; Firefox: 6 26 46, of which 6 positive
    assert [(p["product"], p["mentions"], p["positive"], p["neutral"], p["negative"]) for p in a["products"]] == [
        ("Chrome", 6, 2, 0, 4), ("Firefox", 3, 1, 0, 2)]
    assert [round(p["net_sentiment"], 1) for p in a["products"]] == [-33.3, -33.3]
    assert [p["engagement"] for p in a["top_posts"]] == [52, 47, 42, 32, 27, 22, 12, 7, 2]
    assert a["top_authors"] == []
    # the range cuts: November 1-10 holds i = 1 46 26 6 51 31
    short = client.get("/api/authors/hn/user1?from=2026-11-01&to=2026-11-10").json()
    assert (short["posts"], short["engagement"]) == (6, 1 + 46 + 26 + 6 + 51 + 31 + 6)


def test_a_sources_numbers_and_authors(client):
    s = client.get(f"/api/sources/blog?{RANGE}").json()
    blog = [i for i in range(60) if i % 4 == 0]                   # 15 posts: 0 4 ... 56
    assert (s["posts"], s["engagement"], s["author"]) == (15, sum(blog) + 15, None)
    firefox = [i for i in blog]                                   # all even: Firefox
    assert [(p["product"], p["mentions"], p["positive"], p["negative"]) for p in s["products"]] == [
        ("Firefox", 15, sum(i % 3 == 0 for i in firefox), sum(i % 3 != 0 for i in firefox))]
    assert {a["name"]: a["posts"] for a in s["top_authors"]} == {f"user{k}": 3 for k in range(5)}
    assert s["top_posts"][0]["engagement"] == 57 and len(s["top_posts"]) == 10


def test_the_pages_escape_and_link_a_hostile_author(client):
    path = f"/authors/evil/{quote(MALLORY, safe='')}"
    page = client.get(f"{path}?{RANGE}")
    assert page.status_code == 200, page.text
    assert MALLORY not in page.text and html.escape(MALLORY) in page.text and "<script>" not in page.text
    assert f'action="{path}"' in page.text   # the range form keeps the encoded name
    source = client.get(f"/sources/evil?{RANGE}").text
    assert f'href="{path}"' in source and MALLORY not in source
    assert client.get(f"/api/authors/evil/{quote(MALLORY, safe='')}?{RANGE}").json()["posts"] == 1


def test_the_search_link_finds_their_posts(client):
    a = client.get(f"/api/authors/hn/user1?{RANGE}").json()
    assert 'author:"user1"' in html.unescape(a["search"]).replace("%3A", ":").replace("%22", '"')
    page = client.get(a["search"]).text
    assert re.search(r'id="total">([^<]*)', page).group(1) == "10"   # the search lists the copy of 51 too
    s = client.get(f"/api/sources/hn?{RANGE}").json()
    assert re.search(r'id="total">([^<]*)', client.get(s["search"]).text).group(1) == str(s["posts"] + 1)


def test_unknown_authors_and_sources_are_404_and_bad_ranges_400(client):
    for path in ("/api/authors/hn/nobody", "/api/authors/nowhere/user1", "/api/sources/nowhere",
                 "/authors/hn/nobody", "/sources/nowhere", "/authors/blog/" + quote(MALLORY, safe="")):
        got = client.get(path)
        assert got.status_code == 404, path
    assert client.get("/api/sources/nowhere").json() == {"error": "no source named 'nowhere'"}
    bad = client.get("/api/sources/hn?from=2026-11-30&to=2026-11-01")
    assert bad.status_code == 400 and bad.json()["field"] == "from"
    assert client.get("/sources/hn?from=2026-13-01").status_code == 400


def test_results_posts_and_products_link_to_the_pages(client):
    hit = client.get("/search?q=Firefox&sort=engagement").text
    assert 'href="/authors/hn/user3"' in hit and 'href="/sources/hn"' in hit     # post 58: user3 on hn
    post = client.get("/posts/1").text                                           # post 0: user0 on the blog
    assert 'href="/authors/blog/user0"' in post and 'href="/sources/blog"' in post
    product = client.get(f"/products/Chrome?{RANGE}").text
    assert f'href="/authors/hn/user1?{RANGE.replace("&", "&amp;")}"' in product
    assert f'href="/sources/hn?{RANGE.replace("&", "&amp;")}"' in product
    top = client.get(f"/api/products/Chrome?{RANGE}").json()["top_authors"]
    # Chrome posts are odd i, all on hn: user0 (5 15 25 35 45 55) and user1 (1 11 ... 51; not the copy) 6 each
    assert top[:2] == [{"name": "user0", "source": "hn", "mentions": 6}, {"name": "user1", "source": "hn", "mentions": 6}]


def test_a_viewer_reads_them_and_a_stranger_does_not(site):
    """Run last: it adds users to the module's store."""
    db = store.open_db(site.db_path)
    users.add_user(db, "vic", "viewer", "a viewer's password", by="test", now="2026-11-23T00:00:00Z")
    token = users.issue_token(db, "vic", by="test", now="2026-11-23T00:00:00Z")
    db.close()
    c = TestClient(create_app(site, today=lambda: date(2026, 11, 23)), follow_redirects=False)
    assert c.get(f"/api/sources/hn?{RANGE}").status_code == 401
    assert c.get("/authors/hn/user1").status_code in (302, 303, 401)
    got = c.get(f"/api/authors/hn/user1?{RANGE}", headers={"Authorization": f"Bearer {token}"})
    assert got.status_code == 200 and got.json()["posts"] == 9
