"""The trained sentiment model: word and character n-grams plus VADER scores, two linear heads.

Pure functions of text and a loaded ``TrainedModel``. Features (``models.features``):
TF-IDF (sublinear tf, smoothed idf, l2 rows) over word 1-2-grams with negation marking and over
character 2-5-grams within words, plus VADER's four lexicon scores.

- The three-class head (negative, neutral, positive; a class-balanced multinomial logistic
  regression) decides whether a text is polar at all: P(neutral).
- The polar head (a binary logistic regression trained on polar examples only) decides the
  direction: q = P(positive | polar).

Each head sees the n-gram columns scaled by its own naive-Bayes log-count ratio magnitudes
(NB-LR; the largest of one-class-versus-the-rest), rows re-normalized, so telling terms weigh more.

Combined: P(negative) = (1 - P(neutral)) (1 - q), P(positive) = (1 - P(neutral)) q. The label is
neutral when the three-class head's most likely class is neutral, else the polar head's direction;
``score`` = P(positive) - P(negative) = (1 - P(neutral)) (2q - 1), in [-1, 1], so a polar label
and the score's sign always agree, and text the model finds neutral scores near 0.

Artifact format (``serialize``/``load``), a safe format that runs no code when read: one ZIP file with

- ``meta.json``: format, feature version, scikit-learn version, training-data checksum, training
  config, class names, metrics measured at training time, and the SHA-256 of ``arrays.npz``;
- ``arrays.npz``: numpy arrays only (read with ``allow_pickle=False``): ``coef`` (3 x features),
  ``intercept``, ``nb3_word``, ``nb3_char`` (its column scales), ``idf_word``, ``idf_char``,
  ``lexicon_scale``, and the polar head's ``polar_coef`` (features), ``polar_intercept`` (1),
  ``nb_word``, ``nb_char`` (its column scales);
- ``vocab_word.json``, ``vocab_char.json``: the n-gram vocabularies, in feature order.

Entries are written in a fixed order with a fixed timestamp, so the same training data and
config give a byte-identical file (``listener train`` prints its SHA-256).
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections import Counter
from itertools import chain
from dataclasses import dataclass
from pathlib import Path
from typing import Container, Sequence

import numpy as np
from scipy import sparse

from models.features import FEATURE_VERSION, LEXICON_NAMES, Contribution, lexicon_matrix, normalize, \
    strongest, word_tokens

FORMAT = "listener-sentiment-2"
CLASSES = ("negative", "neutral", "positive")
SHIPPED = Path(__file__).parent / "artifacts" / "sentiment.model"
_ZIP_TIME = (2020, 1, 1, 0, 0, 0)


class ArtifactError(Exception):
    """A model artifact that cannot be used, phrased as one line naming the file."""


def sklearn_version() -> str:
    import sklearn

    return sklearn.__version__


def word_ngrams(text: str, firsts: Container[str] | None = None) -> list[str]:
    """Word unigrams and bigrams of normalized text (negation-marked); with ``firsts``, only the bigrams
    whose first word is one of them."""
    toks = word_tokens(text)
    return toks + [f"{a} {b}" for a, b in zip(toks, toks[1:]) if firsts is None or a in firsts]


def _counter(kind: str, vocabulary: Sequence[str] | None = None, min_df: int = 1,
             max_features: int | None = None):
    from sklearn.feature_extraction.text import CountVectorizer

    vocab = {t: i for i, t in enumerate(vocabulary)} if vocabulary is not None else None
    if kind == "word":
        return CountVectorizer(analyzer=word_ngrams, vocabulary=vocab, min_df=min_df,
                               max_features=max_features, dtype=np.float32)
    return CountVectorizer(analyzer="char_wb", ngram_range=(2, 5), lowercase=False, vocabulary=vocab,
                           min_df=min_df, max_features=max_features, dtype=np.float32)


def char_wb_ngrams(word: str) -> list[str]:
    """The character 2-5-grams of one whitespace-free word padded with a space each side, exactly as
    scikit-learn's ``char_wb`` analyzer yields them (a word shorter than n counts once, whole)."""
    w = f" {word} "
    out: list[str] = []
    for n in range(2, 6):
        if len(w) <= n:
            out.append(w[:n])
            break
        out.extend(w[i:i + n] for i in range(len(w) - n + 1))
    return out


class VocabularyCounter:
    """Counts of a fixed vocabulary's n-grams in texts: the matrix ``_counter(kind, vocabulary)``'s
    ``transform`` gives (float32, sorted indices), computed faster.

    Word n-grams are looked up per text and counted for the whole batch at once (no ``Counter`` per
    text). Character n-grams never cross a
    space, so a text's counts are the sum of its words' counts: each distinct word's n-grams are
    looked up once and kept (up to ``cache_size`` words), and the batch's counts are one sparse
    product (texts x distinct words) @ (distinct words x vocabulary).
    """

    def __init__(self, kind: str, vocabulary: Sequence[str], cache_size: int = 200_000) -> None:
        self.kind = kind
        self.index = {t: i for i, t in enumerate(vocabulary)}
        # the first words of the vocabulary's bigrams (a token holds no space): a pair opening with any
        # other word is not in it, so its string is never built
        self._firsts = frozenset(t.split(" ", 1)[0] for t in vocabulary if " " in t) if kind == "word" else None
        self.cache_size = cache_size
        self._words: dict[str, tuple[list[int], list[int]]] = {}

    def transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        counts = self.counts(texts)
        if self.kind == "char":
            return counts.tocsc().tocsr()   # sorted indices: twice as fast as sort_indices() here
        counts.sort_indices()
        return counts

    def counts(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """``transform``'s counts, a row's columns in any order (all a product with a dense matrix needs)."""
        return self._word_counts(texts) if self.kind == "word" else self._char_counts(texts)

    def _word_counts(self, texts: Sequence[str]) -> sparse.csr_matrix:
        index, firsts = self.index, self._firsts
        grams = [[j for j in map(index.get, word_ngrams(text, firsts)) if j is not None] for text in texts]
        return _summed(grams, len(index))

    def _char_counts(self, texts: Sequence[str]) -> sparse.csr_matrix:
        distinct: dict[str, int] = {}
        seen = distinct.setdefault
        words = _summed([[seen(w, len(distinct)) for w in text.split()] for text in texts], len(distinct))
        if len(self._words) > self.cache_size:
            self._words.clear()
        cache, index = self._words, self.index
        indices, data, indptr = [], [], [0]
        for word in distinct:
            entry = cache.get(word)
            if entry is None:
                found = Counter(j for j in map(index.get, char_wb_ngrams(word)) if j is not None)
                entry = cache[word] = (list(found), list(found.values()))
            indices.extend(entry[0])
            data.extend(entry[1])
            indptr.append(len(indices))
        grams = sparse.csr_matrix((np.array(data, dtype=np.float32), np.array(indices, dtype=np.int32),
                                   np.array(indptr, dtype=np.int64)), shape=(len(distinct), len(index)))
        return words @ grams


def _summed(columns: list[list[int]], width: int) -> sparse.csr_matrix:
    """Row i counts how often each column occurs in ``columns[i]`` (float32, duplicates summed)."""
    lengths = np.fromiter(map(len, columns), dtype=np.int64, count=len(columns))
    cols = np.fromiter(chain.from_iterable(columns), dtype=np.int32, count=int(lengths.sum()))
    rows = np.repeat(np.arange(len(columns), dtype=np.int32), lengths)
    out = sparse.csr_matrix((np.ones(len(cols), dtype=np.float32), (rows, cols)), shape=(len(columns), width))
    out.sum_duplicates()
    return out


@dataclass
class Features:
    """The parts of the feature matrix: tf-idf of word and of character n-grams, scaled VADER scores."""
    word: sparse.csr_matrix
    char: sparse.csr_matrix
    lexicon: sparse.csr_matrix

    def matrix(self, nb_word: np.ndarray | None = None, nb_char: np.ndarray | None = None) -> sparse.csr_matrix:
        """The three parts side by side; with ``nb_*``, the n-gram columns scaled and rows re-normalized."""
        word, char = self.word, self.char
        if nb_word is not None and nb_char is not None:
            word, char = rescale(word, nb_word), rescale(char, nb_char)
        return sparse.hstack([word, char, self.lexicon], format="csr")


def assemble(word_counts: sparse.csr_matrix, char_counts: sparse.csr_matrix, texts: Sequence[str],
             idf_word: np.ndarray, idf_char: np.ndarray, lexicon_scale: np.ndarray) -> Features:
    """The features: tf-idf of word and character n-grams, and the scaled VADER scores."""
    lex = lexicon_matrix(texts) * lexicon_scale
    return Features(tfidf(word_counts, idf_word), tfidf(char_counts, idf_char),
                    sparse.csr_matrix(lex.astype(np.float32)))


def rescale(x: sparse.csr_matrix, scale: np.ndarray) -> sparse.csr_matrix:
    """Columns of ``x`` times ``scale``, rows scaled to unit length."""
    from sklearn.preprocessing import normalize as l2

    return l2(x @ sparse.diags(scale.astype(np.float32)), norm="l2", copy=False).tocsr()


def tfidf(counts: sparse.csr_matrix, idf: np.ndarray) -> sparse.csr_matrix:
    """Sublinear tf times idf, rows scaled to unit length."""
    from sklearn.preprocessing import normalize as l2

    x = counts.tocsr().astype(np.float32, copy=True)
    np.log(x.data, out=x.data)
    x.data += 1.0
    return l2(x @ sparse.diags(idf.astype(np.float32)), norm="l2", copy=False).tocsr()


def smooth_idf(counts: sparse.csr_matrix) -> np.ndarray:
    """ln((1 + n) / (1 + df)) + 1 per column, as scikit-learn's smoothed idf."""
    n = counts.shape[0]
    df = np.bincount(counts.tocsc().indices, minlength=counts.shape[1])
    return (np.log((1 + n) / (1 + df)) + 1).astype(np.float32)


@dataclass
class TrainedModel:
    meta: dict
    vocab_word: list[str]
    vocab_char: list[str]
    idf_word: np.ndarray
    idf_char: np.ndarray
    lexicon_scale: np.ndarray
    coef: np.ndarray        # (3, n_features)
    intercept: np.ndarray   # (3,)
    nb3_word: np.ndarray    # three-class head: column scales of the word n-grams
    nb3_char: np.ndarray    # and of the character n-grams
    nb_word: np.ndarray     # polar head: column scales of the word n-grams
    nb_char: np.ndarray     # and of the character n-grams
    polar_coef: np.ndarray  # (n_features,)
    polar_intercept: np.ndarray  # (1,)

    def __post_init__(self) -> None:
        self._word = VocabularyCounter("word", self.vocab_word)
        self._char = VocabularyCounter("char", self.vocab_char)

    @property
    def name(self) -> str:
        return f"trained-{self.meta.get('artifact_id', 'unsaved')[:12]}"

    def features(self, texts: Sequence[str]) -> Features:
        """The features of raw texts (normalized here)."""
        norm = [normalize(t) for t in texts]
        return assemble(self._word.transform(norm), self._char.transform(norm), texts, self.idf_word,
                        self.idf_char, self.lexicon_scale)

    def polar_matrix(self, f: Features) -> sparse.csr_matrix:
        """The polar head's input: n-gram columns scaled by ``nb_word``/``nb_char``."""
        return f.matrix(self.nb_word, self.nb_char)

    def probabilities(self, f: Features) -> tuple[np.ndarray, np.ndarray]:
        """(n, 3) combined class probabilities (see module docstring), and whether the
        three-class head finds each text neutral."""
        p3 = softmax(np.asarray(f.matrix(self.nb3_word, self.nb3_char) @ self.coef.T) + self.intercept)
        z = np.asarray(self.polar_matrix(f) @ self.polar_coef).ravel() + float(self.polar_intercept[0])
        q = 1.0 / (1.0 + np.exp(-z))
        polar = 1.0 - p3[:, 1]
        return np.column_stack([polar * (1.0 - q), p3[:, 1], polar * q]), p3.argmax(axis=1) == 1

    def feature_names(self) -> list[str]:
        return ([f"word:{t}" for t in self.vocab_word] + [f"char:{t}" for t in self.vocab_char]
                + list(LEXICON_NAMES))


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


@dataclass(frozen=True)
class Prediction:
    label: str
    score: float        # P(positive) - P(negative), in [-1, 1]
    confidence: float   # probability of the predicted label


def predict(model: TrainedModel, texts: Sequence[str]) -> list[Prediction]:
    """Label, polarity score and confidence for each text."""
    if not texts:
        return []
    return _predictions(*model.probabilities(model.features(texts)))


def _predictions(p: np.ndarray, neutral: np.ndarray) -> list[Prediction]:
    best = np.where(neutral, 1, np.where(p[:, 2] >= p[:, 0], 2, 0))
    return [Prediction(CLASSES[b], float(row[2] - row[0]), float(row[b])) for b, row in zip(best, p)]


def explain(model: TrainedModel, text: str, top: int = 5) \
        -> tuple[Prediction, dict[str, float], list[Contribution], list[Contribution]]:
    """The prediction, the combined class probabilities, and the features that pushed it most
    towards positive and towards negative.

    A feature's push is its value times its weight in the polar head, the linear quantity
    whose sign decides between the two polar classes.
    """
    f = model.features([text])
    p, neutral = model.probabilities(f)
    pred = _predictions(p, neutral)[0]
    probabilities = {c: float(x) for c, x in zip(CLASSES, p[0])}
    names = model.feature_names()
    row = model.polar_matrix(f).getrow(0)
    pushes = [Contribution(names[j], float(v * model.polar_coef[j])) for j, v in zip(row.indices, row.data)]
    return (pred, probabilities, *strongest(pushes, top))


# --- artifact -------------------------------------------------------------------


def _array_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **{k: arrays[k] for k in sorted(arrays)})
    return _deterministic_zip(buf.getvalue())


def _deterministic_zip(data: bytes) -> bytes:
    """The same ZIP with fixed timestamps (numpy stamps the current time)."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as dst:
        for name in sorted(src.namelist()):
            dst.writestr(zipfile.ZipInfo(name, _ZIP_TIME), src.read(name))
    return out.getvalue()


def serialize(model: TrainedModel) -> bytes:
    """The artifact's bytes (see module docstring); the caller writes them (atomically)."""
    arrays = _array_bytes({"coef": model.coef.astype(np.float32), "intercept": model.intercept.astype(np.float32),
                           "idf_word": model.idf_word, "idf_char": model.idf_char,
                           "lexicon_scale": model.lexicon_scale.astype(np.float32),
                           "nb3_word": model.nb3_word.astype(np.float32), "nb3_char": model.nb3_char.astype(np.float32),
                           "nb_word": model.nb_word.astype(np.float32), "nb_char": model.nb_char.astype(np.float32),
                           "polar_coef": model.polar_coef.astype(np.float32),
                           "polar_intercept": model.polar_intercept.astype(np.float32)})
    meta = dict(model.meta, format=FORMAT, feature_version=FEATURE_VERSION, classes=list(CLASSES),
                arrays_sha256=hashlib.sha256(arrays).hexdigest())
    entries = {"meta.json": json.dumps(meta, indent=1, sort_keys=True).encode(),
               "arrays.npz": arrays,
               "vocab_word.json": json.dumps(model.vocab_word, ensure_ascii=False).encode(),
               "vocab_char.json": json.dumps(model.vocab_char, ensure_ascii=False).encode()}
    return zip_entries(entries)


def zip_entries(entries: dict[str, bytes]) -> bytes:
    """An artifact's zip of these named blobs, in this order, with fixed times: the same bytes for the
    same entries (training is reproducible byte for byte)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name, _ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data, compresslevel=9)
    return buf.getvalue()


def read_meta(path: Path, *, what: str = "model artifact", train: str = "listener train") -> dict:
    """The ZIP artifact's ``meta.json``, without loading the model; ``what`` and ``train`` name the
    artifact and the command that makes it in the one-line errors."""
    try:
        with zipfile.ZipFile(path) as z:
            return json.loads(z.read("meta.json"))
    except FileNotFoundError:
        raise ArtifactError(f"{path}: {what} not found (run `{train}`)") from None
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise ArtifactError(f"{path}: not a listener {what} ({exc})") from None


def check_versions(path: Path, meta: dict, fmt: str, fix: str, *, install_hint: bool = True) -> None:
    """An ``ArtifactError`` unless the artifact's format, feature recipe and scikit-learn minor
    version are this listener's; ``fix`` says what to do (and, with ``install_hint``, which
    scikit-learn to install instead)."""
    if meta.get("format") != fmt:
        raise ArtifactError(f"{path}: artifact format {meta.get('format')!r}, this listener reads {fmt!r}; {fix}")
    if meta.get("feature_version") != FEATURE_VERSION:
        raise ArtifactError(f"{path}: trained with features {meta.get('feature_version')!r}, this listener "
                            f"computes {FEATURE_VERSION!r}; {fix}")
    if _minor(meta.get("sklearn_version", "")) != _minor(sklearn_version()):
        hint = f" or install scikit-learn=={meta.get('sklearn_version')}" if install_hint else ""
        raise ArtifactError(f"{path}: trained with scikit-learn {meta.get('sklearn_version')}, installed is "
                            f"{sklearn_version()}; {fix}{hint}")


def load(path: Path) -> TrainedModel:
    """Read and check an artifact; any mismatch is an ``ArtifactError`` saying what to do."""
    path = Path(path)
    meta = read_meta(path)
    fix = "retrain it with `listener train`"
    check_versions(path, meta, FORMAT, fix)
    try:
        with zipfile.ZipFile(path) as z:
            arrays_raw = z.read("arrays.npz")
            if hashlib.sha256(arrays_raw).hexdigest() != meta.get("arrays_sha256"):
                raise ArtifactError(f"{path}: arrays.npz does not match the checksum in meta.json "
                                    f"(modified or corrupt); {fix}")
            vocab_word = json.loads(z.read("vocab_word.json"))
            vocab_char = json.loads(z.read("vocab_char.json"))
        with np.load(io.BytesIO(arrays_raw), allow_pickle=False) as a:
            arrays = {k: a[k] for k in a.files}
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise ArtifactError(f"{path}: damaged model artifact ({exc}); {fix}") from None
    if vocab_sha256(vocab_word, vocab_char) != meta.get("vocab_sha256"):
        raise ArtifactError(f"{path}: vocabularies do not match the checksum in meta.json (modified or corrupt); {fix}")
    n = len(vocab_word) + len(vocab_char) + len(LEXICON_NAMES)
    shapes = {"coef": (len(CLASSES), n), "polar_coef": (n,), "intercept": (len(CLASSES),), "polar_intercept": (1,)}
    shapes.update({f"{nb}_{kind}": (len(vocab),) for nb in ("nb", "nb3")
                   for kind, vocab in (("word", vocab_word), ("char", vocab_char))})
    if any(arrays.get(k) is None or arrays[k].shape != shape for k, shape in shapes.items()):
        raise ArtifactError(f"{path}: coefficients do not fit the vocabularies; {fix}")
    meta["artifact_id"] = hashlib.sha256(path.read_bytes()).hexdigest()
    return TrainedModel(meta=meta, vocab_word=vocab_word, vocab_char=vocab_char, idf_word=arrays["idf_word"],
                        idf_char=arrays["idf_char"], lexicon_scale=arrays["lexicon_scale"],
                        coef=arrays["coef"], intercept=arrays["intercept"], nb3_word=arrays["nb3_word"],
                        nb3_char=arrays["nb3_char"], nb_word=arrays["nb_word"],
                        nb_char=arrays["nb_char"], polar_coef=arrays["polar_coef"],
                        polar_intercept=arrays["polar_intercept"])


def vocab_sha256(vocab_word: list[str], vocab_char: list[str]) -> str:
    return hashlib.sha256(json.dumps([vocab_word, vocab_char], ensure_ascii=False).encode()).hexdigest()


def _minor(version: str) -> str:
    return ".".join(version.split(".")[:2])

