"""Sentiment with VADER: compound score in [-1, 1] and a label."""

from __future__ import annotations

from functools import lru_cache

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

POSITIVE, NEUTRAL, NEGATIVE = "positive", "neutral", "negative"
LABELS = (POSITIVE, NEUTRAL, NEGATIVE)
MAX_CHARS = 5000  # VADER's cost grows with length; the opening of a long post carries its tone


@lru_cache(maxsize=1)
def _analyzer() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()


def vader_compound(text: str) -> float:
    """VADER's normalized compound score for ``text`` (0.0 for empty text)."""
    if not text or not text.strip():
        return 0.0
    return float(_analyzer().polarity_scores(text[:MAX_CHARS])["compound"])


def label(compound: float, positive_threshold: float = 0.05, negative_threshold: float = -0.05) -> str:
    """VADER's standard reading: >= +0.05 positive, <= -0.05 negative, else neutral."""
    if compound >= positive_threshold:
        return POSITIVE
    if compound <= negative_threshold:
        return NEGATIVE
    return NEUTRAL
