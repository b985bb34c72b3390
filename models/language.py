"""Language identification (ISO 639-1 code) with py3langid's bundled model."""

from __future__ import annotations

from functools import lru_cache
from importlib import metadata

try:
    LANGID_VERSION = f"py3langid-{metadata.version('py3langid')}"
except metadata.PackageNotFoundError:  # pragma: no cover
    LANGID_VERSION = "py3langid-unknown"
MIN_CHARS = 20  # below this, guesses are mostly noise


@lru_cache(maxsize=1)
def _identifier():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def detect_language(text: str, min_confidence: float = 0.0) -> str | None:
    """Best-guess language code of ``text``, or None when too short (or below ``min_confidence``).

    No confidence floor by default: on 20-60 character texts in 15 languages
    (``bench/language.py``) py3langid's plain best guess is right 96.7% of the time and
    the score-or-"unscored" decision 99.7%; a 0.5 floor left so many non-English texts
    "unknown" (hence scored) that the decision fell to 84.4%.
    """
    if not text or len(text.strip()) < MIN_CHARS:
        return None
    lang, prob = _identifier().classify(text[:2000])
    return lang if prob >= min_confidence else None
