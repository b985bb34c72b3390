"""Sentiment scorers: the default model (a fine-tuned transformer, ``models.encoder``), the fast linear
model (``models.trained``) or VADER's compound score; a label and a score in [-1, 1]."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, Sequence

from models.features import Contribution, strongest
from models.vader import valences, vader_compound

if TYPE_CHECKING:
    from models.adapt import DomainHead, EncoderBase
    from models.encoder import EncoderModel
    from models.trained import TrainedModel

POSITIVE, NEUTRAL, NEGATIVE = "positive", "neutral", "negative"
LABELS = (POSITIVE, NEUTRAL, NEGATIVE)


def label(compound: float, positive_threshold: float = 0.05, negative_threshold: float = -0.05) -> str:
    """VADER's standard reading: >= +0.05 positive, <= -0.05 negative, else neutral."""
    if compound >= positive_threshold:
        return POSITIVE
    if compound <= negative_threshold:
        return NEGATIVE
    return NEUTRAL


UNSCORED = "unscored"  # a language the model does not cover: no score rather than a wrong one


@dataclass(frozen=True)
class Sentiment:
    label: str
    score: float | None    # polarity in [-1, 1]; None when unscored
    confidence: float | None
    model: str


@dataclass(frozen=True)
class SentimentExplanation:
    """Why a scorer gave one text its label: the rule that decided and the terms that pushed."""
    sentiment: Sentiment
    thresholds: tuple[float, float] | None = None  # VADER: (negative, positive) cut-offs of its compound score
    probabilities: dict[str, float] | None = None  # the default and fast models: P(negative), P(neutral), P(positive)
    positive_terms: tuple[Contribution, ...] = ()
    negative_terms: tuple[Contribution, ...] = ()


class Scorer(Protocol):
    name: str

    def score(self, texts: Sequence[str]) -> list[Sentiment]: ...

    def explain(self, text: str, top: int) -> SentimentExplanation: ...


@dataclass
class VaderScorer:
    """VADER's compound score and its standard thresholds."""
    positive_threshold: float = 0.05
    negative_threshold: float = -0.05
    name: str = field(default_factory=lambda: f"vader-{_version('vaderSentiment')}")

    def score(self, texts: Sequence[str]) -> list[Sentiment]:
        out = []
        for t in texts:
            c = vader_compound(t)
            out.append(Sentiment(label(c, self.positive_threshold, self.negative_threshold), c, abs(c), self.name))
        return out

    def explain(self, text: str, top: int) -> SentimentExplanation:
        """The compound score against the thresholds; the text's words by their lexicon valence."""
        pos, neg = strongest((Contribution(f"word:{w}", v) for w, v in valences(text).items()), top)
        return SentimentExplanation(self.score([text])[0], (self.negative_threshold, self.positive_threshold),
                                    None, tuple(pos), tuple(neg))


@dataclass
class TrainedScorer:
    """The trained model (``models.trained``) loaded from an artifact, with an optional domain head
    (``models.adapt``, fitted on the user's relabels) that decides the label instead of the model's own heads."""
    model: "TrainedModel"
    head: "DomainHead | None" = None
    head_sha256: str | None = None   # the head artifact's SHA-256: part of the name, so of the classifier version

    @property
    def name(self) -> str:
        return self.model.name if self.head is None else f"{self.model.name}+head-{(self.head_sha256 or '')[:12]}"

    def score(self, texts: Sequence[str]) -> list[Sentiment]:
        from models.trained import predict

        texts = list(texts)
        preds = predict(self.model, texts) if self.head is None else self.head.predict(self.model, texts)
        return [Sentiment(p.label, p.score, p.confidence, self.name) for p in preds]

    def explain(self, text: str, top: int) -> SentimentExplanation:
        """The class probabilities (the head's when there is one); the features by their push in the
        base model's polar head (``trained.explain``)."""
        from models.trained import explain

        p, probabilities, pos, neg = explain(self.model, text, top)
        if self.head is not None:
            probabilities = self.head.probabilities(self.model, [text])[0]
            p = self.score([text])[0]
        return SentimentExplanation(Sentiment(p.label, p.score, p.confidence, self.name), None, probabilities,
                                    tuple(pos), tuple(neg))


@dataclass
class EncoderScorer:
    """The default model (``models.encoder``): a fine-tuned transformer run with onnxruntime, with an
    optional domain head (``models.adapt``) over ``base`` (the encoder and the fast model's features)."""
    model: "EncoderModel"
    head: "DomainHead | None" = None
    head_sha256: str | None = None
    base: "EncoderBase | None" = None   # with a head: what the head reads

    @property
    def name(self) -> str:
        return self.model.name if self.head is None else f"{self.model.name}+head-{(self.head_sha256 or '')[:12]}"

    def score(self, texts: Sequence[str]) -> list[Sentiment]:
        texts = list(texts)
        preds = self.model.predict(texts) if self.head is None else self.head.predict(self.base, texts)
        return [Sentiment(p.label, p.score, p.confidence, self.name) for p in preds]

    def explain(self, text: str, top: int) -> SentimentExplanation:
        """The class probabilities (the head's when there is one); the words by how much leaving each
        out moves the encoder's score (occlusion)."""
        from models.encoder import explain

        p, probabilities, pos, neg = explain(self.model, text, top)
        if self.head is not None:
            probabilities = self.head.probabilities(self.base, [text])[0]
            p = self.score([text])[0]
        return SentimentExplanation(Sentiment(p.label, p.score, p.confidence, self.name), None, probabilities,
                                    tuple(pos), tuple(neg))


MODELS = ("default", "fast", "vader")   # sentiment.model; "trained" is read as "fast" (its earlier name)
ALIASES = {"trained": "fast"}


def canonical(model: str) -> str:
    """The model's current name (``trained`` -> ``fast``)."""
    return ALIASES.get(model, model)


@lru_cache(maxsize=4)
def _load_model(path: Path, mtime: float) -> "TrainedModel":
    from models.trained import load

    return load(path)


@lru_cache(maxsize=2)
def _load_encoder(folder: Path, mtime: float) -> "EncoderModel":
    from models.encoder import load

    return load(folder)


def load_scorer(model: str = "default", artifact: Path | None = None, *, positive_threshold: float = 0.05,
                negative_threshold: float = -0.05) -> Scorer:
    """The scorer named by settings: ``default`` (the shipped transformer, or the artifact folder
    ``artifact``), ``fast`` (alias ``trained``: the linear model, the shipped file unless ``artifact``)
    or ``vader``. An unusable artifact raises ``ArtifactError`` naming the file. (A domain head is
    attached by ``listener.classifier.scorer_for``.)"""
    model = canonical(model)
    if model == "vader":
        return VaderScorer(positive_threshold, negative_threshold)
    from models.trained import SHIPPED, ArtifactError

    if model == "default":
        from models.encoder import META_NAME, SHIPPED_DIR

        folder = Path(artifact or SHIPPED_DIR)
        if folder.is_file():
            raise ArtifactError(f"{folder}: is a file, not the default model's folder; set sentiment.model = \"fast\" "
                                "to use a model file written by `listener train`")
        try:
            mtime = (folder / META_NAME).stat().st_mtime
        except (FileNotFoundError, NotADirectoryError):
            raise ArtifactError(f"{folder}: default model artifact not found (a folder with {META_NAME}; "
                                "run `listener train --model default`)") from None
        return EncoderScorer(_load_encoder(folder.resolve(), mtime))

    path = Path(artifact or SHIPPED)
    try:
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        raise ArtifactError(f"{path}: model artifact not found (run `listener train`)") from None
    return TrainedScorer(_load_model(path.resolve(), mtime))


def _version(dist: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "unknown"
