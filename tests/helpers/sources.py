"""Helpers for the social-source tests: replay vendored payloads with their recorded headers."""

from __future__ import annotations

import json
from pathlib import Path

from listener import pipeline, store
from listener.config import load_settings
from listener.replay import ReplayServer, Route
from tests.helpers import FIXTURES, NOW, PRODUCTS_TOML

RECORDED_HOST = "http://localhost:3000"  # Mastodon.py's test server, in recorded Link headers
RECORDED_APIS = (RECORDED_HOST, "https://api.github.com")
REPLAY_HEADERS = ("content-type", "link", "cache-control", "x-ratelimit-limit", "x-ratelimit-remaining",
                  "x-ratelimit-used")


def manifest_headers(folder: str, file: str, base: str) -> dict[str, str]:
    """The recorded response headers of a fixture, with recorded hosts pointed at ``base``.

    ``x-ratelimit-reset`` is left out: recorded resets lie in the past or future of
    the recording, not of the test run.
    """
    manifest = FIXTURES / folder / "manifest.json"
    entries = json.loads(manifest.read_text()) if manifest.exists() else []  # our own pages have none
    entry = next((e for e in entries if e["file"] == file), {})
    headers = {k: v for k, v in (entry.get("headers") or {}).items() if k in REPLAY_HEADERS}
    if "link" in headers:
        for host in RECORDED_APIS:
            headers["link"] = headers["link"].replace(host, base)
    headers.setdefault("content-type", _guess_type(file))
    return headers


def _guess_type(file: str) -> str:
    return {".json": "application/json; charset=utf-8", ".xml": "application/atom+xml",
            ".html": "text/html; charset=utf-8"}.get(Path(file).suffix, "application/octet-stream")


def serve(server: ReplayServer, path: str, folder: str | Path, file: str, *, replace: str | None = None,
          **kwargs) -> Route:
    """Serve a fixture at ``path`` with its manifest headers (``replace``: host to point here).

    ``folder`` is a folder of tests/fixtures, or any folder (the demo's bundled pages)."""
    body = (FIXTURES / folder / file).read_bytes()
    if replace:
        body = body.replace(replace.encode(), server.base_url.encode())
    return server.add(path, body, headers=manifest_headers(folder, file, server.base_url), **kwargs)


def rate_limited(seconds: int = 1) -> Route:
    """A one-off 429 asking to come back after ``seconds``."""
    return Route(body=b'{"error": 429, "message": "Too Many Requests"}', status=429,
                 headers={"Content-Type": "application/json", "Retry-After": str(seconds)})


def settings_file(tmp_path: Path, sources: str, collect: str = "timeout = 3\nretries = 2\n") -> Path:
    """A settings.toml with the test products and the given ``[[sources]]`` TOML."""
    path = tmp_path / "settings.toml"
    path.write_text(f'[store]\npath = "test.db"\n\n[collect]\n{collect}retry_backoff = 0.1\n'
                    f"{PRODUCTS_TOML}\n{sources}", encoding="utf-8")
    return path


def collect(path: Path, *names: str, env: dict[str, str] | None = None, now=NOW):
    """Load settings, collect, and return (db, report)."""
    settings = load_settings(path)
    db = store.open_db(settings.db_path)
    return db, pipeline.collect(db, settings, names, now=now, environ=env or {})


def source_row(db, name: str) -> dict:
    return next(r for r in store.sources_table(db) if r["name"] == name)
