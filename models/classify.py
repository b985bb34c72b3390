"""Classify posts: sentiment, products mentioned, language. Pure functions of text and settings."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import metadata
from typing import Iterable

from models.language import detect_language
from models.products import Mention, ProductMatcher, match_products
from models.sentiment import label, vader_compound

def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "unknown"


CLASSIFIER_VERSION = f"vader-{_version('vaderSentiment')}/products-1/py3langid-{_version('py3langid')}"


@dataclass(frozen=True)
class Classification:
    post_id: int
    sentiment: float        # VADER compound, -1..1
    label: str              # positive | neutral | negative
    language: str | None
    mentions: tuple[Mention, ...]


def post_text(title: str | None, text: str | None) -> str:
    """The text a post is judged on: its title, then its body."""
    title, text = (title or "").strip(), (text or "").strip()
    if title and text and not text.startswith(title):
        return f"{title}.\n{text}" if title[-1:] not in ".!?:" else f"{title}\n{text}"
    return text or title


def classify(post_id: int, title: str | None, text: str | None, *, products: ProductMatcher,
             positive_threshold: float = 0.05, negative_threshold: float = -0.05,
             language: str | None = None) -> Classification:
    """Classify one post. ``language`` is the source's declared language, if any."""
    body = post_text(title, text)
    compound = vader_compound(body)
    return Classification(
        post_id=post_id,
        sentiment=compound,
        label=label(compound, positive_threshold, negative_threshold),
        language=language or detect_language(body),
        mentions=tuple(match_products(body, products)),
    )


def classify_batch(rows: Iterable[dict], *, products: ProductMatcher, positive_threshold: float = 0.05,
                   negative_threshold: float = -0.05) -> list[Classification]:
    """Classify rows with ``id``, ``title``, ``text`` and optional ``language`` keys."""
    return [classify(r["id"], r.get("title"), r.get("text"), products=products,
                     positive_threshold=positive_threshold, negative_threshold=negative_threshold,
                     language=r.get("language"))
            for r in rows]
