"""The shipped default model (models/encoder.py): it loads pickle-free with checksums, reads clear texts
right, explains by occlusion, refuses a tampered artifact with one line, and needs no torch."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from listener.classifier import scorer_for
from listener.errors import ModelError
from models import encoder
from models.sentiment import EncoderScorer, TrainedScorer, load_scorer
from models.trained import ArtifactError


@pytest.fixture(scope="module")
def scorer() -> EncoderScorer:
    s = load_scorer("default")
    assert isinstance(s, EncoderScorer)
    return s


def test_clear_texts_get_their_labels(scorer):
    got = scorer.score(["I love this phone, the camera is amazing!",
                        "Worst update ever. It crashes constantly and support never answers.",
                        "The store opens at 9am on Monday."])
    assert [s.label for s in got] == ["positive", "negative", "neutral"]
    assert got[0].score > 0.5 > -0.5 > got[1].score
    assert all(0.0 < s.confidence <= 1.0 for s in got)


def test_batches_give_the_same_labels_as_one_by_one(scorer):
    # int8 activations are scaled per batch (dynamic quantization), so a score moves a little with
    # its batch-mates (by up to about 0.1 measured); the label must not
    texts = ["great", "this is not good at all, really disappointed with the battery", "ok, fine",
             "The store opens at 9am on Monday."]
    together = scorer.score(texts)
    alone = [scorer.score([t])[0] for t in texts]
    assert [s.label for s in together] == [s.label for s in alone]
    assert all(abs(a.score - b.score) < 0.15 for a, b in zip(together, alone))


def test_explain_names_the_words_that_pushed(scorer):
    ex = scorer.explain("The battery is awful but the screen is gorgeous", 3)
    assert set(ex.probabilities) == {"negative", "neutral", "positive"}
    assert abs(sum(ex.probabilities.values()) - 1) < 1e-4
    assert "word:awful" in [c.feature for c in ex.negative_terms]
    assert "word:gorgeous" in [c.feature for c in ex.positive_terms]


def test_the_meta_file_names_the_shipped_files_and_data(scorer):
    meta = json.loads((encoder.SHIPPED_DIR / encoder.META_NAME).read_text(encoding="utf-8"))
    assert meta["format"] == encoder.FORMAT and tuple(meta["classes"]) == encoder.CLASSES
    assert meta["model_sha256"] == encoder.sha256(encoder.SHIPPED_DIR / encoder.MODEL_NAME)
    assert len(meta["data_sha256"]) == 64 and meta["metrics"]["tweeteval_val"]["macro_recall"] > 0.7
    assert scorer.name == f"encoder-{encoder.sha256(encoder.SHIPPED_DIR / encoder.META_NAME)[:12]}"
    size = sum(p.stat().st_size for p in encoder.SHIPPED_DIR.iterdir())
    assert size < 40_000_000


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    folder = tmp_path / "encoder"
    shutil.copytree(encoder.SHIPPED_DIR, folder)
    return folder


def test_a_tampered_model_is_refused_in_one_line(copy):
    with open(copy / encoder.MODEL_NAME, "ab") as f:
        f.write(b"\0")
    with pytest.raises(ArtifactError, match="model.onnx does not match the checksum") as exc:
        encoder.load(copy)
    assert "\n" not in str(exc.value)


def test_a_tampered_tokenizer_or_format_is_refused(copy):
    tok = copy / encoder.TOKENIZER_NAME
    tok.write_bytes(tok.read_bytes() + b" ")
    with pytest.raises(ArtifactError, match="tokenizer.json does not match"):
        encoder.load(copy)
    tok.write_bytes(tok.read_bytes()[:-1])
    meta = json.loads((copy / encoder.META_NAME).read_text())
    (copy / encoder.META_NAME).write_text(json.dumps(dict(meta, head=dict(meta["head"], coef=meta["head"]["coef"][:2]))))
    with pytest.raises(ArtifactError, match="the stacking head in meta.json does not fit"):
        encoder.load(copy)
    (copy / encoder.META_NAME).write_text(json.dumps(dict(meta, format="listener-encoder-0")))
    with pytest.raises(ArtifactError, match="artifact format 'listener-encoder-0'"):
        encoder.load(copy)


def test_the_stacking_head_moves_the_networks_probabilities(scorer):
    text = "not bad at all :)"
    raw = scorer.model.run([text])[0][0]
    final = scorer.model.probabilities([text])[0]
    assert abs(final.sum() - 1) < 1e-6 and abs(raw - final).max() > 1e-3


def test_another_artifact_is_another_classifier_version(copy, scorer):
    meta = json.loads((copy / encoder.META_NAME).read_text())
    (copy / encoder.META_NAME).write_text(json.dumps(dict(meta, note="retrained")))
    other = load_scorer("default", copy)
    assert other.name != scorer.name and other.name.startswith("encoder-")


def test_a_missing_artifact_is_one_line(tmp_path):
    with pytest.raises(ArtifactError, match="default model artifact not found"):
        load_scorer("default", tmp_path / "nowhere")


def test_settings_choose_the_model_and_trained_means_fast(settings_for):
    assert isinstance(scorer_for(settings_for()), EncoderScorer)   # the default
    fast = scorer_for(settings_for(extra='[sentiment]\nmodel = "fast"\n'))
    alias = scorer_for(settings_for(extra='[sentiment]\nmodel = "trained"\n'))
    assert isinstance(fast, TrainedScorer) and alias.name == fast.name


def test_a_head_made_for_the_fast_model_is_refused_by_the_default_model(settings_for, tmp_path):
    from models import adapt, trained
    from tests.test_adapt import domain

    rows = domain(30, 1)
    fast = adapt.fit(trained.load(trained.SHIPPED), [t for t, _ in rows], [y for _, y in rows])
    (tmp_path / "fast.head").write_bytes(adapt.serialize(fast))
    settings = settings_for(extra=f'[sentiment]\nadaptation = "{tmp_path / "fast.head"}"\n')
    with pytest.raises(ModelError, match="made for another base model"):
        scorer_for(settings)



def test_scoring_with_the_default_model_imports_no_torch():
    code = ("import sys; from models.sentiment import load_scorer; s = load_scorer('default'); "
            "s.score(['fine']); s.explain('fine', 2); "
            "print([m for m in ('torch', 'transformers', 'onnx', 'sklearn') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).parent.parent).stdout
    assert "torch" not in out and "transformers" not in out and "'onnx'" not in out


def test_training_the_default_model_without_torch_is_one_line(write_settings, monkeypatch, tmp_path):
    from click.testing import CliRunner

    from listener.app.cli import cli

    monkeypatch.setitem(sys.modules, "torch", None)   # as on CI, where the `train` extra is not installed
    out = tmp_path / "enc"
    r = CliRunner().invoke(cli, ["--config", str(write_settings()), "train", "--model", "default", "--out", str(out)])
    assert r.exit_code == 2 and "needs torch and transformers: pip install 'listener[train]'" in r.output
    assert r.output.count("\n") == 1 and not out.exists()
    small = CliRunner().invoke(cli, ["--config", str(write_settings()), "train", "--model", "default", "--small"])
    assert small.exit_code == 2 and "--small" in small.output
