"""Shared fixtures: a loopback HTTP server, settings files pointing at it, the digest's fixture
database, and one run of ``listener demo`` for the whole session."""

from __future__ import annotations

import os
import sys

# Cache compiled and assertion-rewritten modules in __pycache__ even where PYTHONDONTWRITEBYTECODE is
# set (as on this machine): otherwise every xdist worker and every child process the tests start (the
# crawler, the daemon, `listener serve`) compiles the repository's modules again, seconds each.
sys.dont_write_bytecode = False
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

import shutil  # noqa: E402  (after the bytecode switch, so that what follows is cached too)
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Callable

import pytest
from click.testing import CliRunner, Result

from listener import pipeline, store
from listener.config import Settings, load_settings
from listener.replay import ReplayServer
from tests.helpers import NOW, PRODUCTS_TOML
from tests.helpers.posts import OUTSIDE, ON_DAY, PRODUCTS, TRAILING


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


@pytest.fixture
def fixture_db(settings_for):
    """The digest's hand-counted posts (tests.helpers.posts), stored and classified: (db, settings)."""
    # The hand count assumes VADER's labels (the digest's arithmetic is what is tested).
    settings = settings_for(products=PRODUCTS, extra='[sentiment]\nmodel = "vader"\n')
    db = store.open_db(settings.db_path)
    store.upsert_posts(db, ON_DAY + TRAILING + OUTSIDE, now="2026-11-23T05:00:00Z")
    pipeline.classify(db, settings, now=NOW)
    return db, settings


@dataclass(frozen=True)
class DemoRun:
    """One ``listener --now NOW demo --smtp ...`` run: its folder, CLI result, digest and the mail sent."""

    dir: Path
    result: Result
    smtp: str  # HOST:PORT the digest was mailed to
    messages: list[EmailMessage]

    @property
    def digest_html(self) -> Path:
        line = [ln for ln in self.result.output.splitlines() if ln.startswith("Digest: ")][0]
        return Path(line.split(": ", 1)[1])

    def copy(self, to: Path) -> Path:
        """A copy of the demo folder to change (the session's run stays as it was)."""
        shutil.copytree(self.dir, to)
        return to


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory) -> DemoRun:
    """The demo's full cycle, run once per session with a real SMTP server receiving its digest.

    Read-only for tests: copy ``demo_run.dir`` (``demo_run.copy(tmp_path / ...)``) to change it.
    """
    from listener.app.cli import cli  # here: only sessions that run the demo import the CLI and aiosmtpd
    from tests.helpers.receivers import SMTPServer

    work = tmp_path_factory.mktemp("demo-session") / "demo"
    with SMTPServer() as smtp:
        address = f"127.0.0.1:{smtp.port}"
        result = CliRunner().invoke(cli, ["--now", "2026-11-23T06:00:00Z", "demo", "--dir", str(work),
                                          "--smtp", address])
        messages = list(smtp.messages)
    return DemoRun(work, result, address, messages)


# The files whose tests take longest (seconds of real time each, measured with --durations=0) go to
# the workers first, so that the two workers finish together instead of one waiting for a late long file.
# "demo" is the group of every test reading the session's demo run (one run), whatever its file.
LONGEST_FIRST = ("test_daemon", "demo", "test_browser", "test_schemathesis", "test_social", "test_collect",
                 "test_flow_browser", "test_schedule", "test_adaptation_cli", "test_web", "test_adapt", "test_query",
                 "test_apis", "test_eval", "test_models", "test_forums", "test_cli", "test_manage")


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """With pytest-xdist, a file's tests run on one worker (its module fixtures are built once), the tests
    that read the session's demo run share one worker (one demo run), and the longest groups start first."""
    for item in items:
        if "demo_run" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("demo"))
            others = {m.args[0] if m.args else m.kwargs.get("name") for m in item.iter_markers("xdist_group")} - {"demo"}
            if others:   # pytest-xdist would join the names into a group of their own: a second demo run
                raise pytest.UsageError(f"{item.nodeid} reads the demo run but is also in xdist group(s) {others}")
        elif item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(item.path.stem))
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(_group(item), len(rank)))   # stable: the rest keep their order


def _group(item: pytest.Item) -> str:
    marker = item.get_closest_marker("xdist_group")
    return marker.kwargs.get("name", marker.args[0] if marker.args else "") if marker else ""
