"""API hardening: one error shape, integers within SQLite's range, control characters refused with
their position, exports that fail say so (through FastAPI's test client and the CLI)."""

from __future__ import annotations

from datetime import date

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from listener import search, store
from listener.app.cli import cli
from listener.app.web import create_app
from listener.config import load_settings
from listener.errors import SQLITE_INT_MAX, BadInput
from tests.helpers.posts import make_posts
from tests.helpers.web import csrf_of, login

BIG = SQLITE_INT_MAX + 1  # 9223372036854775808
SETTINGS = '[store]\npath = "site.db"\n\n[[products]]\nname = "Firefox"\naliases = ["Firefox"]\n'


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    folder = tmp_path_factory.mktemp("api")
    (folder / "settings.toml").write_text(SETTINGS, encoding="utf-8")
    settings = load_settings(folder / "settings.toml")
    db = store.open_db(settings.db_path)
    store.upsert_posts(db, make_posts(12), now="2026-11-23T00:00:00Z")  # not classified: not needed here
    db.close()
    return settings


@pytest.fixture(scope="module")
def client(site):
    return TestClient(create_app(site, today=lambda: date(2026, 11, 23)), raise_server_exceptions=False)


API_CASES = {
    # the inputs, each once a 500
    "/api/search?q=fire%00fox": {"error": "control character U+0000 is not allowed in a query", "position": 5},
    f"/api/search?offset={SQLITE_INT_MAX}": {"error": "offset: Input should be less than or equal to "
                                                      f"{SQLITE_INT_MAX - 500}", "field": "offset"},
    f"/api/search?q=engagement:[0 TO {BIG}]": {
        "error": f"engagement: bounds are whole numbers from {-BIG} to {SQLITE_INT_MAX} or *, got {BIG}", "position": 12},
    f"/api/posts/{BIG}": {"error": f"post_id: Input should be less than or equal to {SQLITE_INT_MAX}", "field": "post_id"},
    # their neighbours
    "/api/search?q=firefox%1b": {"error": "control character U+001B is not allowed in a query", "position": 8},
    "/api/search?q=crash NEAR/99999999999 firefox": {"error": "a distance is at most 1,000,000 words, got 99999999999",
                                                     "position": 7},
    "/api/search?product=Fire%00fox": {"error": "product: control characters are not allowed, got 'Fire\\x00fox'",
                                       "field": "product"},
    "/api/search?until=9999-12-31": {"error": "until: days run from 0001-01-02 to 9999-12-30, got 9999-12-31",
                                     "field": "until"},
    "/api/search?since=0": {"error": "since: expected a date as YYYY-MM-DD, got '0'", "field": "since"},
    "/api/search?q=published:[* TO 9999-12-31]": {
        "error": "published: days run from 0001-01-02 to 9999-12-30, got 9999-12-31", "position": 11},
    "/api/search?sentiment=happy": {"error": "sentiment: Input should be 'positive', 'neutral' or 'negative'",
                                    "field": "sentiment"},
    "/api/posts/0": {"error": "post_id: Input should be greater than or equal to 1", "field": "post_id"},
    "/api/products?to=9999-12-31": {"error": "to: the range must lie within 0001-02-01 to 9999-12-30", "field": "to"},
    "/api/products?from=2026-11-20&to=2026-11-01": {"error": "from (2026-11-20) is after to (2026-11-01)",
                                                    "field": "from"},
}


@pytest.mark.parametrize("url", API_CASES)
def test_bad_input_is_a_400_naming_the_field_or_position(client, url):
    r = client.get(url)
    assert (r.status_code, r.json()) == (400, API_CASES[url]), url


def test_every_other_error_has_the_same_shape(client):
    assert (client.get("/api/nope").status_code, client.get("/api/nope").json()) == (404, {"error": "Not Found"})
    assert client.get("/api/posts/999").json() == {"error": "no post with id 999"}
    r = client.delete("/api/search")
    assert (r.status_code, r.json(), r.headers["allow"]) == (405, {"error": "Method Not Allowed"}, "GET")


def test_pages_answer_bad_input_with_the_error_page(client):
    r = client.get("/search", params={"q": "fire\x00fox"})  # an invalid query stays in the search form
    assert r.status_code == 400 and "control character U+0000 is not allowed in a query" in r.text
    for url, text in ((f"/search?page={SQLITE_INT_MAX}", "page: at most"), (f"/posts/{BIG}", "post_id: Input should"),
                      ("/search?since=someday", "since: expected a date such as 2026-11-01")):
        r = client.get(url)
        assert r.status_code == 400 and r.headers["content-type"].startswith("text/html"), url
        assert "<h1>Bad Request</h1>" in r.text and text in r.text, url


def test_a_failing_csv_export_answers_with_the_error_not_an_empty_200(client, site):
    r = client.get("/search.csv", params={"q": "firefox AND"})
    assert r.status_code == 400 and "AND needs a word after it" in r.text and "text/html" in r.headers["content-type"]
    assert client.get("/search.csv", params={"q": "firefox"}).text.count("\n") == 8  # header and 7 rows
    db = store.open_db(site.db_path)
    db.execute("ALTER TABLE post_topics RENAME TO post_topics_gone")  # the export's first batch now fails
    try:
        r = client.get("/search.csv", params={"q": "firefox"})
        assert r.status_code == 500 and "internal error" in r.text and "id,posted_at" not in r.text
    finally:
        db.execute("ALTER TABLE post_topics_gone RENAME TO post_topics")
        db.close()


def test_the_search_library_refuses_a_page_past_sqlite_integers(site):
    db = store.open_db(site.db_path)
    plan = search.prepare(db, "firefox")
    with pytest.raises(BadInput, match="offset: with limit 10 it must be at most") as exc:
        search.search(db, plan, limit=10, offset=SQLITE_INT_MAX)
    assert exc.value.field == "offset"
    assert search.search(db, plan, limit=10, offset=SQLITE_INT_MAX - 10).hits == []


@pytest.mark.parametrize("args, message", [
    (["search", "--limit", "99999999999999999999", "x"], "Invalid value for '--limit': 99999999999999999999 is not in the range"),
    (["explain", str(BIG)], f"Invalid value for 'POST_ID': {BIG} is not in the range"),
    (["purge", "--days", "99999999"], "Invalid value for '--days': 99999999 is not in the range 0<=x<=36500"),
    (["search", "fire\x01fox"], "invalid query: control character U+0001 is not allowed in a query (at position 5)"),
])
def test_cli_numbers_and_control_characters_are_one_error_line(site, args, message):
    result = CliRunner().invoke(cli, ["--config", str(site.path), *args])
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert f"Error: {message}" in result.stderr


def test_the_login_cookie_is_secure_behind_an_https_base_url(site):
    from dataclasses import replace

    from listener.app.web.deps import CSRF_COOKIE

    for base_url, secure in ((None, False), ("https://listen.example.com", True)):
        settings = replace(site, serve=replace(site.serve, base_url=base_url))
        c = TestClient(create_app(settings, token="s3cret"), follow_redirects=False)
        form = c.get("/login")  # its CSRF cookie is Secure too: a plain-http client would not send it back
        assert ("; secure" in form.headers["set-cookie"].lower()) is secure, base_url
        c.cookies.set(CSRF_COOKIE, csrf_of(form.text))
        r = c.post("/login", data={"token": "s3cret", "csrf": csrf_of(form.text)})
        assert r.status_code == 303 and ("; secure" in r.headers["set-cookie"].lower()) is secure, base_url


def test_the_web_unit_serves_on_loopback_with_workers_as_the_daemon_s_user():
    from tests.helpers import ROOT

    unit = (ROOT / "deploy" / "listener-web.service").read_text()
    keys = dict(ln.split("=", 1) for ln in unit.splitlines() if "=" in ln and not ln.startswith("#"))
    assert keys["User"] == "listener" and keys["Restart"] == "on-failure"
    assert keys["ExecStart"].endswith("listener serve --host 127.0.0.1 --port 8080 --workers 2")
    assert keys["ReadWritePaths"] == "/srv/listener" and keys["ProtectSystem"] == "strict"


def test_the_login_cookie_is_a_signed_expiring_session_not_the_token(site):
    import time

    from itsdangerous import TimestampSigner, URLSafeTimedSerializer

    from listener.app.web.deps import COOKIE, SESSION_SECONDS, sessions

    c = TestClient(create_app(site, token="s3cret"), follow_redirects=False)
    r = login(c, token="s3cret")
    cookie = r.cookies[COOKIE]
    assert "s3cret" not in r.headers["set-cookie"] and f"max-age={SESSION_SECONDS}" in r.headers["set-cookie"].lower()
    assert c.get("/search").status_code == 200  # the client now sends the cookie

    class Past(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - SESSION_SECONDS - 60

    expired = URLSafeTimedSerializer("s3cret", salt="listener login session", signer=Past).dumps({"by": "token"})
    for value in (expired, sessions("another token").dumps({"by": "token"}), cookie + "x", "s3cret"):
        fresh = TestClient(create_app(site, token="s3cret"), follow_redirects=False, cookies={COOKIE: value})
        assert fresh.get("/search").status_code == 303 and fresh.get("/api/stats").status_code == 401, value
    page = c.get("/logout")  # a GET only shows the logout button: the session goes on
    assert page.status_code == 200 and 'action="/logout"' in page.text and c.get("/search").status_code == 200
    out = c.post("/logout", data={"csrf": csrf_of(page.text)})
    assert out.status_code == 303 and out.headers["location"] == "/login" and 'listener_session=""' in out.headers["set-cookie"]
    assert c.get("/search").status_code == 303


def test_logins_pause_after_five_failures_from_one_address(site):
    now = [1000.0]
    c = TestClient(create_app(site, token="s3cret", clock=lambda: now[0]), follow_redirects=False)

    def attempt(token: str):
        return login(c, token=token)

    assert [attempt("nope").status_code for _ in range(5)] == [403] * 5
    r = attempt("s3cret")  # the right token too: the address waits
    assert r.status_code == 429 and "try again in 15 minutes" in r.text and r.headers["retry-after"] == "901"
    now[0] += 15 * 60 - 1
    assert attempt("s3cret").status_code == 429
    now[0] += 2
    assert attempt("s3cret").status_code == 303  # the oldest failure is older than the window
    assert attempt("nope").status_code == 403  # and a success forgot the others
