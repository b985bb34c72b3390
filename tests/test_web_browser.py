"""The web UI in real headless Chromium (Playwright driving /usr/bin/chromium) against a live server."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest

from listener import pipeline, store
from listener.config import load_settings
from listener.app.web import create_app
from tests.helpers import NOW, PRODUCTS_TOML
from tests.helpers.browser import chromium, live_server, needs_chromium, new_page
from tests.helpers.posts import make_posts

pytestmark = [needs_chromium, pytest.mark.slow]  # a real browser: seconds per page
@pytest.fixture(scope="module")
def base_url(tmp_path_factory):
    folder = tmp_path_factory.mktemp("site")
    (folder / "settings.toml").write_text('[store]\npath = "web.db"\n[serve]\npage_size = 10\n' + PRODUCTS_TOML,
                                          encoding="utf-8")
    settings = load_settings(folder / "settings.toml")
    db = store.open_db(settings.db_path)
    store.upsert_posts(db, make_posts(), now="2026-11-23T00:00:00Z")
    pipeline.classify(db, settings, now=NOW)
    db.close()
    with live_server(create_app(settings, today=lambda: date(2026, 11, 23))) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


@pytest.fixture
def page(browser):
    with new_page(browser, accept_downloads=True, viewport={"width": 1100, "height": 1400}) as pg:
        yield pg


def test_search_filter_paginate_and_screenshot(page, base_url, tmp_path):
    page.goto(base_url + "/")
    page.fill("input[name=q]", "crash* OR love")
    page.click("button[type=submit]")
    page.wait_for_selector("#summary")
    assert int(page.inner_text("#total")) == 61
    assert page.locator("li.hit").count() == 10
    assert page.locator("li.hit mark").count() >= 10
    shot = tmp_path / "search.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 20_000

    page.select_option("select[name=sentiment]", "positive")
    page.select_option("select[name=product]", "Firefox")
    page.click("button[type=submit]")
    page.wait_for_selector("#summary")
    badges = page.locator("li.hit .badge").all_inner_texts()
    assert badges and all(b.startswith("positive") for b in badges)
    assert int(page.inner_text("#total")) == 11  # 10 loving Firefox posts and the hostile one

    page.goto(base_url + "/search?q=firefox&sort=date")
    page.click("#next")
    page.wait_for_selector("#prev")
    assert "Page 2 of 4" in page.inner_text("nav.pages")
    assert page.locator("li.hit").first.get_attribute("data-id") is not None


def test_export_downloads_the_whole_result(page, base_url):
    page.goto(base_url + "/search?q=firefox")
    with page.expect_download() as info:
        page.click("#export")
    path = info.value.path()
    rows = list(csv.DictReader(io.StringIO(open(path, encoding="utf-8").read())))
    assert len(rows) == 31  # all pages, not just the first 10


def test_script_in_a_post_renders_inert(page, base_url):
    page.goto(base_url + "/search?q=rocks")
    page.wait_for_selector("li.hit")
    assert page.title().startswith("rocks") and "pwned" not in page.title()
    title_text = page.inner_text("li.hit h2")
    assert "<script>document.title='pwned'</script>" in title_text  # shown as text
    page.click("li.hit h2 a")
    page.wait_for_selector("section.why")
    assert page.title() == "<script>document.title='pwned'</script>Firefox rocks - listener"  # text, not run
    assert page.locator("main script, main img").count() == 0
    assert "<b>mallory</b>" in page.inner_text("p.meta")
    assert page.dialogs == []


def test_product_overview_charts(page, base_url):
    page.goto(base_url + "/products/Firefox")
    assert page.locator("figure.chart svg").count() == 2
    assert page.locator("figure.chart rect").count() == 60
    assert "share of voice" in page.inner_text("main").lower()
