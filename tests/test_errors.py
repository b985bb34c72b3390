"""The one error family: every error meant for a user is a UserError, shown as one line (CLI) with its exit code."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from listener.app.cli import cli
from listener.errors import BadInput, ModelError, NotFound, UnwritablePath, UserError, model_errors


def test_user_facing_errors_share_one_base():
    from listener.app.daemon import DaemonError
    from listener.app.web import ServeError
    from listener.config import ConfigError
    from listener.search import SearchTooSlow
    from listener.search.query import QueryError
    from reports.deliver import DeliveryError, MissingSecret

    for cls in (ConfigError, QueryError, DaemonError, ServeError, SearchTooSlow, DeliveryError, MissingSecret,
                NotFound, BadInput, UnwritablePath, ModelError):
        assert issubclass(cls, UserError), cls
    assert issubclass(QueryError, ValueError) and issubclass(NotFound, KeyError)  # old callers still match
    assert str(NotFound("no post with id 3")) == "no post with id 3"  # not quoted as a KeyError would be
    assert (NotFound("x").exit_code, NotFound("x").http_status, SearchTooSlow(1).http_status) == (1, 404, 422)
    assert UserError("x", exit_code=3, http_status=409).exit_code == 3


def test_model_errors_become_a_model_error():
    from models.datasets import DataError
    from models.trained import ArtifactError

    for exc in (ArtifactError("artifact.json: wrong version"), DataError("data: missing split")):
        with pytest.raises(ModelError, match=str(exc)):
            with model_errors():
                raise exc


def _settings(tmp_path: Path, store: str = "test.db", out: str = "out", log: str | None = None) -> Path:
    (tmp_path / "afile").write_text("a file, so nothing can be created below it (not even by root)\n")
    text = f'[store]\npath = "{store}"\n\n[digest]\noutput_dir = "{out}"\n'
    if log:
        text += f'\n[schedule]\nlog_file = "{log}"\n'
    path = tmp_path / "settings.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _one_error_line(result, key: str, path: Path) -> None:
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output, result.stderr
    assert lines[0].startswith(f"Error: {key}: cannot write {path}"), lines[0]


@pytest.mark.parametrize("command", [["init-db"], ["run", "--once"], ["daemon"]])  # commands that create it
def test_an_unwritable_store_path_is_one_line(tmp_path, command):
    settings = _settings(tmp_path, store="afile/db.sqlite")
    r = CliRunner().invoke(cli, ["--config", str(settings), *command])
    _one_error_line(r, "store.path", tmp_path / "afile" / "db.sqlite")


def test_an_unwritable_digest_folder_is_one_line(tmp_path):
    settings = _settings(tmp_path, out="afile/digests")
    r = CliRunner().invoke(cli, ["--config", str(settings), "--now", "2026-11-23T06:00:00Z", "digest", "--no-send"])
    _one_error_line(r, "digest.output_dir", tmp_path / "afile" / "digests")
    assert not list(tmp_path.glob("afile*/*"))
    r = CliRunner().invoke(cli, ["--config", str(settings), "digest", "--no-send", "--out", str(tmp_path / "afile" / "d")])
    _one_error_line(r, "--out", tmp_path / "afile" / "d")


def test_an_unwritable_demo_folder_is_one_line(tmp_path):
    _settings(tmp_path)
    r = CliRunner().invoke(cli, ["demo", "--dir", str(tmp_path / "afile" / "demo")])
    _one_error_line(r, "--dir", tmp_path / "afile" / "demo")


def test_run_once_checks_the_digest_folder_before_collecting(tmp_path):
    settings = _settings(tmp_path, out="afile/digests")
    r = CliRunner().invoke(cli, ["--config", str(settings), "run", "--once"])
    _one_error_line(r, "digest.output_dir", tmp_path / "afile" / "digests")
    assert not (tmp_path / "test.db").exists()


@pytest.mark.parametrize("key", ["schedule.log_file", "digest.output_dir"])
def test_the_daemon_checks_its_paths_at_start_up(tmp_path, key):
    bad = tmp_path / "afile" / "x"
    settings = _settings(tmp_path, log=str(bad) if key == "schedule.log_file" else None,
                         out=str(bad) if key == "digest.output_dir" else "out")
    r = CliRunner().invoke(cli, ["--config", str(settings), "daemon"])
    _one_error_line(r, key, bad)
    assert not (tmp_path / "test.db.daemon.lock").exists()


def test_a_writable_path_is_left_as_it_was(tmp_path):
    from listener.files import check_writable

    f = tmp_path / "sub" / "db.sqlite"
    assert check_writable(f, key="store.path") == f
    assert (tmp_path / "sub").is_dir() and not f.exists() and not list((tmp_path / "sub").iterdir())
    f.write_bytes(b"kept")
    check_writable(f, key="store.path")
    assert f.read_bytes() == b"kept"
    with pytest.raises(UnwritablePath, match="store.path: cannot write .*: Is a directory"):
        check_writable(tmp_path / "sub", key="store.path")


def test_bad_input_that_used_to_be_a_traceback_is_one_line(tmp_path):
    settings = _settings(tmp_path)
    assert CliRunner().invoke(cli, ["--config", str(settings), "init-db"]).exit_code == 0
    r = CliRunner().invoke(cli, ["--config", str(settings), "saved", "add", " ", "firefox"])
    assert r.exit_code == 2 and r.stderr == "Error: a saved search needs a name\n"
    r = CliRunner().invoke(cli, ["--config", str(settings), "saved", "remove", "nope"])
    assert r.exit_code == 2 and r.stderr == "Error: no saved search named 'nope'\n"
