"""Text features for the trained sentiment model. Pure functions of text; no state.

``FEATURE_VERSION`` names this exact recipe. A model artifact records the
version it was trained with and refuses to load under a different one, so
change the version whenever any function here changes what it returns.

- ``normalize``: lowercase, URLs -> ``url``, user mentions -> ``@user``, letters
  repeated 3+ times cut to 2 ("soooo" -> "soo"), HTML-ish escapes undone.
- ``word_tokens``: words, emoticons and emoji as tokens; words inside a negation
  scope (after "not", "never", "n't", ... up to the next punctuation) get a
  ``_NEG`` suffix so "not good" and "good" are different features.
- ``lexicon_features``: VADER's scores (compound, pos, neg, neu) of the text.

All three read at most the first ``MAX_CHARS`` characters of a post.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

import numpy as np

from models.vader import analyzer

FEATURE_VERSION = "sent-features-2"
MAX_CHARS = 1000  # the opening of a long post carries its tone; bounds the cost per post

_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_USER = re.compile(r"(?<!\w)@\w+")
_REPEAT = re.compile(r"(\w)\1{2,}")
_ESCAPES = (("&amp;", "&"), ("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'), ("\\u2019", "'"),
            ("\\u002c", ","), ("\u2019", "'"), ("\u2018", "'"), ('""', '"'))
_EMOTICON = r"(?:[<>]?[:;=8xX][\-o\*']?[\)\]\(\[dDpP/\\\|\}\{@]+|[\)\]\(\[dDpP/\\\|\}\{@]+[\-o\*']?[:;=8]|<3+)"
_TOKEN = re.compile(_EMOTICON + r"|#?\w+(?:'\w+)?|[!?]+|[^\w\s]", re.UNICODE)
_NEGATORS = frozenset(
    "not no never nothing nobody none nor neither nowhere cannot cant dont doesnt didnt isnt arent "
    "wasnt werent wont wouldnt couldnt shouldnt hasnt havent hadnt aint without".split())
_SCOPE_END = frozenset(".,:;!?")


def normalize(text: str) -> str:
    """Canonical text for features (see module docstring)."""
    text = (text or "")[:MAX_CHARS]
    for a, b in _ESCAPES:
        text = text.replace(a, b)
    low = text.lower()
    if "://" in text or "www." in low:   # the substitutions are the slow part: only where they can match
        text = _URL.sub(" url ", text)
    if "@" in text:
        text = _USER.sub("@user", text)
    return _REPEAT.sub(r"\1\1", text.lower())


def word_tokens(text: str) -> list[str]:
    """Tokens of already-normalized text, negation scope marked with ``_NEG``."""
    tokens = _TOKEN.findall(text)
    if _NEGATORS.isdisjoint(tokens) and not any("'" in t and t.replace("'", "") in _NEGATORS
                                                or t.endswith("n't") for t in tokens if "'" in t):
        return tokens   # no negation scope to mark: most texts, and the loop below is the slow part
    out: list[str] = []
    negated = False
    for tok in tokens:
        if tok[0] in _SCOPE_END:
            negated = False
            out.append(tok)
            continue
        bare = tok.replace("'", "")
        if negated and tok[0].isalnum():
            out.append(tok + "_NEG")
        else:
            out.append(tok)
        if bare in _NEGATORS or bare.endswith("nt") and tok.endswith("n't"):
            negated = True
    return out


@dataclass(frozen=True)
class Contribution:
    """How much one feature (``word:...``, ``char:...``, ``vader_...``) pushed a text's score."""
    feature: str
    weight: float  # pushes towards positive (> 0) or negative (< 0)


def strongest(pushes: Iterable[Contribution], top: int) -> tuple[list[Contribution], list[Contribution]]:
    """The ``top`` strongest pushes towards positive and the ``top`` strongest towards negative."""
    pushes = list(pushes)
    return (sorted((c for c in pushes if c.weight > 0), key=lambda c: -c.weight)[:top],
            sorted((c for c in pushes if c.weight < 0), key=lambda c: c.weight)[:top])


LEXICON_NAMES = ("vader_compound", "vader_pos", "vader_neg", "vader_neu")


def lexicon_features(text: str) -> list[float]:
    """VADER's compound, pos, neg and neu scores of the text's opening."""
    text = (text or "")[:MAX_CHARS]
    if not text.strip():
        return [0.0, 0.0, 0.0, 1.0]
    s = analyzer().polarity_scores(text)
    return [s["compound"], s["pos"], s["neg"], s["neu"]]


def lexicon_matrix(texts) -> np.ndarray:
    """``lexicon_features`` for many texts, as a float array (n, 4)."""
    return np.array([lexicon_features(t) for t in texts], dtype=np.float64).reshape(-1, len(LEXICON_NAMES))
