"""VADER, once: the one analyzer (its lexicon loads once per process) and the readings built on it.

The sentiment scorer (``models.sentiment``), the trained model's lexicon features
(``models.features``) and the explanation of a VADER label all read VADER through here.
"""

from __future__ import annotations

from functools import lru_cache

from vaderSentiment.vaderSentiment import BOOSTER_DICT, SentiText, SentimentIntensityAnalyzer

MAX_CHARS = 5000  # VADER's cost grows with length; the opening of a long post carries its tone


class _Analyzer(SentimentIntensityAnalyzer):
    """VADER with the same scores at a cost linear in the text's length.

    For every word next to a lexicon word, the library's negation and idiom checks lower-case the
    whole text again, though they read at most three words before and two after the word: on an
    800-character post that is most of the classify step. Here they get those words only (the word
    at index 3 of the window). Before index 3 they keep the whole list, so an index below zero
    still wraps around as in the library; tests/test_models.py checks the scores are identical.
    """

    def __init__(self) -> None:
        super().__init__()
        # only one-character keys can match: the library looks its emoji table up per character
        self._emoji_chars = frozenset(k for k in self.emojis if len(k) == 1)

    def polarity_scores(self, text):
        """The library's scores. Two shortcuts that change no result: a text without emoji is not
        copied character by character, and a word outside the lexicon (and no booster) goes
        straight to valence 0 without the library's per-word call, which does only that for it."""
        if self._emoji_chars.isdisjoint(text):
            text = text.strip()
        else:
            return super().polarity_scores(text)
        sentitext = SentiText(text)
        words = sentitext.words_and_emoticons
        lexicon, sentiments = self.lexicon, []
        last = len(words) - 1
        for i, item in enumerate(words):
            lower = item.lower()
            if lower in BOOSTER_DICT or lower not in lexicon or (
                    i < last and lower == "kind" and words[i + 1].lower() == "of"):
                sentiments.append(0)
                continue
            sentiments = self.sentiment_valence(0, sentitext, item, i, sentiments)
        sentiments = self._but_check(words, sentiments)
        return self.score_valence(sentiments, text)

    @staticmethod
    def _negation_check(valence, words_and_emoticons, start_i, i):
        if i < 3:
            return SentimentIntensityAnalyzer._negation_check(valence, words_and_emoticons, start_i, i)
        return SentimentIntensityAnalyzer._negation_check(valence, words_and_emoticons[i - 3:i + 3], start_i, 3)

    @staticmethod
    def _special_idioms_check(valence, words_and_emoticons, i):
        if i < 3:
            return SentimentIntensityAnalyzer._special_idioms_check(valence, words_and_emoticons, i)
        return SentimentIntensityAnalyzer._special_idioms_check(valence, words_and_emoticons[i - 3:i + 3], 3)


@lru_cache(maxsize=1)
def analyzer() -> SentimentIntensityAnalyzer:
    """The one VADER analyzer."""
    return _Analyzer()


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
