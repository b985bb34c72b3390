"""Near-duplicate clusters in the store: filed by classify, kept across runs, re-rooted by purge."""

from __future__ import annotations

from listener import store
from listener.copies import find_copies
from tests.helpers.posts import post

STORY = ("Mozilla ships Firefox 130 with a new sidebar, vertical tabs and a built-in translation "
         "tool for every desktop user this week")


def copy_of(db) -> dict[str, int | None]:
    ids = dict(db.execute("SELECT id, guid FROM posts").fetchall())
    return {guid: ids.get(root) for guid, root in db.execute("SELECT guid, copy_of FROM posts ORDER BY id")}


def test_copies_are_filed_in_their_original_s_cluster_once_and_kept(tmp_path):
    db = store.open_db(tmp_path / "t.db")
    store.upsert_posts(db, [
        post("orig", STORY, "2026-11-20T08:00:00Z", url="https://blog.example.org/firefox-130"),
        post("rt", f"RT @newsbot: {STORY}", "2026-11-20T09:00:00Z"),
        post("other", "The tram to the old town was late again this morning, third time this week", "2026-11-20T10:00:00Z"),
        post("short", "Firefox 130 is out", "2026-11-20T11:00:00Z"),
    ], now="2026-11-20T12:00:00Z")
    assert find_copies(db) == (4, 1)
    assert copy_of(db) == {"orig": None, "rt": "orig", "other": None, "short": None}
    # a later batch: copies of copies join the same cluster; a copy a month later is news again
    store.upsert_posts(db, [
        post("agg", f"[Hacker News] {STORY} (https://news.ycombinator.com/item?id=1)", "2026-11-21T08:00:00Z"),
        post("late", f"So true: {STORY}", "2026-12-30T08:00:00Z"),
    ], now="2026-12-30T09:00:00Z")
    assert find_copies(db) == (2, 1)
    assert copy_of(db)["agg"] == "orig" and copy_of(db)["late"] is None
    assert find_copies(db) == (0, 0)                        # nothing new: nothing re-signed
    assert store.copies(db, [1]) == {1: 2}
    # an edited post is signed again: no longer a copy
    store.upsert_posts(db, [post("rt", "RT @newsbot: my own words now about the tram and the weather in town today",
                                 "2026-11-20T09:00:00Z")], now="2026-12-30T10:00:00Z")
    assert find_copies(db) == (1, 0) and copy_of(db)["rt"] is None


def test_purging_a_cluster_s_first_post_makes_its_earliest_copy_the_first(tmp_path):
    db = store.open_db(tmp_path / "t.db")
    store.upsert_posts(db, [post("orig", STORY, "2026-11-01T08:00:00Z")]
                       + [post(f"c{i}", f"RT @bot{i}: {STORY}", f"2026-11-0{2 + i}T08:00:00Z") for i in range(3)],
                       now="2026-11-10T00:00:00Z")
    find_copies(db)
    assert copy_of(db) == {"orig": None, "c0": "orig", "c1": "orig", "c2": "orig"}
    store.purge_posts(db, "2026-11-02T00:00:00Z")
    assert copy_of(db) == {"c0": None, "c1": "c0", "c2": "c0"}
    assert db.execute("SELECT count(*) FROM post_signatures").fetchone()[0] == 3


def test_a_cluster_counts_once_in_the_digest_and_shows_its_copies(settings_for, monkeypatch):
    """Hand count: Acme is named by an original and its two copies (one cluster) and by one other
    post, so 2 mentions, 1 negative (the cluster) and 1 positive; the copies stay searchable."""
    from listener import pipeline, search
    from reports.digest import build_digest
    from reports.render import render_html
    from tests.helpers import NOW
    from tests.helpers.posts import DAY, PRODUCTS

    story = ("Acme support lost my order twice this month and nobody answers the phone, "
             "what a terrible and frustrating experience")
    settings = settings_for(products=PRODUCTS, extra='[sentiment]\nmodel = "vader"\n')
    db = store.open_db(settings.db_path)
    store.upsert_posts(db, [
        post("orig", story, "2026-11-22T08:00:00Z"),
        post("rt", f"RT @angry_customer: {story}", "2026-11-22T09:00:00Z"),
        post("agg", f"[r/mildlyinfuriating] {story} (https://reddit.com/r/x/1)", "2026-11-22T10:00:00Z"),
        post("happy", "Acme fixed my order in five minutes today, wonderful people, thank you so much", "2026-11-22T11:00:00Z"),
    ], now="2026-11-23T05:00:00Z")
    pipeline.classify(db, settings, now=NOW)
    assert copy_of(db) == {"orig": None, "rt": "orig", "agg": "orig", "happy": None}
    d = build_digest(db, settings, day=DAY, now=NOW)
    (acme,) = [p for p in d.products if p.name == "Acme"]
    assert (acme.mentions, acme.positive, acme.negative) == (2, 1, 1)
    assert [(m.url, m.copies) for m in acme.top_negative] == [("https://example.org/orig", 2)]
    assert "+2 copies" in render_html(d)
    from tests.helpers.digests import pdf_text
    assert "+2 copies" in pdf_text(monkeypatch, d, [])
    page = search.search(db, search.prepare(db, "frustrating"))
    assert page.total == 3                                   # the copies stay searchable
