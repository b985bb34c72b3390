"""Topic tagging: which taxonomy topics a text is about, by which term, and in which sentences.

A topic (settings ``[[topics]]``) has terms: whole words or phrases, any case; a term ending in
``*`` matches any word starting with it (``crash*`` matches "crashes"). ``exclude`` phrases are
masked out first, as for products. A post can carry several topics. Topic-level sentiment is the
mean score of the sentences that carry the topic's terms (see ``models.classify``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Protocol

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


def compile_topics(topics: Iterable[TopicLike]) -> tuple[TermRule, ...]:
    """Build the matchers once per settings (topic terms may end in ``*``)."""
    return compile_rules(((t.name, t.terms, t.exclude) for t in topics), wildcard=True)


def sentences(text: str) -> list[str]:
    """The sentences of ``text`` (split at . ! ? and line ends)."""
    return [s.strip() for s in _SENTENCES.findall(text) if s.strip()]


def match_topics(text: str, rules: tuple[TermRule, ...]) -> list[TopicMatch]:
    """Topics of ``text``: one match per topic, with the first matching term and its sentences."""
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
