"""Feed collection over real HTTP on 127.0.0.1, through the real Scrapy child process, into real SQLite;
the feed spider's parsing also in process on recorded answers (tests.helpers.spiders)."""

from __future__ import annotations

import resource
import sys

import pytest

from listener import pipeline, store
from spiders.feedparse import FeedError, parse_feed, strip_doctype
from tests.helpers import FEEDS, FIXTURES, NOW
from tests.helpers.feeds import Entry, atom, billion_laughs, malformed_but_usable
from tests.helpers.posts import find
from tests.helpers.spiders import Recorded, crawl_in_process, header, url


def rows(db, sql, params=()):
    return [tuple(r) for r in db.execute(sql, params).fetchall()]


def collect(settings, *names):
    db = store.open_db(settings.db_path)
    return db, pipeline.collect(db, settings, names, now=NOW)


def test_first_collect_stores_every_entry(server, settings_for):
    server.add_file("/lobsters.xml", FEEDS / "lobsters.xml", "application/rss+xml")
    server.add_file("/github.xml", FEEDS / "github_blog.xml", "application/atom+xml")
    settings = settings_for({"lobsters": server.url("/lobsters.xml"), "github": server.url("/github.xml")})
    db, report = collect(settings)
    assert not report.failed
    assert {o.name: o.counts.new for o in report.outcomes} == {"lobsters": 25, "github": 2}
    assert store.count_posts(db) == 27
    post = db.execute("SELECT source, guid, url, author, title, text, published_at, fetched_at FROM posts "
                      "WHERE guid = 'https://lobste.rs/s/ay6ouz'").fetchone()
    assert post == ("lobsters", "https://lobste.rs/s/ay6ouz",
                    "https://medium.com/doctolib/stop-worrying-about-postgresql-locks-in-your-rails-migrations-3426027e9cc9",
                    "kngl", "Stop worrying about PostgreSQL locks in your Rails migrations", "",
                    "2021-01-15T17:16:43Z", "2026-11-23T06:00:00Z")
    # a body that is only the "Comments" link is not text anyone wrote; a real description is kept
    assert db.execute("SELECT text FROM posts WHERE guid = 'https://lobste.rs/s/mkegqq'").fetchone()[0] \
        .startswith("Playing around with pattern matching")
    # HTML is stripped from bodies, not stored
    assert rows(db, "SELECT count(*) FROM posts WHERE text LIKE '%<%>%'") == [(0,)]
    # the run is recorded with its counts
    run = store.recent_runs(db, 1)[0]
    assert (run["kind"], run["status"], run["new"], run["errors"]) == ("collect", "ok", 27, 0)
    # the request carried our User-Agent and asked robots.txt first
    assert server.hits("/robots.txt")
    assert server.hits("/lobsters.xml")[0].headers["User-Agent"].startswith("listener/")


def test_recollect_adds_nothing_and_304_uses_etag(server, settings_for):
    route = server.add_file("/lobsters.xml", FEEDS / "lobsters.xml", "application/rss+xml")
    settings = settings_for({"lobsters": server.url("/lobsters.xml")})
    db, first = collect(settings)
    assert first.counts.new == 25
    db, second = collect(settings)
    assert second.counts.new == 0 and second.outcomes[0].status == 304
    assert server.hits("/lobsters.xml")[-1].headers.get("If-None-Match") == route.etag
    assert store.count_posts(db) == 25
    src = db.execute("SELECT last_status, last_error, etag FROM sources WHERE name='lobsters'").fetchone()
    assert src == (304, None, route.etag)
    # without validators the server sends the whole feed again: still no duplicates
    route.etag = route.last_modified = None
    db, third = collect(settings)
    assert third.outcomes[0].status == 200
    assert (third.counts.new, third.counts.unchanged) == (0, 25)
    assert store.count_posts(db) == 25
    assert rows(db, "SELECT count(*) FROM posts_fts") == [(25,)]


def test_edited_entry_updates_in_place_and_fts_follows(server, settings_for):
    e1 = Entry("tag:x,1", "Firefox release notes", "Firefox 200 is fast", "2026-11-20T09:00:00Z")
    e2 = Entry("tag:x,2", "Other news", "nothing to see", "2026-11-20T10:00:00Z")
    route = server.add("/feed.atom", atom([e1, e2]), headers={"Content-Type": "application/atom+xml"})
    settings = settings_for({"blog": server.url("/feed.atom")})
    db, _ = collect(settings)
    pipeline.classify(db, settings, now=NOW)
    (pid,) = db.execute("SELECT id FROM posts WHERE guid='tag:x,1'").fetchone()
    assert rows(db, "SELECT product FROM mentions WHERE post_id=?", [pid]) == [("Firefox",)]

    e1.title, e1.text = "Chrome release notes", "Chrome 300 is terrible and slow"
    route.body = atom([e1, e2])
    db, report = collect(settings)
    assert (report.counts.new, report.counts.updated, report.counts.unchanged) == (0, 1, 1)
    assert db.execute("SELECT id, title, updated_at, classified_at FROM posts WHERE guid='tag:x,1'").fetchone() \
        == (pid, "Chrome release notes", "2026-11-23T06:00:00Z", None)
    assert store.count_posts(db) == 2
    assert find(db, "terrible")[0].id == pid
    assert find(db, '"Firefox 200"') == []
    pipeline.classify(db, settings, now=NOW)
    assert rows(db, "SELECT product FROM mentions WHERE post_id=?", [pid]) == [("Chrome",)]
    assert db.execute("SELECT sentiment_label FROM posts WHERE id=?", [pid]).fetchone() == ("negative",)


def test_failures_are_reported_per_source_and_the_run_goes_on(server, settings_for):
    """500, timeout, garbage, empty body, HTML page, oversized and truncated bodies in one run."""
    server.add_file("/good.xml", FEEDS / "xkcd.xml", "application/rss+xml")
    server.add("/e500", "Internal error", status=500)
    server.add("/e404", "gone", status=404)
    server.add("/slow", (FEEDS / "xkcd.xml").read_bytes(), delay=4)
    server.add("/garbage", b"\x00\x01\x02 this is not a feed \xff", headers={"Content-Type": "application/xml"})
    server.add("/empty", b"", headers={"Content-Type": "application/rss+xml"})
    server.add("/html", b"<html><body><h1>Login required</h1></body></html>", headers={"Content-Type": "text/html"})
    server.add("/huge", b"<rss>" + b"x" * 300_000 + b"</rss>", headers={"Content-Type": "application/rss+xml"})
    server.add("/cut", (FEEDS / "schneier.xml").read_bytes(), truncate_at=5000)
    names = ["good", "e500", "e404", "slow", "garbage", "empty", "html", "huge", "cut"]
    settings = settings_for({n: server.url("/" + n if n != "good" else "/good.xml") for n in names},
                            collect="timeout = 1\nretries = 0\nmax_bytes = 200000\n")
    db, report = collect(settings)
    by = {o.name: o for o in report.outcomes}
    assert by["good"].error is None and by["good"].counts.new == 4
    assert by["e500"].error == "HTTP 500 Internal Server Error"
    assert by["e404"].error == "HTTP 404 Not Found"
    assert by["slow"].error == "timed out after 1s"
    assert by["garbage"].error.startswith("not an RSS/Atom feed")
    assert by["empty"].error == "empty response body"
    assert by["html"].error.startswith("not an RSS/Atom feed")
    assert "200,000 byte limit" in by["huge"].error
    assert by["cut"].error.startswith("connection broken before the whole response arrived")
    assert store.count_posts(db) == 4
    errors = dict(rows(db, "SELECT name, last_error FROM sources"))
    assert errors["good"] is None and errors["e500"] == "HTTP 500 Internal Server Error"
    run = store.recent_runs(db, 1)[0]
    assert (run["status"], run["errors"], run["new"]) == ("partial", 8, 4)


def test_a_failed_fetch_loses_nothing_already_stored(server, settings_for):
    route = server.add_file("/feed.xml", FEEDS / "schneier.xml", "application/atom+xml")
    settings = settings_for({"schneier": server.url("/feed.xml")})
    db, _ = collect(settings)
    assert store.count_posts(db) == 10
    etag = db.execute("SELECT etag FROM sources").fetchone()[0]
    route.status, route.body, route.etag = 503, b"down for maintenance", None
    db, report = collect(settings)
    assert report.outcomes[0].error == "HTTP 503 Service Unavailable"
    assert store.count_posts(db) == 10
    # the validators of the last good fetch are kept for the next try
    assert db.execute("SELECT etag, last_status FROM sources").fetchone() == (etag, 503)


def test_malformed_but_usable_feed_is_kept_with_bozo_noted(server, settings_for):
    server.add("/broken.xml", malformed_but_usable(), headers={"Content-Type": "application/rss+xml"})
    settings = settings_for({"broken": server.url("/broken.xml")})
    db, report = collect(settings)
    o = report.outcomes[0]
    assert o.error is None and o.counts.new == 2 and o.bozo
    assert db.execute("SELECT bozo FROM sources").fetchone()[0] == o.bozo
    titles = sorted(r[0] for r in rows(db, "SELECT title FROM posts"))
    assert titles == ["Salt & pepper: Firefox is great", "Second entry"]


def test_robots_txt_disallow_is_obeyed_for_every_waiting_request(server, settings_for):
    """Several feeds on one host wait for robots.txt together; each is checked (see spiders/middlewares.py)."""
    server.add("/robots.txt", "User-agent: *\nDisallow: /private/\n", headers={"Content-Type": "text/plain"})
    for i in range(4):
        server.add(f"/private/f{i}.xml", (FEEDS / "xkcd.xml").read_bytes())
        server.add(f"/public/f{i}.xml", atom([Entry(f"p{i}", "t", "x", "2026-11-20T09:00:00Z")]))
    sources = {f"priv{i}": server.url(f"/private/f{i}.xml") for i in range(4)}
    sources.update({f"pub{i}": server.url(f"/public/f{i}.xml") for i in range(4)})
    settings = settings_for(sources)
    db, report = collect(settings)
    by = {o.name: o for o in report.outcomes}
    assert all(by[f"priv{i}"].error == "blocked by robots.txt" for i in range(4))
    assert all(by[f"pub{i}"].error is None for i in range(4))
    assert not any(h.path.startswith("/private/") for h in server.log)
    assert store.count_posts(db) == 4


def test_feed_spider_in_process_sends_validators_reads_304s_and_notes_bozo(write_settings):
    """The feed spider's own parsing, on recorded answers: entries, validators, 304, bozo, errors."""
    rss, xml = {"Content-Type": "application/rss+xml"}, {"Content-Type": "application/xml"}
    pages = {url("/lobsters.xml"): Recorded((FEEDS / "lobsters.xml").read_bytes(), headers={**rss, "ETag": '"v2"'}),
             url("/same.xml"): Recorded(b"", status=304, headers={"ETag": '"v1"'}),
             url("/broken.xml"): Recorded(malformed_but_usable(), headers=rss),
             url("/garbage"): Recorded(b"\x00\x01\x02 this is not a feed \xff", headers=xml),
             url("/e404"): Recorded(b"gone", status=404)}
    path = write_settings({"lobsters": url("/lobsters.xml"), "same": url("/same.xml"), "broken": url("/broken.xml"),
                           "garbage": url("/garbage"), "e404": url("/e404")})
    crawl = crawl_in_process(path, pages, state={"same": store.SourceState("same", etag='"v1"',
                                                                           last_modified="Sat, 01 Jan 2022 00:00:00 GMT")})
    f = crawl.fetches
    assert (f["lobsters"].status, f["lobsters"].etag, f["lobsters"].entries, len(crawl.of("lobsters"))) == \
        (200, '"v2"', 25, 25)
    p = crawl.post("https://lobste.rs/s/ay6ouz")
    assert (p.author, p.title, p.published_at) == \
        ("kngl", "Stop worrying about PostgreSQL locks in your Rails migrations", "2021-01-15T17:16:43Z")
    same = crawl.hits(url("/same.xml"))[0]
    assert (header(same, "If-None-Match"), header(same, "If-Modified-Since")) == \
        ('"v1"', "Sat, 01 Jan 2022 00:00:00 GMT")
    assert header(crawl.hits(url("/lobsters.xml"))[0], "If-None-Match") is None
    assert (f["same"].status, f["same"].error, crawl.of("same")) == (304, None, [])
    assert f["broken"].error is None and f["broken"].bozo and len(crawl.of("broken")) == 2
    assert f["garbage"].error.startswith("not an RSS/Atom feed")
    assert (f["e404"].status, f["e404"].error) == (404, "HTTP 404 Not Found")


def test_entity_expansion_feed_is_bounded(write_settings):
    body = billion_laughs(10)
    assert b"<!ENTITY" not in strip_doctype(body)
    rss = {"Content-Type": "application/rss+xml"}
    pages = {url("/laughs.xml"): Recorded(body, headers=rss),
             url("/good.xml"): Recorded((FEEDS / "xkcd.xml").read_bytes(), headers=rss)}
    crawl = crawl_in_process(write_settings({"laughs": url("/laughs.xml"), "good": url("/good.xml")}), pages)
    assert len(crawl.of("good")) == 4
    # kept as one short post (the undefined entity stays unexpanded) or refused: never gigabytes
    sizes = [len(p.title or "") + len(p.text or "") for p in crawl.of("laughs")]
    assert not sizes or max(sizes) < 1000


def test_entity_expansion_parse_uses_bounded_memory():
    body = billion_laughs(10)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        parsed = parse_feed(body, source="laughs")
        sizes = [len(i.title or "") + len(i.text) for i in parsed.items]
    except FeedError:
        sizes = [0]
    grown_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert max(sizes) < 1000
    assert grown_kb < 100_000  # ru_maxrss is in KiB on Linux: under 100 MB of growth


def test_parse_feed_refuses_str_input():
    with pytest.raises(TypeError):
        parse_feed("http://example.org/feed.xml", source="x")  # type: ignore[arg-type]


def test_unknown_source_name_is_a_config_error(settings_for):
    from listener.config import ConfigError

    settings = settings_for({"a": "http://127.0.0.1:9/a.xml"})
    db = store.open_db(settings.db_path)
    with pytest.raises(ConfigError, match="no source named 'nope'"):
        pipeline.collect(db, settings, ["nope"], now=NOW)


def test_collect_one_named_source_only(server, settings_for):
    server.add_file("/a.xml", FEEDS / "xkcd.xml", "application/rss+xml")
    server.add_file("/b.xml", FEEDS / "github_blog.xml", "application/atom+xml")
    settings = settings_for({"a": server.url("/a.xml"), "b": server.url("/b.xml")})
    db, report = collect(settings, "b")
    assert [o.name for o in report.outcomes] == ["b"]
    assert rows(db, "SELECT DISTINCT source FROM posts") == [("b",)]
    assert not server.hits("/a.xml")


@pytest.mark.skipif(sys.platform != "linux", reason="uses /proc")
def test_crawl_child_leaves_no_process_behind(server, settings_for):
    import os

    server.add_file("/a.xml", FEEDS / "xkcd.xml", "application/rss+xml")
    settings = settings_for({"a": server.url("/a.xml")})
    collect(settings)
    children = [p for p in os.listdir("/proc") if p.isdigit()
                and _ppid(p) == os.getpid() and "listener.crawler" in _cmdline(p)]
    assert children == []


def _ppid(pid: str) -> int:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return -1


def _cmdline(pid: str) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().decode(errors="replace")
    except OSError:
        return ""


JSONFEED = FIXTURES / "jsonfeed"


def test_json_feeds_are_collected_with_conditional_get_and_reruns_change_nothing(server, settings_for):
    """JSON Feed 1.1 (application/feed+json) and 1.0 sent as text/plain (sniffed), as RSS/Atom are."""
    v11 = server.add_file("/feed.json", JSONFEED / "3960_v1_1.json", "application/feed+json")
    v10 = server.add_file("/df.json", JSONFEED / "daringfireball_v1.json", "text/plain; charset=utf-8")
    server.add("/cut.json", (JSONFEED / "daringfireball_v1.json").read_bytes()[:5000],
               headers={"Content-Type": "application/json"})
    settings = settings_for({"j11": server.url("/feed.json"), "j10": server.url("/df.json"),
                             "cut": server.url("/cut.json")})
    db, first = collect(settings)
    by = {o.name: o for o in first.outcomes}
    assert (by["j11"].counts.new, by["j10"].counts.new) == (20, 48)
    assert by["cut"].error.startswith("malformed JSON Feed (") and by["cut"].counts.new == 0
    post = db.execute("SELECT url, author, title, published_at, language FROM posts WHERE source = 'j11' AND "
                      "guid = 'user/posts/2020-02-21-lecker-lecker/index.md'").fetchone()
    assert tuple(post) == ("https://journal.3960.org/posts/2020-02-21-lecker-lecker/", "Frank Boës",
                           "Lecker, lecker", "2020-02-21T17:08:06Z", "de")
    assert "Accept" in server.hits("/feed.json")[0].headers and \
        "application/feed+json" in server.hits("/feed.json")[0].headers["Accept"]
    db, second = collect(settings, "j11", "j10")
    assert {o.status for o in second.outcomes} == {304} and second.counts.new == 0
    assert server.hits("/feed.json")[-1].headers.get("If-None-Match") == v11.etag
    for route in (v11, v10):
        route.etag = route.last_modified = None
    db, third = collect(settings, "j11", "j10")
    assert {o.status for o in third.outcomes} == {200}
    assert (third.counts.new, third.counts.updated, third.counts.unchanged) == (0, 0, 68)
    assert store.count_posts(db) == 68


def test_json_feed_parsing_on_real_feeds():
    v10 = parse_feed((JSONFEED / "daringfireball_v1.json").read_bytes(), source="df",
                     url="https://daringfireball.net/feeds/json", content_type="application/json")
    p = v10.items[0]
    assert (v10.title, len(v10.items), v10.bozo) == ("Daring Fireball", 48, None)
    assert (p.guid, p.url, p.author, p.published_at) == (
        "https://daringfireball.net/linked/2017/06/26/the-talk-show-195",
        "https://daringfireball.net/linked/2017/06/26/the-talk-show-195", "John Gruber", "2017-06-27T00:54:17Z")
    assert p.text.startswith("New episode of America’s favorite 3-star podcast") and "<p>" not in p.text
    # "http://jsonfeed.org/version/1" is a JSON Feed too; sniffed without a content type
    px = parse_feed((JSONFEED / "pxlnv_v1_http_version.json").read_bytes(), source="px")
    assert len(px.items) == 20 and all(i.text and i.published_at for i in px.items)
    # JSON that is not a feed, and a JSON Feed with a broken item
    with pytest.raises(FeedError, match="not a JSON Feed"):
        parse_feed(b'{"data": {"children": []}}', source="x", content_type="application/json")
    odd = parse_feed(b'{"version": "https://jsonfeed.org/version/1.1", "items": [{"id": "1", "content_text": "hi",'
                     b' "url": "/p/1"}, {"id": 2}, "junk"]}', source="x", url="https://blog.example/feed.json")
    assert [(i.guid, i.url, i.text) for i in odd.items] == [("1", "https://blog.example/p/1", "hi")]
    assert odd.bozo == "2 item(s) without an id, text or link skipped"
    # an RSS feed that a server labels as JSON is read as RSS
    mislabelled = parse_feed((FEEDS / "lobsters.xml").read_bytes(), source="l", content_type="application/json")
    assert len(mislabelled.items) == 25
