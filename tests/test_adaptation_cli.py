"""`listener train --with-labels` (a domain head on the user's relabels), the scorer applying it,
`listener eval --labels` with its cross-validated line, and refusing a head for another base model.

Real SQLite and the real CLI. The posts use opinion words the shipped model has never seen
("blorky" is bad, "zappish" is good: see tests/test_adapt.py), so only the relabels can teach them.
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from listener import learn, store
from listener.app.cli import cli
from listener.classifier import scorer_for
from listener.config import load_settings
from models import adapt, trained
from tests.helpers import NOW
from tests.test_adapt import domain

HELD_OUT = ["the hinge is grimbly this time", "the trackpad is flurbous this time"]


def invoke(settings_path: Path, *args: str):
    return CliRunner().invoke(cli, ["--config", str(settings_path), "--now", "2026-11-23T06:00:00Z", *args])


def _labelled_db(write_settings, extra: str = "") -> tuple[Path, dict[str, int]]:
    """60 relabelled in-domain posts and the unlabelled held-out ones; (settings path, held-out ids)."""
    path = write_settings(extra=extra)
    settings = load_settings(path)
    db = store.open_db(settings.db_path)
    rows = domain(60, 1)
    posts = [{"source": "s", "guid": f"g{i}", "title": None, "text": t, "published_at": "2026-11-22T10:00:00Z"}
             for i, (t, _) in enumerate(rows)]
    posts += [{"source": "s", "guid": f"h{i}", "title": None, "text": t, "published_at": "2026-11-22T11:00:00Z"}
              for i, t in enumerate(HELD_OUT)]
    store.upsert_posts(db, posts, now="2026-11-23T05:00:00Z")
    ids = {g: i for i, g in db.execute("SELECT id, guid FROM posts").fetchall()}
    first = invoke(path, "label", str(ids["g0"]), "--sentiment", rows[0][1])  # one through the CLI
    assert first.exit_code == 0, first.output
    for i, (_, y) in enumerate(rows[1:], 1):
        learn.label_post(db, settings, ids[f"g{i}"], now=NOW, sentiment=y)
    return path, {t: ids[f"h{i}"] for i, t in enumerate(HELD_OUT)}


def _stored(path: Path, post_id: int) -> tuple[str, str]:
    db = store.open_db(load_settings(path).db_path)
    return tuple(db.execute("SELECT sentiment_label, classifier FROM posts WHERE id = ?", [post_id]).fetchone())


@pytest.mark.parametrize("model,prefix", [("fast", "trained"), ("default", "encoder")])
def test_train_with_labels_writes_a_head_that_classify_then_uses(write_settings, tmp_path, model, prefix):
    head = tmp_path / "team.head"
    path, held = _labelled_db(write_settings, extra=f'[sentiment]\nmodel = "{model}"\nadaptation = "{head}"\n')
    # Before the head exists the base model alone scores (the configured head is missing: one line).
    missing = invoke(path, "classify", "--all")
    assert missing.exit_code == 2 and "domain head not found" in missing.output and str(head) in missing.output

    result = invoke(path, "train", "--with-labels")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "labels: 60 relabelled post(s) (20 negative, 20 neutral, 20 positive); head fitted in" in out
    base_f1 = float(re.search(r"base model on these labels: accuracy [\d.]+, macro-F1 ([\d.]+)", out).group(1))
    cv_f1 = float(re.search(r"domain head, cross-validated \(5 folds\): accuracy [\d.]+, macro-F1 ([\d.]+)", out).group(1))
    assert cv_f1 > base_f1 + 0.2, out     # the base model cannot read the made-up words; the head learns them
    assert f"head: {head} sha256 " in out and "sentiment.adaptation points at it" in out
    assert head.is_file()

    assert invoke(path, "classify", "--all").exit_code == 0
    grimbly, flurbous = (_stored(path, held[t]) for t in HELD_OUT)
    assert (grimbly[0], flurbous[0]) == ("negative", "positive")
    assert "+head-" in grimbly[1]          # the classifier version names the head: a new head re-classifies

    explained = invoke(path, "explain", str(held[HELD_OUT[0]]))
    assert explained.exit_code == 0 and "label: negative" in explained.output and "+head-" in explained.output

    alone = scorer_for(load_settings(path), head=False)
    assert alone.name.startswith(prefix)
    assert [s.label for s in alone.score(HELD_OUT)] != ["negative", "positive"]  # the base model alone

    ev = invoke(path, "eval", "--labels")
    assert ev.exit_code == 0, ev.output
    assert "on 60 relabelled post(s): accuracy" in ev.output and "(in-sample" in ev.output
    assert re.search(r"cross-validated domain head \(5 folds\) on the same labels: accuracy [\d.]+, macro-F1 "
                     rf"[\d.]+; base model {prefix}-\w+: accuracy [\d.]+, macro-F1 [\d.]+", ev.output), ev.output


def test_head_without_the_setting_is_written_beside_the_database_and_not_used(write_settings):
    path, held = _labelled_db(write_settings)
    result = invoke(path, "train", "--with-labels", "--no-eval")
    assert result.exit_code == 0, result.output
    written = load_settings(path).db_path.with_name("sentiment.head")
    assert written.is_file() and f'set sentiment.adaptation = "{written}"' in result.output
    assert "cross-validated" not in result.output
    assert invoke(path, "classify", "--all").exit_code == 0
    assert "+head-" not in _stored(path, held[HELD_OUT[0]])[1]


def _rewrite_head(src: Path, dst: Path, change) -> None:
    with zipfile.ZipFile(src) as z:
        entries = {n: z.read(n) for n in z.namelist()}
    change(entries)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for n, data in entries.items():
            z.writestr(n, data)
    dst.write_bytes(buf.getvalue())


def test_head_for_another_base_or_tampered_is_refused_with_one_line(write_settings, tmp_path):
    base = trained.load(trained.SHIPPED)
    rows = domain(60, 1)
    good = tmp_path / "good.head"
    good.write_bytes(adapt.serialize(adapt.fit(base, [t for t, _ in rows], [y for _, y in rows])))
    other = adapt.fit(base, [t for t, _ in rows], [y for _, y in rows])
    other.meta["base_artifact"] = "0" * 64   # as fitted on another base artifact
    (tmp_path / "other.head").write_bytes(adapt.serialize(other))
    _rewrite_head(good, tmp_path / "tampered.head",
                  lambda e: e.update({"arrays.npz": e["arrays.npz"][:-9] + b"\x01" + e["arrays.npz"][-8:]}))
    for name, why in (("other.head", "made for another base model"), ("tampered.head", "does not match the checksum")):
        path = write_settings(extra=f'[sentiment]\nmodel = "fast"\nadaptation = "{tmp_path / name}"\n')
        result = CliRunner().invoke(cli, ["--config", str(path), "sentiment"], input="good\n")
        assert result.exit_code == 2, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and why in lines[0] and str(tmp_path / name) in lines[0], result.output
        assert "listener train --with-labels" in lines[0]
    path = write_settings(extra=f'[sentiment]\nmodel = "fast"\nadaptation = "{good}"\n')
    result = CliRunner().invoke(cli, ["--config", str(path), "sentiment"], input=HELD_OUT[0] + "\n")
    assert result.exit_code == 0 and '"label": "negative"' in result.output and "+head-" in result.output


def test_retrain_keeps_the_full_retrain_with_the_relabels(write_settings, tmp_path):
    path, _ = _labelled_db(write_settings)
    out = tmp_path / "retrained.model"
    result = invoke(path, "train", "--with-labels", "--retrain", "--small", "--no-eval", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert re.search(rf"artifact: {re.escape(str(out))} sha256 [0-9a-f]{{64}}", result.output)
    assert trained.load(out).meta["relabels"] == 60
