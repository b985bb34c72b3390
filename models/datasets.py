"""Labelled sentiment data in the repository (``models/data``; see its README) and its checksum."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from models.sentiment import label

DATA_DIR = Path(__file__).parent / "data"
TWEETEVAL_LABELS = ("negative", "neutral", "positive")  # mapping.txt: 0, 1, 2
VADER_SETS = {"tweets": "tweets_GroundTruth.txt", "amazon": "amazonReviewSnippets_GroundTruth.txt"}
RATING_BAND = 0.2  # VADER ratings (-4..4) within +-0.2 (the paper's neutral band) are "neutral" in training


class DataError(Exception):
    """Missing or malformed training data, phrased as one line naming the file."""


@dataclass(frozen=True)
class Example:
    text: str
    label: str           # positive | neutral | negative
    source: str          # tweeteval-train, vader-tweets, vader-amazon, relabel, ...
    rating: float | None = None  # the human mean rating for VADER ground truth


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").split("\n")
    except FileNotFoundError:
        raise DataError(f"{path}: training data file not found") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text (byte {exc.start})") from None


def load_tweeteval(split: str, data_dir: Path = DATA_DIR) -> list[Example]:
    """TweetEval sentiment ``train`` or ``val``: one example per line."""
    folder = data_dir / "tweeteval"
    labels = [x for x in _lines(folder / f"{split}_labels.txt") if x.strip()]
    texts = _lines(folder / f"{split}_text.txt")[:len(labels)]
    if len(texts) != len(labels):
        raise DataError(f"{folder}/{split}_text.txt: {len(texts)} lines for {len(labels)} labels")
    out = []
    for i, (t, y) in enumerate(zip(texts, labels), 1):
        if y.strip() not in ("0", "1", "2"):
            raise DataError(f"{folder}/{split}_labels.txt: line {i}: expected 0, 1 or 2, got {y!r}")
        out.append(Example(t.strip(), TWEETEVAL_LABELS[int(y)], f"tweeteval-{split}"))
    return out


def load_vader_groundtruth(name: str, data_dir: Path = DATA_DIR) -> list[tuple[str, float]]:
    """(text, mean rating) pairs of the VADER ground-truth set ``tweets`` or ``amazon``."""
    path = data_dir / "vader_groundtruth" / VADER_SETS[name]
    out = []
    for i, line in enumerate(_lines(path), 1):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        parts = line.split("\t", 2)
        try:
            out.append((parts[2], float(parts[1])))
        except (IndexError, ValueError):
            raise DataError(f"{path}: line {i}: expected ID<TAB>RATING<TAB>TEXT") from None
    return out


def rating_label(rating: float) -> str:
    """The training label of a VADER rating (see ``RATING_BAND``)."""
    return label(rating, RATING_BAND, -RATING_BAND)


def vader_examples(name: str, data_dir: Path = DATA_DIR) -> list[Example]:
    return [Example(t, rating_label(r), f"vader-{name}", r) for t, r in load_vader_groundtruth(name, data_dir)]


def checksum(examples: Iterable[Example]) -> str:
    """SHA-256 over every (source, label, text) in order: names the exact training data."""
    h = hashlib.sha256()
    for e in examples:
        h.update(f"{e.source}\t{e.label}\t{e.text}\n".encode("utf-8"))
    return h.hexdigest()


def folds(n: int, k: int, seed: int) -> list[int]:
    """A deterministic fold number (0..k-1) for each of ``n`` items."""
    import random

    order = list(range(n))
    random.Random(seed).shuffle(order)
    out = [0] * n
    for rank, i in enumerate(order):
        out[i] = rank % k
    return out


def subset(examples: Sequence[Example], every: int) -> list[Example]:
    """Every ``every``-th example (a small, deterministic training set for tests)."""
    return list(examples[::every])
