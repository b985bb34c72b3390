"""The default sentiment model: a fine-tuned small transformer (ONNX, int8 weights) run with onnxruntime.

Run time needs only ``onnxruntime``, ``tokenizers`` and numpy; torch is for training
(``models.encoder_training``). The network reads a text's first ``max_len`` WordPiece tokens and gives
P(negative), P(neutral), P(positive). A small stacking head (in ``meta.json``: a multinomial logistic
regression over the network's three log-probabilities and VADER's four scores of the text,
``HEAD_INPUTS``) turns those into the final probabilities; the label is the most likely class,
``score`` = P(positive) - P(negative) in [-1, 1], ``confidence`` the label's probability.

Artifact: one folder (``SHIPPED_DIR`` is the shipped one) with three files, none of them pickled:

- ``model.onnx``: the network (inputs ``input_ids``, ``attention_mask``; outputs ``logits`` and the
  mean-pooled ``embedding``);
- ``tokenizer.json``: the ``tokenizers`` WordPiece tokenizer, truncation included;
- ``meta.json``: format, classes, the SHA-256 of the other two files, the stacking head's weights
  (``head``: ``coef`` 3 x 7, ``intercept`` 3), the training data's checksum, the training config and
  the metrics measured at training time.

``load`` refuses a folder whose format, classes or checksums do not match, with one line naming it.
The scorer's name carries the SHA-256 of ``meta.json`` (which names the other two), so a different
artifact is a different classifier version and ``classify --all`` re-classifies.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from models.features import LEXICON_NAMES, Contribution, lexicon_matrix, strongest
from models.trained import ArtifactError, Prediction

FORMAT = "listener-encoder-1"
CLASSES = ("negative", "neutral", "positive")
SHIPPED_DIR = Path(__file__).parent / "artifacts" / "encoder"
MODEL_NAME, TOKENIZER_NAME, META_NAME = "model.onnx", "tokenizer.json", "meta.json"
BATCH = 32            # texts per onnxruntime call, after sorting by length (little padding)
HEAD_INPUTS = ("logp_negative", "logp_neutral", "logp_positive", *LEXICON_NAMES)
_WORD = re.compile(r"\w[\w'’]*")   # a word, with its apostrophes ("can't"), without punctuation


@dataclass
class EncoderModel:
    """A loaded artifact: the onnxruntime session, the tokenizer and the meta file."""
    meta: dict
    session: object = field(repr=False)
    tokenizer: object = field(repr=False)

    @property
    def name(self) -> str:
        return f"encoder-{self.meta.get('artifact_id', 'unsaved')[:12]}"

    def run(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(n, 3) class probabilities and (n, hidden) pooled embeddings, in the order of ``texts``."""
        n = len(texts)
        if not n:
            return np.zeros((0, len(CLASSES)), np.float32), np.zeros((0, 0), np.float32)
        ids = [e.ids for e in self.tokenizer.encode_batch(list(texts))]
        order = sorted(range(n), key=lambda i: len(ids[i]))
        probs = np.zeros((n, len(CLASSES)), np.float32)
        emb: np.ndarray | None = None
        for b in range(0, n, BATCH):
            idx = order[b:b + BATCH]
            width = max(len(ids[i]) for i in idx)
            a = np.zeros((len(idx), width), np.int64)
            m = np.zeros((len(idx), width), np.int64)
            for j, i in enumerate(idx):
                a[j, :len(ids[i])] = ids[i]
                m[j, :len(ids[i])] = 1
            logits, pooled = self.session.run(None, {"input_ids": a, "attention_mask": m})
            z = logits - logits.max(axis=1, keepdims=True)
            e = np.exp(z)
            probs[idx] = e / e.sum(axis=1, keepdims=True)
            if emb is None:
                emb = np.zeros((n, pooled.shape[1]), np.float32)
            emb[idx] = pooled
        assert emb is not None
        return probs, emb

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """(n, 3) final class probabilities: the stacking head over the network's (without a head, the network's)."""
        p = self.run(texts)[0]
        head = self.meta.get("head")
        if head is None or not len(p):
            return p
        return stack(p, lexicon_matrix(texts), np.asarray(head["coef"]), np.asarray(head["intercept"]))

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        """Label, score and confidence per text."""
        return predictions(self.probabilities(texts))


def stack(p: np.ndarray, lexicon: np.ndarray, coef: np.ndarray, intercept: np.ndarray) -> np.ndarray:
    """The stacking head: softmax([log p, VADER scores] coef^T + intercept)."""
    z = head_inputs(p, lexicon) @ coef.T + intercept
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def head_inputs(p: np.ndarray, lexicon: np.ndarray) -> np.ndarray:
    """The head's inputs (``HEAD_INPUTS``) from the network's probabilities and ``lexicon_matrix``."""
    return np.column_stack([np.log(np.clip(p, 1e-6, 1.0)), lexicon])


def predictions(p: np.ndarray) -> list[Prediction]:
    """The label (most likely class), P(positive) - P(negative) and the label's probability per row."""
    best = p.argmax(axis=1)
    return [Prediction(CLASSES[b], float(row[2] - row[0]), float(row[b])) for b, row in zip(best, p)]


def explain(model: EncoderModel, text: str, top: int = 5) \
        -> tuple[Prediction, dict[str, float], list[Contribution], list[Contribution]]:
    """The prediction, its class probabilities, and the words that pushed it most towards positive and
    towards negative: a word's push is how much the score (P(positive) - P(negative)) drops when that
    word (every occurrence) is left out of the text (occlusion; the first 64 distinct words)."""
    words = list(dict.fromkeys(m.group().lower() for m in _WORD.finditer(text)))[:64]
    variants = [re.sub(rf"(?<![\w'’]){re.escape(w)}(?![\w'’])", "", text, flags=re.IGNORECASE) for w in words]
    p = model.probabilities([text] + variants)
    pred = predictions(p[:1])[0]
    pushes = [Contribution(f"word:{w}", float(pred.score - (row[2] - row[0]))) for w, row in zip(words, p[1:])]
    return (pred, {c: float(x) for c, x in zip(CLASSES, p[0])}, *strongest(pushes, top))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_meta(folder: Path) -> dict:
    """The artifact's ``meta.json``, without loading the model."""
    path = Path(folder) / META_NAME
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ArtifactError(f"{folder}: default model artifact not found (no {META_NAME}; "
                            "run `listener train --model default`)") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise ArtifactError(f"{path}: not a listener model meta file ({exc})") from None


def check(folder: Path) -> dict:
    """The checked meta file of the artifact in ``folder`` (with ``artifact_id``); any mismatch is an
    ``ArtifactError`` saying what to do."""
    folder = Path(folder)
    meta = read_meta(folder)
    fix = "reinstall listener or retrain with `listener train --model default`"
    if meta.get("format") != FORMAT:
        raise ArtifactError(f"{folder}: artifact format {meta.get('format')!r}, this listener reads {FORMAT!r}; {fix}")
    if tuple(meta.get("classes", ())) != CLASSES:
        raise ArtifactError(f"{folder}: classes {meta.get('classes')!r}, expected {list(CLASSES)!r}; {fix}")
    for name, key in ((MODEL_NAME, "model_sha256"), (TOKENIZER_NAME, "tokenizer_sha256")):
        try:
            got = sha256(folder / name)
        except FileNotFoundError:
            raise ArtifactError(f"{folder}: {name} is missing; {fix}") from None
        if got != meta.get(key):
            raise ArtifactError(f"{folder}: {name} does not match the checksum in {META_NAME} "
                                f"(modified or corrupt); {fix}")
    head = meta.get("head")
    if head is not None:
        try:
            ok = (np.asarray(head["coef"], float).shape == (len(CLASSES), len(HEAD_INPUTS))
                  and np.asarray(head["intercept"], float).shape == (len(CLASSES),)
                  and tuple(head.get("inputs", ())) == HEAD_INPUTS)
        except (KeyError, TypeError, ValueError):
            ok = False
        if not ok:
            raise ArtifactError(f"{folder}: the stacking head in {META_NAME} does not fit {HEAD_INPUTS}; {fix}")
    meta["artifact_id"] = sha256(folder / META_NAME)
    return meta


def load(folder: Path = SHIPPED_DIR, threads: int = 1) -> EncoderModel:
    """Check and load the artifact in ``folder``; onnxruntime runs it on ``threads`` threads."""
    meta = check(folder)
    try:
        import onnxruntime as ort
        from tokenizers import Tokenizer
    except ImportError as exc:
        raise ArtifactError(f"{folder}: the default model needs onnxruntime and tokenizers ({exc}); "
                            "reinstall listener, or set sentiment.model = \"fast\"") from None
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    try:
        session = ort.InferenceSession(str(Path(folder) / MODEL_NAME), options, providers=["CPUExecutionProvider"])
        tokenizer = Tokenizer.from_file(str(Path(folder) / TOKENIZER_NAME))
    except Exception as exc:  # onnxruntime and tokenizers raise their own exception types for a bad file
        raise ArtifactError(f"{folder}: damaged default model ({str(exc).splitlines()[0][:200]})") from None
    return EncoderModel(meta, session, tokenizer)
