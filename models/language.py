"""Language identification (ISO 639-1 code) with py3langid's bundled model, and when a guess is "unsure".

An unsure guess is not used: classify takes the source's declared language instead, else English
(``language_of``), so a short English title is scored rather than "unscored" as German.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Sequence
from importlib import metadata

RULE = "unsure-en-1/opening-100"  # bump when the sure/unsure decision below changes (classify records it)
try:
    LANGID_VERSION = f"py3langid-{metadata.version('py3langid')}+{RULE}"
except metadata.PackageNotFoundError:  # pragma: no cover
    LANGID_VERSION = f"py3langid-unknown+{RULE}"
MIN_CHARS = 12  # below this, guesses are mostly noise (20 left many short CJK sentences unguessed)
# The detector's cost grows with the text's length (a byte-by-byte walk: the largest part of the
# classify step on long posts), so it reads the first OPENING characters of the cleaned text and stops
# there when that is CLEAR; else at most SAMPLE_CHARS. Against reading up to 2,000 characters: on
# 6,000 posts of bench/classify.py (German, French, Spanish, Italian, Polish and English, 40-800
# characters) only lorem ipsum posts, which no language owns, changed guess; on 3,682 tweets in nine
# languages (UMSAB/XLM-T validation, Polish dev) one changed and as many were right.
OPENING, CLEAR, SAMPLE_CHARS = 100, 0.99, 300
# Languages people post in. py3langid also knows Latin, Esperanto, Ancient Greek and other
# rarely posted ones, and short English titles ("The Stimulus 2.0 Tutorial") land there
# and would go "unscored"; limiting the candidates keeps the model's guesses to live ones.
POSTED_LANGUAGES = (
    "af ar az be bg bn bs ca cs cy da de el en es et eu fa fi fr ga gl gu he hi hr hu hy id is it ja "
    "ka kk km kn ko lt lv mk ml mn mr ms my ne nl no pa pl pt ro ru si sk sl sq sr sv sw ta te th tl "
    "tr uk ur uz vi zh").split()


@lru_cache(maxsize=1)
def _identifier():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    ident.set_languages([lang for lang in POSTED_LANGUAGES if lang in ident.nb_classes])
    return ident


# When a guess is "unsure" (measured in bench/language.py on texts under 60 characters: see README).
SURE = 0.5        # a top guess under this probability is not a majority...
PLAUSIBLE = 0.05  # ...and is unsure when a preferred language (English) still has this much
FLAT = 0.15       # a top guess under this is unsure whatever else: no language stands out


_NOISE = re.compile(r"https?://\S*|www\.\S+|(?<!\w)@\w+|\bRT\b|#")


def _clean(text: str) -> str:
    """What the detector reads: no links, @handles, "RT" or "#", lower case, at most ``SAMPLE_CHARS`` characters.

    py3langid's n-gram model is case-sensitive and learned from running text: Title Case and
    ALL CAPS read as other languages ("Lib-Ruby-Parser: A Ruby Parser Written in Rust" is German
    at 30%, English at 66% in lower case), and handles and links are no language at all.
    """
    return " ".join(_NOISE.sub(" ", text[:2000]).split())[:SAMPLE_CHARS].lower()


def _base(code: str) -> str:
    return code.lower().replace("_", "-").split("-")[0]


def detect_language(text: str, prefer: Sequence[str] = ("en",)) -> str | None:
    """Language code of ``text`` when py3langid is sure of it, None when the text is too short or it is unsure.

    The text is read without links, @handles and "#", in lower case (see ``_clean``): its first
    ``OPENING`` characters when they are at least ``CLEAR`` one language, else its first ``SAMPLE_CHARS``.
    Unsure: the top guess is under 15%, or under 50% while one of ``prefer`` (English; with
    a source's declared language too when classify calls it) is still at least 5% likely.
    A guess in ``prefer`` is returned as it is. Short English titles come out unsure rather
    than German or Romanian ("Lib-Ruby-Parser: A Ruby Parser Written in Rust": German 30%,
    English 8%), while a clear foreign sentence is well over 50% ("Der Zug ist heute wieder
    viel zu spät gekommen.": German 99.99%). The thresholds were chosen on
    ``bench/language.py`` (see README, "Language").
    """
    sample = _clean(text or "")
    if len(sample) < MIN_CHARS:
        return None
    if len(sample) > OPENING:
        lang, prob = _identifier().classify(sample[:OPENING])
        if prob >= CLEAR:
            return lang
    lang, prob = _identifier().classify(sample)
    wanted = {_base(p) for p in prefer}
    if lang in wanted or prob >= SURE:
        return lang
    if prob < FLAT:
        return None
    ranked = dict(_identifier().rank(sample))
    return None if any(ranked.get(p, 0.0) >= PLAUSIBLE for p in wanted) else lang


def language_of(text: str, declared: str | None = None, prefer: Sequence[str] = ("en",)) -> str:
    """The language a post is judged in: its detected language when sure, else its declared one, else English."""
    return (detect_language(text, tuple(prefer) + ((declared,) if declared else ()))
            or (_base(declared) if declared else "en"))
