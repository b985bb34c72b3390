"""What the tests share: fixed time, fixture folders and the test products.

Builders live in the modules beside this one (``feeds``, ``posts``, ``receivers``,
``sources``, ``spiders``); pytest fixtures live in ``tests/conftest.py``. Test
modules import from here, never from each other.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
FEEDS = FIXTURES / "feeds"
DEMO = ROOT / "listener" / "app" / "demo"  # the demo's bundled feeds and API answers
DEMO_FEEDS = DEMO / "feeds"
DEMO_SOCIAL = DEMO / "social"  # also our phpBB pages
NOW = datetime(2026, 11, 23, 6, 0, 0, tzinfo=timezone.utc)

PRODUCTS_TOML = """
[[products]]
name = "Firefox"
aliases = ["Firefox", "Mozilla Firefox"]
exclude = ["Firefox OS"]
ours = true

[[products]]
name = "Chrome"
aliases = ["Chrome", "Google Chrome"]
exclude = ["chrome plating"]
"""
