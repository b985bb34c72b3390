"""Topic tagging: which taxonomy topics a text is about, by which term, and in which sentences.

A topic (settings ``[[topics]]``) has terms: whole words or phrases, any case; a term ending in
``*`` matches any word starting with it (``crash*`` matches "crashes"). ``exclude`` phrases are
masked out first, as for products. A post can carry several topics. Topic-level sentiment is the
mean score of the sentences that carry the topic's terms (see ``models.classify``).

A topic may add terms for posts of one language (``terms_by_language``: language code -> terms):
a post in that language is matched with ``terms`` and them, any other post with ``terms`` alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable, Iterator, Mapping, Protocol

from models.language import _base as base_language
from models.products import TermRule, compile_rules

_SENTENCES = re.compile(r"[^.!?\n]+[.!?]*", re.UNICODE)


class TopicLike(Protocol):
    name: str
    terms: tuple[str, ...]
    exclude: tuple[str, ...]


@dataclass(frozen=True)
class TopicMatch:
    topic: str
    term: str                       # the text that matched, as written
    sentences: tuple[str, ...]      # the sentences carrying the topic's terms


@dataclass(frozen=True)
class TopicRules:
    """Each topic's matcher for posts in any language, and for each language that some topic has
    terms of its own for, every topic's matcher with those terms added."""
    common: tuple[TermRule, ...]
    by_language: Mapping[str, tuple[TermRule, ...]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.common or self.by_language)

    def __iter__(self) -> Iterator[TermRule]:
        """The matchers for posts in any language."""
        return iter(self.common)

    def for_language(self, language: str | None) -> tuple[TermRule, ...]:
        """The matchers for a post in ``language`` (a code such as "de" or "de-AT"; None: any)."""
        return self.by_language.get(base_language(language), self.common) if language else self.common


def compile_topics(topics: Iterable[TopicLike]) -> TopicRules:
    """Build the matchers once per settings (topic terms may end in ``*``)."""
    topics = list(topics)
    extra = [(t, dict(getattr(t, "terms_by_language", ()))) for t in topics]
    languages = sorted({lang for _, more in extra for lang in more})
    return TopicRules(
        compile_rules(((t.name, t.terms, t.exclude) for t in topics), wildcard=True),
        {lang: compile_rules(((t.name, (*t.terms, *more.get(lang, ())), t.exclude) for t, more in extra),
                             wildcard=True)
         for lang in languages})


def sentences(text: str) -> list[str]:
    """The sentences of ``text`` (split at . ! ? and line ends)."""
    return [s.strip() for s in _SENTENCES.findall(text) if s.strip()]


def match_topics(text: str, rules: TopicRules | tuple[TermRule, ...],
                 language: str | None = None) -> list[TopicMatch]:
    """Topics of ``text`` (a post in ``language``): one match per topic, with the first matching term
    and its sentences."""
    if isinstance(rules, TopicRules):
        rules = rules.for_language(language)
    found = []
    parts = None
    for rule in rules:
        hit = rule.search(text)
        if not hit:
            continue
        if parts is None:
            parts = sentences(text)
        carrying = tuple(s for s in parts if rule.search(s))
        found.append(TopicMatch(rule.name, hit.group(0), carrying or (text,)))
    return found
