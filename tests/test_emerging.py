"""Emerging topics named by phrases a person would write, with their size, growth and example posts."""

from __future__ import annotations

import pytest

from listener import store
from models.emerging import Cluster, find_clusters, phrases, stop_words
from reports.digest import build_digest
from reports.render import render_html, render_markdown
from tests.helpers import NOW
from tests.helpers.posts import DAY

FIREFOX = ("Firefox", "Firefox", "Mozilla Firefox", "Mozilla")
TABS = ["I'm switching to Mozilla Firefox because of the new tab groups feature",
        "Mozilla Firefox tab groups finally landed, I'm impressed",
        "Tab groups in Firefox are exactly what I wanted. Switching Mozilla for good",
        "I'm Mozilla all the way now: tab groups keep my research tidy",
        "Firefox tab groups sync across my laptop and phone",
        "Tried the tab groups in Mozilla Firefox today, switching from Chrome",
        "Why does the Firefox sidebar not show tab groups on Linux?",
        "Tab groups plus vertical tabs make Firefox great again"]
CRASHES = ["Firefox crashes when playing video on the new GPU driver",
           "Firefox video playback crashes with the GPU driver update on Windows",
           "After the GPU driver update Firefox crashes on every video",
           "Video crashes in Firefox since the GPU driver update, anyone else?",
           "I'm Mozilla fan but GPU driver crashes on video are annoying",
           "Rolled back the GPU driver and Firefox video works again"]
BEFORE = ["Firefox is my browser, switching Mozilla was easy", "I'm on Mozilla Firefox for years",
          "Firefox bookmarks sync", "Firefox extension store", "Mozilla Firefox update notes",
          "Tab groups would be nice in Firefox"]


@pytest.fixture(scope="module")
def clusters() -> list[Cluster]:
    period = [(i + 1, t) for i, t in enumerate(TABS + CRASHES)]
    return find_clusters(period, BEFORE * 3, k=3, min_posts=5, exclude=FIREFOX)


def test_clusters_are_named_by_phrases_from_their_posts_without_the_product_s_own_words(clusters):
    texts = " ".join(TABS + CRASHES).lower()
    names = [c.terms for c in clusters]
    assert sorted(n[0] for n in names) == ["gpu driver", "tab groups"], names
    for name in names:
        for phrase in name:
            assert phrase in texts, phrase                    # words a person wrote, in their order
            words = phrase.split()
            assert not {"firefox", "mozilla", "i'm"} & set(words), phrase
            assert words[0] not in stop_words() and words[-1] not in stop_words(), phrase
    for name in names:  # no phrase inside another one kept
        assert not any(a != b and f" {a} " in f" {b} " for a in name for b in name), name


def test_each_topic_has_its_size_growth_and_typical_posts(clusters):
    tabs = next(c for c in clusters if c.terms[0] == "tab groups")
    gpu = next(c for c in clusters if c.terms[0] == "gpu driver")
    assert tabs.size + gpu.size <= len(TABS + CRASHES) and min(tabs.size, gpu.size) >= 5
    assert set(gpu.post_ids) <= set(range(len(TABS) + 1, len(TABS) + len(CRASHES) + 1))
    # "tab groups" was in 1 of 6 baseline posts and is in 8 of 14 now: about 3.4 times as common, new
    assert tabs.baseline_share == pytest.approx(1 / 6, abs=1e-3) and tabs.period_share == pytest.approx(8 / 14, abs=1e-3)
    assert tabs.growth == pytest.approx(8 / 14 * 6, rel=1e-2) and tabs.is_new
    assert gpu.baseline_share == 0 and gpu.growth is None and gpu.is_new


def test_phrases_stay_inside_a_clause_and_leave_out_names_and_stop_words():
    got = phrases("I'm Mozilla, switching Mozilla. Tab groups: great; the sidebar crash", stop_words(),
                  frozenset({"mozilla", "firefox"}))
    assert "switching" in got and "tab groups" in got and "sidebar crash" in got
    assert not any("mozilla" in p or "i'm" in p for p in got)
    assert "groups great" not in got          # across a colon
    assert "the sidebar" not in got           # a stop word at an end


def test_a_sample_stands_for_the_whole_period():
    period = [(i, t) for i, t in enumerate((TABS + CRASHES) * 10)]
    whole = find_clusters(period, BEFORE, k=2, min_posts=5, exclude=FIREFOX)
    sampled = find_clusters(period, BEFORE, k=2, min_posts=5, exclude=FIREFOX, max_posts=56)  # 2 of every 5
    assert sum(c.size for c in sampled) == pytest.approx(sum(c.size for c in whole), abs=2)
    assert {c.terms[0] for c in sampled} == {c.terms[0] for c in whole}


def test_store_samples_evenly_and_says_how_many(fixture_db):
    db, _ = fixture_db
    every, total = store.sample_posts(db, None, "2000-01-01", "2100-01-01", 1000)
    two, same = store.sample_posts(db, None, "2000-01-01", "2100-01-01", 2)
    assert total == same == len(every) > 2 and [r["id"] for r in two] == [every[0]["id"], every[total // 2]["id"]]
    acme, n = store.sample_posts(db, "Acme", "2000-01-01", "2100-01-01", 1000)
    assert n == len(acme) == db.execute("SELECT count(*) FROM mentions WHERE product = 'Acme'").fetchone()[0]


def test_the_digest_shows_each_topic_s_growth_and_two_linked_posts(fixture_db):
    db, settings = fixture_db
    ids = [r[0] for r in db.execute("SELECT p.id FROM posts p JOIN mentions m ON m.post_id = p.id "
                                    "WHERE m.product = 'Acme' AND p.url IS NOT NULL ORDER BY p.id LIMIT 3")]
    store.save_emerging(db, "Acme", "2026-11-16", "2026-11-22",
                        [Cluster(("battery drain", "charger"), 12, 0.1, 0.4, True, tuple(ids)),
                         Cluster(("release notes",), 5, 0.0, 0.3, True, ())], now="2026-11-23T05:00:00Z")
    d = build_digest(db, settings, day=DAY, now=NOW)
    battery, notes = d.products[0].emerging
    assert battery.growth == pytest.approx(4.0) and notes.growth is None
    assert [e["post_id"] for e in battery.examples] == ids[:2] and notes.examples == []
    url = battery.examples[0]["url"]
    html, md = render_html(d), render_markdown(d)
    assert "battery drain, charger; 4.0x as common as in the baseline" in html and f'href="{url}"' in html
    assert "battery drain, charger; 4.0x as common as in the baseline" in md and f"]({url})" in md
