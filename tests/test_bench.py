"""Every benchmark script starts as documented (``python bench/NAME.py``) from any folder."""

from __future__ import annotations

import json
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


def test_digest_bench_quick_times_every_case(tmp_path):
    """bench/digest.py --quick: a small database (cached in the temp dir), every digest and overview case timed."""
    out = subprocess.run([sys.executable, str(BENCH[0].with_name("digest.py")), "--quick", "--json", str(tmp_path / "d.json")],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    rows = json.loads((tmp_path / "d.json").read_text())["rows"]
    assert [r["case"] for r in rows] == ["digest 1 day", "digest 7 days", "digest 30 days", "GET /products",
                                         "GET /products/Firefox", "GET /api/products"]
    assert all(r["met"] for r in rows), rows
