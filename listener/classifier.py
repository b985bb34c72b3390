"""The classifier the settings describe: sentiment scorer, product matcher, topic rules, languages.

``Classifier.from_settings`` is the one way to build it: ``listener classify``, the daemon, the demo,
``listener sentiment``/``explain``/``eval --labels``, the web post page and the benchmarks all go
through it, so they all score with the same model and the same thresholds. The work itself is
done by the pure functions in ``models``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from listener.config import Settings
from listener.errors import ModelError, model_errors  # noqa: F401 (ModelError: what from_settings raises)
from models.classify import Classification, classifier_version, classify_batch, score_covered
from models.products import ProductMatcher, TermRule, compile_products
from models.sentiment import EncoderScorer, Scorer, TrainedScorer, canonical, load_scorer
from models.topics import compile_topics

if TYPE_CHECKING:  # numpy and scipy: loaded when a model is, not when a command starts
    from models.adapt import Base, DomainHead


def scorer_for(settings: Settings, model: str | None = None, *, head: bool = True) -> Scorer:
    """The sentiment scorer ``model`` (default ``sentiment.model``) with the thresholds, the settings'
    artifact when ``model`` is the configured one, and the domain head ``sentiment.adaptation`` when one
    is set (``head=False``: the base model alone). A head adapts the configured model, ``default`` or
    ``fast``; it is refused with one line when made for another model."""
    k, sn = settings.classify, settings.sentiment
    wanted = canonical(model or sn.model)
    with model_errors():
        scorer = load_scorer(wanted, sn.artifact if wanted == canonical(sn.model) else None,
                             positive_threshold=k.positive_threshold, negative_threshold=k.negative_threshold)
        if head and sn.adaptation is not None and wanted != "vader":
            base = adaptation_base(settings, scorer)
            found, digest = _load_head(Path(sn.adaptation), base)
            if isinstance(scorer, TrainedScorer):
                scorer = TrainedScorer(scorer.model, found, digest)
            else:
                scorer = EncoderScorer(scorer.model, found, digest, base)
        return scorer


def adaptation_base(settings: Settings, scorer: Scorer | None = None) -> "Base":
    """What a domain head adapts for the configured model: the fast model itself, or for the default
    model the encoder with the shipped fast model's features (``models.adapt.EncoderBase``)."""
    from models.adapt import EncoderBase

    if scorer is None:
        scorer = scorer_for(settings, head=False)
    if isinstance(scorer, TrainedScorer):
        return scorer.model
    if isinstance(scorer, EncoderScorer):
        fast = load_scorer("fast")
        assert isinstance(fast, TrainedScorer)
        return EncoderBase(scorer.model, fast.model)
    from models.trained import ArtifactError

    raise ArtifactError('a domain head adapts the default or the fast model, not VADER: set sentiment.model '
                        '= "default" or "fast"')


_HEADS: dict[tuple[Path, float, str], tuple[DomainHead, str]] = {}


def _load_head(path: Path, base: "Base") -> tuple[DomainHead, str]:
    """The domain head at ``path`` checked against ``base``, and its SHA-256 (cached per file version
    and base). Raises ``ArtifactError`` naming the file when it is missing, altered or for another base."""
    from models import adapt
    from models.trained import ArtifactError

    try:
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        raise ArtifactError(f"{path}: domain head not found (sentiment.adaptation; "
                            "write it with `listener train --with-labels`)") from None
    key = (path.resolve(), mtime, str(base.meta.get("artifact_id")))
    if key not in _HEADS:
        if len(_HEADS) >= 4:
            _HEADS.clear()
        _HEADS[key] = (adapt.load(path, base), hashlib.sha256(path.read_bytes()).hexdigest())
    return _HEADS[key]


@dataclass(frozen=True)
class Classifier:
    """Sentiment, products, topics and language for posts, as the settings configure them."""
    scorer: Scorer
    products: ProductMatcher
    topics: tuple[TermRule, ...]
    languages: tuple[str, ...]
    # the languages of ``languages`` scored by their own model (models.multilingual), by language code
    others: dict[str, Scorer] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings) -> "Classifier":
        """The classifier of ``settings`` (``sentiment``, ``classify`` thresholds, ``products``, ``topics``).

        English (and any language without a model of its own) is scored by the configured model; each
        other language of ``sentiment.languages`` that the multilingual artifact covers, by its own.
        Raises ``ModelError`` when the configured model artifact cannot be used.
        """
        others: dict[str, Scorer] = {}
        if any(lang != "en" for lang in settings.sentiment.languages):
            from models.multilingual import load_language_scorers   # numpy and scipy: only when needed

            with model_errors():
                others = load_language_scorers(settings.sentiment.languages)
        return cls(scorer_for(settings), compile_products(settings.products), compile_topics(settings.topics),
                   tuple(settings.sentiment.languages), others)

    @property
    def model(self) -> str:
        """The sentiment model's name (``vader-3.3.2``, ``encoder-<artifact id>``, ``trained-<artifact id>``)."""
        return self.scorer.name

    @property
    def version(self) -> str:
        """What the ``classifier`` column records (a digest names the versions behind its figures)."""
        return classifier_version(self.scorer, self.others)

    def scorer_of(self, language: str | None) -> Scorer:
        """The scorer that judges a post in ``language`` (its own model, else the configured one)."""
        return self.others.get((language or "en").lower().replace("_", "-").split("-")[0], self.scorer)

    def classify(self, rows: Iterable[dict]) -> list[Classification]:
        """Classify rows with ``id``, ``title``, ``text`` and optional ``language`` keys (one batch)."""
        return classify_batch(rows, products=self.products, scorer=self.scorer, topics=self.topics,
                              languages=self.languages, others=self.others)

    def score(self, texts: Sequence[str]) -> tuple[list[str | None], dict[int, Any]]:
        """Each text's detected language, and (by index) the sentiment of the texts in a covered language."""
        return score_covered(texts, self.scorer, self.languages, others=self.others)
