"""Shared fixtures: a loopback HTTP server and settings files pointing at it."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import pytest

from listener.config import Settings, load_settings
from listener.replay import ReplayServer

FIXTURES = Path(__file__).parent / "fixtures"
FEEDS = FIXTURES / "feeds"
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


@pytest.fixture
def server():
    with ReplayServer() as srv:
        yield srv


@pytest.fixture
def write_settings(tmp_path: Path) -> Callable[..., Path]:
    """Write a settings.toml in tmp_path with the given sources; return its path."""

    def write(sources: dict[str, str] | None = None, *, products: str = PRODUCTS_TOML,
              collect: str = "timeout = 2\nretries = 0\n", extra: str = "") -> Path:
        lines = ['[store]\npath = "test.db"\n', '[digest]\noutput_dir = "out"\n',
                 f"[collect]\n{collect}\n", products, extra]
        for name, url in (sources or {}).items():
            lines.append(f'[[sources]]\nname = "{name}"\nurl = "{url}"\ninterval = "10m"\n')
        path = tmp_path / "settings.toml"
        path.write_text("\n".join(lines), encoding="utf-8")
        return path

    return write


@pytest.fixture
def settings_for(write_settings) -> Callable[..., Settings]:
    def make(sources: dict[str, str] | None = None, **kwargs) -> Settings:
        return load_settings(write_settings(sources, **kwargs))

    return make
