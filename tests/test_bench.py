"""Every benchmark script starts as documented (``python bench/NAME.py``) from any folder."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = sorted((Path(__file__).resolve().parent.parent / "bench").glob("*.py"))


# One child process runs every script's ``--help`` as ``python bench/NAME.py --help`` would (``runpy`` as
# ``__main__``, from a folder outside the repository): one interpreter start instead of one per script.
HELP_ALL = """
import contextlib, io, json, runpy, sys
answers = {}
for script in sys.argv[1:]:
    out, err, code = io.StringIO(), io.StringIO(), 0
    sys.argv = [script, "--help"]
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            runpy.run_path(script, run_name="__main__")
        except SystemExit as stop:
            code = stop.code or 0
        except BaseException as exc:
            import traceback
            code, err = 1, io.StringIO(traceback.format_exc())
    answers[script] = {"code": code, "stdout": out.getvalue(), "stderr": err.getvalue()}
print(json.dumps(answers))
"""


@pytest.fixture(scope="module")
def helps(tmp_path_factory) -> dict[str, dict]:
    out = subprocess.run([sys.executable, "-c", HELP_ALL, *map(str, BENCH)], cwd=tmp_path_factory.mktemp("bench"),
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.splitlines()[-1])


@pytest.mark.parametrize("script", BENCH, ids=[p.stem for p in BENCH])
def test_bench_script_runs_help(script, helps):
    answer = helps[str(script)]
    assert answer["code"] == 0, answer["stderr"][-2000:]
    assert "--json" in answer["stdout"] and "--quick" in answer["stdout"]


def test_digest_bench_quick_times_every_case(tmp_path):
    """bench/digest.py --quick: a small database (cached in the temp dir), every digest and overview case timed."""
    out = subprocess.run([sys.executable, str(BENCH[0].with_name("digest.py")), "--quick", "--json", str(tmp_path / "d.json")],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    rows = json.loads((tmp_path / "d.json").read_text())["rows"]
    assert [r["case"] for r in rows] == ["digest 1 day", "digest 7 days", "digest 30 days", "GET /products",
                                         "GET /products/Firefox", "GET /api/products"]
    assert all(r["met"] for r in rows), rows
