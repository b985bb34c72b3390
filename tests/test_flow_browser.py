"""Issue 17's whole flow in headless Chromium against a real server and a loopback feed: users made by
the CLI, an editor adds a product and a source (with a test fetch), a cycle runs, the mentions are found,
relabelled and the numbers follow, the search is saved from its page, an alert rule fires into the inbox; then a viewer
may read but every change is refused, and so is a form post without its CSRF field."""

from __future__ import annotations

import re
from datetime import date

import pytest
from click.testing import CliRunner

from listener.app.cli import cli
from listener.app.web import create_app
from listener.config import load_settings
from tests.helpers import NOW
from tests.helpers.browser import assert_fits, chromium, live_server, needs_chromium
from tests.helpers.feeds import Entry, atom

pytestmark = [needs_chromium, pytest.mark.slow]
PASSWORDS = {"ed": "ed's password1", "vi": "vi's password1"}
FEED = [Entry("tag:z,1", "Zephyr is great", "I love the Zephyr browser, so fast", "2026-11-23T01:00:00Z", author="ann"),
        Entry("tag:z,2", "Zephyr crashed again", "Zephyr crashed and I lost my tabs, terrible", "2026-11-23T02:00:00Z",
              author="bo"),
        Entry("tag:z,3", "A zephyr in the park", "A gentle Zephyr blew through the trees", "2026-11-23T03:00:00Z",
              author="cy"),
        Entry("tag:z,4", "Weather", "rain all day", "2026-11-23T04:00:00Z", author="di")]


def cli_run(path, *args: str, input: str | None = None) -> str:
    r = CliRunner().invoke(cli, ["--config", str(path), "--now", NOW.strftime("%Y-%m-%dT%H:%M:%SZ"), *args],
                           input=input)
    assert r.exit_code == 0, (args, r.output)
    return r.output


def test_the_editor_s_flow_and_the_viewer_s_refusals(server, tmp_path):
    """Screenshots (1,200 and 375 px) of the sources, search, post and inbox pages are left in tmp_path."""
    server.add("/zephyr.atom", atom(FEED), headers={"Content-Type": "application/atom+xml"})
    path = tmp_path / "settings.toml"
    path.write_text('[store]\npath = "flow.db"\n\n[collect]\ntimeout = 2\nretries = 0\n', encoding="utf-8")
    cli_run(path, "init-db")
    for name, role in (("ed", "editor"), ("vi", "viewer")):
        cli_run(path, "users", "add", name, "--role", role, "--password-stdin", input=PASSWORDS[name] + "\n")
    app = create_app(load_settings(path), today=lambda: date(2026, 11, 23), now=lambda: NOW)
    shots = []

    def shot(pg, name: str) -> None:
        for width in (1200, 375):  # nothing overflows, the nav's name and logout button included
            assert_fits(pg, "main", width, tmp_path / f"{name}-{width}.png")
            pg.screenshot(path=str(tmp_path / f"{name}-{width}.png"))
            shots.append(f"{name}-{width}")
        pg.set_viewport_size({"width": 1200, "height": 900})

    with live_server(app) as url, chromium() as browser:
        pg = browser.new_context(viewport={"width": 1200, "height": 900}).new_page()

        def login(name: str) -> None:
            pg.goto(url + "/login")
            pg.fill("[name=name]", name)
            pg.fill("[name=password]", PASSWORDS[name])
            pg.click("button[type=submit]")
            pg.wait_for_url(url + "/search")
            assert pg.inner_text("#me") == f"{name} ({'editor' if name == 'ed' else 'viewer'})"

        login("ed")
        # a product with an alias
        pg.goto(url + "/manage/products")
        form = pg.locator('form[action="/manage/products"]').last
        form.locator("[name=name]").fill("Zephyr")
        form.locator("[name=aliases]").fill("Zephyr\nZephyr browser")
        form.locator("button[type=submit]").click()
        assert "Saved." in pg.inner_text("main") and "Zephyr browser" in pg.inner_text("table.entries")
        # a feed source on the loopback server, then a test fetch
        pg.goto(url + "/manage/sources")
        feed = pg.locator("details", has_text="Add a feed source").locator("form")
        pg.locator("details", has_text="Add a feed source").locator("summary").click()
        feed.locator("[name=name]").fill("zblog")
        feed.locator("[name=url]").fill(server.url("/zephyr.atom"))
        feed.locator("button[type=submit]").click()
        assert "Saved." in pg.inner_text("main"), pg.inner_text("main")
        pg.locator('form[action="/manage/sources/test"]', has=pg.locator('[value="zblog"]')).locator("button").click()
        found = pg.inner_text("section.test-fetch")
        assert "Test fetch of zblog" in found and "4 entries" in found and "Zephyr crashed again" in found
        shot(pg, "sources")
        # one cycle, by the CLI with the same settings file
        cli_run(path, "collect")
        cli_run(path, "classify")
        # the new mentions, found by search
        pg.goto(url + "/search?q=zephyr")
        assert "3 result(s)" in pg.inner_text("main")
        posts = {a.inner_text(): a.get_attribute("href") for a in pg.locator('main a[href^="/posts/"]').all()
                 if a.inner_text() in {f.title for f in FEED}}
        assert set(posts) == {"Zephyr is great", "Zephyr crashed again", "A zephyr in the park"}, posts
        shot(pg, "search")
        api = pg.context.request
        before = api.get(url + "/api/products/Zephyr").json()
        assert (before["mentions"], before["positive"], before["negative"]) == (3, 1, 1), before
        pg.goto(url + "/products/Zephyr")
        assert re.search(r": 3 mention\(s\), net sentiment \+0\b", pg.inner_text("main")), pg.inner_text("main")
        # relabel one mention, and mark another as not about the product, on their post pages
        pg.goto(url + posts["Zephyr is great"])
        pg.locator("form.mention-actions button[value=negative]").click()
        assert pg.locator("form.mention-actions button[value=negative][aria-pressed=true]").count() == 1
        pg.goto(url + posts["A zephyr in the park"])
        pg.locator("form.mention-actions button[value=not_about]").click()
        shot(pg, "post")
        after = api.get(url + "/api/products/Zephyr").json()
        assert (after["mentions"], after["positive"], after["negative"]) == (2, 0, 2), after
        pg.goto(url + "/products/Zephyr")
        assert re.search(r": 2 mention\(s\), net sentiment -100\b", pg.inner_text("main")), pg.inner_text("main")
        shot(pg, "product")
        # save the search from the search page
        pg.goto(url + "/search?q=zephyr")
        pg.fill("form.save-search [name=name]", "zephyr talk")
        pg.click("form.save-search button[type=submit]")
        pg.goto(url + "/saved")
        assert "zephyr talk" in pg.inner_text("main"), pg.inner_text("main")
        shot(pg, "saved")
        saved = api.get(url + "/api/saved-searches").json()
        assert [(x["name"], x["query"], x["owner"]) for x in saved] == [("zephyr talk", "zephyr", "ed")], saved
        # an alert rule that fires on the fixture: 2 or more mentions in 24 hours
        pg.goto(url + "/manage/alerts")
        form = pg.locator('form[action="/manage/alerts"]').last
        form.locator("[name=name]").fill("zephyr-volume")
        form.locator("[name=product]").select_option("Zephyr")
        form.locator("[name=condition]").select_option("threshold")
        form.locator("[name=metric]").select_option("volume")
        form.locator("[name=threshold]").fill("2")
        form.locator("[name=window]").fill("24h")
        form.locator("button[type=submit]").click()
        assert "Saved." in pg.inner_text("main"), pg.inner_text("main")
        out = cli_run(path, "alerts", "--no-send")
        assert "zephyr-volume" in out, out
        pg.goto(url + "/alerts")
        inbox = pg.inner_text("main")
        assert "zephyr-volume" in inbox and "Zephyr" in inbox, inbox
        shot(pg, "alerts")
        # a form post without its CSRF field is refused, even for an editor
        r = api.post(url + "/manage/products/remove", form={"name": "Zephyr"}, max_redirects=0)
        assert r.status == 403 and "CSRF" in r.text()
        pg.locator("form.logout button").click()
        pg.wait_for_url(url + "/login")

        login("vi")
        csrf = next(c["value"] for c in pg.context.cookies() if c["name"] == "listener_csrf")
        for page_ in (posts["Zephyr crashed again"], "/alerts", "/search?q=zephyr", "/saved"):
            pg.goto(url + page_)
            assert pg.locator("main form[method=post]").count() == 0, page_  # no editing forms for a viewer
        for page_ in ("/manage/products", "/manage/sources", "/manage/alerts"):
            assert pg.goto(url + page_).status == 403, page_
        post_id = posts["Zephyr crashed again"].rsplit("/", 1)[1]
        for action, form in (("/manage/products", {"original": "", "name": "X", "aliases": "X"}),
                             ("/manage/products/remove", {"name": "Zephyr"}), ("/manage/sources/test", {"name": "zblog"}),
                             ("/manage/alerts/remove", {"name": "zephyr-volume"}),
                             (f"/posts/{post_id}/mentions", {"product": "Zephyr", "action": "positive"}),
                             ("/alerts/1/status", {"status": "handled"}), ("/saved", {"name": "v", "q": "x"}),
                             ("/saved/delete", {"name": "zephyr talk"})):
            r = api.post(url + action, form={**form, "csrf": csrf}, max_redirects=0)
            assert r.status == 403 and "editor role" in r.text(), (action, r.status)
        assert api.post(url + "/api/saved-searches", data={"name": "v", "query": "x"}).status == 403
        assert api.get(url + "/api/products/Zephyr").json()["mentions"] == 2  # nothing changed
        browser.close()
    assert len(shots) == 12 and all((tmp_path / f"{s}.png").stat().st_size > 5_000 for s in shots)
