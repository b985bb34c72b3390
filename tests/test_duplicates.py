"""Near-duplicate detection (models.duplicates) on hand-written copies and look-alikes."""

from __future__ import annotations

import pytest

from models import duplicates as d

STORY = ("Mozilla ships Firefox 130 with a new sidebar, vertical tabs and a built-in translation "
         "tool for every desktop user this week")


def sig(text: str) -> d.Signature:
    s = d.signature(text)
    assert s is not None, text
    return s


@pytest.mark.parametrize("copy", [
    f"RT @newsbot: {STORY}",
    f"{STORY} https://t.co/abc123 via @techdaily",
    f"[Hacker News] {STORY} (https://news.ycombinator.com/item?id=1)",
    f"So true: {STORY}",
    STORY[:int(len(STORY) * 0.8)] + "…",
    STORY.upper(),
])
def test_copies_of_a_story_are_copies(copy):
    assert d.is_copy(sig(copy), sig(STORY))
    assert d.is_copy(sig(STORY), sig(copy))


@pytest.mark.parametrize("other", [
    # the same event, told in other words
    "Firefox 130 is out: I tried the vertical tabs and the sidebar, and the translations are great",
    # a bot's template around a different text
    "New on the support forum today, please help if you can answer this one: my bookmarks vanished",
    "Chrome 131 ships with a new bookmarks bar, faster start up and tab groups for every desktop user",
])
def test_look_alikes_are_not_copies(other):
    assert not d.is_copy(sig(other), sig(STORY))


def test_a_template_around_two_texts_does_not_make_them_copies():
    template = "New on the support forum today, please help if you can answer this one: {}"
    a = sig(template.format("the sync button does nothing after the update"))
    b = sig(template.format("how do I move my passwords to a new laptop"))
    assert not d.is_copy(a, b)


def test_short_texts_are_never_signed():
    assert d.signature("thanks, works for me!") is None
    assert d.signature("") is None and d.signature("https://example.com @bob RT") is None


def test_band_keys_fit_sqlite_integers():
    keys = d.band_keys(sig(STORY))
    assert len(keys) == d.BANDS and all(0 <= k < 2 ** 63 for k in keys)
    assert keys == d.band_keys(sig(STORY))           # stable: the store keeps them between runs
    assert d.band_keys(sig(STORY)) != d.band_keys(sig("An entirely different post about the weather "
                                                       "in Krakow and the trams that run late again"))


def test_signatures_survive_a_round_trip_through_bytes():
    s = sig(STORY)
    back = d.Signature.from_bytes(s.to_bytes(), s.size)
    assert d.jaccard(s, back) == 1.0 and back.size == s.size


def test_the_index_puts_copies_in_their_original_s_cluster_and_keeps_others_apart():
    index = d.CopyIndex()
    assert index.add(1, STORY) is None                                # the original starts its cluster
    assert index.add(2, "Thanks, that fixed it for me") is None        # too short to be a copy of anything
    assert index.add(3, "Completely unrelated: the tram to the old town was late again this morning, "
                        "third time this week") is None
    assert index.add(4, f"RT @newsbot: {STORY}") == 1
    assert index.add(5, f"{STORY} https://t.co/x via @techdaily") == 1  # a copy of a copy: the same cluster
    assert index.add(6, STORY.replace("Firefox 130", "Firefox 130.0.1")) == 1


def test_a_shared_canonical_url_lowers_the_bar():
    """A repost that keeps only part of the story is a copy when both link the same page."""
    part = " ".join(STORY.split()[:15]) + " says the changelog posted on Tuesday"
    a, b = sig(STORY), sig(part)
    assert d.CONTAINED_SAME_URL <= d.containment(a, b) < d.CONTAINED
    assert not d.is_copy(a, b) and d.is_copy(a, b, same_url=True)
    for url, expected in (("https://example.com/other", None), ("https://blog.example.org/firefox-130", 1)):
        index = d.CopyIndex()
        index.add(1, STORY, url="https://blog.example.org/firefox-130")
        assert index.add(2, part, url=url) == expected
