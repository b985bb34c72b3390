"""Product tagging: which tracked products a text mentions, and by which alias.

Aliases match as whole words, case-insensitively ("Go" does not match "good").
Exclude terms are masked out before matching, so a product named "Ruby" with
the exclude term "Ruby Tuesday" is not tagged by "dinner at Ruby Tuesday" but
still is by "Ruby 3.3 is out; dinner at Ruby Tuesday".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable, Protocol


class ProductLike(Protocol):
    name: str
    aliases: tuple[str, ...]
    exclude: tuple[str, ...]


@dataclass(frozen=True)
class Mention:
    product: str
    alias: str  # the text that matched, as written in the post
    # where the product's aliases match in the text (start, end), first to last; not part of equality,
    # so a hand-made Mention(product, alias) still equals the matcher's (empty: find ``alias`` in the text)
    spans: tuple[tuple[int, int], ...] = field(default=(), compare=False, repr=False)


@dataclass(frozen=True)
class TermRule:
    """A named set of terms (a product's aliases, a topic's terms) and the phrases masked out first."""

    name: str
    terms: re.Pattern
    exclude: re.Pattern | None

    def search(self, text: str) -> re.Match | None:
        """The first term in ``text`` outside the excluded phrases."""
        return self.terms.search(mask(text, self.exclude))

    def finditer(self, text: str) -> list[re.Match]:
        """Every term in ``text`` outside the excluded phrases, first to last."""
        return list(self.terms.finditer(mask(text, self.exclude)))


@dataclass(frozen=True)
class ProductMatcher:
    matchers: tuple[TermRule, ...]


def compile_terms(terms: Iterable[str], wildcard: bool = False) -> re.Pattern | None:
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


def mask(text: str, pattern: re.Pattern | None) -> str:
    """``text`` with the spans ``pattern`` matches blanked out (same length, so offsets hold)."""
    return text if pattern is None else pattern.sub(lambda x: " " * len(x.group(0)), text)


def compile_rules(items: Iterable[tuple[str, Iterable[str], Iterable[str]]], *,
                  wildcard: bool = False) -> tuple[TermRule, ...]:
    """A rule for each (name, terms, exclude) that has at least one term; build once per settings."""
    out = []
    for name, terms, exclude in items:
        pattern = compile_terms(terms, wildcard=wildcard)
        if pattern is not None:
            out.append(TermRule(name, pattern, compile_terms(exclude)))
    return tuple(out)


def compile_products(products: Iterable[ProductLike]) -> ProductMatcher:
    """Build the matcher once per settings; reuse it for every post."""
    return ProductMatcher(compile_rules((p.name, p.aliases or (p.name,), p.exclude) for p in products))


def match_products(text: str, matcher: ProductMatcher) -> list[Mention]:
    """Mentions of tracked products in ``text``, one per product, first match's alias, and where
    each product's aliases match (``Mention.spans``)."""
    found = []
    for m in matcher.matchers:
        hits = m.finditer(text)
        if hits:
            found.append(Mention(m.name, hits[0].group(0), tuple(h.span() for h in hits)))
    return found
