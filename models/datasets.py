"""Labelled sentiment data in the repository (``models/data``; see its README) and its checksum."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from models.products import Mention
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


# Target-level sets a developer may have (their terms do not allow redistribution, so the repository
# holds neither): read in place from a folder holding ``target_dong2014/`` and ``semeval14_absa/``.
TARGET_POLARITY = {"-1": "negative", "0": "neutral", "1": "positive"}
ABSA_FILES = {"restaurants": "Restaurants_Train_v2.xml", "laptops": "Laptop_Train_v2.xml"}
TargetItem = tuple[str, tuple[Mention, ...], int, str]   # text, its mentions (with spans), which one is judged, gold


def load_dong(folder: Path) -> list[TargetItem]:
    """Dong et al. 2014 (``target_dong2014/train.raw``): tweets, one target each (at every ``$T$``),
    and its polarity."""
    path = folder / "target_dong2014" / "train.raw"
    lines = _lines(path)
    if len(lines) % 3:
        raise DataError(f"{path}: expected sentence, target, polarity triples, got {len(lines)} lines")
    out = []
    for i in range(0, len(lines), 3):
        template, target, polarity = lines[i], lines[i + 1].strip(), lines[i + 2].strip()
        if polarity not in TARGET_POLARITY:
            raise DataError(f"{path}:{i + 3}: polarity must be -1, 0 or 1, got {polarity!r}")
        parts = template.split("$T$")
        text, spans = parts[0], []
        for p in parts[1:]:
            spans.append((len(text), len(text) + len(target)))
            text += target + p
        out.append((text, (Mention(target, target, tuple(spans)),), 0, TARGET_POLARITY[polarity]))
    return out


def _absa_root(folder: Path, name: str):
    import xml.etree.ElementTree as ET

    path = folder / "semeval14_absa" / ABSA_FILES[name]
    try:
        return ET.parse(path).getroot()
    except FileNotFoundError:
        raise DataError(f"{path}: not found") from None
    except ET.ParseError as e:
        raise DataError(f"{path}: not valid XML ({e})") from None


def load_absa_terms(folder: Path, name: str) -> list[TargetItem]:
    """SemEval-2014 Task 4 training sentences (``name``: restaurants or laptops): each aspect term
    (not ``conflict``), judged with all the sentence's terms as mentions, each at its offsets."""
    out = []
    for s in _absa_root(folder, name).iter("sentence"):
        text = s.findtext("text") or ""
        terms = list(s.iter("aspectTerm"))
        mentions = tuple(Mention(f"{i}:{t.get('term')}", t.get("term"), ((int(t.get("from")), int(t.get("to"))),))
                         for i, t in enumerate(terms))
        out += [(text, mentions, i, t.get("polarity")) for i, t in enumerate(terms)
                if t.get("polarity") in TWEETEVAL_LABELS]
    return out


def absa_sentences(folder: Path, name: str) -> list[tuple[str, str]]:
    """(sentence, label) from SemEval-2014 Task 4: sentences whose aspect terms agree (no conflict,
    not both positive and negative), labelled positive if any term is, else negative if any is, else
    neutral."""
    out = []
    for s in _absa_root(folder, name).iter("sentence"):
        pols = {a.get("polarity") for a in s.iter("aspectTerm")}
        if not pols or "conflict" in pols or {"positive", "negative"} <= pols:
            continue
        label = "positive" if "positive" in pols else "negative" if "negative" in pols else "neutral"
        out.append(((s.findtext("text") or "").strip(), label))
    return out


def speed_rows(n: int, seed: int = 0, data_dir: Path = DATA_DIR) -> list[dict]:
    """``n`` posts to time classification on, from the bundled texts: half single short texts
    (TweetEval val, the VADER sets), half longer posts of 40-800 characters joined from them."""
    import random

    rng = random.Random(seed)
    short = [e.text for e in load_tweeteval("val", data_dir)]
    for name in VADER_SETS:
        short += [t for t, _ in load_vader_groundtruth(name, data_dir)]
    rows = [{"id": i, "title": None, "text": rng.choice(short), "language": None} for i in range(n // 2)]
    for i in range(n - n // 2):
        target, parts = rng.randint(40, 800), []
        while sum(len(p) + 1 for p in parts) < target:
            parts.append(rng.choice(short))
        rows.append({"id": n // 2 + i, "title": None, "text": " ".join(parts)[:target], "language": None})
    rng.shuffle(rows)
    return rows
