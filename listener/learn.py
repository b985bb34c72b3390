"""Model jobs behind the CLI: train, eval, batch scoring, human relabels, and the one explanation
of a label (``listener explain``, the web post page and ``/api/posts/{id}`` all show ``explain``).

Training and evaluation read the labelled data in ``models/data`` (or ``data_dir``) and the
user's relabels from the store; the models themselves stay pure (``models/``). Their errors
(an unusable artifact, unreadable training data) reach the user as ``ModelError``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Iterable, Iterator

import sqlite_utils

from listener import store
from listener.classifier import Classifier, adaptation_base, scorer_for
from listener.config import Settings
from listener.errors import BadInput, NotFound, model_errors
from listener.files import write_atomic
from listener.text import iso_utc
from models import adapt, datasets, trained, training
from models.classify import post_text
from models.datasets import Example
from models.features import Contribution
from models.mentions import judge_targets
from models.sentiment import LABELS, MODELS, UNSCORED, Scorer, TrainedScorer, canonical


@dataclass
class TrainResult:
    path: Path
    artifact_sha256: str
    data_sha256: str
    examples: int
    evaluation: training.Evaluation | None


def labelled_rows(db: sqlite_utils.Database) -> list[tuple[str, str, str | None]]:
    """The user's sentiment relabels as (text, label, the post's declared language): a post's whole text;
    for a product's mention, the span the model judged about it (the whole text while it has not been judged)."""
    found = [(post_text(r["title"], r["text"]), r["label"], r["language"]) for r in store.labelled_posts(db)]
    found += [(r["span"] or post_text(r["title"], r["text"]), r["label"], r["language"])
              for r in store.labelled_mentions(db)]
    return found


def labelled_texts(db: sqlite_utils.Database) -> list[tuple[str, str]]:
    """``labelled_rows`` as (text, label)."""
    return [(text, label) for text, label, _ in labelled_rows(db)]


@dataclass
class LabelGroups:
    """The relabels by the model that scores their posts, as ``listener classify`` routes them (without a
    domain head): ``groups`` maps "" (the configured model: English and the rest it scores) or a language
    code (that language's own model) to the relabels' indices; ``unscored`` counts the relabels in a language
    no model scores now (not in ``sentiment.languages``), by language."""
    classifier: Classifier
    groups: dict[str, list[int]]
    unscored: dict[str, int]

    def scorer(self, key: str) -> Scorer:
        return self.classifier.others[key] if key else self.classifier.scorer


def label_groups(settings: Settings, texts: list[str], declared: list[str | None]) -> LabelGroups:
    """Group relabelled ``texts`` (their posts' ``declared`` languages) as ``LabelGroups`` says."""
    from models.classify import route

    sentiment = replace(settings.sentiment, adaptation=None)
    classifier = Classifier.from_settings(replace(settings, sentiment=sentiment), relevance=False)
    detected, keys = route(texts, classifier.languages, declared, classifier.others)
    groups: dict[str, list[int]] = {}
    unscored: dict[str, int] = {}
    for i in range(len(texts)):
        if i in keys:
            groups.setdefault(keys[i], []).append(i)
        else:
            lang = detected[i] or declared[i] or "unknown"
            unscored[lang] = unscored.get(lang, 0) + 1
    return LabelGroups(classifier, dict(sorted(groups.items())), dict(sorted(unscored.items())))


def head_base(groups: LabelGroups, key: str, settings: Settings) -> "adapt.Base":
    """What the head of group ``key`` adapts: the configured model's base, or that language's model."""
    if key:
        return groups.scorer(key).base   # type: ignore[attr-defined]  (a LanguageScorer)
    return adaptation_base(settings, groups.classifier.scorer)


def relabel_examples(db: sqlite_utils.Database | None) -> list[Example]:
    """The user's sentiment relabels as training examples (none without a database)."""
    if db is None:
        return []
    return [Example(text, label, "relabel") for text, label in labelled_texts(db)]


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
    data = trained.serialize(model)
    write_atomic(out, data)
    return TrainResult(out, hashlib.sha256(data).hexdigest(), model.meta["data_sha256"], len(examples), ev)


@model_errors()
def train_default(out: Path | None = None, *, data_dir: Path = datasets.DATA_DIR, log=print) -> dict:
    """Train the default model (``models.encoder_training``, needs the ``train`` extra), write its artifact
    folder (default: the shipped one) and return its meta with ``folder`` and ``artifact_id``."""
    from models import encoder, encoder_training

    folder = Path(out) if out is not None else encoder.SHIPPED_DIR
    meta = encoder_training.train_artifact(encoder_training.EncoderConfig(), folder, data_dir, log)
    return dict(meta, folder=str(folder), artifact_id=encoder.sha256(folder / encoder.META_NAME))


@model_errors()
def train_multilingual(folder: Path, out: Path | None = None) -> tuple[Path, str, dict]:
    """Train the per-language models (``models.multilingual``) on the data in ``folder``, measure each on
    its validation split, write the artifact atomically (default: the shipped one); return its path,
    SHA-256 and meta."""
    from models import multilingual

    model = multilingual.train(Path(folder))
    data = multilingual.serialize(model)
    path = Path(out) if out is not None else multilingual.SHIPPED
    write_atomic(path, data)
    return path, hashlib.sha256(data).hexdigest(), model.meta


def multilingual_rows(settings: Settings, folder: Path | None = None) -> list[dict]:
    """Per language of the multilingual artifact, one row per tier: the n-gram model's validation figure (what
    scores the language with the fast model or VADER configured) and, where it has an encoder part, the figure
    with it averaged in (``+use``: with the default model configured), against the language's target;
    measured now on ``folder``'s validation splits when given, else as recorded in the artifact at training
    time (the data may not be redistributed, so it is not bundled). Whether the row's tier scores the
    language now (in ``sentiment.languages``, with the configured model) is in ``how``."""
    from models import multilingual

    with model_errors():
        path = multilingual.SHIPPED
        meta = multilingual.read_meta(path)
        model = multilingual.load(path) if folder is not None else None
        name = f"multilingual-{hashlib.sha256(path.read_bytes()).hexdigest()[:12]}"
        default_tier = canonical(settings.sentiment.model) == "default"
        rows = []
        for lang, info in meta.get("languages", {}).items():
            val = multilingual.splits(folder, lang)[1] if model is not None else None
            for encoder, key in ((False, "figures"), (True, "figures_encoder")):
                if key not in info:
                    continue
                fig = info[key]
                if model is not None and val is not None:
                    fig = multilingual.measure(lang, model.models[lang], val, encoder=encoder)
                    how = f"{fig['metric']}, validation split measured now ({fig['n']:,} posts, never trained on)"
                else:
                    how = (f"{fig['metric']}, validation split ({fig['n']:,} posts, never trained on), "
                           "recorded in the artifact at training time")
                tier = encoder == (default_tier and "figures_encoder" in info)
                if lang not in settings.sentiment.languages:
                    how += "; unscored (not in sentiment.languages)"
                else:
                    how += "; scored" if tier else "; not the configured model's tier"
                rows.append(_row(f"{lang}_validation_macro_f1", f"{name}-{lang}" + ("+use" if encoder else ""),
                                 fig["value"], info.get("target"), how))
    return rows


@dataclass
class HeadResult:
    """One model's domain head: ``language`` "" for the configured model, else the language's code."""
    language: str
    model: str                              # the base model's name
    labels: int
    label_counts: dict[str, int]
    seconds: float                          # fitting the head (not the cross-validation)
    cv: "adapt.CrossValidation"

    @property
    def kept(self) -> bool:
        """Whether the head is written: not when it did worse than its base model out-of-fold."""
        cv = self.cv
        return cv.adapted_macro_f1 is None or cv.adapted_macro_f1 >= cv.base_macro_f1


@dataclass
class AdaptResult:
    path: Path | None                       # None: no head was kept, nothing written
    head_sha256: str | None
    heads: list[HeadResult]
    unscored: dict[str, int]                # relabels left out: in a language no model scores now, by language
    configured: bool                        # the settings' sentiment.adaptation names ``path``


def head_path(settings: Settings) -> Path:
    """Where ``train --with-labels`` writes the domain head: ``sentiment.adaptation``, else next to
    ``sentiment.artifact``, else next to the database (the shipped model's folder is the package's)."""
    sn = settings.sentiment
    if sn.adaptation is not None:
        return sn.adaptation
    if sn.artifact is not None:
        return sn.artifact.with_name(sn.artifact.name + ".head")
    return Path(settings.db_path).with_name("sentiment.head")


@model_errors()
def adapt_to_labels(db: sqlite_utils.Database, settings: Settings, out: Path | None = None,
                    folds: int = 5) -> AdaptResult:
    """Fit a domain head (``models.adapt``) on the user's relabels for each model that scores them (the
    configured model, default or fast, for English; each other language of ``sentiment.languages`` its own
    model, on the relabels of posts in that language), cross-validate each on its labels, and write the
    heads that did not do worse than their base model out-of-fold (``HeadResult.kept``) atomically to one
    file, ``out`` (default ``head_path``)."""
    import time

    rows = labelled_rows(db)
    if not rows:
        raise BadInput("no relabelled posts yet: label some with `listener label POST_ID --sentiment ...`")
    texts, labels = [t for t, _, _ in rows], [y for _, y, _ in rows]
    grouped = label_groups(settings, texts, [lang for _, _, lang in rows])
    if not grouped.groups:
        raise BadInput(f"none of the {len(rows)} relabelled posts is in a language the models score "
                       f"({', '.join(f'{k}: {n}' for k, n in grouped.unscored.items())}); add the language to "
                       "sentiment.languages to adapt its model")
    heads, results = {}, []
    for key, idx in grouped.groups.items():
        base = head_base(grouped, key, settings)
        t, y = [texts[i] for i in idx], [labels[i] for i in idx]
        start = time.perf_counter()
        heads[key] = head = adapt.fit(base, t, y)
        seconds = time.perf_counter() - start
        results.append(HeadResult(key, grouped.scorer(key).name, len(idx), dict(head.meta["label_counts"]), seconds,
                                  adapt.cross_validate(base, t, y, folds=folds)))
    kept = {r.language: heads[r.language] for r in results if r.kept}
    path = Path(out) if out is not None else head_path(settings)
    configured = settings.sentiment.adaptation is not None and Path(settings.sentiment.adaptation).resolve() == path.resolve()
    if not kept:
        return AdaptResult(None, None, results, grouped.unscored, configured)
    data = adapt.serialize_set(kept)
    write_atomic(path, data)
    return AdaptResult(path, hashlib.sha256(data).hexdigest(), results, grouped.unscored, configured)


def _pairs(scorer: Scorer):
    def run(texts):
        return [(s.label, s.score) for s in scorer.score(texts)]
    return run


@model_errors()
def evaluate_models(settings: Settings, *, data_dir: Path = datasets.DATA_DIR, cv: bool = True) -> list[training.Evaluation]:
    """VADER, the fast model and the default model on the targets. The fast model's VADER-set figures
    are re-measured by cross-validation with the artifact's own training config (``cv``), else
    taken from the artifact (measured the same way when it was trained); the default model's are
    measured on the fifth of each VADER set its training held out."""
    scorer = scorer_for(settings, "fast", head=False)  # the targets measure the base model
    assert isinstance(scorer, TrainedScorer)
    meta = scorer.model.meta
    config = training.TrainConfig.from_dict(meta.get("config", {}))
    out = [training.evaluate("vader", _pairs(scorer_for(settings, "vader")), data_dir)]
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
    out.append(_evaluate_default(settings, data_dir))
    return out


def _evaluate_default(settings: Settings, data_dir: Path) -> training.Evaluation:
    """The default model on TweetEval val and on the held-out fifth of each VADER set."""
    from models import encoder_training

    scorer = scorer_for(settings, "default", head=False)
    ev = training.evaluate(scorer.name, _pairs(scorer), data_dir, vader_sets=())
    config = encoder_training.EncoderConfig.from_dict(getattr(scorer, "model").meta.get("config", {}))
    _, held = encoder_training.split(config, data_dir)
    for name, examples in held.items():
        scores = [s.score for s in scorer.score([e.text for e in examples])]
        ev.vader[name] = training.polar([e.rating for e in examples], scores)
        ev.how[name] = f"its held-out fifth ({len(examples)} texts, never trained on)"
    return ev


@dataclass
class MentionEvaluation:
    """A model's per-mention judgements on target-level data: per set, macro-F1, accuracy and count,
    beside the post-level label given to every target (``post_level``)."""
    model: str
    figures: dict[str, dict[str, float]]
    post_level: dict[str, dict[str, float]]


def mention_sets(folder: Path) -> dict[str, list]:
    """Dong 2014 and SemEval-2014 (restaurants, laptops) read in place from ``folder``; a missing or
    broken file is one line (``model_errors``)."""
    with model_errors():
        return {"dong2014": datasets.load_dong(folder),
                **{f"semeval14_{n}": datasets.load_absa_terms(folder, n) for n in sorted(datasets.ABSA_FILES)}}


def evaluate_mentions(settings: Settings, folder: Path, models: Iterable[str],
                      sets: dict[str, list] | None = None) -> list[MentionEvaluation]:
    """Each model's per-mention sentiment on Dong 2014 and SemEval-2014 (restaurants, laptops), read
    in place from ``folder`` (their terms keep them out of the repository) unless ``sets`` holds them
    already. No model is trained on them, so every item is held out."""
    sets = sets if sets is not None else mention_sets(folder)
    out = []
    for model in models:
        scorer = scorer_for(settings, model, head=False)
        figures, post_level = {}, {}
        for name, items in sets.items():
            gold = [y for _, _, _, y in items]
            post, mention = judge_targets(items, scorer)
            figures[name] = {**training.three_class(gold, mention), "n": len(items)}
            post_level[name] = {**training.three_class(gold, post), "n": len(items)}
        out.append(MentionEvaluation(scorer.name, figures, post_level))
    return out


def classify_speed(settings: Settings, model: str, rows: list[dict], batch: int = 2000) -> float:
    """Posts per second of the full classify step (sentiment, per-mention judgements, products,
    topics, language) with sentiment ``model``, on one core, over ``rows`` (store writes aside)."""
    import time

    from threadpoolctl import threadpool_limits

    sentiment = replace(settings.sentiment, model=model, adaptation=None)
    classifier = Classifier.from_settings(replace(settings, sentiment=sentiment))
    classifier.classify(rows[:50])   # loads the model, outside the timing
    with threadpool_limits(1):
        start = time.perf_counter()
        for i in range(0, len(rows), batch):
            classifier.classify(rows[i:i + batch])
        return len(rows) / (time.perf_counter() - start)


def vader_speed(rows: list[dict]) -> float:
    """Posts per second of plain VADER on the same rows: the baseline of ``classify_speed``."""
    import time

    from models.vader import vader_compound

    texts = [post_text(r["title"], r["text"]) for r in rows]
    start = time.perf_counter()
    for t in texts:
        vader_compound(t)
    return len(texts) / (time.perf_counter() - start)


@dataclass
class TargetReport:
    """Every sentiment target for every model: rows of target, model, value, threshold (None: no
    target), met, status (met | NOT MET | NOT MEASURED | no target) and how it was measured."""
    rows: list[dict]
    evaluations: list[training.Evaluation]
    mentions: list[MentionEvaluation]

    def to_dict(self) -> dict:
        return {"targets": self.rows,
                "evaluations": [{"model": e.model, "tweeteval_val": e.tweeteval_val, "vader": e.vader, "how": e.how}
                                for e in self.evaluations],
                "mentions": [{"model": m.model, "figures": m.figures, "post_level": m.post_level}
                             for m in self.mentions]}


def _row(target: str, model: str, value: float | None, threshold: float | None, how: str) -> dict:
    met = threshold is not None and value is not None and value >= threshold
    status = ("no target" if threshold is None else "NOT MEASURED" if value is None
              else "met" if met else "NOT MET")
    return {"target": target, "model": model, "value": value, "threshold": threshold, "met": met,
            "status": status, "how": how}


def how_measured(ev: training.Evaluation, target: str) -> str:
    """How a target's figure was measured (held out, cross-validated, ...)."""
    return ev.how.get("tweeteval_val" if target.startswith("tweeteval") else target.split("_")[1], "")


def target_report(settings: Settings, *, data_dir: Path = datasets.DATA_DIR, cv: bool = True,
                  absa_dir: Path | None = None, speed: bool = True, speed_posts: int = 2000,
                  multilingual_dir: Path | None = None) -> TargetReport:
    """``listener eval``: the models' figures on the bundled data (``evaluate_models``), per mention on
    Dong 2014 when ``absa_dir`` holds it, per language of the multilingual artifact (measured on
    ``multilingual_dir`` when given, else as recorded), and the classify step's speed per model (``speed``)."""
    sets = mention_sets(absa_dir) if absa_dir is not None else None   # a bad folder fails before the long part
    evals = evaluate_models(settings, data_dir=data_dir, cv=cv)
    rows = [_row(r["target"], r["model"], r["value"], r["threshold"], how_measured(ev, r["target"]))
            for ev in evals for r in training.target_rows(ev)]
    rows += multilingual_rows(settings, multilingual_dir)
    models = list(MODELS)
    mentions = evaluate_mentions(settings, absa_dir, models, sets) if absa_dir is not None else []
    rows += mention_rows(mentions)
    rows += relevance_rows()
    if speed:
        posts = datasets.speed_rows(speed_posts, data_dir=data_dir)
        baseline = vader_speed(posts)
        for model in models:
            value = classify_speed(settings, model, posts)
            rows.append(_row("classify_posts_per_s", scorer_for(settings, model, head=False).name, value,
                             training.SPEED_TARGETS.get(model),
                             f"{speed_posts:,} bundled posts, one core; {value / baseline:.2f}x plain VADER "
                             f"({baseline:,.0f}/s in the same run)"))
    return TargetReport(rows, evals, mentions)


def mention_rows(mentions: list) -> list[dict]:
    """The per-mention targets' rows: one per model measured, or one NOT MEASURED row when none was."""
    rows = []
    for target, threshold in training.MENTION_TARGETS.items():
        name = target.split("_")[0]
        if not mentions:
            rows.append(_row(target, "every model", None, threshold,
                             "needs --absa-data or $LISTENER_SHARED_DATA (Dong 2014 is not bundled)"))
        for m in mentions:
            rows.append(_row(target, m.model, m.figures[name]["macro_f1"], threshold,
                             f"all {m.figures[name]['n']:,} targets, none trained on; the post's label for "
                             f"every target: {m.post_level[name]['macro_f1']:.4f}"))
    return rows


@dataclass
class LabelEvaluation:
    model: str
    n: int
    accuracy: float | None
    macro_f1: float | None
    confusion: dict[str, dict[str, int]] = field(default_factory=dict)
    cv: "adapt.CrossValidation | None" = None   # a head fitted on other folds vs the trained base model
    base_model: str | None = None                # the trained base model's name in ``cv``
    in_sample: bool = False                      # the configured model carries a head fitted on labels
    language: str = ""                           # "" the configured model; else the language's own model
    # with relabels in several languages: one evaluation per model (this one covers them all)
    languages: list["LabelEvaluation"] = field(default_factory=list)
    unscored: dict[str, int] = field(default_factory=dict)   # relabels in a language no model scores, by language


def _label_figures(model: str, gold: list[str], got: list[str], **extra) -> LabelEvaluation:
    confusion: dict[str, dict[str, int]] = {}
    for g, p in zip(gold, got):
        confusion.setdefault(g, {}).setdefault(p, 0)
        confusion[g][p] += 1
    m = training.three_class(gold, got)
    return LabelEvaluation(model, len(gold), m["accuracy"], m["macro_f1"], confusion, **extra)


def evaluate_labels(db: sqlite_utils.Database, settings: Settings, *, folds: int = 5) -> LabelEvaluation:
    """The configured models' accuracy on the user's own sentiment relabels, each relabel judged by the model
    that scores its post's language (``label_groups``), and (``folds`` >= 2) how a domain head does on each
    model's relabels out-of-fold (``adapt.cross_validate``) beside its base model. The overall figures cover
    every relabel a model scores; ``languages`` holds one evaluation per model."""
    rows = labelled_rows(db)
    classifier = Classifier.from_settings(settings, relevance=False)
    if not rows:
        return LabelEvaluation(classifier.model, 0, None, None)
    texts, gold = [t for t, _, _ in rows], [y for _, y, _ in rows]
    grouped = label_groups(settings, texts, [lang for _, _, lang in rows])
    got: dict[int, str] = {}
    parts = []
    for key, idx in grouped.groups.items():
        scorer = classifier.others[key] if key else classifier.scorer
        labels = [s.label for s in scorer.score([texts[i] for i in idx])]
        got.update(zip(idx, labels))
        cv = base_name = None
        if folds >= 2 and (key or canonical(settings.sentiment.model) != "vader"):
            base_scorer = grouped.scorer(key)
            with model_errors():
                cv = adapt.cross_validate(head_base(grouped, key, settings), [texts[i] for i in idx],
                                          [gold[i] for i in idx], folds=folds)
            base_name = base_scorer.name
        parts.append(_label_figures(scorer.name, [gold[i] for i in idx], labels, cv=cv, base_model=base_name,
                                    in_sample=getattr(scorer, "head", None) is not None, language=key))
    if not parts:
        return LabelEvaluation(classifier.model, 0, None, None, unscored=grouped.unscored)
    if len(parts) == 1:
        return replace(parts[0], unscored=grouped.unscored)
    order = sorted(got)
    names = " + ".join(p.model for p in parts)
    return _label_figures(names, [gold[i] for i in order], [got[i] for i in order], languages=parts,
                          in_sample=any(p.in_sample for p in parts), unscored=grouped.unscored)


def score_lines(lines: Iterable[str], settings: Settings, batch: int = 1000) -> Iterator[dict]:
    """One result per input line: label, score in [-1, 1] (None when unscored), model."""
    classifier = Classifier.from_settings(settings)
    chunk: list[str] = []

    def flush() -> Iterator[dict]:
        langs, scored = classifier.score(chunk)
        for i in range(len(chunk)):
            s = scored.get(i)
            yield {"label": s.label if s else UNSCORED, "score": round(s.score, 4) if s else None,
                   "model": s.model if s else classifier.model, **({} if s else {"language": langs[i]})}

    for line in lines:
        chunk.append(line.rstrip("\r\n"))
        if len(chunk) >= batch:
            yield from flush()
            chunk = []
    if chunk:
        yield from flush()


@dataclass
class Explanation:
    """Why a post gets its sentiment label under the configured model, and what else matched.

    ``label``, ``score`` and the terms are the model's reading now; ``stored_label`` is what the
    post carries in the store (a human relabel wins there), ``classifier`` the version that stored it.
    """
    post_id: int
    title: str | None
    model: str                                   # the sentiment model's name (vader-..., trained-...)
    label: str                                   # positive | neutral | negative | unscored
    score: float | None                          # polarity in [-1, 1]; None when unscored
    confidence: float | None
    language: str | None
    languages: tuple[str, ...]                   # the languages the model scores (sentiment.languages)
    thresholds: tuple[float, float] | None       # VADER: (negative, positive) cut-offs of its compound score
    probabilities: dict[str, float] | None       # default and fast models: P(negative), P(neutral), P(positive)
    positive_terms: list[Contribution]
    negative_terms: list[Contribution]
    mentions: list[tuple[str, str]]              # (product, alias that matched)
    topics: list[tuple[str, str, float | None]]  # (topic, term that matched, topic sentiment)
    human_label: str | None
    stored_label: str | None
    classifier: str | None
    classified_at: str | None
    # per product mentioned, as stored: product, alias, judged (False: NULLs, not judged yet), label, score,
    # confidence, span, basis, and the terms that pushed the span (the scorer's, for a clause/sentence/rest basis)
    products: list[dict] = field(default_factory=list)
    # the relevance model's verdict now on each mention of a product with a description, context or query:
    # product, score, threshold, relevant, reason; and the stored mentions that count nowhere (``rejected``)
    relevance: list[dict] = field(default_factory=list)
    rejected: list[dict] = field(default_factory=list)

    @property
    def reason(self) -> str:
        """The rule that decided the label, in one sentence (no final full stop)."""
        if self.score is None:
            return (f"its language ({self.language or 'unknown'}) is not one the sentiment model scores "
                    f"({', '.join(self.languages)})")
        if self.thresholds is not None:
            negative, positive = self.thresholds
            if self.label == "positive":
                return f"VADER compound {self.score:+.3f} is at or above the positive threshold {positive:+.2f}"
            if self.label == "negative":
                return f"VADER compound {self.score:+.3f} is at or below the negative threshold {negative:+.2f}"
            return f"VADER compound {self.score:+.3f} is between the thresholds {negative:+.2f} and {positive:+.2f}"
        p = self.probabilities or {}
        shown = ", ".join(f"P({c}) {p[c]:.2f}" for c in ("positive", "neutral", "negative") if c in p)
        kind = ("default model" if self.model.startswith("encoder-") else
                "model for this language" if self.model.startswith("multilingual-") else "fast model")
        return f"the {kind} {self.model} finds it {self.label}: {shown}; score {self.score:+.3f}"

    def to_dict(self) -> dict:
        """The JSON form (``/api/posts/{id}``'s ``explanation``)."""
        vader = self.thresholds is not None
        return {"label": self.label, "model": self.model, "score": self.score, "confidence": self.confidence,
                "reason": self.reason,
                "vader_compound": self.score if vader else None,  # the API's name of the score, VADER only
                "positive_threshold": self.thresholds[1] if vader else None,
                "negative_threshold": self.thresholds[0] if vader else None,
                "probabilities": self.probabilities,
                "positive_terms": _terms(self.positive_terms),
                "negative_terms": _terms(self.negative_terms),
                "human_label": self.human_label, "stored_label": self.stored_label,
                "classifier": self.classifier, "classified_at": self.classified_at,
                "products": [dict(p) for p in self.products],
                "relevance": [dict(r) for r in self.relevance], "rejected": [dict(r) for r in self.rejected]}


def explain(post: dict, settings: Settings, top: int = 8, *,
            history: dict[str, tuple[int, float]] | None = None) -> Explanation:
    """Why ``post`` (a row of ``store.get_post``) gets its label under the configured model:
    the deciding rule (thresholds or class probabilities), the terms that pushed most each way,
    the matched product aliases and topic terms, and each mention's relevance (``history``: the
    products' stored relevance scores, ``store.relevance_history``)."""
    classifier = Classifier.from_settings(settings)
    if classifier.relevance is not None and history is not None:
        classifier.relevance.history = dict(history)
    c = classifier.classify([{**post, "language": post.get("declared_language", post.get("language"))}])[0]
    scorer = classifier.scorer_of(c.language)
    why = scorer.explain(post_text(post["title"], post["text"]), top) if c.label != UNSCORED else None
    human = post["human_label"]["sentiment"] if post.get("human_label") else None
    return Explanation(
        post["id"], post["title"], c.model, c.label, c.sentiment, c.confidence, c.language,
        classifier.languages, why.thresholds if why else None, why.probabilities if why else None,
        list(why.positive_terms) if why else [], list(why.negative_terms) if why else [],
        [(m.product, m.alias) for m in c.mentions], [(t.topic, t.term, t.sentiment) for t in c.topics],
        human, post.get("sentiment_label"), post.get("classifier"), post.get("classified_at"),
        [mention_judgement(m, scorer, top) for m in post.get("mentions", ())],
        [{"product": v.product, "score": v.score, "threshold": v.threshold, "relevant": v.relevant, "reason": v.reason}
         for v in c.verdicts], [dict(r) for r in post.get("rejected", ())])


def _terms(contributions: Iterable[Contribution]) -> list[dict]:
    """Terms that pushed a label, in their JSON form."""
    return [{"feature": c.feature, "weight": c.weight} for c in contributions]


SCORED_SPAN = ("clause", "sentence", "rest")   # bases whose label is the scorer's reading of the span


def mention_judgement(mention: dict, scorer: Scorer, top: int = 8) -> dict:
    """One stored mention (a row of ``store.get_post``'s ``mentions``) as ``explain`` shows it: the
    product, the span judged, label, score, confidence, basis; ``judged`` is False while its columns
    are NULL (a database upgraded by migration 0009 before ``classify --all``). For a label the
    scorer read off the span, the terms that pushed it (the scorer's explanation of the span now)."""
    judged = mention.get("sentiment_label") is not None
    out = {"product": mention["product"], "alias": mention["alias"], "judged": judged,
           "label": mention.get("sentiment_label"), "score": mention.get("sentiment"),
           "confidence": mention.get("confidence"), "span": mention.get("span"), "basis": mention.get("basis"),
           "human_label": mention.get("human_label"), "positive_terms": [], "negative_terms": []}
    if judged and out["basis"] in SCORED_SPAN and out["span"]:
        why = scorer.explain(out["span"], top)
        out["positive_terms"] = _terms(why.positive_terms)
        out["negative_terms"] = _terms(why.negative_terms)
    return out


def explain_post(db: sqlite_utils.Database, settings: Settings, post_id: int, top: int = 8) -> Explanation | None:
    """``explain`` for the stored post ``post_id`` (None when there is none)."""
    post = store.get_post(db, post_id)
    if post is None:
        return None
    from models.relevance import load

    with model_errors():
        history = store.relevance_history(db, load().name) if any(
            p.description or p.context for p in settings.products) else None
    return explain(post, settings, top, history=history)


def label_post(db: sqlite_utils.Database, settings: Settings, post_id: int, *, now: datetime,
               sentiment: str | None = None, topics: list[str] | None = None, product: str | None = None,
               by: str | None = None) -> None:
    """Store a human correction: the post's sentiment and/or topics, or (``product``) the sentiment of
    what the post says about that product (``by``: who, kept with a product's label). Raises a one-line
    ``UserError`` on unknown values."""
    if sentiment is not None and sentiment not in LABELS:
        raise BadInput(f"sentiment must be one of {', '.join(LABELS)}, got {sentiment!r}")
    known = {t.name for t in settings.topics}
    for t in topics or ():
        if t not in known:
            raise BadInput(f"unknown topic {t!r} (settings topics: {', '.join(sorted(known)) or 'none'})")
    post = store.get_post(db, post_id)
    if post is None:
        raise NotFound(f"no post with id {post_id}")
    if product is None:
        store.label_post(db, post_id, now=iso_utc(now), sentiment=sentiment, topics=topics)
        return
    if sentiment is None or topics is not None:
        raise BadInput("a product's relabel takes a sentiment and no topics (topics belong to the post)")
    # a mention set apart (not about its product) may be relabelled too: the label applies once it counts
    name = store.mentioned_product(post, product)
    if name is None:
        raise BadInput(store.not_mentioned(post, product))
    store.label_mention(db, post_id, name, sentiment, now=iso_utc(now), by=by)


# --- mention relevance (models.relevance) ----------------------------------------------------------------

RELEVANCE_TARGETS = {   # issue 16, on WePS-3 entities held out by cross-validation
    "relevance_accuracy": 0.85,                  # from the settings alone (aliases + a one-line description)
    "relevance_precision_at_recall_85": 0.85,    # TRUE class, at a threshold keeping >= 0.85 of it
    "relevance_precision_gain_50_labels": 0.05,  # with 50 of the product's own marks, over none
}


@dataclass
class RelevanceTrainResult:
    path: Path
    artifact_sha256: str
    data_sha256: str
    examples: int
    metrics: dict


def _embedder():
    """Texts -> the shipped encoder's pooled embeddings (the relevance model's similarity input)."""
    from models import encoder

    model = encoder.load()
    return lambda texts: model.run(list(texts))[1]


@model_errors()
def train_relevance(data_dir: Path, out: Path | None = None, *, config: "relevance.TrainConfig | None" = None,
                    folds: int = 5, log=print) -> RelevanceTrainResult:
    """Train the relevance model on the WePS-3 tweets in ``data_dir`` with the shipped one-line settings of its
    entities (``models/data/relevance``), measure it by entity-held-out cross-validation (``folds``; 0: not
    measured) and with 0/20/50/200 of each held-out entity's own labels, and write the artifact (default:
    the shipped one) atomically."""
    import time

    from models import relevance

    config = config or relevance.TrainConfig()
    items = relevance.load_weps3(Path(data_dir))
    products = relevance.read_products()
    unknown = sorted({it.product for it in items} - products.keys())
    if unknown:
        raise BadInput(f"{data_dir}: entities without settings in {relevance.ENTITIES}: {', '.join(unknown[:5])}")
    start = time.perf_counter()
    prepared = relevance.prepare(items, products, _embedder() if config.encoder else None)
    log(f"features of {len(items):,} labelled mentions in {time.perf_counter() - start:.0f} s")
    metrics: dict = {}
    stack: dict = {}
    if folds:   # the product-level stage is fitted on entity-held-out scores: only with cross-validation
        oof, groups = relevance.cross_validate(prepared, config, folds)
        stacked = relevance.stacked_logits(oof, prepared.products, prepared.labels, groups)
        _, cut = relevance.precision_at_recall(stacked, prepared.labels, 0.85)
        metrics = {"cross_validated": relevance.figures(stacked, prepared.labels, 0.0),
                   "mention_stage_only": relevance.figures(oof, prepared.labels, 0.0),
                   "probability_at_recall_85": relevance.sigmoid(cut),
                   "own_labels": {str(n): f for n, f in relevance.adaptation_curve(prepared, stacked, groups).items()},
                   "how": f"{folds}-fold entity-held-out cross-validation over {len(products)} WePS-3 entities; "
                          "own labels: per held-out entity 200 random mentions to learn from, the rest tested"}
        stack = relevance.fit_stack(oof, prepared.products, prepared.labels)
        log(f"cross-validated in {time.perf_counter() - start:.0f} s")
    model = relevance.fit_prepared(prepared, config)
    model.stack = stack
    model.meta.update(data_sha256=relevance.checksum(items), entities=len(products), metrics=metrics,
                      settings_sha256=hashlib.sha256(relevance.ENTITIES.read_bytes()).hexdigest())
    data = relevance.serialize(model)
    path = Path(out) if out is not None else relevance.SHIPPED
    write_atomic(path, data)
    return RelevanceTrainResult(path, hashlib.sha256(data).hexdigest(), model.meta["data_sha256"], len(items), metrics)


def mark_relevance(db: sqlite_utils.Database, post_id: int, product: str, about: bool, *, now: datetime,
                   by: str | None = None) -> str:
    """Store a person's (``by``) mark that post ``post_id``'s mention of ``product`` is (not) about it and apply
    it now; the product's name as stored. Raises a one-line ``UserError`` when the post does not mention it."""
    post = store.get_post(db, post_id)
    if post is None:
        raise NotFound(f"no post with id {post_id}")
    name = store.mentioned_product(post, product)
    if name is None:
        raise BadInput(store.not_mentioned(post, product))
    store.label_relevance(db, post_id, name, about, now=iso_utc(now), by=by)
    return name


@dataclass
class RelevanceAdaptResult:
    path: Path
    sha256: str
    labels: dict[str, dict[str, int]]     # per product: about / not_about marks it was fitted on
    skipped: dict[str, str]               # products with marks but no correction, and why


@model_errors()
def adapt_relevance(db: sqlite_utils.Database, settings: Settings, out: Path | None = None) -> RelevanceAdaptResult:
    """Fit each product's relevance correction (``models.relevance.adapt``) on its about / not-about marks,
    over the base model's scores of the marked posts, and write them atomically (default: beside the
    database, where the classifier reads them)."""
    from listener.classifier import adaptations_path, relevance_judge
    from models import relevance
    from models.products import compile_products, match_products

    marks = store.relevance_marks(db)
    judge = relevance_judge(settings, scorer_for(settings) if marks else None)
    if judge is not None:
        judge.history = store.relevance_history(db, judge.model.name)
    path = Path(out) if out is not None else adaptations_path(settings)
    labels: dict[str, dict[str, int]] = {}
    skipped: dict[str, str] = {}
    found: dict[str, relevance.Adaptation] = {}
    by_product: dict[str, list[dict]] = {}
    for m in marks:
        by_product.setdefault(m["product"], []).append(m)
    matcher = compile_products(settings.products)
    for name, items in sorted(by_product.items()):
        if judge is None or name not in judge.products:
            skipped[name] = "no description or context terms in the settings: every mention counts"
            continue
        bodies = [post_text(m["title"], m["text"]) for m in items]
        base = judge.base_logits(bodies, [match_products(b, matcher) for b in bodies], [name] * len(items))
        kept = [(b, m["about"]) for b, m in zip(base, items) if b is not None]
        if not kept:
            skipped[name] = "no marked post still names it"
            continue
        found[name] = relevance.adapt(name, [z for (_, z), _ in kept], [f for (f, _), _ in kept],
                                      [a for _, a in kept])
        labels[name] = {"about": sum(a for _, a in kept), "not_about": sum(not a for _, a in kept)}
    base_id = judge.model.meta["artifact_id"] if judge is not None else relevance.load().meta["artifact_id"]
    data = relevance.serialize_adaptations(found, base_id)
    write_atomic(path, data)
    return RelevanceAdaptResult(path, hashlib.sha256(data).hexdigest(), labels, skipped)


def relevance_rows() -> list[dict]:
    """``listener eval``'s relevance targets, from the figures the shipped model's training measured
    (entity-held-out cross-validation on WePS-3, which is not bundled: ``listener train --relevance
    --data DIR`` measures them again)."""
    from models import relevance

    with model_errors():
        model = relevance.load()
    m = model.meta.get("metrics") or {}
    how = f"{m.get('how', 'not measured')}; recorded in {relevance.SHIPPED.name} by `listener train --relevance`"
    if not m:
        return [_row(t, model.name, None, v, how) for t, v in RELEVANCE_TARGETS.items()]
    zero, fifty = m["own_labels"]["0"], m["own_labels"]["50"]
    cv = m["cross_validated"]
    return [
        _row("relevance_accuracy", model.name, cv["accuracy"], RELEVANCE_TARGETS["relevance_accuracy"],
             f"settings alone, at probability 0.5; {how}"),
        _row("relevance_precision_at_recall_85", model.name, cv["precision_at_recall_85"],
             RELEVANCE_TARGETS["relevance_precision_at_recall_85"], f"settings alone; {how}"),
        _row("relevance_precision_gain_50_labels", model.name,
             fifty["precision_at_recall_85"] - zero["precision_at_recall_85"],
             RELEVANCE_TARGETS["relevance_precision_gain_50_labels"],
             f"precision at recall >= 0.85 {zero['precision_at_recall_85']:.4f} -> "
             f"{fifty['precision_at_recall_85']:.4f} with 50 own labels; {how}"),
    ]
