"""Classify posts: sentiment, products mentioned, topics, language. Pure functions of text and settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from models.language import LANGID_VERSION, _base, detect_language
from models.mentions import MentionSentiment, judge_batch
from models.products import Mention, ProductMatcher, TermRule, match_products
from models.sentiment import UNSCORED, Scorer, Sentiment, VaderScorer
from models.topics import TopicMatch, TopicRules, match_topics

TAGGERS_VERSION = f"products-1/topics-1/{LANGID_VERSION}"


def classifier_version(scorer: Scorer, others: Mapping[str, Scorer] | None = None) -> str:
    """What the ``classifier`` column records: the sentiment model (and the languages scored by their
    own models, ``others``) and the taggers' versions."""
    extra = "".join(f"+{lang}:{s.name}" for lang, s in sorted((others or {}).items()))
    return f"{scorer.name}/{TAGGERS_VERSION}{extra}"


@dataclass(frozen=True)
class TopicSentiment:
    topic: str
    term: str
    sentiment: float | None   # mean score of the sentences carrying the topic; None when unscored


@dataclass(frozen=True)
class Classification:
    post_id: int
    sentiment: float | None   # polarity in [-1, 1]; None when unscored
    label: str                # positive | neutral | negative | unscored
    language: str | None
    mentions: tuple[Mention, ...]
    topics: tuple[TopicSentiment, ...] = ()
    confidence: float | None = None
    model: str = ""
    # what the post says about each product it mentions, aligned with ``mentions`` (models.mentions)
    mention_sentiment: tuple[MentionSentiment, ...] = ()
    # mentions judged not about their product (models.relevance): (mention, judgement, verdict); they count nowhere
    rejected: tuple = ()
    verdicts: tuple = ()   # every judged mention's models.relevance.Verdict, kept or not


def post_text(title: str | None, text: str | None) -> str:
    """The text a post is judged on: its title, then its body."""
    title, text = (title or "").strip(), (text or "").strip()
    if title and text and not text.startswith(title):
        return f"{title}.\n{text}" if title[-1:] not in ".!?:" else f"{title}\n{text}"
    return text or title


def covered(language: str | None, languages: Sequence[str]) -> bool:
    """Whether the sentiment model scores ``language`` (unknown or unsure language: taken as English)."""
    return language is None or language.lower().split("-")[0] in languages


def route(texts: Sequence[str], languages: Sequence[str], declared: Sequence[str | None] | None = None,
          others: Mapping[str, Scorer] | None = None) -> tuple[list[str | None], dict[int, str]]:
    """Each text's detected language, and (by index, covered texts only) the language whose scorer
    judges it: a key of ``others`` (that language's own model), or "" for the main scorer.

    The text's own language decides when the detector is sure of it; when it is unsure (or the text
    is too short) the declared language (often a site-wide default) decides, and without one the
    text is taken as English (``models.language.detect_language``). The detected language is None
    when unsure.
    """
    declared = declared or [None] * len(texts)
    others = others or {}
    detected = [detect_language(t, prefer=tuple(languages) + ((dec,) if dec else ()))
                for t, dec in zip(texts, declared)]
    keys = {}
    for i, (d, dec) in enumerate(zip(detected, declared)):
        if covered(d or dec, languages):
            lang = _base(d or dec or "en")
            keys[i] = lang if lang in others else ""
    return detected, keys


def _groups(keys: Mapping[int, str]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for i, k in sorted(keys.items()):
        out.setdefault(k, []).append(i)
    return out


def score_covered(texts: Sequence[str], scorer: Scorer, languages: Sequence[str],
                  declared: Sequence[str | None] | None = None,
                  others: Mapping[str, Scorer] | None = None) -> tuple[list[str | None], dict[int, Any]]:
    """Each text's detected language, and (by index) the scores of the texts the models cover: a
    text in a language of ``others`` by that language's scorer, every other covered text by
    ``scorer`` (see ``route``); one batch per scorer."""
    detected, keys = route(texts, languages, declared, others)
    results: dict[int, Any] = {}
    for key, idx in _groups(keys).items():
        s = others[key] if key else scorer
        results.update(zip(idx, s.score([texts[i] for i in idx])))
    return detected, results


def classify_batch(rows: Iterable[dict], *, products: ProductMatcher, scorer: Scorer | None = None,
                   topics: TopicRules | tuple[TermRule, ...] = (), languages: Sequence[str] = ("en",),
                   positive_threshold: float = 0.05, negative_threshold: float = -0.05,
                   others: Mapping[str, Scorer] | None = None) -> list[Classification]:
    """Classify rows with ``id``, ``title``, ``text`` and optional ``language`` keys.

    Sentiment is scored in one batch for all posts in a covered language; the sentences that
    carry each topic in one more batch. ``positive_threshold``/``negative_threshold`` apply to
    the default VADER scorer only. Each product mention is then judged on its own
    (``models.mentions.judge_batch``: the span about it, the post's label as the fallback), in at
    most three more scorer calls; a post in a language the model does not cover gets unscored
    mentions. A post in a language of ``others`` is scored, and its topic sentences and mention spans
    judged, by that language's scorer (``route``); every other covered post by ``scorer``.
    """
    scorer = scorer or VaderScorer(positive_threshold, negative_threshold)
    others = others or {}
    rows = list(rows)
    bodies = [post_text(r.get("title"), r.get("text")) for r in rows]
    detected, keys = route(bodies, languages, [r.get("language") for r in rows], others)
    langs = [r.get("language") or d for r, d in zip(rows, detected)]
    found = [match_topics(b, topics, lang) if topics else [] for b, lang in zip(bodies, langs)]
    mentions = [tuple(match_products(b, products)) for b in bodies]
    results: dict[int, Sentiment] = {}
    sentence_score: dict[int, dict[str, float | None]] = {}
    judged: dict[int, list[MentionSentiment]] = {}
    for key, idx in _groups(keys).items():
        s = others[key] if key else scorer
        results.update(zip(idx, s.score([bodies[i] for i in idx])))
        scores = {bodies[i]: results[i].score for i in idx}   # a one-sentence post is scored already
        part = getattr(s, "parts", s)   # what scores parts of a post (a scorer may offer a cheaper one)
        wanted = sorted({x for i in idx for m in found[i] for x in m.sentences} - scores.keys())
        scores.update((x, r.score) for x, r in zip(wanted, part.score(wanted)))
        sentence_score.update(dict.fromkeys(idx, scores))
        with_mentions = [i for i in idx if mentions[i]]
        judged.update(zip(with_mentions, judge_batch([(bodies[i], mentions[i], results[i]) for i in with_mentions],
                                                      part, language=key or None)))
    unscored = Sentiment(UNSCORED, None, None, scorer.name)   # not covered: its mentions stay unscored
    rest = [i for i, ms in enumerate(mentions) if ms and i not in results]
    judged.update(zip(rest, judge_batch([(bodies[i], mentions[i], unscored) for i in rest], scorer)))
    out = []
    for i, (row, body) in enumerate(zip(rows, bodies)):
        r = results.get(i)
        out.append(Classification(
            post_id=row["id"],
            sentiment=r.score if r else None,
            label=r.label if r else UNSCORED,
            language=langs[i],
            mentions=mentions[i],
            topics=tuple(_topic_sentiment(m, sentence_score.get(i, {})) for m in found[i]),
            confidence=r.confidence if r else None,
            model=r.model if r else scorer.name,
            mention_sentiment=tuple(judged.get(i, ())),
        ))
    return out


def _topic_sentiment(m: TopicMatch, scores: dict[str, float | None]) -> TopicSentiment:
    values = [scores[s] for s in m.sentences if scores.get(s) is not None]
    return TopicSentiment(m.topic, m.term, sum(values) / len(values) if values else None)


def classify(post_id: int, title: str | None, text: str | None, *, products: ProductMatcher,
             positive_threshold: float = 0.05, negative_threshold: float = -0.05,
             language: str | None = None, scorer: Scorer | None = None,
             topics: TopicRules | tuple[TermRule, ...] = (), languages: Sequence[str] = ("en",),
             others: Mapping[str, Scorer] | None = None) -> Classification:
    """Classify one post. ``language`` is the source's declared language, if any."""
    return classify_batch([{"id": post_id, "title": title, "text": text, "language": language}],
                          products=products, scorer=scorer, topics=topics, languages=languages,
                          positive_threshold=positive_threshold, negative_threshold=negative_threshold,
                          others=others)[0]
