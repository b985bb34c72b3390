"""Language identification (ISO 639-1 code) with py3langid's bundled model, and when a guess is "unsure".

An unsure guess is not used: classify takes the source's declared language instead, else English
(``language_of``), so a short English title is scored rather than "unscored" as German.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Sequence
from importlib import metadata

RULE = "unsure-en-2/opening-100"  # bump when the sure/unsure decision below changes (classify records it)
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
# Galician is left out too: on short Spanish and Portuguese tweets it was py3langid's most frequent
# wrong answer (bench/language.py, XLM-T: 4 of 14 Spanish and 10 of 38 Portuguese misses), and a
# Galician post read as Portuguese or Spanish is scored by a close language rather than not at all.
POSTED_LANGUAGES = (
    "af ar az be bg bn bs ca cs cy da de el en es et eu fa fi fr ga gu he hi hr hu hy id is it ja "
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
SHORT_SURE = 0.8  # a text under MIN_CHARS is still taken as a preferred non-English language this likely
#                   (0.5 gained 1.3 points on short Polish tweets, but took 9 of 5,000 English fragments of
#                   TweetEval tweets, "two of", "iowa state", as foreign; 0.8 took none)
SHORT_CHARS = 6   # ...when it has at least this many characters ("@ania dzięki!": Polish at 100%)


# Links, @handles, "RT" and "#". Each alternative opens with its literal character and checks the one
# before it afterwards ("@(?<!\w@)" is "(?<!\w)@"): the regex engine then skips to those characters
# instead of trying every position, eight times faster on a post without any.
_NOISE = re.compile(r"https?://\S*|www\.\S+|@(?<!\w@)\w+|R(?<!\wR)T\b|#")


def _clean(text: str) -> str:
    """What the detector reads: no links, @handles, "RT" or "#", lower case, at most ``SAMPLE_CHARS`` characters.

    py3langid's n-gram model is case-sensitive and learned from running text: Title Case and
    ALL CAPS read as other languages ("Lib-Ruby-Parser: A Ruby Parser Written in Rust" is German
    at 30%, English at 66% in lower case), and handles and links are no language at all.
    """
    return " ".join(_NOISE.sub(" ", text[:2000]).split())[:SAMPLE_CHARS].lower()


def _base(code: str) -> str:
    return code.lower().replace("_", "-").split("-")[0]


def _non_latin(sample: str) -> bool:
    """Whether most letters of ``sample`` are outside the Latin script (Arabic, Devanagari, Cyrillic, CJK...)."""
    letters = [ch for ch in sample if ch.isalpha()]
    other = sum(not (ch < "\u0250" or "\u1e00" <= ch <= "\u1eff") for ch in letters)
    return len(letters) >= 3 and other * 2 >= len(letters)


def detect_language(text: str, prefer: Sequence[str] = ("en",)) -> str | None:
    """Language code of ``text`` when py3langid is sure of it, None when the text is too short or it is unsure.

    The text is read without links, @handles and "#", in lower case (see ``_clean``): its first
    ``OPENING`` characters when they are at least ``CLEAR`` one language, else its first ``SAMPLE_CHARS``.
    Unsure: the top guess is under 15%, or under 50% while English (when in ``prefer``) is
    still at least 5% likely. Otherwise a guess under 50% is replaced by the most likely
    language of ``prefer`` (the languages the install scores; with a source's declared
    language when classify calls it) that is at least 5% likely, so a short Portuguese post
    that py3langid finds 40% Italian, 38% Portuguese is Portuguese when Portuguese is scored.
    A text mostly in another script than Latin (Arabic, Devanagari, ...) takes the top guess
    whatever its probability: English is not among the answers there. A text under 12
    characters is unsure, unless it is in such a script or a preferred language other than
    English is at least 80% likely ("spoko :)", "grazie"). Short English titles come out
    unsure rather than German or Romanian ("Lib-Ruby-Parser: A Ruby Parser Written in Rust":
    German 30%, English 8%), while a clear foreign sentence is well over 50% ("Der Zug ist
    heute wieder viel zu spät gekommen.": German 99.99%). The thresholds were chosen on
    ``bench/language.py`` (see README, "Language").
    """
    sample = _clean(text or "")
    wanted = {_base(p) for p in prefer}
    if len(sample) < MIN_CHARS:
        if len(sample) < 3:
            return None
        lang, prob = _identifier().classify(sample)
        if _non_latin(sample):
            return lang
        sure = len(sample) >= SHORT_CHARS and lang in wanted and lang != "en" and prob >= SHORT_SURE
        return lang if sure else None
    if len(sample) > OPENING:   # a long post: its opening decides when it is clear
        lang, prob = _identifier().classify(sample[:OPENING])
        if prob >= CLEAR:
            return lang
    lang, prob = _identifier().classify(sample)
    if prob >= SURE or lang == "en" and "en" in wanted:
        return lang
    if _non_latin(sample):
        return lang
    if lang not in wanted and prob < FLAT:
        return None
    ranked = dict(_identifier().rank(sample))
    if "en" in wanted and ranked.get("en", 0.0) >= PLAUSIBLE:
        return None
    if lang in wanted:
        return lang
    likely = [p for p in wanted if ranked.get(p, 0.0) >= PLAUSIBLE]
    return max(likely, key=ranked.__getitem__) if likely else lang


def language_of(text: str, declared: str | None = None, prefer: Sequence[str] = ("en",)) -> str:
    """The language a post is judged in: its detected language when sure, else its declared one, else English."""
    return (detect_language(text, tuple(prefer) + ((declared,) if declared else ()))
            or (_base(declared) if declared else "en"))
