"""Every benchmark script starts as documented (``python bench/NAME.py``) from any folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = sorted((Path(__file__).resolve().parent.parent / "bench").glob("*.py"))


@pytest.mark.parametrize("script", BENCH, ids=[p.stem for p in BENCH])
def test_bench_script_runs_help(script, tmp_path):
    out = subprocess.run([sys.executable, str(script), "--help"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "--json" in out.stdout and "--quick" in out.stdout
