"""Hacker News, Reddit, Mastodon and Bluesky spiders on replayed real payloads, through the real
Scrapy child process into real SQLite: first page, paging to the high-water mark, re-runs,
429 with Retry-After, malformed bodies, error pages, credentials and sessions."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

from listener import store
from listener.replay import Route
from tests.helpers import FIXTURES, NOW
from tests.helpers.sources import collect, rate_limited, serve, settings_file, source_row

OLD = 'max_age = "5000d"\n'  # the recorded payloads are years old; NOW is 2026-11-23

HN_Q = "query=hiring&tags=%28story%2Ccomment%29&hitsPerPage=100&page="


def hn_source(server, name="hn"):
    return f'[[sources]]\nname = "{name}"\ntype = "hackernews"\nurl = "{server.url("/api/v1")}"\nquery = "hiring"\n{OLD}'


def test_hackernews_pages_to_the_high_water_mark_and_reruns_add_nothing(server, tmp_path):
    page = "/api/v1/search_by_date?" + HN_Q
    # first run: only the older page exists yet (its body says page 1 of 8, so page 2 comes next)
    serve(server, page + "0", "hackernews", "algolia_search_by_date_whoishiring_page1.json")
    serve(server, page + "2", "hackernews", "algolia_search_by_date_whoishiring_page8_empty.json")
    path = settings_file(tmp_path, hn_source(server))
    db, first = collect(path)
    assert not first.failed and first.counts.new == 20
    row = db.execute("SELECT guid, url, author, title, published_at, score, comments FROM posts "
                     "WHERE guid = '29782099'").fetchone()
    assert row == ("29782099", "https://news.ycombinator.com/item?id=29782099", "whoishiring",
                   "Ask HN: Who is hiring? (January 2022)", "2022-01-03T16:02:14Z", row[5], row[6])
    assert row[5] > 0 and row[6] > 0  # points and comment count as engagement columns
    assert source_row(db, "hn")["high_water"] == f"{29782099:020d}"

    # second run: a newer page 0 appears; paging stops at the mark on page 1, page 2 is not asked again
    serve(server, page + "0", "hackernews", "algolia_search_by_date_whoishiring_page0.json")
    serve(server, page + "1", "hackernews", "algolia_search_by_date_whoishiring_page1.json")
    db, second = collect(path)
    assert (second.counts.new, second.outcomes[0].entries) == (20, 20)
    assert len(server.hits(page + "1")) == 1 and len(server.hits(page + "2")) == 1
    assert source_row(db, "hn")["high_water"] == f"{37351667:020d}"

    # third run: nothing new, one request
    before = len(server.log)
    db, third = collect(path)
    assert (third.counts.new, third.outcomes[0].error) == (0, None)
    assert len(server.log) - before == 1 and store.count_posts(db) == 40


def test_hackernews_first_run_is_bounded_by_max_pages_and_max_age(server, tmp_path):
    page = "/api/v1/search_by_date?" + HN_Q
    serve(server, page + "0", "hackernews", "algolia_search_by_date_whoishiring_page0.json")
    serve(server, page + "1", "hackernews", "algolia_search_by_date_whoishiring_page1.json")
    src = hn_source(server, "pages").replace(OLD, 'max_age = "5000d"\nmax_pages = 1\n')
    src += hn_source(server, "age").replace(OLD, 'max_age = "1200d"\n')
    db, report = collect(settings_file(tmp_path, src))
    by = {o.name: o for o in report.outcomes}
    assert by["pages"].entries == 20  # one page only
    # 1200 days before 2026-11-23 is 2023-08-11: only the September 2023 thread (Aug 1 is older)
    assert by["age"].entries == 1
    assert len(server.hits(page + "1")) == 0


def test_every_api_source_waits_out_a_429_with_retry_after(server, tmp_path, monkeypatch):
    """One 429 (Retry-After: 1) before the real page, for each source type; the retry comes >= 1 s later."""
    hn = serve(server, "/api/v1/search_by_date", "hackernews", "algolia_search_by_date_whoishiring_page8_empty.json")
    rd = serve(server, "/r/askreddit/new.json", "reddit", "praw_r_askreddit_new_limit100.json")
    serve(server, "/r/askreddit/new.json?limit=100&raw_json=1&after=t3_48f6io", "reddit",
          "praw_user_spez_top_hour_empty.json")
    ms = serve(server, "/api/v1/timelines/tag/hoot", "mastodon", "tag_timeline_hoot.json")
    server.add("/api/v1/access_token", b'{"access_token": "tok", "token_type": "bearer", "expires_in": 86400}',
               headers={"Content-Type": "application/json"})
    for route in (hn, rd, ms):
        route.queue.append(rate_limited(1))
    sources = hn_source(server) + (
        f'[[sources]]\nname = "rd"\ntype = "reddit"\nurl = "{server.url("")}"\nsubreddit = "askreddit"\n{OLD}'
        f'[[sources]]\nname = "ms"\ntype = "mastodon"\nurl = "{server.url("")}"\nhashtag = "hoot"\n{OLD}')
    env = {"REDDIT_CLIENT_ID": "id", "REDDIT_CLIENT_SECRET": "secret"}
    db, report = collect(settings_file(tmp_path, sources), env=env)
    assert [o.error for o in report.outcomes] == [None, None, None]
    for path in ("/api/v1/search_by_date", "/r/askreddit/new.json", "/api/v1/timelines/tag/hoot"):
        hits = [h for h in server.log if h.path.split("?")[0] == path]
        assert [h.status for h in hits][:2] == [429, 200]
        assert hits[1].at - hits[0].at >= 0.95
    assert dict(db.execute("SELECT source, count(*) FROM posts GROUP BY source").fetchall()) == {"rd": 100, "ms": 1}


def test_a_retry_after_longer_than_allowed_fails_the_source_at_once(server, tmp_path):
    server.add("/api/v1/search_by_date", b"slow down", status=503,
               headers={"Retry-After": "3600", "Content-Type": "text/plain"})
    db, report = collect(settings_file(tmp_path, hn_source(server),
                                       collect="timeout = 3\nretries = 3\nmax_retry_wait = 5\n"))
    assert report.outcomes[0].error == \
        "HTTP 503 Service Unavailable (server asks to wait 3600s, more than collect.max_retry_wait)"
    assert len(server.hits("/api/v1/search_by_date?" + HN_Q + "0")) == 1


def test_malformed_bodies_and_error_pages_get_one_clear_line_each(server, tmp_path):
    html = b"<html><head><title>Please log in</title></head><body>Login required</body></html>"
    server.add("/hn-bad/search_by_date", b'{"hits": [{"objectID": "1", ', headers={"Content-Type": "application/json"})
    server.add("/hn-html/search_by_date", html, headers={"Content-Type": "text/html"})
    server.add("/ms-bad/api/v1/timelines/tag/x", b'{"error": "This method requires an authenticated user"}',
               headers={"Content-Type": "application/json"})
    server.add("/ms-html/api/v1/timelines/tag/x", html, headers={"Content-Type": "text/html"})
    server.add("/ms-gone/api/v1/timelines/tag/x", b"", status=410)
    server.add("/rd-html/r/x/new.rss", html, headers={"Content-Type": "text/html"})
    sources = "".join(
        f'[[sources]]\nname = "{n}"\ntype = "hackernews"\nurl = "{server.url("/" + n)}"\nquery = "q"\n'
        for n in ("hn-bad", "hn-html"))
    sources += "".join(
        f'[[sources]]\nname = "{n}"\ntype = "mastodon"\nurl = "{server.url("/" + n)}"\nhashtag = "x"\n'
        for n in ("ms-bad", "ms-html", "ms-gone"))
    sources += f'[[sources]]\nname = "rd-html"\ntype = "reddit"\nurl = "{server.url("/rd-html")}"\nsubreddit = "x"\n'
    db, report = collect(settings_file(tmp_path, sources))
    errors = {o.name: o.error for o in report.outcomes}
    assert errors["hn-bad"].startswith("malformed JSON (")
    assert errors["hn-html"] == "expected JSON, got an HTML page ('Please log in'): an error page or a login wall?"
    assert errors["ms-bad"] == "unexpected JSON: expected a list of statuses (This method requires an authenticated user)"
    assert errors["ms-html"].startswith("expected JSON, got an HTML page")
    assert errors["ms-gone"] == "HTTP 410 Gone"
    assert errors["rd-html"].startswith("not an RSS/Atom feed")
    # a 410 marks the source inactive; the next full collect skips it, naming it retries it
    assert source_row(db, "ms-gone")["active"] == 0 and source_row(db, "hn-bad")["active"] == 1
    db, again = collect(settings_file(tmp_path, sources))
    assert next(o for o in again.outcomes if o.name == "ms-gone").skipped
    assert len(server.hits("/ms-gone/api/v1/timelines/tag/x?limit=40")) == 1


def listing(children: list, after: str | None) -> bytes:
    """A Reddit listing page made of real entries (re-serialized) for paging tests."""
    return json.dumps({"kind": "Listing", "data": {"after": after, "before": None, "children": children}}).encode()


def test_reddit_oauth_json_pages_to_the_mark(server, tmp_path):
    children = json.loads((FIXTURES / "reddit" / "praw_r_askreddit_new_limit100.json").read_bytes())["data"]["children"]
    token = server.add("/api/v1/access_token", b'{"access_token": "tok-1", "token_type": "bearer"}',
                       headers={"Content-Type": "application/json"})
    first = "/r/askreddit/new.json?limit=100&raw_json=1"

    def pages(items):  # 40 per page, "after" naming the last one, like Reddit
        for i in range(0, len(items), 40):
            chunk = items[i:i + 40]
            after = chunk[-1]["data"]["name"] if i + 40 < len(items) else None
            path = first + (f"&after={items[i - 1]['data']['name']}" if i else "")
            server.add(path, listing(chunk, after), headers={"Content-Type": "application/json; charset=UTF-8"})

    pages(children[30:])  # 70 older posts: two pages
    src = f'[[sources]]\nname = "ask"\ntype = "reddit"\nurl = "{server.url("")}"\nsubreddit = "askreddit"\n{OLD}'
    path = settings_file(tmp_path, src)
    env = {"REDDIT_CLIENT_ID": "my-id", "REDDIT_CLIENT_SECRET": "my-secret"}
    db, run1 = collect(path, env=env)
    assert run1.counts.new == 70 and not run1.failed
    hit = server.hits("/api/v1/access_token")[0]
    assert hit.method == "POST" and hit.body == b"grant_type=client_credentials"
    assert hit.headers["Authorization"] == "Basic " + base64.b64encode(b"my-id:my-secret").decode()
    assert server.hits(first)[0].headers["Authorization"] == "Bearer tok-1"
    post = db.execute("SELECT guid, url, author, score, comments FROM posts WHERE guid = ?",
                      [children[30]["data"]["name"]]).fetchone()
    d = children[30]["data"]
    assert post == (d["name"], "https://www.reddit.com" + d["permalink"], d["author"], d["score"], d["num_comments"])

    pages(children)  # 30 new posts on top: page 1 holds them and reaches the mark
    db, run2 = collect(path, env=env)
    assert run2.counts.new == 30 and store.count_posts(db) == 100
    assert len(server.hits(first + f"&after={children[39]['data']['name']}")) == 0
    assert token.hits == 2  # an app-only token per run

    db, run3 = collect(path, env=env)
    assert run3.counts.new == 0 and run3.outcomes[0].entries == 0


def test_reddit_without_credentials_reads_the_rss_feed(server, tmp_path):
    serve(server, "/r/worldnews/new.rss", "reddit", "feeder_r_worldnews_dot_rss_atom.xml")
    src = f'[[sources]]\nname = "wn"\ntype = "reddit"\nurl = "{server.url("")}"\nsubreddit = "r/worldnews"\n{OLD}'
    db, report = collect(settings_file(tmp_path, src))
    assert report.outcomes[0].error is None and report.counts.new == 2
    assert sorted(r[0] for r in db.execute("SELECT guid FROM posts")) == ["t3_167sdt8", "t3_167ucb5"]
    assert server.hits("/r/worldnews/new.rss?limit=100")[0].headers.get("Authorization") is None
    assert not server.hits("/api/v1/access_token")


def test_mastodon_follows_link_pagination_with_a_token_and_stops_at_the_mark(server, tmp_path):
    tag = "fgiztsshwiaqqiztpmmjbtvmescsculuvmgjgopwoeidbcrixp"
    base = f"/api/v1/timelines/tag/{tag}"
    serve(server, base + "?limit=40", "mastodon", "tag_timeline_paged_page1.json")
    serve(server, base + "?limit=10&max_id=117020582177108552", "mastodon", "tag_timeline_paged_past_end_empty.json")
    src = f'[[sources]]\nname = "m"\ntype = "mastodon"\nurl = "{server.url("")}"\nhashtag = "#{tag}"\n' \
          f'token_env = "MY_TOKEN"\n{OLD}'
    path = settings_file(tmp_path, src)
    db, run1 = collect(path, env={"MY_TOKEN": "sekrit"})
    assert not run1.failed and run1.counts.new == 10
    assert [h.headers.get("Authorization") for h in server.log if h.path.startswith(base)] == \
        ["Bearer sekrit", "Bearer sekrit"]
    statuses = json.loads((FIXTURES / "mastodon" / "tag_timeline_paged_page1.json").read_bytes())
    s = statuses[0]
    row = db.execute("SELECT url, author, text, likes, shares, comments, published_at FROM posts WHERE guid = ?",
                     [s["uri"]]).fetchone()
    assert row[:2] == (s["url"], s["account"]["acct"]) and "<" not in row[2]
    assert row[3:6] == (s["favourites_count"], s["reblogs_count"], s["replies_count"])
    db, run2 = collect(path)  # no token this time: sent without Authorization
    assert run2.counts.new == 0 and len(server.hits(base + "?limit=40")) == 2
    assert server.hits(base + "?limit=40")[-1].headers.get("Authorization") is None
    assert len(server.hits(base + "?limit=10&max_id=117020582177108552")) == 1


def jwt(exp: float) -> str:
    part = base64.urlsafe_b64encode(json.dumps({"exp": int(exp)}).encode()).decode().rstrip("=")
    return f"eyJhbGciOiJIUzI1NiJ9.{part}.sig"


def test_bluesky_needs_credentials_then_logs_in_once_and_reuses_and_refreshes_the_session(server, tmp_path):
    search = "/xrpc/app.bsky.feed.searchPosts?q=firefox&sort=latest&limit=100"
    feed = json.loads((FIXTURES / "bluesky" / "getFeed.json").read_bytes())
    server.add(search, json.dumps({"posts": [f["post"] for f in feed["feed"]], "cursor": "c2"}),
               headers={"Content-Type": "application/json"})
    serve(server, search + "&cursor=c2", "bluesky", "searchPosts.json")
    server.add(search + "&cursor=xxxxxxx", b'{"posts": []}', headers={"Content-Type": "application/json"})
    later = NOW.timestamp() + 7200
    session = {"accessJwt": jwt(later), "refreshJwt": jwt(later + 86400), "did": "did:plc:me", "handle": "me.test"}
    create = server.add("/xrpc/com.atproto.server.createSession", json.dumps(session),
                        headers={"Content-Type": "application/json"})
    src = f'[[sources]]\nname = "bs"\ntype = "bluesky"\nurl = "{server.url("")}"\nquery = "firefox"\n{OLD}'
    path = settings_file(tmp_path, src)

    db, none = collect(path)
    assert none.outcomes[0].error == ("needs credentials: set the environment variables BLUESKY_HANDLE "
                                      "(your handle) and BLUESKY_APP_PASSWORD (an app password)")
    assert not server.log

    env = {"BLUESKY_HANDLE": "me.test", "BLUESKY_APP_PASSWORD": "app-pass"}
    db, run1 = collect(path, env=env)
    assert not run1.failed and run1.counts.new == 8
    assert json.loads(server.hits("/xrpc/com.atproto.server.createSession")[0].body) == \
        {"identifier": "me.test", "password": "app-pass"}
    assert server.hits(search)[0].headers["Authorization"] == f"Bearer {session['accessJwt']}"
    row = db.execute("SELECT url, author, likes, shares, comments, published_at FROM posts WHERE guid = ?",
                     ["at://did:plc:d3zpokjdspr22chfrc427eis/app.bsky.feed.post/3ju4p6u2i3a2g"]).fetchone()
    assert row == ("https://bsky.app/profile/luy.gay/post/3ju4p6u2i3a2g", "luy.gay", 7, 0, 8, "2023-04-24T13:50:19Z")

    db, run2 = collect(path, env=env)  # the stored session is reused: no new login
    assert run2.counts.new == 0 and create.hits == 1 and len(server.hits(search)) == 2

    # two hours later the access token has expired: refreshed with the refresh token, not a new login
    refreshed = {**session, "accessJwt": jwt(later + 7200)}
    refresh = server.add("/xrpc/com.atproto.server.refreshSession", json.dumps(refreshed),
                         headers={"Content-Type": "application/json"})
    db, run3 = collect(path, env=env, now=NOW + timedelta(hours=2))
    assert not run3.failed and create.hits == 1 and refresh.hits == 1
    assert server.hits("/xrpc/com.atproto.server.refreshSession")[0].headers["Authorization"] == \
        f"Bearer {session['refreshJwt']}"
    assert server.hits(search)[-1].headers["Authorization"] == f"Bearer {refreshed['accessJwt']}"
    assert json.loads(db.execute("SELECT session FROM sources").fetchone()[0])["accessJwt"] == refreshed["accessJwt"]


BLUESKY_SEARCH = "/xrpc/app.bsky.feed.searchPosts?q=firefox&sort=latest&limit=100"


def collect_with_refused_tokens(server, tmp_path, refusals: int):
    """Collect a Bluesky source with a valid stored session that the server refuses ``refusals`` times."""
    route = serve(server, BLUESKY_SEARCH, "bluesky", "searchPosts.json")
    for _ in range(refusals):
        route.queue.append(Route(body=b'{"error": "ExpiredToken", "message": "Token has expired"}', status=400,
                                 headers={"Content-Type": "application/json"}))
    later = NOW.timestamp() + 7200
    session = {"accessJwt": jwt(later), "refreshJwt": jwt(later), "did": "did:plc:me", "handle": "me.test"}
    server.add("/xrpc/com.atproto.server.refreshSession", json.dumps(session),
               headers={"Content-Type": "application/json"})
    src = f'[[sources]]\nname = "bs"\ntype = "bluesky"\nurl = "{server.url("")}"\nquery = "firefox"\n{OLD}'
    path = settings_file(tmp_path, src)
    db = store.open_db(tmp_path / "test.db")
    from listener.config import load_settings
    store.sync_sources(db, load_settings(path).sources)
    store.record_fetch(db, "bs", now="2026-11-22T00:00:00Z", status=200, session=json.dumps(session))
    return collect(path)[1]


def test_bluesky_expired_token_answer_triggers_one_refresh(server, tmp_path):
    server.add(BLUESKY_SEARCH + "&cursor=xxxxxxx", b'{"posts": []}', headers={"Content-Type": "application/json"})
    report = collect_with_refused_tokens(server, tmp_path, 1)
    assert report.outcomes[0].error is None and report.counts.new == 1
    assert [h.status for h in server.hits(BLUESKY_SEARCH)] == [400, 200]


def test_bluesky_token_refused_again_after_renewal_fails_once(server, tmp_path):
    """A server that keeps refusing renewed tokens gets one refresh, then the source fails with its error."""
    report = collect_with_refused_tokens(server, tmp_path, 4)
    assert "ExpiredToken" in report.outcomes[0].error and report.counts.new == 0
    assert [h.status for h in server.hits(BLUESKY_SEARCH)] == [400, 400]
    assert len(server.hits("/xrpc/com.atproto.server.refreshSession")) == 1
