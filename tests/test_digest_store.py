"""The reports' reads of a range of days (migration 0016_report_reads): each mention carries its post's dates, kept
by triggers whoever writes, so the digest counts from the mentions' own index."""

from __future__ import annotations

from listener import store
from reports.digest import build_digest
from tests.helpers import NOW
from tests.helpers.posts import DAY, TRAILING


def mention_dates(db, guid: str) -> set[tuple]:
    return set(db.execute("SELECT m.post_posted_at, m.post_fetched_at, p.posted_at, p.fetched_at FROM mentions m "
                          "JOIN posts p ON p.id = m.post_id WHERE p.guid = ?", [guid]).fetchall())


def test_a_mention_follows_its_post_s_dates_and_the_digest_counts_the_new_day(fixture_db):
    db, settings = fixture_db
    assert build_digest(db, settings, day=DAY, now=NOW).products[0].mentions == 4
    ((posted, fetched, p_posted, p_fetched),) = mention_dates(db, "a0")
    assert (posted, fetched) == (p_posted, p_fetched) == ("2026-11-15T12:00:00Z", "2026-11-23T05:00:00Z")
    moved = dict(TRAILING[0], published_at="2026-11-22T13:00:00Z", text="Acme update, edited")
    store.upsert_posts(db, [moved], now="2026-11-23T05:30:00Z")
    ((posted, fetched, p_posted, p_fetched),) = mention_dates(db, "a0")
    assert (posted, fetched) == (p_posted, p_fetched) and posted == "2026-11-22T13:00:00Z"
    acme = build_digest(db, settings, day=DAY, now=NOW).products[0]
    assert acme.mentions == 5 and acme.series[-8].mentions == 0   # the 15th lost it, the 22nd has it
    assert not db.execute("SELECT count(*) FROM mentions WHERE post_posted_at IS NULL").fetchone()[0]


def test_the_cutoff_reads_the_mentions_copy_of_the_fetch_time(fixture_db):
    db, settings = fixture_db
    before = build_digest(db, settings, day=DAY, now=NOW, cutoff="2026-11-23T04:59:59Z")
    at = build_digest(db, settings, day=DAY, now=NOW, cutoff="2026-11-23T05:00:00Z")
    assert [p.mentions for p in before.products] == [0, 0] and before.total_posts == 0
    assert [p.mentions for p in at.products] == [4, 2] and at.total_posts == 6


def test_report_queries_walk_the_new_indexes(fixture_db):
    db, _ = fixture_db
    plan = " ".join(r[3] for r in db.execute(
        "EXPLAIN QUERY PLAN SELECT m.product, count(*) FROM mentions m INDEXED BY mentions_period "
        "WHERE m.post_posted_at >= '2026-11-01' AND m.post_posted_at < '2026-12-01' GROUP BY m.product"))
    assert "COVERING INDEX mentions_period" in plan
    cut = "2026-11-23T05:00:00Z"
    expected = {}
    for product, pid in db.execute("SELECT m.product, m.post_id FROM mentions m JOIN posts p ON p.id = m.post_id "
                                   "WHERE p.posted_at >= '2026-11-15' AND p.posted_at < '2026-11-23' "
                                   "AND m.sentiment_label = 'positive' AND m.sentiment >= 0.05 "
                                   "ORDER BY m.product, m.sentiment DESC, p.posted_at DESC, p.id"):
        expected.setdefault(product, []).append(pid)
    ranked = store.ranked_mentions(db, "2026-11-15", "2026-11-23", cut, order="positive", limit=1, strength=0.05)
    assert ranked == {p: ids[:1] for p, ids in expected.items()} and len(expected["Acme"]) > 1
    assert store.top_facets(db, "2026-11-15", "2026-11-23", "author", cut, limit=5) == {"Acme": [("ann", 11)],
                                                                                       "Bolt": [("ann", 16)]}


def test_a_mention_follows_its_post_s_engagement_source_and_author(fixture_db):
    db, settings = fixture_db
    liked = dict(TRAILING[0], score=40, comments=2, author="bob")   # a re-fetch: new numbers, same text
    store.upsert_posts(db, [liked], now="2026-11-23T05:30:00Z")
    copy = db.execute("SELECT m.post_engagement, m.post_author, m.post_source FROM mentions m JOIN posts p "
                      "ON p.id = m.post_id WHERE p.guid = 'a0'").fetchone()
    assert copy == (42, "bob", "fixture")
    week = build_digest(db, settings, day=DAY, days=8, now=NOW).products[0]
    assert week.most_engaged[0].engagement == 42 and ("bob", 1) in week.top_authors


def test_a_product_s_driver_sample_spreads_over_the_window(fixture_db):
    db, _ = fixture_db
    every = store.mention_window(db, "Bolt", "2026-11-15", "2026-11-23", limit=100)
    four = store.mention_window(db, "Bolt", "2026-11-15", "2026-11-23", limit=4)
    assert len(every) == 16 and [r["id"] for r in four] == [every[i]["id"] for i in (0, 4, 8, 12)]
    assert four[0]["posted_at"] > "2026-11-22" and four[-1]["posted_at"] < "2026-11-18"   # not the newest four
