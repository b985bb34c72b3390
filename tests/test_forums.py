"""The generic forum spider: each preset on a page of its engine, dates in the forum's time zone and
re-runs in process on recorded pages (tests.helpers.spiders); error pages, login walls and a 429
end to end through the crawl child; and forum date parsing."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
from click.testing import CliRunner

from listener import store
from listener.app.cli import cli
from listener.config import load_settings
from listener.replay import Route
from spiders.forumdates import parse_forum_date
from tests.helpers import DEMO_SOCIAL as PHPBB, FIXTURES, NOW
from tests.helpers.sources import collect, rate_limited, serve, settings_file, source_row
from tests.helpers.spiders import crawl_in_process, recorded, url

SMF_HOST = "https://forum.example.org"


def forum(name: str, url: str, preset: str, extra: str = "", age: str = "5000d") -> str:
    return f'[[sources]]\nname = "{name}"\ntype = "forum"\nurl = "{url}"\npreset = "{preset}"\n' \
           f'max_age = "{age}"\n{extra}'


FORUM_PAGES = {
    "/phpbb/viewforum.php?f=2": (PHPBB, "forum_phpbb3_viewforum.html"),
    "/phpbb/viewtopic.php?f=2&t=7": (PHPBB, "forum_phpbb3_viewtopic_page1.html"),
    "/phpbb/viewtopic.php?f=2&t=7&start=2": (PHPBB, "forum_phpbb3_viewtopic_page2.html"),
    "/phpbb/viewtopic.php?f=2&t=3": (PHPBB, "forum_phpbb3_viewtopic_t3.html"),
    "/index.php?board=4.0": ("forums", "smf2_messageindex.html"),
    "/index.php?topic=87.0": ("forums", "smf2_display.html"),
    "/vb/forumdisplay.php?f=5": ("forums", "vbulletin_forumdisplay.html"),
    "/vb/showthread.php?t=301": ("forums", "vbulletin_showthread.html"),
    "/latest.json": ("forums", "discourse_latest.json"),
    "/t/2144.json": ("forums", "discourse_t_2144_posts.json"),  # a topic's posts (no stream: nothing more)
    "/t/1001.json": ("forums", "discourse_t_2144_posts.json"),  # must not be asked for
}


def forum_pages(*paths: str) -> dict:
    """Recorded answers for these paths of FORUM_PAGES (default: all)."""
    return {url(p): recorded(*FORUM_PAGES[p], replace=SMF_HOST) for p in paths or FORUM_PAGES}


def test_each_preset_reads_its_engine_and_a_rerun_adds_nothing(tmp_path):
    sources = (forum("phpbb", url("/phpbb/viewforum.php?f=2"), "phpbb3", 'timezone = "Europe/Berlin"\n',
                     age="30d")
               + forum("smf", url("/index.php?board=4.0"), "smf2", 'timezone = "America/New_York"\n')
               + forum("vb", url("/vb/forumdisplay.php?f=5"), "vbulletin", 'timezone = "UTC"\n')
               + forum("disc", url(""), "discourse", age="2000d"))
    path = settings_file(tmp_path, sources)
    pages = forum_pages()
    first = crawl_in_process(path, pages)
    assert {name: (f.error, len(first.of(name))) for name, f in first.fetches.items()} == {
        "phpbb": (None, 3), "smf": (None, 2), "vb": (None, 2), "disc": (None, 20)}

    def post(guid):
        p = first.post(guid)
        return p.source, p.author, p.title, p.published_at, p.text, p.url

    # phpBB: page 2 of the thread followed; Berlin is UTC+1 in November; the 2015 thread is past max_age
    p = post("p31")
    assert p[:4] == ("phpbb", "ben", "Firefox 140 feels faster than Chrome", "2026-11-18T19:45:00Z")
    assert p[4] == "Chrome still wins for me on battery life. Firefox is fine, not great."
    assert p[5] == url("/phpbb/viewtopic.php?f=2&t=7&start=2") + "#p31"
    assert post("p21")[3] == "2026-11-16T08:12:00Z"
    assert not first.hits(url("/phpbb/viewtopic.php?f=2&t=3"))
    # SMF: "November 20, 2026, 11:05:40 pm" in New York is 04:05:40 UTC the next day
    assert post("msg_415")[:4] == ("smf", "finn", "Chrome extensions stopped syncing", "2026-11-21T04:05:40Z")
    # vBulletin: "Yesterday, 10:01 AM" and "Today, 05:04 PM" relative to the run's time
    assert post("post901")[1:4] == ("gus", "Safari rendering bug on iPad", "2026-11-22T10:01:00Z")
    assert post("post902")[3] == "2026-11-23T17:04:00Z"
    assert "WebKit bug" in post("post902")[4]
    # Discourse: JSON posts with likes and replies; the 2019 topic is past max_age, not fetched
    d = first.post("20089")
    assert (d.author, d.title, d.url, d.likes, d.comments) == \
        ("Elliot", "KPop Demon Hunters", url("/t/kpop-demon-hunters/2144/1"), 1, 5)
    assert not first.hits(url("/t/1001.json"))
    assert first.fetches["phpbb"].high_water == "2026-11-18T19:45:00Z"

    again = crawl_in_process(path, pages, state={name: first.state(name) for name in first.fetches})
    assert {p.guid for p in again.posts} <= {p.guid for p in first.posts}  # nothing new
    assert not any(f.error for f in again.fetches.values())
    assert len({(p.source, p.guid) for p in first.posts + again.posts}) == 27
    # only threads active at the high-water mark's minute are read again
    assert len(again.hits(url("/phpbb/viewtopic.php?f=2&t=7"))) == 1


def test_forum_error_pages_login_walls_and_a_429(server, tmp_path):
    serve(server, "/down/viewforum.php", "forums", "forum_database_unavailable.html")
    serve(server, "/wall.json", "forums", "forum_database_unavailable.html")
    serve(server, "/phpbb/viewforum.php?f=2", PHPBB, "forum_phpbb3_viewforum.html")
    serve(server, "/phpbb/viewtopic.php?f=2&t=7", PHPBB,
          "forum_phpbb3_viewtopic_page1.html").queue.append(rate_limited(1))
    server.add("/phpbb/viewtopic.php?f=2&t=7&start=2", "gone", status=404)
    serve(server, "/phpbb/viewtopic.php?f=2&t=3", PHPBB, "forum_phpbb3_viewtopic_t3.html")
    server.add("/gone/viewforum.php", "", status=410)
    sources = (forum("down", server.url("/down/viewforum.php"), "phpbb3")
               + forum("wall", server.url("/wall"), "discourse")
               + forum("phpbb", server.url("/phpbb/viewforum.php?f=2"), "phpbb3")
               + forum("gone", server.url("/gone/viewforum.php"), "vbulletin"))
    db, report = collect(settings_file(tmp_path, sources))
    errors = {o.name: o.error for o in report.outcomes}
    assert errors["down"] == (server.url("/down/viewforum.php") + ": the forum answered with an error page "
                              "('Database Error'): maintenance or database trouble, try again later")
    assert errors["wall"].startswith(server.url("/wall.json") + ": expected JSON, got an HTML page "
                                     "('Database Error')")
    # the 429 was waited out; the broken second page is reported, the first page's posts are kept
    assert errors["phpbb"] == server.url("/phpbb/viewtopic.php?f=2&t=7&start=2") + ": HTTP 404 Not Found"
    assert [r[0] for r in db.execute("SELECT guid FROM posts ORDER BY guid")] == ["p21", "p26", "p9"]
    assert source_row(db, "phpbb")["high_water"] is None  # not advanced past a failure
    assert errors["gone"] == server.url("/gone/viewforum.php") + ": HTTP 410 Gone"
    assert source_row(db, "gone")["active"] == 0


def test_settings_selectors_override_a_preset_and_wrong_ones_are_an_error(tmp_path):
    pages = forum_pages("/phpbb/viewforum.php?f=2", "/phpbb/viewtopic.php?f=2&t=7", "/phpbb/viewtopic.php?f=2&t=3",
                        "/phpbb/viewtopic.php?f=2&t=7&start=2")
    extra = '[sources.selectors]\nauthor = "dl.postprofile dt a"\nnext_page = "a.no-such-link::attr(href)"\n'
    crawl = crawl_in_process(settings_file(tmp_path, forum("f", url("/phpbb/viewforum.php?f=2"), "phpbb3", extra)),
                             pages)
    # the thread's last page is read first, whatever next_page says; t=3 has no profile: no author at all
    assert crawl.fetches["f"].error == (url("/phpbb/viewtopic.php?f=2&t=3") + ": no post has an author (selector "
                                        "author 'dl.postprofile dt a'): wrong selectors or a changed theme? Posts "
                                        "without them are not stored")
    assert sorted(p.author for p in crawl.posts) == ["ana", "ben", "dora"]
    assert crawl.fetches["f"].high_water is None


@pytest.mark.parametrize("text,tz,expected", [
    ("Today at 5:04 pm", "Europe/Berlin", "2026-11-23T16:04:00Z"),
    ("Yesterday, 10:01 AM", "UTC", "2026-11-22T10:01:00Z"),
    ("November 04, 2015, 05:04:20 pm", "America/New_York", "2015-11-04T22:04:20Z"),
    ("« Reply #3 on: November 04, 2015, 05:04:20 pm »", "UTC", "2015-11-04T17:04:20Z"),
    ("by  » Wed Jan 02, 2013 7:14 pm ", "Europe/London", "2013-01-02T19:14:00Z"),
    ("Sun Jul 05, 2015 7:14 pm", "Europe/London", "2015-07-05T18:14:00Z"),  # summer time
    ("11-04-2015, 05:04 PM", "UTC", "2015-11-04T17:04:00Z"),
    ("2015-11-04T17:04:20+01:00", "Asia/Tokyo", "2015-11-04T16:04:20Z"),
    ("no date here", "UTC", None),
    ("", "UTC", None),
])
def test_forum_dates(text, tz, expected):
    assert parse_forum_date(text, tz, NOW) == expected


@pytest.mark.parametrize("text,tz,language,expected", [
    ("5 minutes ago", "UTC", None, "2026-11-23T05:55:00Z"),
    ("an hour ago", "Europe/Berlin", None, "2026-11-23T05:00:00Z"),
    ("Just now", "UTC", None, "2026-11-23T06:00:00Z"),
    ("Yesterday", "UTC", None, "2026-11-22T00:00:00Z"),
    ("Gestern, 10:42", "Europe/Berlin", "de", "2026-11-22T09:42:00Z"),
    ("vor 5 Minuten", "Europe/Berlin", "de", "2026-11-23T05:55:00Z"),
    ("4. November 2015, 17:04", "Europe/Berlin", "de", "2015-11-04T16:04:00Z"),
    ("Mi 4. Nov 2015 17:04", "UTC", "de", "2015-11-04T17:04:00Z"),
    ("Aujourd'hui à 10:42", "Europe/Paris", "fr", "2026-11-23T09:42:00Z"),
    ("il y a 3 heures", "UTC", "fr", "2026-11-23T03:00:00Z"),
    ("4 février 2015 à 10h42", "Europe/Paris", "fr", "2015-02-04T09:42:00Z"),
    ("hace 2 días", "UTC", "es", "2026-11-21T06:00:00Z"),
    ("12 agosto 2015 10:00", "UTC", "es", "2015-08-12T10:00:00Z"),
    ("ieri alle 18:30", "Europe/Rome", "it", "2026-11-22T17:30:00Z"),
    ("04.11.2015, 17:04", "UTC", None, "2015-11-04T17:04:00Z"),  # dotted: day first
    ("1795000000", "Asia/Tokyo", None, "2026-11-18T11:06:40Z"),  # XenForo 1's data-time
    ("by user123 » Thu Jan 01, 2026 1:35 am", "UTC", None, "2026-01-01T01:35:00Z"),  # a name with digits
    ("Posted: Tue Nov 10, 2026 9:15 am Post subject: Re: Firefox 146", "UTC", None, "2026-11-10T09:15:00Z"),
    ("Posts: 112", "UTC", None, None),
    ("Firefox 146.0.1", "UTC", None, None),
])
def test_relative_localized_and_noisy_forum_dates(text, tz, language, expected):
    assert parse_forum_date(text, tz, NOW, language) == expected


def test_today_is_the_forums_today_not_utcs():
    late = datetime(2026, 11, 23, 23, 30, tzinfo=timezone.utc)  # already the 24th in Tokyo
    assert parse_forum_date("Today, 08:00 AM", "Asia/Tokyo", late) == "2026-11-23T23:00:00Z"


def test_rerun_under_a_new_session_id_stores_and_updates_nothing_and_sources_lists_it(server, tmp_path):
    """End to end (crawl child, loopback, store): phpBB 2 links carry ``sid=``; the second run's pages carry
    another one. Nothing is new or updated, and ``listener sources`` names the engine it recognised."""
    engines = FIXTURES / "forums" / "engines"
    board = (engines / "phpbb2_board.html").read_bytes()
    new_sid = board.replace(b"3f2a9c0d1e8b7a6f5e4d3c2b1a098765", b"00aa11bb22cc33dd44ee55ff66778899")
    html = {"Content-Type": "text/html; charset=iso-8859-1"}
    server.add("/viewforum.php?f=3", new_sid, headers=html).queue.append(Route(body=board, headers=html))
    server.add("/viewtopic.php?t=12", (engines / "phpbb2_thread.html").read_bytes(), headers=html)
    server.add("/viewtopic.php?t=12&start=15", (engines / "phpbb2_last.html").read_bytes(), headers=html)
    path = settings_file(tmp_path, '[[sources]]\nname = "old-board"\ntype = "forum"\n'
                                   f'url = "{server.url("/viewforum.php?f=3")}"\nmax_age = "30d"\n')
    db, first = collect(path)
    assert (first.counts.new, first.failed) == (4, [])
    assert sorted(r[0] for r in db.execute("SELECT url FROM posts")) == \
        [server.url("/viewtopic.php?t=12#100") + n for n in ("1", "2")] + \
        [server.url("/viewtopic.php?t=12&start=15#100") + n for n in ("3", "4")]
    db, second = collect(path)
    assert (second.counts.new, second.counts.updated, second.failed) == (0, 0, [])
    assert not any("sid=" in h.path for h in server.log)
    r = CliRunner().invoke(cli, ["--config", str(path), "sources"])
    assert r.exit_code == 0 and "forum (phpbb2)" in r.output


def test_sources_shows_the_first_errors_of_a_run_and_how_many(tmp_path):
    path = settings_file(tmp_path, forum("f", "https://forum.example.org/viewforum.php?f=2", "phpbb3"))
    settings = load_settings(path)
    db = store.open_db(settings.db_path)
    store.sync_sources(db, settings.sources)
    lines = [f"https://forum.example.org/viewtopic.php?t={n}: HTTP 404 Not Found" for n in range(1, 6)]
    lines[4] = "https://forum.example.org/viewtopic.php?t=5: a login/registration wall ('Login')"
    store.record_fetch(db, "f", now="2026-11-23T06:00:00Z", status=200, error="\n".join(lines))
    r = CliRunner(env={"COLUMNS": "400"}).invoke(cli, ["--config", str(path), "sources"])
    assert r.exit_code == 0
    assert "viewtopic.php?t=3: HTTP 404" in r.output and "viewtopic.php?t=4" not in r.output
    assert "(5 errors in all; 'listener collect NAME' lists every one)" in r.output


def test_a_rows_last_post_link_leads_to_the_threads_last_page_end_to_end(server, tmp_path):
    """A MyBB row without page links (ours, the row's "(Pages: 1 2)" taken out) gives its "Last Post" link,
    which the board answers with a redirect to the last page; the thread is read back from there."""
    engines = FIXTURES / "forums" / "engines"
    board = re.sub(rb' <span class="smalltext">\(Pages:.*?\)</span>', b"",
                   (engines / "mybb_board.html").read_bytes())
    assert b"page=2" not in board.split(b'class="inline_row"')[1]
    html = {"Content-Type": "text/html; charset=utf-8"}
    server.add("/forumdisplay.php?fid=2", board, headers=html)
    server.add("/showthread.php?tid=9&action=lastpost", b"", status=302,
               headers={"Location": server.url("/showthread.php?tid=9&page=2#pid1004")})
    server.add("/showthread.php?tid=9&page=2", (engines / "mybb_last.html").read_bytes(), headers=html)
    server.add("/showthread.php?tid=9", (engines / "mybb_thread.html").read_bytes(), headers=html)
    path = settings_file(tmp_path, '[[sources]]\nname = "mybb"\ntype = "forum"\n'
                                   f'url = "{server.url("/forumdisplay.php?fid=2")}"\nmax_age = "30d"\n')
    db, first = collect(path)
    assert (first.counts.new, first.failed) == (4, [])
    assert [h.path for h in server.log if h.path != "/robots.txt"] == [
        "/forumdisplay.php?fid=2", "/showthread.php?tid=9&action=lastpost", "/showthread.php?tid=9&page=2",
        "/showthread.php?tid=9"]
    assert db.execute("SELECT url FROM posts WHERE guid = 'post_1004'").fetchone()[0] == \
        server.url("/showthread.php?tid=9&page=2#post_1004")
