"""The HTML digest and the web pages in real headless Chromium (one browser per module): they show the
numbers, hostile text stays inert, and nothing overflows at a phone's, an email's and a desktop's width."""

from __future__ import annotations

import base64
import re
from datetime import date
from pathlib import Path
from urllib.parse import quote

import pytest

from listener import pipeline, store
from listener.config import load_settings
from reports.deliver import cid
from reports.render import EMAIL_WIDTH, digest_message, render_html
from tests.helpers import NOW, PRODUCTS_TOML
from tests.helpers.browser import assert_fits, chromium, live_server, needs_chromium, new_page
from tests.helpers.digests import LONG_TOKEN, LONG_URL, empty_digest, rich_digest
from tests.helpers.posts import make_posts

# a real browser: seconds per page. One worker runs them all (one launch); the demo's test stays with the demo.
pytestmark = [needs_chromium, pytest.mark.slow]
WIDTHS = (375, 700, 1200)  # a phone, an email client's reading pane, a desktop window


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


@pytest.fixture
def page(browser):
    with new_page(browser, viewport={"width": 1200, "height": 1000}) as pg:
        yield pg


def test_demo_digest_renders_with_numbers(demo_run, page, tmp_path):
    assert demo_run.result.exit_code == 0, demo_run.result.output
    page.goto(demo_run.digest_html.as_uri())
    dom = page.content()
    assert "<td>Apple</td>" in dom and "<td>47.3%</td>" in dom  # see test_demo.py
    # share of voice + 6 products' volume and topic charts
    assert dom.count('<img class="chart" src="data:image/png;base64,') == 13
    assert page.evaluate("[...document.images].every(i => i.complete && i.naturalWidth > 0)")
    shot = tmp_path / "digest.png"
    page.set_viewport_size({"width": 1000, "height": 1500})
    page.screenshot(path=str(shot))
    # the charts really render: the share-of-voice bars are a large dark area in the top screen
    import matplotlib.image

    pixels = matplotlib.image.imread(str(shot))[:, :, :3].mean(axis=2)
    top = int(page.evaluate("document.querySelector('img.chart').getBoundingClientRect().top"))
    dark = (pixels[top:top + 400] < 0.3).mean()
    assert dark > 0.03, f"only {dark:.1%} dark pixels where the share-of-voice chart should be"
    assert_fits(page, ".page", 375, tmp_path / "digest-375.png")


def test_script_in_collected_text_stays_inert(settings_for, page, tmp_path):
    settings = settings_for(products='[[products]]\nname = "Acme"\nours = true\n')
    db = store.open_db(settings.db_path)
    store.upsert_posts(db, [{
        "source": "evil", "guid": "1", "url": "https://example.org/1", "author": "<b>mallory</b>",
        "title": "<script>document.title='pwned'</script>Acme is great, love it",
        "text": "<img src=x onerror=\"document.title='pwned2'\"> Acme rocks and I love it",
        "published_at": "2026-11-22T10:00:00Z", "language": "en",
        "score": None, "comments": None, "likes": None, "shares": None}], now="2026-11-23T00:00:00Z")
    pipeline.classify(db, settings, now=NOW)
    paths = pipeline.digest(db, settings, day=NOW.date().replace(day=22), now=NOW, out_dir=tmp_path / "d").paths
    page.goto(paths[0].as_uri())
    dom = page.content()
    assert page.title() == "Daily digest for 2026-11-22"
    assert "pwned" not in dom.split("<body")[0] and page.dialogs == []
    assert "&lt;script&gt;document.title" in dom
    assert "<script" not in dom.split("<body")[1]


@pytest.fixture(scope="module")
def digests() -> dict[str, str]:
    """The rich digest (with real charts: share of voice and one product's volume), the same as
    emailed (its cid: images as data URIs, as a mail client shows them) and an empty one."""
    from reports.charts import share_chart, volume_chart

    d = rich_digest()
    p = d.products[0]
    charts = [share_chart("share-of-voice", [q.name for q in d.products], [q.share_of_voice or 0 for q in d.products],
                          [q.ours for q in d.products]),
              volume_chart("volume-1", p.name, [x.day for x in p.series], [x.mentions for x in p.series],
                           [x.net_sentiment for x in p.series])]
    email = digest_message(d, charts).html or ""
    for c in charts:
        email = email.replace(f"cid:{cid(c.name)}", "data:image/png;base64," + base64.b64encode(c.png).decode())
    # a client that drops the style sheet (most do, in part) keeps only the inline styles
    unstyled = re.sub(r"<style>.*?</style>", "", email, flags=re.S)
    return {"rich": render_html(d, charts), "email": email, "email-unstyled": unstyled,
            "empty": render_html(empty_digest(), [])}


@pytest.mark.parametrize("kind", ["rich", "email", "email-unstyled", "empty"])
def test_the_digest_fits_a_phone_an_email_and_a_desktop(digests, kind, page, tmp_path):
    page.set_content(digests[kind])
    for width in WIDTHS[1:] if kind == "email-unstyled" else WIDTHS:  # a phone's client keeps the styles
        got = assert_fits(page, ".page", width, tmp_path / f"{kind}-{width}.png")
        if kind.startswith("email"):  # within 700 px however wide the reading pane
            assert got["column"] <= EMAIL_WIDTH
        if kind == "rich":  # the summary is a table from 700 px up, one card per product on a phone
            thead = page.evaluate("getComputedStyle(document.querySelector('table.summary thead')).display")
            assert (thead == "none") == (width < 600), (width, thead)
        if kind == "empty":  # an empty period stays short
            assert page.evaluate("document.documentElement.scrollHeight") < 1700
    page.set_viewport_size({"width": 700, "height": 1000})
    page.screenshot(path=str(tmp_path / f"{kind}-700.png"))   # the email width: something is drawn
    assert (tmp_path / f"{kind}-700.png").stat().st_size > 5_000
    if kind != "empty":
        text = page.inner_text("body")
        assert LONG_TOKEN in text.replace("\n", "") and LONG_URL[:40] in text.replace("\n", "")
        assert page.evaluate("[...document.images].every(i => i.complete && i.naturalWidth > 0)")


LONG_PRODUCT = "Mozilla Firefox Developer Edition Nightly for Enterprise Deployments"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The web app on 127.0.0.1 over the web tests' posts, a product with a long name and a post whose
    title and URL are one long token each."""
    from listener.app.web import create_app

    folder = tmp_path_factory.mktemp("site")
    (folder / "settings.toml").write_text(
        '[store]\npath = "web.db"\n[sentiment]\nmodel = "vader"\n' + PRODUCTS_TOML
        + f'\n[[products]]\nname = "{LONG_PRODUCT}"\naliases = ["crashing"]\n', encoding="utf-8")
    settings = load_settings(folder / "settings.toml")
    db = store.open_db(settings.db_path)
    posts = make_posts()
    posts.append({**posts[0], "guid": "long", "title": "Firefox " + LONG_TOKEN, "url": LONG_URL})
    store.upsert_posts(db, posts, now="2026-11-23T00:00:00Z")
    pipeline.classify(db, settings, now=NOW)
    long_id = db.execute("SELECT id FROM posts WHERE guid = 'long'").fetchone()[0]
    store.record_alert(db, rule="long " + LONG_TOKEN[:60], product=LONG_PRODUCT, condition="spike",  # the inbox
                       metric="mentions", fired_at="2026-11-22T12:00:00Z", window_start="2026-11-21T12:00:00Z",
                       window_end="2026-11-22T12:00:00Z", value=9.0, expected=2.0, p=0.01,
                       detail={"reason": "9 mentions " + LONG_TOKEN, "drivers": {
                           "terms": [[LONG_TOKEN[:50], 4]], "sources": [["fixture", 9]], "examples": [
                               {"post_id": long_id, "title": "Firefox " + LONG_TOKEN, "url": LONG_URL,
                                "source": "fixture", "posted_at": "2026-11-22T10:00:00Z", "excerpt": LONG_TOKEN}]}})
    settings.digest.output_dir.mkdir()   # the archive: a digest's files (their content is not what is checked here)
    for ext in ("html", "md", "json", "pdf"):
        (settings.digest.output_dir / f"digest-2026-11-22-{LONG_TOKEN[:40].lower()}.{ext}").write_text("x")
    db.close()
    with live_server(create_app(settings, today=lambda: date(2026, 11, 23))) as base:
        yield base, long_id


def test_the_product_pages_fit_a_phone_and_a_desktop(site, page, tmp_path):
    base, long_id = site
    relabel = page.request.put(f"{base}/api/posts/{long_id}/mentions/Firefox",  # the post's History
                               data={"sentiment": "negative"})
    assert relabel.ok, relabel.text()
    for n, path in enumerate(["/products", "/products/" + quote(LONG_PRODUCT), f"/posts/{long_id}"]):
        page.goto(base + path)
        for width in (1200, 375):
            assert_fits(page, "main", width, tmp_path / f"page{n}-{width}.png")
        if path == "/products":  # one card per product on the phone
            assert page.evaluate("getComputedStyle(document.querySelector('table.overview thead')).display") == "none"
        if n == 2:  # the post page with an editor's buttons per mention (the site is open: an admin)
            assert page.locator("form.mention-actions button").count() >= 5
            assert page.locator("ol.changes form.undo-change button").count() == 1   # the relabel's undo
        if n == 1:  # the charts scale by their viewBox instead of running off the side
            assert page.evaluate("document.querySelector('figure.chart > svg').getBoundingClientRect().width") < 360


def test_the_login_form_and_the_audit_log_fit_a_phone_and_a_desktop(site, page, tmp_path):
    base, _ = site
    saved = page.request.post(base + "/api/saved-searches",  # the site is open: a change as "local"
                              data={"name": "long " + LONG_TOKEN[:80], "query": "firefox " + LONG_TOKEN})
    assert saved.status == 201, saved.text()
    for n, path in enumerate(["/login", "/admin/audit"]):
        page.goto(base + path)
        for width in (1200, 375):
            assert_fits(page, "main", width, tmp_path / f"users{n}-{width}.png")
    assert page.locator("table.audit tbody tr").count() >= 1 and "saved_search.save" in page.content()
    assert page.evaluate("getComputedStyle(document.querySelector('table.audit thead')).display") == "none"


def test_the_manage_pages_fit_a_phone_and_a_desktop(site, page, tmp_path):
    """The /manage pages (issue 17c) with every form opened, at a desktop's and a phone's width."""
    base, _ = site
    for path in ("/manage/products?edit=" + quote(LONG_PRODUCT), "/manage/sources", "/manage/alerts",
                 "/manage/channels"):
        page.goto(base + path)
        page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
        name = path.strip("/").replace("/", "-").split("?")[0]
        for width in (1200, 375):
            assert_fits(page, "main", width, tmp_path / f"{name}-{width}.png")


def test_an_author_and_a_source_page_fit_a_phone_and_a_desktop(site, page, tmp_path):
    """/authors/blog/user0 (whose posts include the one-long-token title) and /sources/blog (issue 17)."""
    base, _ = site
    for name, path in (("author", "/authors/blog/user0"), ("source", "/sources/blog")):
        page.goto(base + path + "?from=2026-11-01&to=2026-11-22")
        for width in (1200, 375):
            assert_fits(page, "main", width, tmp_path / f"{name}-{width}.png")
        assert page.locator("#products tbody tr").count() == 2 and page.locator("#top-posts li").count() >= 3
    assert page.locator("#authors a.author").count() == 5   # user0..user4 all post on the blog

def test_the_alert_inbox_and_the_digest_archive_fit_a_phone_and_a_desktop(site, page, tmp_path):
    """/alerts with an editor's status buttons (the site is open: an admin) and /digests (issue 17e)."""
    base, _ = site
    for path in ("/alerts", "/digests"):
        page.goto(base + path)
        for width in (1200, 375):
            assert_fits(page, "main", width, tmp_path / f"{path.strip('/')}-{width}.png")
    page.goto(base + "/alerts")
    assert page.locator("article.alert form.status-actions button").count() == 2   # seen, handled
    page.locator("form.status-actions button[value=seen]").click()
    assert page.locator("article.alert.seen").count() == 1 and "seen by local" in page.inner_text("main")


def test_the_saved_searches_page_fits_a_phone_and_a_desktop(site, page, tmp_path):
    """/saved (issue 17) with a long name and query, an editor's forms (the site is open: an admin), and the
    search page's "Save this search" form."""
    base, _ = site
    saved = page.request.post(base + "/api/saved-searches",
                              data={"name": "saved " + LONG_TOKEN[:80], "query": "firefox OR " + LONG_TOKEN})
    assert saved.status == 201, saved.text()
    for path in ("/saved", "/search?q=firefox&sentiment=negative"):
        page.goto(base + path)
        name = path.strip("/").split("?")[0]
        for width in (1200, 375):
            assert_fits(page, "main", width, tmp_path / f"{name}-{width}.png")
        if path == "/saved":
            assert page.locator("li.saved form").count() >= 2 and page.locator("pre.digest").count() >= 1
        else:
            assert page.locator("form.save-search input[name=name]").count() == 1


def test_the_retag_offer_the_bulk_form_and_the_users_page_fit_a_phone_and_a_desktop(site, page, tmp_path):
    """Issue 17: /manage/products offering a re-tag, search results with the bulk form, /admin/users."""
    base, _ = site
    for n, path in enumerate(["/manage/products?done=saved&retag=" + quote(LONG_PRODUCT),
                              "/search?q=crashing&product=" + quote(LONG_PRODUCT), "/admin/users"]):
        page.goto(base + path)
        for width in (1200, 375):
            assert_fits(page, "main", width, tmp_path / f"issue17-{n}-{width}.png")
        if n == 0:
            assert page.locator("form.retag button").count() == 1
        if n == 1:
            assert page.locator("form#bulk button").count() == 1 and page.locator("input[form=bulk]").count() >= 1
