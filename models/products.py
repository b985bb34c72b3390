"""Product tagging: which tracked products a text mentions, and by which alias.

Aliases match as whole words, case-insensitively ("Go" does not match "good").
Exclude terms are masked out before matching, so a product named "Ruby" with
the exclude term "Ruby Tuesday" is not tagged by "dinner at Ruby Tuesday" but
still is by "Ruby 3.3 is out; dinner at Ruby Tuesday".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Protocol


class ProductLike(Protocol):
    name: str
    aliases: tuple[str, ...]
    exclude: tuple[str, ...]


@dataclass(frozen=True)
class Mention:
    product: str
    alias: str  # the text that matched, as written in the post


@dataclass(frozen=True)
class _Matcher:
    name: str
    aliases: re.Pattern
    exclude: re.Pattern | None


@dataclass(frozen=True)
class ProductMatcher:
    matchers: tuple[_Matcher, ...]


def _words(terms: Iterable[str], wildcard: bool = False) -> re.Pattern | None:
    """One pattern matching any of ``terms`` as whole words, any case, any spacing.

    With ``wildcard``, a term ending in ``*`` matches any word starting with it ("crash*").
    """
    terms = sorted({t for t in terms if t.strip()}, key=len, reverse=True)
    if not terms:
        return None

    def word(w: str) -> str:
        if wildcard and w.endswith("*") and len(w) > 1:
            return re.escape(w[:-1]) + r"\w*"
        return re.escape(w)
    body = "|".join(r"\s+".join(word(w) for w in t.split()) for t in terms)
    return re.compile(rf"(?<!\w)(?:{body})(?!\w)", re.IGNORECASE)


compile_terms = _words


def mask(text: str, pattern: re.Pattern | None) -> str:
    """``text`` with the spans ``pattern`` matches blanked out (same length, so offsets hold)."""
    return text if pattern is None else pattern.sub(lambda x: " " * len(x.group(0)), text)


def compile_products(products: Iterable[ProductLike]) -> ProductMatcher:
    """Build the matcher once per settings; reuse it for every post."""
    out = []
    for p in products:
        aliases = _words(p.aliases or (p.name,))
        if aliases is not None:
            out.append(_Matcher(p.name, aliases, _words(p.exclude)))
    return ProductMatcher(tuple(out))


def match_products(text: str, matcher: ProductMatcher) -> list[Mention]:
    """Mentions of tracked products in ``text``, one per product, first match's alias."""
    found = []
    for m in matcher.matchers:
        hit = m.aliases.search(mask(text, m.exclude))
        if hit:
            found.append(Mention(m.name, hit.group(0)))
    return found
