"""Model jobs behind the CLI: train, eval, batch scoring, explain, human relabels.

Training and evaluation read the labelled data in ``models/data`` (or ``data_dir``) and the
user's relabels from the store; the models themselves stay pure (``models/``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Iterable, Iterator

import sqlite_utils

from listener import store
from listener.config import Settings
from listener.errors import BadInput, NotFound, model_errors
from listener.text import iso_utc
from models import datasets, trained, training
from models.classify import classify_batch, post_text, score_covered
from models.datasets import Example
from models.products import compile_products
from models.sentiment import LABELS, UNSCORED, Scorer, TrainedScorer, VaderScorer, load_scorer
from models.topics import compile_topics


@dataclass
class TrainResult:
    path: Path
    artifact_sha256: str
    data_sha256: str
    examples: int
    evaluation: training.Evaluation | None


def relabel_examples(db: sqlite_utils.Database | None) -> list[Example]:
    """The user's sentiment relabels as training examples (none without a database)."""
    if db is None:
        return []
    return [Example(post_text(r["title"], r["text"]), r["label"], "relabel") for r in store.labelled_posts(db)]


@model_errors()
def train(config: training.TrainConfig, out: Path, *, data_dir: Path = datasets.DATA_DIR,
          db: sqlite_utils.Database | None = None, evaluate: bool = True) -> TrainResult:
    """Train on the bundled data (plus relabels from ``db``), measure, and write the artifact."""
    extra = relabel_examples(db)
    examples = training.training_examples(config, data_dir, extra)
    model = training.fit(examples, config)
    ev = None
    if evaluate:
        cv = training.cross_val_scores(config, data_dir, extra) if config.cv_folds else None
        ev = training.evaluate("trained", _pairs(TrainedScorer(model)), data_dir, cv=cv,
                               vader_sets=config.vader_sets if cv else ())
        model.meta["metrics"] = {"figures": ev.figures(), "how": ev.how}
    model.meta["relabels"] = len(extra)
    digest = trained.save(model, out)
    return TrainResult(out, digest, model.meta["data_sha256"], len(examples), ev)


def _pairs(scorer: Scorer):
    def run(texts):
        return [(s.label, s.score) for s in scorer.score(texts)]
    return run


@model_errors()
def evaluate_models(settings: Settings, *, data_dir: Path = datasets.DATA_DIR, cv: bool = True) -> list[training.Evaluation]:
    """VADER and the configured trained model on the targets. The trained model's VADER-set figures
    are re-measured by cross-validation with the artifact's own training config (``cv``), else
    taken from the artifact (measured the same way when it was trained)."""
    k = settings.classify
    out = [training.evaluate("vader", _pairs(VaderScorer(k.positive_threshold, k.negative_threshold)), data_dir)]
    scorer = load_scorer("trained", settings.sentiment.artifact)
    assert isinstance(scorer, TrainedScorer)
    meta = scorer.model.meta
    config = training.TrainConfig.from_dict(meta.get("config", {}))
    if cv and config.cv_folds:
        ev = training.evaluate(scorer.name, _pairs(scorer), data_dir,
                               cv=training.cross_val_scores(config, data_dir), vader_sets=config.vader_sets)
    else:
        ev = training.evaluate(scorer.name, _pairs(scorer), data_dir, vader_sets=())
        recorded = meta.get("metrics", {})
        for name in config.vader_sets:
            value = recorded.get("figures", {}).get(f"vader_{name}_macro_f1")
            if value is not None:
                ev.vader[name] = {"macro_f1": value}
                ev.how[name] = "cross-validated at training time (recorded in the artifact)"
    out.append(ev)
    return out


@dataclass
class LabelEvaluation:
    model: str
    n: int
    accuracy: float | None
    macro_f1: float | None
    confusion: dict[str, dict[str, int]] = field(default_factory=dict)


def evaluate_labels(db: sqlite_utils.Database, settings: Settings) -> LabelEvaluation:
    """The configured model's accuracy on the user's own sentiment relabels."""
    scorer = _scorer(settings)
    rows = store.labelled_posts(db)
    if not rows:
        return LabelEvaluation(scorer.name, 0, None, None)
    got = [s.label for s in scorer.score([post_text(r["title"], r["text"]) for r in rows])]
    gold = [r["label"] for r in rows]
    confusion: dict[str, dict[str, int]] = {}
    for g, p in zip(gold, got):
        confusion.setdefault(g, {}).setdefault(p, 0)
        confusion[g][p] += 1
    m = training.three_class(gold, got)
    return LabelEvaluation(scorer.name, len(rows), m["accuracy"], m["macro_f1"], confusion)


def _scorer(settings: Settings) -> Scorer:
    from listener.pipeline import scorer_for

    return scorer_for(settings)


def score_lines(lines: Iterable[str], settings: Settings, batch: int = 1000) -> Iterator[dict]:
    """One result per input line: label, score in [-1, 1] (None when unscored), model."""
    scorer = _scorer(settings)
    chunk: list[str] = []

    def flush() -> Iterator[dict]:
        langs, scored = score_covered(chunk, scorer, settings.sentiment.languages)
        for i in range(len(chunk)):
            s = scored.get(i)
            yield {"label": s.label if s else UNSCORED, "score": round(s.score, 4) if s else None,
                   "model": scorer.name, **({} if s else {"language": langs[i]})}

    for line in lines:
        chunk.append(line.rstrip("\r\n"))
        if len(chunk) >= batch:
            yield from flush()
            chunk = []
    if chunk:
        yield from flush()


@dataclass
class Explanation:
    post_id: int
    title: str | None
    model: str
    label: str
    score: float | None
    confidence: float | None
    language: str | None
    positive_terms: list[trained.Contribution]
    negative_terms: list[trained.Contribution]
    mentions: list[tuple[str, str]]     # (product, alias that matched)
    topics: list[tuple[str, str, float | None]]  # (topic, term that matched, topic sentiment)
    human_label: str | None
    stored_label: str | None


def explain_post(db: sqlite_utils.Database, settings: Settings, post_id: int, top: int = 8) -> Explanation | None:
    """Why a post got its label: the model's top term contributions, matched aliases and topic rules."""
    post = store.get_post(db, post_id)
    if post is None:
        return None
    scorer = _scorer(settings)
    body = post_text(post["title"], post["text"])
    c = classify_batch([post], products=compile_products(settings.products), scorer=scorer,
                       topics=compile_topics(settings.topics), languages=settings.sentiment.languages)[0]
    pos: list[trained.Contribution] = []
    neg: list[trained.Contribution] = []
    if isinstance(scorer, TrainedScorer) and c.label != UNSCORED:
        _, pos, neg = trained.explain(scorer.model, body, top)
    elif c.label != UNSCORED:
        pos, neg = _vader_terms(body, top)
    human = post["human_label"]["sentiment"] if post["human_label"] else None
    return Explanation(post_id, post["title"], scorer.name, c.label, c.sentiment, c.confidence, c.language,
                       pos, neg, [(m.product, m.alias) for m in c.mentions],
                       [(t.topic, t.term, t.sentiment) for t in c.topics], human, post["sentiment_label"])


def _vader_terms(text: str, top: int) -> tuple[list[trained.Contribution], list[trained.Contribution]]:
    """VADER's lexicon valences of the words in ``text`` (its rules adjust these; a first-order view)."""
    from models.sentiment import _analyzer

    lex = _analyzer().lexicon
    seen = {w: lex[w] for w in (t.strip(".,!?;:\"'()").lower() for t in text.split()) if w in lex}
    items = [trained.Contribution(f"word:{w}", float(v)) for w, v in seen.items()]
    return (sorted((c for c in items if c.weight > 0), key=lambda c: -c.weight)[:top],
            sorted((c for c in items if c.weight < 0), key=lambda c: c.weight)[:top])


def label_post(db: sqlite_utils.Database, settings: Settings, post_id: int, *, now: datetime,
               sentiment: str | None = None, topics: list[str] | None = None) -> None:
    """Store a human correction (sentiment and/or topics). Raises ValueError on unknown values."""
    if sentiment is not None and sentiment not in LABELS:
        raise BadInput(f"sentiment must be one of {', '.join(LABELS)}, got {sentiment!r}")
    known = {t.name for t in settings.topics}
    for t in topics or ():
        if t not in known:
            raise BadInput(f"unknown topic {t!r} (settings topics: {', '.join(sorted(known)) or 'none'})")
    if store.get_post(db, post_id) is None:
        raise NotFound(f"no post with id {post_id}")
    store.label_post(db, post_id, now=iso_utc(now), sentiment=sentiment, topics=topics)
