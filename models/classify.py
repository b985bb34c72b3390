"""Classify posts: sentiment, products mentioned, topics, language. Pure functions of text and settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from models.language import LANGID_VERSION, detect_language
from models.mentions import MentionSentiment, judge_batch
from models.products import Mention, ProductMatcher, TermRule, match_products
from models.sentiment import UNSCORED, Scorer, Sentiment, VaderScorer
from models.topics import TopicMatch, match_topics

TAGGERS_VERSION = f"products-1/topics-1/{LANGID_VERSION}"


def classifier_version(scorer: Scorer) -> str:
    """What the ``classifier`` column records: the sentiment model and the taggers' versions."""
    return f"{scorer.name}/{TAGGERS_VERSION}"


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


def score_covered(texts: Sequence[str], scorer: Scorer, languages: Sequence[str],
                  declared: Sequence[str | None] | None = None) -> tuple[list[str | None], dict[int, Any]]:
    """Each text's detected language, and (by index) the scores of the texts the model covers.

    The text's own language decides what is scored when the detector is sure of it; when it is
    unsure (or the text is too short) the declared language (often a site-wide default) decides,
    and without one the text is taken as English (``models.language.detect_language``). The
    detected language is None when unsure. Covered texts are scored in one batch.
    """
    declared = declared or [None] * len(texts)
    detected = [detect_language(t, prefer=tuple(languages) + ((dec,) if dec else ()))
                for t, dec in zip(texts, declared)]
    keep = [i for i, (d, dec) in enumerate(zip(detected, declared)) if covered(d or dec, languages)]
    return detected, dict(zip(keep, scorer.score([texts[i] for i in keep])))


def classify_batch(rows: Iterable[dict], *, products: ProductMatcher, scorer: Scorer | None = None,
                   topics: tuple[TermRule, ...] = (), languages: Sequence[str] = ("en",),
                   positive_threshold: float = 0.05, negative_threshold: float = -0.05) -> list[Classification]:
    """Classify rows with ``id``, ``title``, ``text`` and optional ``language`` keys.

    Sentiment is scored in one batch for all posts in a covered language; the sentences that
    carry each topic in one more batch. ``positive_threshold``/``negative_threshold`` apply to
    the default VADER scorer only. Each product mention is then judged on its own
    (``models.mentions.judge_batch``: the span about it, the post's label as the fallback), in at
    most three more scorer calls; a post in a language the model does not cover gets unscored
    mentions.
    """
    scorer = scorer or VaderScorer(positive_threshold, negative_threshold)
    rows = list(rows)
    bodies = [post_text(r.get("title"), r.get("text")) for r in rows]
    detected, results = score_covered(bodies, scorer, languages, [r.get("language") for r in rows])
    langs = [r.get("language") or d for r, d in zip(rows, detected)]
    scored = sorted(results)
    found = [match_topics(b, topics) if topics else [] for b in bodies]
    sentence_score = {bodies[i]: results[i].score for i in scored}  # a one-sentence post is scored already
    wanted = sorted({s for i in scored for m in found[i] for s in m.sentences} - sentence_score.keys())
    sentence_score.update((s, r.score) for s, r in zip(wanted, scorer.score(wanted)))
    mentions = [tuple(match_products(b, products)) for b in bodies]
    unscored = Sentiment(UNSCORED, None, None, scorer.name)   # not covered: its mentions stay unscored
    per_post = iter(judge_batch(
        [(b, ms, results.get(i, unscored)) for i, (b, ms) in enumerate(zip(bodies, mentions)) if ms], scorer))
    out = []
    for i, (row, body) in enumerate(zip(rows, bodies)):
        r = results.get(i)
        out.append(Classification(
            post_id=row["id"],
            sentiment=r.score if r else None,
            label=r.label if r else UNSCORED,
            language=langs[i],
            mentions=mentions[i],
            topics=tuple(_topic_sentiment(m, sentence_score if r else {}) for m in found[i]),
            confidence=r.confidence if r else None,
            model=scorer.name,
            mention_sentiment=tuple(next(per_post)) if mentions[i] else (),
        ))
    return out


def _topic_sentiment(m: TopicMatch, scores: dict[str, float | None]) -> TopicSentiment:
    values = [scores[s] for s in m.sentences if scores.get(s) is not None]
    return TopicSentiment(m.topic, m.term, sum(values) / len(values) if values else None)


def classify(post_id: int, title: str | None, text: str | None, *, products: ProductMatcher,
             positive_threshold: float = 0.05, negative_threshold: float = -0.05,
             language: str | None = None, scorer: Scorer | None = None,
             topics: tuple[TermRule, ...] = (), languages: Sequence[str] = ("en",)) -> Classification:
    """Classify one post. ``language`` is the source's declared language, if any."""
    return classify_batch([{"id": post_id, "title": title, "text": text, "language": language}],
                          products=products, scorer=scorer, topics=topics, languages=languages,
                          positive_threshold=positive_threshold, negative_threshold=negative_threshold)[0]
