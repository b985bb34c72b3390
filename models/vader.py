"""VADER, once: the one analyzer (its lexicon loads once per process) and the readings built on it.

The sentiment scorer (``models.sentiment``), the trained model's lexicon features
(``models.features``) and the explanation of a VADER label all read VADER through here.
"""

from __future__ import annotations

from functools import lru_cache

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

MAX_CHARS = 5000  # VADER's cost grows with length; the opening of a long post carries its tone


@lru_cache(maxsize=1)
def analyzer() -> SentimentIntensityAnalyzer:
    """The one VADER analyzer."""
    return SentimentIntensityAnalyzer()


def vader_compound(text: str) -> float:
    """VADER's normalized compound score for ``text`` (0.0 for empty text)."""
    if not text or not text.strip():
        return 0.0
    return float(analyzer().polarity_scores(text[:MAX_CHARS])["compound"])


def valences(text: str) -> dict[str, float]:
    """The words of ``text`` found in VADER's lexicon, with their valences (a first-order view:
    VADER's rules for negation, boosters and punctuation adjust these)."""
    lexicon = analyzer().lexicon
    words = (t.strip(".,!?;:\"'()").lower() for t in text[:MAX_CHARS].split())
    return {w: float(lexicon[w]) for w in words if w in lexicon}
