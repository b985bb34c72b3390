"""Post rows as the store takes them: the digest's hand-counted fixture set and the web's many posts."""

from __future__ import annotations

from datetime import date

from listener import search

# The digest fixture's products (tests/test_digest.py counts its numbers by hand).
PRODUCTS = """
[[products]]
name = "Acme"
ours = true

[[products]]
name = "Bolt"
"""

DAY = date(2026, 11, 22)


def post(guid, text, when, url=None, title=None):
    return {"source": "fixture", "guid": guid, "url": url or f"https://example.org/{guid}", "author": "ann",
            "title": title, "text": text, "published_at": when, "language": "en",
            "score": None, "comments": None, "likes": None, "shares": None}


# On the digest day: Acme 4 mentions (2 positive, 1 negative, 1 neutral), Bolt 2 (1 positive, 1 negative).
ON_DAY = [
    post("d1", "Acme is wonderful, I love it", "2026-11-22T08:00:00Z"),
    post("d2", "Acme is terrible, I hate it", "2026-11-22T09:00:00Z"),
    post("d3", "Acme and Bolt are both great", "2026-11-22T10:00:00Z"),
    post("d4", "Bolt is awful and broken", "2026-11-22T23:59:59Z"),
    post("d5", "Acme release notes for version 3", "2026-11-22T00:00:00Z"),
    post("d6", "Nothing about any tracked product", "2026-11-22T12:00:00Z"),
]
# Trailing 7 days (15th..21st): Acme once a day (mean 1.0), Bolt twice a day (mean 2.0).
TRAILING = [post(f"a{i}", "Acme update", f"2026-11-{15 + i}T12:00:00Z") for i in range(7)] + \
           [post(f"b{i}{j}", "Bolt update", f"2026-11-{15 + i}T1{j}:00:00Z") for i in range(7) for j in range(2)]
# Outside both windows: must not count anywhere.
OUTSIDE = [post("o1", "Acme old news", "2026-11-14T23:59:59Z"), post("o2", "Acme tomorrow", "2026-11-23T00:00:00Z")]


def make_posts(n: int = 60) -> list[dict]:
    """``n`` Firefox/Chrome posts spread over November, and one hostile post (the web tests)."""
    posts = []
    for i in range(n):
        product = "Firefox" if i % 2 == 0 else "Chrome"
        mood = "I love how fast it is" if i % 3 == 0 else "it keeps crashing, terrible"
        posts.append({"source": "hn" if i % 4 else "blog", "guid": str(i), "url": f"https://example.com/{i}",
                      "author": f"user{i % 5}", "title": f"{product} post {i}", "text": f"{product}: {mood}. Number {i}.",
                      "published_at": f"2026-11-{1 + i % 22:02d}T{i % 24:02d}:00:00Z", "language": "en",
                      "score": i, "comments": 1, "likes": None, "shares": None})
    posts.append({"source": "evil", "guid": "x", "url": "javascript:alert(1)", "author": "<b>mallory</b>",
                  "title": "<script>document.title='pwned'</script>Firefox rocks",
                  "text": "<img src=x onerror=\"document.title='pwned2'\"> Firefox rocks, love it",
                  "published_at": "2026-11-22T10:00:00Z", "language": "en",
                  "score": None, "comments": None, "likes": None, "shares": None})
    return posts


def find(db, query):
    """Hits of a query through listener.search, the one search path."""
    return search.search(db, search.prepare(db, query)).hits


_WORDS = ("morning evening kitchen garden office train bus bike summer winter spring autumn yellow green blue red "
          "quiet loud small large old new warm cold heavy light bright dark happy tired early late brother sister "
          "friend neighbour teacher doctor market harbour bridge river forest island mountain valley village city "
          "window door table chair lamp clock mirror letter ticket parcel").split()


def own_words(seed: int, n: int = 9) -> str:
    """``n`` everyday words drawn for ``seed``. Generated posts that differ only by a number are one
    cluster of copies (``models.duplicates``), counted once; these make them differ as people's do."""
    import random

    return " ".join(random.Random(seed).sample(_WORDS, n))
