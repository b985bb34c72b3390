"""The headless Chromium the browser tests drive."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# CI installs Chromium (.ci/run); there a missing browser is a failure, not a skip.
needs_chromium = pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CI"),
                                    reason="Chromium not installed (CI installs it)")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--disable-quic", "--disable-extensions"]

# Every rendered element and text run inside the content column (``column``) stays within it, every other
# one within the viewport, and no box's content spills out of it (overflow: visible hides nothing).
OVERFLOWS = """(column) => {
  const vw = document.documentElement.clientWidth;
  const col = document.querySelector(column) || document.body;
  const cs = getComputedStyle(col), cr = col.getBoundingClientRect();
  const inner = [cr.left + parseFloat(cs.paddingLeft), cr.right - parseFloat(cs.paddingRight)];
  const bounds = el => (col.contains(el) && el !== col) ? inner : [0, vw];
  const name = el => el.tagName.toLowerCase() + (typeof el.className === "string" && el.className ?
    "." + el.className.trim().split(/\\s+/).join(".") : "");
  const bad = [];
  for (const el of document.body.querySelectorAll("*")) {
    const r = el.getBoundingClientRect(), [lo, hi] = bounds(el);
    if (!r.width && !r.height) continue;
    if (r.left < lo - 1 || r.right > hi + 1)
      bad.push(`${name(el)} spans ${Math.round(r.left)}..${Math.round(r.right)}`);
    else if (el.clientWidth && el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX === "visible")
      bad.push(`${name(el)} content ${el.scrollWidth} px in a ${el.clientWidth} px box`);
  }
  const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walk.nextNode(); n; n = walk.nextNode()) {
    if (!n.textContent.trim()) continue;
    const range = document.createRange();
    range.selectNodeContents(n);
    const r = range.getBoundingClientRect(), [lo, hi] = bounds(n.parentElement);
    if (r.width && (r.left < lo - 1 || r.right > hi + 1))
      bad.push(`text "${n.textContent.trim().slice(0, 40)}" in ${name(n.parentElement)} spans ` +
               `${Math.round(r.left)}..${Math.round(r.right)}`);
  }
  return {scrollWidth: document.documentElement.scrollWidth, viewport: vw, column: cr.width, bad: bad.slice(0, 8)};
}"""


@contextlib.contextmanager
def chromium():
    """Debian's Chromium, headless, through Playwright (one per test module: a launch takes a second)."""
    from playwright.sync_api import sync_playwright

    assert CHROMIUM, "chromium is not installed"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield b
        finally:
            b.close()


@contextlib.contextmanager
def new_page(browser, **context):
    """A page in a fresh context (``context``: Playwright's options); its dialogs are dismissed and their
    messages kept in ``page.dialogs``."""
    ctx = browser.new_context(**context)
    pg = ctx.new_page()
    pg.dialogs = []
    pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))
    try:
        yield pg
    finally:
        ctx.close()


def assert_fits(page, column: str, width: int, shot: Path) -> dict:
    """Lay ``page`` out ``width`` px wide and assert nothing overflows; when something does, its top is
    screenshot into ``shot`` (named in the failure) to see what."""
    page.set_viewport_size({"width": width, "height": 1000})
    got = page.evaluate(OVERFLOWS, column)
    if got["scrollWidth"] > width or got["bad"]:
        page.screenshot(path=str(shot))
        raise AssertionError(f"{shot} overflows: {got}")
    return got


@contextlib.contextmanager
def live_server(app) -> Iterator[str]:
    """``app`` served by uvicorn on a free 127.0.0.1 port in a thread; yields its base URL."""
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "the test server did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
