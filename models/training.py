"""Train and evaluate the sentiment models. Deterministic: fixed seeds, one thread.

``fit`` turns labelled examples into a ``TrainedModel``; ``evaluate`` measures a scorer on
TweetEval val (never trained on) and on the VADER ground-truth sets, cross-validated for the
trained model because those sets are also training data (see ``models/data/README.md``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from models import datasets
from models.datasets import Example
from models.trained import CLASSES, LEXICON_NAMES, TrainedModel, _counter, assemble, predict, \
    sklearn_version, smooth_idf, vocab_sha256

# The targets of issue 5, checked by ``listener eval``.
TARGETS = {   # the sentiment issue's targets for the default model, on the bundled data
    "tweeteval_val_macro_recall": 0.76,
    "vader_tweets_macro_f1": 0.95,
    "vader_amazon_macro_f1": 0.82,
}
MENTION_TARGETS = {"dong2014_mention_macro_f1": 0.72}   # per-mention sentiment on Dong 2014 (held out)
SPEED_TARGETS = {"default": 300.0, "fast": 1500.0}   # posts/s of the full classify step on one core


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides the trained model, recorded in the artifact."""
    C: float = 0.5                    # inverse regularization strength of the logistic regression
    min_df_word: int = 2
    min_df_char: int = 3
    max_word_features: int = 150_000
    max_char_features: int = 150_000
    lexicon_scale: float = 1.0        # VADER features are multiplied by this before fitting
    tweeteval_every: int = 1          # use every k-th TweetEval train example (tests use a large k)
    vader_every: int = 1              # same for the VADER ground-truth sets
    vader_sets: tuple[str, ...] = ("tweets", "amazon")
    cv_folds: int = 5                 # folds for scoring the VADER sets; 0 skips cross-validation
    seed: int = 0
    max_iter: int = 2000
    polar_C: float = 0.5              # the polar head's C
    polar_rated_weight: float = 6.0   # weight of a human-rated (VADER) example in the polar head
    nb_alpha: float = 1.0             # smoothing of the polar head's naive-Bayes log-count ratios

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        if "vader_sets" in known:
            known["vader_sets"] = tuple(known["vader_sets"])
        return cls(**known)


SMALL = TrainConfig(tweeteval_every=60, vader_every=12, cv_folds=2, max_word_features=5000,
                    max_char_features=5000, min_df_char=2)  # the tiny config tests train with


def training_examples(config: TrainConfig, data_dir: Path = datasets.DATA_DIR,
                      extra: Sequence[Example] = ()) -> list[Example]:
    """TweetEval train plus the VADER sets (subsampled per config), then ``extra`` (human relabels)."""
    out = datasets.subset(datasets.load_tweeteval("train", data_dir), config.tweeteval_every)
    for name in config.vader_sets:
        out += datasets.subset(datasets.vader_examples(name, data_dir), config.vader_every)
    return out + list(extra)


def _single_thread():
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


def fit(examples: Sequence[Example], config: TrainConfig) -> TrainedModel:
    """Fit vocabularies, idf, and both heads with their naive-Bayes column scales on ``examples``."""
    from sklearn.linear_model import LogisticRegression

    from models.features import normalize

    texts = [e.text for e in examples]
    y = np.array([CLASSES.index(e.label) for e in examples])
    norm = [normalize(t) for t in texts]
    with _single_thread():
        wc = _counter("word", min_df=config.min_df_word, max_features=config.max_word_features)
        cc = _counter("char", min_df=config.min_df_char, max_features=config.max_char_features)
        cw, ch = wc.fit_transform(norm), cc.fit_transform(norm)
        idf_w, idf_c = smooth_idf(cw), smooth_idf(ch)
        scale = np.full(len(LEXICON_NAMES), config.lexicon_scale, dtype=np.float32)
        f = assemble(cw, ch, texts, idf_w, idf_c, scale)
        balanced = (len(y) / (len(CLASSES) * np.bincount(y, minlength=len(CLASSES)).clip(1)))[y]
        nb3_w, nb3_c = (nb_scale(c, y, balanced, config.nb_alpha) for c in (cw, ch))
        clf = LogisticRegression(C=config.C, class_weight="balanced", max_iter=config.max_iter,
                                 random_state=config.seed)
        clf.fit(f.matrix(nb3_w, nb3_c), y)
        polar, positive, weight = polar_examples(examples, config.polar_rated_weight)
        nb_w, nb_c = (nb_scale(c[polar], positive.astype(np.int64), weight, config.nb_alpha) for c in (cw, ch))
        head = LogisticRegression(C=config.polar_C, max_iter=config.max_iter, random_state=config.seed)
        head.fit(f.matrix(nb_w, nb_c)[polar], positive, sample_weight=weight)
    vw = sorted(wc.vocabulary_, key=wc.vocabulary_.get)
    vc = sorted(cc.vocabulary_, key=cc.vocabulary_.get)
    meta = {"sklearn_version": sklearn_version(), "data_sha256": datasets.checksum(examples),
            "examples": len(examples), "config": asdict(config), "vocab_sha256": vocab_sha256(vw, vc)}
    return TrainedModel(meta=meta, vocab_word=vw, vocab_char=vc, idf_word=idf_w, idf_char=idf_c,
                        lexicon_scale=scale, coef=clf.coef_.astype(np.float32),
                        intercept=clf.intercept_.astype(np.float32), nb3_word=nb3_w, nb3_char=nb3_c,
                        nb_word=nb_w, nb_char=nb_c,
                        polar_coef=head.coef_[0].astype(np.float32),
                        polar_intercept=head.intercept_.astype(np.float32))


def polar_examples(examples: Sequence[Example], rated_weight: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The polar head's training set: indices, is-positive, and sample weights.

    A human-rated example (VADER ground truth) counts by the sign of its rating (exact zeros
    left out) with weight ``rated_weight``; any other example by its label (neutral left out),
    weighted so positives and negatives weigh the same in total.
    """
    rows = [(i, e.rating > 0, True) if e.rating is not None else (i, e.label == "positive", False)
            for i, e in enumerate(examples)
            if (e.rating is not None and e.rating != 0) or (e.rating is None and e.label != "neutral")]
    index = np.array([r[0] for r in rows], dtype=np.int64)
    pos, rated_ = np.array([r[1] for r in rows], dtype=bool), np.array([r[2] for r in rows], dtype=bool)
    n_pos, n_neg = int((pos & ~rated_).sum()), int((~pos & ~rated_).sum())
    balanced = np.where(pos, (n_pos + n_neg) / (2 * max(n_pos, 1)), (n_pos + n_neg) / (2 * max(n_neg, 1)))
    return index, pos, np.where(rated_, rated_weight, balanced)


def nb_scale(counts, y: np.ndarray, weight: np.ndarray, alpha: float) -> np.ndarray:
    """Each column's largest |log-count ratio| of one class against the rest (presence counts,
    rows weighted, ``alpha``-smoothed): how much the term tells the classes apart."""
    from scipy import sparse

    weighted = (sparse.diags(weight.astype(np.float64)) @ (counts > 0).astype(np.float64)).tocsr()
    out = np.zeros(counts.shape[1])
    for c in np.unique(y):
        p = alpha + np.asarray(weighted[y == c].sum(axis=0)).ravel()
        q = alpha + np.asarray(weighted[y != c].sum(axis=0)).ravel()
        out = np.maximum(out, np.abs(np.log((p / p.sum()) / (q / q.sum()))))
    return out.astype(np.float32)


# --- metrics ----------------------------------------------------------------------

Scores = Callable[[Sequence[str]], list[tuple[str, float]]]  # texts -> (label, score) each


def three_class(gold: Sequence[str], predicted: Sequence[str]) -> dict[str, float]:
    """Macro recall (TweetEval's official metric), macro-F1 and accuracy."""
    from sklearn.metrics import accuracy_score, f1_score, recall_score

    return {"macro_recall": float(recall_score(gold, predicted, average="macro", labels=list(CLASSES), zero_division=0)),
            "macro_f1": float(f1_score(gold, predicted, average="macro", labels=list(CLASSES), zero_division=0)),
            "accuracy": float(accuracy_score(gold, predicted))}


def polar(ratings: Sequence[float], scores: Sequence[float]) -> dict[str, float]:
    """Positive vs negative by sign (exact-zero ratings dropped; a zero score counts as positive):
    macro-F1, plus Pearson r of score and rating."""
    from sklearn.metrics import f1_score

    keep = [i for i, r in enumerate(ratings) if r != 0]
    gold = [ratings[i] > 0 for i in keep]
    pred = [scores[i] >= 0 for i in keep]
    r = float(np.corrcoef(np.asarray(ratings, float), np.asarray(scores, float))[0, 1])
    return {"macro_f1": float(f1_score(gold, pred, average="macro")), "pearson_r": r, "n": len(keep)}


@dataclass
class Evaluation:
    model: str
    tweeteval_val: dict[str, float]
    vader: dict[str, dict[str, float]] = field(default_factory=dict)
    how: dict[str, str] = field(default_factory=dict)

    def figures(self) -> dict[str, float]:
        out = {"tweeteval_val_macro_recall": self.tweeteval_val["macro_recall"]}
        for name, m in self.vader.items():
            out[f"vader_{name}_macro_f1"] = m["macro_f1"]
        return out


def evaluate(model_name: str, scores: Scores, data_dir: Path = datasets.DATA_DIR, *,
             cv: dict[str, list[tuple[str, float]]] | None = None,
             vader_sets: Sequence[str] = ("tweets", "amazon")) -> Evaluation:
    """Measure ``scores`` on TweetEval val and the VADER sets (``cv(name)`` when given, for trained models)."""
    val = datasets.load_tweeteval("val", data_dir)
    got = scores([e.text for e in val])
    ev = Evaluation(model_name, three_class([e.label for e in val], [g[0] for g in got]))
    ev.how["tweeteval_val"] = "held out: never trained on"
    for name in vader_sets:
        rows = datasets.load_vader_groundtruth(name, data_dir)
        if cv is not None and name in cv:
            out = cv[name]
            ev.how[name] = "cross-validated (also training data)"
        else:
            out = scores([t for t, _ in rows])
            ev.how[name] = "not trained on"
        ev.vader[name] = polar([r for _, r in rows], [s for _, s in out])
    return ev


def cross_val_scores(config: TrainConfig, data_dir: Path = datasets.DATA_DIR,
                     extra: Sequence[Example] = ()) -> dict[str, list[tuple[str, float]]]:
    """(label, score) for every example of each VADER set, each from a model that did not see it.

    Fold k's model is trained on TweetEval train (per config) plus folds != k of every VADER set
    in the config (and ``extra``), and scores fold k of each set. The folds cover the whole set,
    whatever ``vader_every`` says, so the metric is over the full set.
    """
    base = datasets.subset(datasets.load_tweeteval("train", data_dir), config.tweeteval_every)
    sets = {n: datasets.vader_examples(n, data_dir) for n in config.vader_sets}
    fold_of = {n: datasets.folds(len(ex), config.cv_folds, config.seed) for n, ex in sets.items()}
    out: dict[str, list] = {n: [None] * len(ex) for n, ex in sets.items()}
    for k in range(config.cv_folds):
        train = list(base)
        for n in config.vader_sets:
            train += datasets.subset([e for e, f in zip(sets[n], fold_of[n]) if f != k], config.vader_every)
        model = fit(train + list(extra), replace(config, cv_folds=0))
        for n in config.vader_sets:
            idx = [i for i, f in enumerate(fold_of[n]) if f == k]
            for i, p in zip(idx, predict(model, [sets[n][i].text for i in idx])):
                out[n][i] = (p.label, p.score)
    return out


def target_rows(ev: Evaluation) -> list[dict]:
    """One row per target: name, value, threshold, met."""
    figs = ev.figures()
    return [{"target": k, "model": ev.model, "value": figs.get(k), "threshold": t,
             "met": figs.get(k) is not None and figs[k] >= t} for k, t in TARGETS.items()]
