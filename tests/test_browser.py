"""The HTML digest in real headless Chromium: it shows the numbers, and hostile text stays inert."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from listener import pipeline, store
from tests.helpers import NOW
from tests.helpers.browser import CHROMIUM, needs_chromium

pytestmark = [needs_chromium, pytest.mark.slow]  # a real browser: seconds per page

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions"]


def chromium(tmp_path: Path, *args: str) -> str:
    assert CHROMIUM, "chromium is not installed"
    out = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args],
                         capture_output=True, timeout=90)
    assert out.returncode == 0, out.stderr.decode(errors="replace")[-2000:]
    return out.stdout.decode("utf-8", errors="replace")


@pytest.mark.slow
def test_demo_digest_renders_with_numbers(demo_run, tmp_path):
    assert demo_run.result.exit_code == 0, demo_run.result.output
    html_path = demo_run.digest_html
    dom = chromium(tmp_path, "--dump-dom", html_path.as_uri())
    assert "<td>Ruby</td>" in dom and "<td>56.2%</td>" in dom  # see test_demo.py
    # share of voice + 5 products; PostgreSQL has no mention in the window: one line, no chart
    assert dom.count('<img class="chart" src="data:image/png;base64,') == 6
    shot = tmp_path / "digest.png"
    chromium(tmp_path, "--window-size=1000,1500", f"--screenshot={shot}", html_path.as_uri())
    # the charts really render: the share-of-voice bars are a large dark area in the top screen
    import matplotlib.image

    pixels = matplotlib.image.imread(str(shot))[:, :, :3].mean(axis=2)
    dark = (pixels[600:1000] < 0.3).mean()
    assert dark > 0.03, f"only {dark:.1%} dark pixels where the share-of-voice chart should be"


def test_script_in_collected_text_stays_inert(settings_for, tmp_path):
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
    dom = chromium(tmp_path, "--dump-dom", paths[0].as_uri())
    assert "<title>Daily digest for 2026-11-22</title>" in dom
    assert "pwned" not in dom.split("<body>")[0]
    assert "&lt;script&gt;document.title" in dom
    assert "<script" not in dom.split("<body>")[1]
