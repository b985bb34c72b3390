"""Per-mention sentiment (models.mentions) on a hand-checked fixture set of comparative posts.

Expected labels, reasoned by hand:

* "Why is Mozilla Firefox so bad at crashes? ... Still better than Chrome though."
  Firefox: negative (the post is a complaint about it; "still better than" is a concession whose
  subject is left out, so it is not read as praise). Chrome: negative (it loses to a browser the
  writer finds bad). The post-level label, negative, would be right for both only by accident:
  in "Firefox is awful at memory. Chrome is great." Chrome is positive.
* "switched from Chrome to Firefox": Firefox positive, Chrome negative.
* "Unlike Safari, Brave blocks trackers by default, which is great.": Brave positive, Safari negative.
* "A beats B", "prefer A over B", "A is better than B", "A isn't better than B" (negated: A negative,
  B positive), "B is worse than A".
* Two products in separate sentences of opposite mood each get their own sentence's label.
* Negation: "Firefox is not good anymore." negative.
* A product whose own sentence has no opinion takes the post's label ("Chrome 120 shipped today.
  Ugh, this update is awful." -> negative, basis "post"); with two products and no opinion
  anywhere, both neutral.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from models.mentions import judge_batch, judge_mentions
from models.products import Mention, compile_products, match_products
from models.sentiment import Sentiment, VaderScorer


@dataclass
class Product:
    name: str
    aliases: tuple[str, ...]
    exclude: tuple[str, ...] = ()


MATCHER = compile_products([Product("Firefox", ("Firefox", "Mozilla Firefox", "FF")),
                            Product("Chrome", ("Chrome", "Google Chrome")),
                            Product("Safari", ("Safari",), ("African safari",)),
                            Product("Brave", ("Brave", "Brave browser")),
                            Product("Edge", ("Microsoft Edge", "Edge"), ("cutting edge",))])

FIXTURES = [
    ("Why is Mozilla Firefox so bad at crashes? ... Still better than Chrome though.",
     {"Firefox": "negative", "Chrome": "negative"}),
    ("I switched from Chrome to Firefox last week.", {"Firefox": "positive", "Chrome": "negative"}),
    ("Finally switched to Brave.", {"Brave": "positive"}),
    ("Unlike Safari, Brave blocks trackers by default, which is great.",
     {"Brave": "positive", "Safari": "negative"}),
    ("Brave beats Safari on battery life.", {"Brave": "positive", "Safari": "negative"}),
    ("I prefer Firefox over Chrome.", {"Firefox": "positive", "Chrome": "negative"}),
    ("Firefox is way better than Google Chrome.", {"Firefox": "positive", "Chrome": "negative"}),
    ("Chrome isn't better than Firefox.", {"Chrome": "negative", "Firefox": "positive"}),
    ("Edge is worse than Safari for me.", {"Edge": "negative", "Safari": "positive"}),
    ("I ditched Chrome for Brave.", {"Chrome": "negative", "Brave": "positive"}),
    ("Firefox is awful at memory. Chrome is great.", {"Firefox": "negative", "Chrome": "positive"}),
    ("Firefox is fantastic these days! Chrome keeps crashing and I hate it.",
     {"Firefox": "positive", "Chrome": "negative"}),
    ("Safari is lovely, but Chrome is terrible.", {"Safari": "positive", "Chrome": "negative"}),
    ("Firefox is not good anymore.", {"Firefox": "negative"}),
    ("Chrome 120 shipped today. Ugh, this update is awful.", {"Chrome": "negative"}),
    ("Chrome and Firefox both released updates today.", {"Chrome": "neutral", "Firefox": "neutral"}),
    ("Brave is out for Linux.", {"Brave": "neutral"}),  # "brave" the VADER word is not read as praise
]


def judged(text: str, scorer=None) -> dict[str, object]:
    return {m.product: m for m in judge_mentions(text, match_products(text, MATCHER), scorer or VaderScorer())}


@pytest.mark.parametrize("text,expected", FIXTURES, ids=[t[:40] for t, _ in FIXTURES])
def test_hand_checked_labels(text: str, expected: dict[str, str]) -> None:
    got = judged(text)
    assert {p: m.label for p, m in got.items()} == expected
    for m in got.values():
        assert -1.0 <= m.score <= 1.0
        assert (m.score > 0) == (m.label == "positive") and (m.score < 0) == (m.label == "negative")


def test_the_issue_example_no_longer_counts_the_complaint_against_chrome_as_its_own() -> None:
    text = FIXTURES[0][0]
    got = judged(text)
    assert got["Firefox"].span == "Why is Mozilla Firefox so bad at crashes?"
    assert got["Firefox"].basis == "sentence"
    assert got["Chrome"].basis == "comparative" and got["Chrome"].span == "Still better than Chrome though."


def test_fallback_uses_the_post_label_given_and_says_so() -> None:
    text = "Chrome 120 shipped today. Notes at the usual place."
    post = Sentiment("positive", 0.5, 0.8, "given")
    [m] = judge_mentions(text, match_products(text, MATCHER), VaderScorer(), post)
    assert (m.label, m.score, m.confidence, m.basis) == ("positive", 0.5, 0.8, "post")


def test_two_products_fall_back_to_the_sentences_naming_neither() -> None:
    text = "Chrome and Firefox both shipped updates. Honestly, this is wonderful news!"
    got = judged(text)
    assert {p: (m.label, m.basis) for p, m in got.items()} == {"Chrome": ("positive", "rest"),
                                                               "Firefox": ("positive", "rest")}


def test_unscored_posts_give_unscored_mentions_and_no_scoring() -> None:
    class Refuses:
        name = "refuses"

        def score(self, texts):
            raise AssertionError("scored an unscored post")

    text = "Firefox ist schlecht, Chrome ist besser."
    ms = judge_mentions(text, match_products(text, MATCHER), Refuses(), Sentiment("unscored", None, None, "x"))
    assert [(m.label, m.score) for m in ms] == [("unscored", None), ("unscored", None)]


def test_a_hand_made_mention_is_found_by_its_alias() -> None:
    text = "I love my new ipod. The ipod is great."
    [m] = judge_mentions(text, [Mention("ipod", "ipod")], VaderScorer())
    assert m.label == "positive" and "The ipod is great." in m.span


def test_batch_equals_one_by_one_and_scores_in_few_calls() -> None:
    class Counting(VaderScorer):
        calls = 0

        def score(self, texts):
            Counting.calls += 1
            return super().score(texts)

    items = [(t, match_products(t, MATCHER), None) for t, _ in FIXTURES]
    batch = judge_batch(items, Counting())
    assert Counting.calls <= 3
    assert batch == [judge_mentions(t, ms, VaderScorer()) for t, ms, _ in items]


def test_match_products_records_every_occurrence_and_keeps_equality() -> None:
    text = "Firefox crashed. I reopened firefox, then the African safari documentary, then Safari."
    ms = match_products(text, MATCHER)
    assert ms == [Mention("Firefox", "Firefox"), Mention("Safari", "Safari")]
    assert [text[a:b] for a, b in ms[0].spans] == ["Firefox", "firefox"]
    assert [text[a:b] for a, b in ms[1].spans] == ["Safari"]


def test_the_rules_hold_with_the_trained_model() -> None:
    from models.sentiment import load_scorer

    scorer = load_scorer("trained")
    for text, expected in FIXTURES[1:10]:
        assert {p: m.label for p, m in judged(text, scorer).items()} == expected, text


def test_a_sentence_of_one_mood_is_shared_but_not_across_sentences() -> None:
    got = judged("Safari and Brave feel snappy, and Firefox is great!")
    assert {p: m.label for p, m in got.items()} == {"Safari": "positive", "Brave": "positive", "Firefox": "positive"}
    got = judged("I tried Safari today. Chrome crashes constantly, awful.")
    assert (got["Safari"].label, got["Chrome"].label) == ("neutral", "negative")
