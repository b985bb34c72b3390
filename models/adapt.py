"""Adapting the shipped sentiment model to a team's own labels: a small domain head on the frozen model.

The base model (``models.trained``) stays as shipped. The head re-weighs the base model's own
signals and adds a sparse correction over its features, learned from the in-domain labels only:

    s(x) = g(x) V + X(x) W + b,        label = argmax s(x),  P = softmax(s)

``g(x)`` are the base model's signals (``SIGNALS``: its combined class log-probabilities, its
three-class head's log-probabilities, its polar head's logit and the four VADER scores), ``X(x)``
its feature row (``Features.matrix()`` without the naive-Bayes scaling: tf-idf word and character
n-grams and VADER scores; ``features="word"`` leaves out the character n-grams, which measured
0.5-1 point higher at 300 labels on the ABSA domains but cannot learn a word that is not in the
base model's vocabulary, such as a new product's jargon); ``V`` (signals x 3), ``W`` (features x 3) and ``b`` (3) are the
head's weights. Fitting minimizes the class-balanced cross-entropy on the labels plus
``l2 / 2 * |W|^2 + l2_signals / 2 * |V - V0|^2``, where ``V0`` (identity on the combined
log-probabilities) reproduces the base model's class ranking: with few labels the head stays close
to the base model and moves only where the labels insist (MAP adaptation of a log-linear model with
the base model as the prior). Only columns that occur in the labelled texts can get a weight (the
gradient is zero elsewhere), so ``W`` is stored sparse: the column indices and their rows.
Deterministic: L-BFGS from a fixed start, no randomness.

Each language of the multilingual artifact (``models.multilingual``) is adapted the same way through
``LanguageBase``: its signals are that language's class log-probabilities and the four VADER scores (the
``ENCODER_SIGNALS``; a binary model's neutral log-probability is the constant that reproduces its neutral
band), its sparse correction that language model's own feature rows, fitted on the relabels of posts in
that language only.

The default model (``models.encoder``) is adapted the same way through ``EncoderBase``: its signals
are the encoder's final class log-probabilities and the four VADER scores (``ENCODER_SIGNALS``), the
sparse correction the fast model's feature rows (the encoder has no sparse features of its own, and
the fast model ships beside it), and ``V0`` the identity on the encoder's log-probabilities.

Artifact (``serialize``/``load``), safe to read (no pickle): one ZIP with ``meta.json`` (format,
the base artifact's SHA-256, feature version, config, label count and checksum, arrays SHA-256)
and ``arrays.npz`` (``columns``, ``weight``, ``bias``, ``signals``), read with ``allow_pickle=False``:
the configured model's head; each language's head (``serialize_set``) in a folder named for its code
(``de/meta.json``, ``de/arrays.npz``). ``load`` refuses a head made for another base model.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence, Union

import numpy as np
from scipy import sparse

from models.features import FEATURE_VERSION
from models.trained import CLASSES, ArtifactError, Prediction, TrainedModel, _array_bytes, zip_entries

if TYPE_CHECKING:
    from models.encoder import EncoderModel
    from models.multilingual import LanguageModel

FORMAT = "listener-adapt-1"


@dataclass(frozen=True)
class AdaptConfig:
    """Everything that decides the head, recorded in its artifact."""
    l2: float = 1.0              # penalty on W; larger keeps the head nearer the base model
    l2_signals: float = 1.0      # penalty on V's distance from the base model's (identity on log P_base)
    features: str = "all"        # "all": word and character n-grams and VADER scores; "word": no character n-grams
    balanced: bool = True        # weight the labels so each class weighs the same in total
    max_iter: int = 500


@dataclass
class DomainHead:
    meta: dict
    columns: np.ndarray   # (k,) int64: base-model feature columns that carry a weight
    weight: np.ndarray    # (k, 3)
    bias: np.ndarray      # (3,)
    signals: np.ndarray   # (len(SIGNALS), 3): V, the weights of the base model's signals

    def predict(self, base: "Base", texts: Sequence[str]) -> list[Prediction]:
        """``predict(base, self, texts)``: what ``models.sentiment.TrainedScorer`` calls."""
        return predict(base, self, texts)

    def probabilities(self, base: "Base", texts: Sequence[str]) -> list[dict[str, float]]:
        """Each text's class probabilities under the head, by class name."""
        return [{c: float(v) for c, v in zip(CLASSES, row)} for row in probabilities(base, self, texts)]


SIGNALS = ("logp_negative", "logp_neutral", "logp_positive", "logp3_negative", "logp3_neutral",
           "logp3_positive", "polar_z", "vader_neg", "vader_neu", "vader_pos", "vader_compound")
ENCODER_SIGNALS = ("logp_negative", "logp_neutral", "logp_positive", "vader_neg", "vader_neu", "vader_pos",
                   "vader_compound")


@dataclass(frozen=True)
class EncoderBase:
    """The default model as the base of a head: the encoder's class log-probabilities and VADER's scores
    as its signals, the fast model's (``features``) feature rows as its sparse correction."""
    encoder: "EncoderModel"
    features: TrainedModel

    @property
    def meta(self) -> dict:
        """``artifact_id`` names both artifacts: a head is refused when either changes."""
        return {"artifact_id": f"{self.encoder.meta.get('artifact_id', 'unsaved')}+"
                               f"{self.features.meta.get('artifact_id', 'unsaved')}"}


@dataclass(frozen=True)
class LanguageBase:
    """One language's model of the multilingual artifact as the base of a head: its class log-probabilities
    and VADER's scores as its signals, its own feature rows as its sparse correction."""
    model: "LanguageModel"
    artifact_id: str                      # the multilingual artifact's
    encoder: bool = False                 # the default model's tier: the encoder part averaged in

    @property
    def meta(self) -> dict:
        """``artifact_id`` names the artifact, the language and the tier: a head is refused for any other."""
        return {"artifact_id": f"{self.artifact_id}-{self.model.language}" + ("+use" if self.encoder else "")}


Base = Union[TrainedModel, EncoderBase, LanguageBase]
CONFIGURED = ""   # ``serialize_set``'s key of the configured model's head (English and the rest it scores)


def signal_names(base: Base) -> tuple[str, ...]:
    return ENCODER_SIGNALS if isinstance(base, (EncoderBase, LanguageBase)) else SIGNALS


def feature_model(base: Base) -> TrainedModel:
    """The model whose feature rows the head corrects with (not for a ``LanguageBase``)."""
    return base.features if isinstance(base, EncoderBase) else base


def feature_sizes(base: Base) -> tuple[int, int, int]:
    """How many word, character and other (lexicon) columns the head's feature rows have."""
    if isinstance(base, LanguageBase):
        return len(base.model.vocab_word), len(base.model.vocab_char), 0
    fm = feature_model(base)
    return len(fm.vocab_word), len(fm.vocab_char), len(fm.lexicon_scale)


def base_inputs(base: Base, texts: Sequence[str]) -> tuple[np.ndarray, sparse.csr_matrix, list[Prediction]]:
    """The base model's signals (n, len(signal_names(base))): for the fast model its combined
    log-probabilities, its three-class head's log-probabilities, its polar head's logit and the VADER
    scores, for the default model its class log-probabilities and the VADER scores; the feature rows;
    and the base model's own predictions."""
    from models.trained import _predictions, softmax

    if isinstance(base, LanguageBase):
        from models.features import lexicon_matrix
        m = base.model
        x = m.matrix(texts)
        p = m.blended(texts, x, base.encoder)
        logp = np.log(np.clip(p, 1e-6, 1.0))
        if len(m.classes) == 2:   # neutral wins at the start exactly where the model's neutral band puts it
            logp[:, 1] = np.log((1.0 + m.neutral_band) / 2.0)
        signals = np.column_stack([logp, lexicon_matrix(texts)]).astype(np.float64)
        own = [Prediction(s.label, s.score, s.confidence) for s in m.sentiments(p, "")]
        return signals, x.tocsr(), own
    if isinstance(base, EncoderBase):
        from models.encoder import predictions

        f = base.features.features(texts)
        pe = base.encoder.probabilities(list(texts)).astype(np.float64)
        signals = np.column_stack([np.log(np.clip(pe, 1e-6, 1.0)), f.lexicon.toarray()]).astype(np.float64)
        return signals, f.matrix().tocsr(), predictions(pe)
    f = base.features(texts)
    p, neutral = base.probabilities(f)
    p3 = softmax(np.asarray(f.matrix(base.nb3_word, base.nb3_char) @ base.coef.T) + base.intercept)
    z = np.asarray(base.polar_matrix(f) @ base.polar_coef).ravel() + float(base.polar_intercept[0])
    signals = np.column_stack([np.log(np.clip(p, 1e-6, 1.0)), np.log(np.clip(p3, 1e-6, 1.0)), z,
                               f.lexicon.toarray()]).astype(np.float64)
    return signals, f.matrix().tocsr(), _predictions(p, neutral)


def _start(m: int, c: int = 3) -> np.ndarray:
    """The signal weights (``m`` signals) that reproduce the base model: identity on its (combined)
    class log-probabilities, the first ``c`` signals."""
    v = np.zeros((m, c))
    v[:c, :c] = np.eye(c)
    return v


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def fit(base: Base, texts: Sequence[str], labels: Sequence[str],
        config: AdaptConfig = AdaptConfig()) -> DomainHead:
    """Learn the head from in-domain ``texts`` and their ``labels`` (negative, neutral, positive)."""
    from scipy.optimize import minimize

    if len(texts) != len(labels) or not texts:
        raise ValueError("fit needs as many labels as texts, and at least one")
    y = np.array([CLASSES.index(x) for x in labels])
    sig, x, _ = base_inputs(base, texts)
    columns = np.unique(x.indices).astype(np.int64)
    if config.features == "word":
        nw, nc, _ = feature_sizes(base)
        columns = columns[(columns < nw) | (columns >= nw + nc)]
    xs = x[:, columns].tocsr().astype(np.float64)
    n, k, c, m = len(y), len(columns), len(CLASSES), sig.shape[1]
    v0 = _start(m, c)
    counts = np.bincount(y, minlength=c)
    w = (n / (c * counts.clip(1)))[y] if config.balanced else np.ones(n)
    onehot = np.eye(c)[y]

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        v, b, wm = theta[:m * c].reshape(m, c), theta[m * c:m * c + c], theta[m * c + c:].reshape(k, c)
        s = sig @ v + np.asarray(xs @ wm) + b
        s -= s.max(axis=1, keepdims=True)
        lse = np.log(np.exp(s).sum(axis=1))
        ce = float((w * (lse - (s * onehot).sum(axis=1))).sum())
        g = (np.exp(s - lse[:, None]) - onehot) * w[:, None]
        value = ce + 0.5 * config.l2 * float((wm ** 2).sum()) + 0.5 * config.l2_signals * float(((v - v0) ** 2).sum())
        grad = np.concatenate([(sig.T @ g + config.l2_signals * (v - v0)).ravel(), g.sum(axis=0),
                               (np.asarray(xs.T @ g) + config.l2 * wm).ravel()])
        return value, grad

    start = np.concatenate([v0.ravel(), np.zeros(c + k * c)])
    res = minimize(loss, start, jac=True, method="L-BFGS-B", options={"maxiter": config.max_iter})
    theta = res.x
    meta = {"base_artifact": base.meta.get("artifact_id", "unsaved"), "feature_version": FEATURE_VERSION,
            "config": asdict(config), "labels": n, "label_counts": dict(zip(CLASSES, counts.tolist())),
            "labels_sha256": labels_checksum(texts, labels)}
    return DomainHead(meta=meta, columns=columns, weight=theta[m * c + c:].reshape(k, c).astype(np.float32),
                      bias=theta[m * c:m * c + c].astype(np.float32),
                      signals=theta[:m * c].reshape(m, c).astype(np.float32))


def labels_checksum(texts: Sequence[str], labels: Sequence[str]) -> str:
    """SHA-256 over every (label, text) in order: names the exact labels a head was fitted on."""
    h = hashlib.sha256()
    for t, y in zip(texts, labels):
        h.update(f"{y}\t{t}\n".encode("utf-8"))
    return h.hexdigest()


def predict(base: Base, head: DomainHead | None, texts: Sequence[str]) -> list[Prediction]:
    """Label, score (P(positive) - P(negative)) and confidence per text; without a head, the base model's."""
    if not texts:
        return []
    sig, x, own = base_inputs(base, texts)
    if head is None:
        return own
    p = _head_probabilities(head, sig, x)
    best = p.argmax(axis=1)
    return [Prediction(CLASSES[i], float(row[2] - row[0]), float(row[i])) for i, row in zip(best, p)]


def _head_probabilities(head: DomainHead, sig: np.ndarray, x: sparse.csr_matrix) -> np.ndarray:
    return _softmax(sig @ head.signals + np.asarray(x[:, head.columns] @ head.weight) + head.bias)


def probabilities(base: Base, head: DomainHead, texts: Sequence[str]) -> np.ndarray:
    """The head's class probabilities (n, 3), columns in ``CLASSES`` order."""
    sig, x, _ = base_inputs(base, texts)
    return _head_probabilities(head, sig, x)


@dataclass
class CrossValidation:
    """The base model and the adapted one on the same labels; the adapted figures out-of-fold."""
    n: int
    folds: int
    base_accuracy: float
    base_macro_f1: float
    adapted_accuracy: float | None   # None with fewer than 2 labels
    adapted_macro_f1: float | None


def cross_validate(base: Base, texts: Sequence[str], labels: Sequence[str], folds: int = 5,
                   config: AdaptConfig = AdaptConfig(), seed: int = 0) -> CrossValidation:
    """How well a head fitted on the user's labels does on labels it did not see: each fold's label is
    predicted by a head fitted on the other folds (deterministic folds), next to the base model's
    accuracy on all of them. This is what ``listener eval --labels`` can report."""
    from models.datasets import folds as fold_numbers
    from models.training import three_class

    labels = list(labels)
    own = [p.label for p in predict(base, None, texts)]
    base_m = three_class(labels, own) if labels else {"accuracy": 0.0, "macro_f1": 0.0}
    k = min(folds, len(labels))
    if k < 2:
        return CrossValidation(len(labels), k, base_m["accuracy"], base_m["macro_f1"], None, None)
    fold = fold_numbers(len(labels), k, seed)
    got = [""] * len(labels)
    for f in range(k):
        train = [i for i, g in enumerate(fold) if g != f]
        held = [i for i, g in enumerate(fold) if g == f]
        head = fit(base, [texts[i] for i in train], [labels[i] for i in train], config)
        for i, p in zip(held, predict(base, head, [texts[i] for i in held])):
            got[i] = p.label
    m = three_class(labels, got)
    return CrossValidation(len(labels), k, base_m["accuracy"], base_m["macro_f1"], m["accuracy"], m["macro_f1"])


# --- artifact -------------------------------------------------------------------


def serialize(head: DomainHead) -> bytes:
    """The head's artifact bytes (see module docstring); the same head gives the same bytes."""
    return serialize_set({CONFIGURED: head})


def serialize_set(heads: dict[str, DomainHead]) -> bytes:
    """One artifact holding the configured model's head (key ``CONFIGURED``) and each language's (key: its
    code), each in the layout of ``serialize``; the same heads give the same bytes."""
    entries = {}
    for key in sorted(heads):
        head = heads[key]
        arrays = _array_bytes({"columns": head.columns.astype(np.int64), "weight": head.weight.astype(np.float32),
                               "bias": head.bias.astype(np.float32), "signals": head.signals.astype(np.float32)})
        meta = dict(head.meta, format=FORMAT, classes=list(CLASSES), arrays_sha256=hashlib.sha256(arrays).hexdigest())
        prefix = f"{key}/" if key else ""
        entries[prefix + "meta.json"] = json.dumps(meta, indent=1, sort_keys=True).encode()
        entries[prefix + "arrays.npz"] = arrays
    return zip_entries(entries)


FIX = "adapt again with `listener train --with-labels`"


def keys(path: Path) -> list[str]:
    """The heads an artifact holds: ``CONFIGURED`` and language codes. Raises ``ArtifactError`` when
    the file is missing or not a head artifact."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
    except FileNotFoundError:
        raise ArtifactError(f"{path}: domain head not found") from None
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise ArtifactError(f"{path}: not a listener domain head ({exc})") from None
    found = sorted(n[:-len("meta.json")].rstrip("/") for n in names if n.endswith("meta.json"))
    if not found:
        raise ArtifactError(f"{path}: not a listener domain head (no meta.json)")
    return found


def load(path: Path, base: Base, key: str = CONFIGURED) -> DomainHead:
    """Read and check the head ``key`` (the configured model's unless a language code) for ``base``;
    any mismatch is an ``ArtifactError`` saying what to do."""
    path = Path(path)
    where = f"{path}" if not key else f"{path} ({key})"
    prefix = f"{key}/" if key else ""
    try:
        with zipfile.ZipFile(path) as z:
            meta = json.loads(z.read(prefix + "meta.json"))
            raw = z.read(prefix + "arrays.npz")
    except FileNotFoundError:
        raise ArtifactError(f"{path}: domain head not found") from None
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise ArtifactError(f"{where}: not a listener domain head ({exc})") from None
    if meta.get("format") != FORMAT:
        raise ArtifactError(f"{where}: head format {meta.get('format')!r}, this listener reads {FORMAT!r}; {FIX}")
    if meta.get("feature_version") != FEATURE_VERSION:
        raise ArtifactError(f"{where}: made with features {meta.get('feature_version')!r}, this listener "
                            f"computes {FEATURE_VERSION!r}; {FIX}")
    if meta.get("base_artifact") != base.meta.get("artifact_id"):
        raise ArtifactError(f"{where}: made for another base model ({str(meta.get('base_artifact'))[:12]}, "
                            f"loaded is {str(base.meta.get('artifact_id'))[:12]}); {FIX}")
    if hashlib.sha256(raw).hexdigest() != meta.get("arrays_sha256"):
        raise ArtifactError(f"{where}: arrays.npz does not match the checksum in meta.json (modified or corrupt); {FIX}")
    with np.load(io.BytesIO(raw), allow_pickle=False) as a:
        arrays = {k: a[k] for k in a.files}
    n = sum(feature_sizes(base))
    cols = arrays.get("columns")
    if (cols is None or arrays.get("weight") is None or arrays["weight"].shape != (len(cols), len(CLASSES))
            or arrays.get("bias") is None or arrays["bias"].shape != (len(CLASSES),)
            or arrays.get("signals") is None or arrays["signals"].shape != (len(signal_names(base)), len(CLASSES))
            or (len(cols) and (cols.min() < 0 or cols.max() >= n))):
        raise ArtifactError(f"{where}: weights do not fit the base model; {FIX}")
    return DomainHead(meta=meta, columns=cols.astype(np.int64), weight=arrays["weight"], bias=arrays["bias"],
                      signals=arrays["signals"])
