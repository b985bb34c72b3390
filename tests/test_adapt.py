"""The domain head (models/adapt.py) on the shipped model, its artifact, and bench/adapt.py --quick.

The in-domain data is synthetic and made here: opinion words the shipped model has never seen
("blorky" is bad, "zappish" is good), so only the labels can teach them.
"""

from __future__ import annotations

import io
import json
import random
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from models import adapt, trained

ROOT = Path(__file__).resolve().parent.parent
NOUNS = ["screen", "keyboard", "battery", "hinge", "trackpad", "charger", "speaker", "fan", "case", "port",
         "webcam", "driver", "menu", "waiter", "pasta", "dessert", "table", "booth", "bill", "patio"]
BAD = ["blorky", "snarfed", "grimbly", "clunted", "wubbish"]
GOOD = ["zappish", "flurbous", "quenty", "glimmed", "tovish"]


def domain(n: int, seed: int) -> list[tuple[str, str]]:
    """(text, label): 'the X is <bad word>' negative, '<good word>' positive, a plain fact neutral."""
    rnd = random.Random(seed)
    rows = []
    for i in range(n):
        noun = rnd.choice(NOUNS)
        kind = i % 3
        if kind == 0:
            rows.append((f"the {noun} is {rnd.choice(BAD)} this time", "negative"))
        elif kind == 1:
            rows.append((f"the {noun} is {rnd.choice(GOOD)} this time", "positive"))
        else:
            rows.append((f"the {noun} came with {rnd.randint(2, 9)} parts", "neutral"))
    return rows


@pytest.fixture(scope="module")
def base() -> trained.TrainedModel:
    return trained.load(trained.SHIPPED)


def accuracy(pred, rows) -> float:
    return sum(p.label == y for p, (_, y) in zip(pred, rows)) / len(rows)


def test_head_learns_the_domain_from_labels_only(base):
    train, test = domain(90, 1), domain(60, 2)
    texts = [t for t, _ in test]
    before = accuracy(adapt.predict(base, None, texts), test)
    head = adapt.fit(base, [t for t, _ in train], [y for _, y in train])
    after = accuracy(adapt.predict(base, head, texts), test)
    assert before < 0.6, before        # the shipped model does not know the words
    assert after >= 0.95, after
    assert head.meta["labels"] == 90 and head.meta["label_counts"] == {"negative": 30, "neutral": 30, "positive": 30}
    # without a head, predictions are the shipped model's own
    assert [p.label for p in adapt.predict(base, None, texts)] == [p.label for p in trained.predict(base, texts)]
    # scores and confidences are probabilities of the head
    for p in adapt.predict(base, head, texts):
        assert -1.0 <= p.score <= 1.0 and 1 / 3 <= p.confidence <= 1.0


def test_head_with_strong_prior_stays_near_the_base_model(base):
    train, test = domain(30, 3), domain(60, 4)
    texts = [t for t, _ in test]
    head = adapt.fit(base, [t for t, _ in train], [y for _, y in train], adapt.AdaptConfig(l2=1e6, l2_signals=1e6))
    assert np.abs(head.weight).max() < 1e-3                                   # no n-gram correction
    assert np.abs(head.signals - adapt._start(len(adapt.SIGNALS))).max() < 1e-3                 # the base model's own signals
    # so it ranks the classes as the base model does, up to a per-class shift (the unpenalized bias)
    sig, _, _ = adapt.base_inputs(base, texts)
    got = np.array([[p.label == c for c in trained.CLASSES] for p in adapt.predict(base, head, texts)]).argmax(axis=1)
    assert (got == (sig[:, :3] + head.bias).argmax(axis=1)).all()
    with pytest.raises(ValueError):
        adapt.fit(base, ["one text"], [])


def test_cross_validation_scores_unseen_labels(base):
    rows = domain(90, 8)
    texts, labels = [t for t, _ in rows], [y for _, y in rows]
    cv = adapt.cross_validate(base, texts, labels, folds=3)
    assert cv.n == 90 and cv.folds == 3
    assert cv.base_accuracy < 0.6 and cv.adapted_accuracy >= 0.8, cv
    assert adapt.cross_validate(base, texts, labels, folds=3) == cv  # deterministic folds
    one = adapt.cross_validate(base, texts[:1], labels[:1])
    assert one.adapted_accuracy is None and one.folds == 1


def test_artifact_round_trip_deterministic_and_checked(base, tmp_path):
    train = domain(45, 5)
    texts, labels = [t for t, _ in train], [y for _, y in train]
    head = adapt.fit(base, texts, labels)
    data = adapt.serialize(head)
    assert data == adapt.serialize(adapt.fit(base, texts, labels))  # fixed start, no randomness
    path = tmp_path / "head.adapt"
    path.write_bytes(data)
    loaded = adapt.load(path, base)
    probe = [t for t, _ in domain(12, 6)]
    assert [p.label for p in adapt.predict(base, loaded, probe)] == [p.label for p in adapt.predict(base, head, probe)]
    with zipfile.ZipFile(path) as z:
        assert "pickle" not in z.read("meta.json").decode() and sorted(z.namelist()) == ["arrays.npz", "meta.json"]

    def rewrite(name, change_meta=None, change_arrays=None):
        with zipfile.ZipFile(path) as z:
            meta, raw = json.loads(z.read("meta.json")), z.read("arrays.npz")
        if change_meta:
            meta.update(change_meta)
        if change_arrays:
            with np.load(io.BytesIO(raw)) as a:
                arrays = {k: a[k] for k in a.files}
            change_arrays(arrays)
            buf = io.BytesIO()
            np.savez(buf, **arrays)
            raw = buf.getvalue()
        bad = tmp_path / name
        with zipfile.ZipFile(bad, "w") as z:
            z.writestr("meta.json", json.dumps(meta))
            z.writestr("arrays.npz", raw)
        return bad

    def scale(a):
        a["weight"] = a["weight"] * 2

    cases = {"another base model": rewrite("base.adapt", {"base_artifact": "0" * 64}),
             "format": rewrite("format.adapt", {"format": "listener-adapt-0"}),
             "checksum": rewrite("arrays.adapt", change_arrays=scale)}
    for what, bad in cases.items():
        with pytest.raises(trained.ArtifactError):
            adapt.load(bad, base)
    with pytest.raises(trained.ArtifactError):
        adapt.load(tmp_path / "missing.adapt", base)


def test_bench_adapt_quick_runs(tmp_path):
    rows = domain(450, 7)
    data = tmp_path / "synthetic.tsv"
    data.write_text("".join(f"{y}\t{t}\n" for t, y in rows), encoding="utf-8")
    out = tmp_path / "adapt.json"
    t0 = time.perf_counter()
    run = subprocess.run([sys.executable, str(ROOT / "bench" / "adapt.py"), "--quick", "--method", "head", "--domain-file", str(data),
                          "--json", str(out)], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert time.perf_counter() - t0 < 60  # about 8 s here on an idle core
    doc = json.loads(out.read_text())
    (dom,) = doc["domains"]
    assert dom["test"] == 150 and dom["pool"] == 300
    head300 = [r for r in dom["rows"] if r["method"] == "head" and r["labels"] == 300]
    assert head300 and head300[0]["draws"] == 2
    assert head300[0]["gain"] >= 0.3  # the synthetic words are learnable
    assert "gain" in run.stdout and "ratio" in run.stdout
