"""The import rules of the README's Architecture section, enforced by import-linter."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("listener", "models", "reports", "spiders")


def lint(root: Path) -> subprocess.CompletedProcess:
    """Run import-linter on the packages under ``root`` with the contracts in its pyproject.toml."""
    code = ("import sys; from importlinter.cli import lint_imports; "
            "sys.exit(lint_imports(config_filename='pyproject.toml', no_cache=True, no_logo=True))")
    return subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True,
                          env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"}, timeout=120)


def test_import_contracts_are_kept():
    result = lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    assert len(contracts) >= 6
    for contract in contracts:
        assert f"{contract['name']} KEPT" in result.stdout
    assert f"Contracts: {len(contracts)} kept, 0 broken." in result.stdout


def test_a_forbidden_import_breaks_its_contract(tmp_path):
    for name in PACKAGES:
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("*.pyc", "data", "artifacts"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    topics = tmp_path / "models" / "topics.py"
    topics.write_text(topics.read_text() + "\nfrom listener import store  # noqa\n")
    result = lint(tmp_path)
    assert result.returncode != 0
    assert "models imports nothing of ours BROKEN" in result.stdout
    assert "models.topics -> listener.store" in result.stdout
