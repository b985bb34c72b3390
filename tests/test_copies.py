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
