"""The query language: precedence, every operator and field, hostile input, and results on a real store."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from listener import search, store
from listener.search import plan as search_plan  # what the page plans read: SORT_ALL, RANK_DEPTH...
from listener.search.compiler import compile_query, compile_tree
from listener.search.near import _stem, near_ordered, tokens
from listener.search.query import MAX_DEPTH, QueryError, explain, parse
from models.classify import Classification, TopicSentiment
from models.mentions import MentionSentiment
from models.products import Mention

POSTS = [  # guid, source, url, author, title, text, published, language, score, products, topics
    ("1", "hn", "https://www.example.com/a", "Alice", "Firefox crashes on startup",
     "My firefox keeps crashing. Terrible battery life too.", "2026-11-02T10:00:00Z", "en", 5,
     ["Firefox"], ["battery"]),
    ("2", "reddit", "https://example.org/b", "bob", "Chrome is fast",
     "I complained about firefox startup but chrome is fast and the battery lasts",
     "2026-11-03T10:00:00Z", "en", 50, ["Chrome", "Firefox"], []),
    ("3", "hn", "https://news.example.com/c", "carol", "Die Suche",
     "startup firefox nothing to report, slow startup again", "2026-11-04T10:00:00Z", "de", None, ["Firefox"], []),
    ("4", "forum", "http://example.com", "dave", "Complaints thread",
     "complaint: the customer service was slow; they never replied", "2026-11-20T10:00:00Z", "en", 12, [], ["support"]),
]


@pytest.fixture
def db(tmp_path):
    d = store.open_db(tmp_path / "q.db")
    store.upsert_posts(d, [{"source": s, "guid": g, "url": u, "author": a, "title": t, "text": x,
                            "published_at": pub, "language": lang, "score": score, "comments": None,
                            "likes": None, "shares": None}
                           for g, s, u, a, t, x, pub, lang, score, _, _ in POSTS], now="2026-11-21T00:00:00Z")
    ids = dict(d.execute("SELECT guid, id FROM posts").fetchall())
    results = []
    for g, *_, lang, _, products, topics in POSTS:
        label = {"1": "negative", "2": "positive", "3": "neutral", "4": "negative"}[g]
        score = {"negative": -0.6, "positive": 0.7, "neutral": 0.0}[label]
        results.append(Classification(ids[g], score, label, lang, tuple(Mention(p, p.lower()) for p in products),
                                      tuple(TopicSentiment(t, t, score) for t in topics),
                                      mention_sentiment=tuple(MentionSentiment(p, p.lower(), label, score, 0.9, "",
                                                                               "post") for p in products)))
    store.save_classifications(d, results, now="2026-11-21T00:00:00Z", classifier="test")
    d.ids = {v: k for k, v in ids.items()}
    return d


def guids(db, query: str, sort: str = "date") -> list[str]:
    page = search.search(db, search.prepare(db, query, sort=sort), limit=100)
    assert page.total == len(page.hits)
    return sorted(db.ids[h.id] for h in page.hits)


@pytest.mark.parametrize("query, shown", [
    ("a OR b AND c", "(a OR (b AND c))"),
    ("a b OR c", "((a AND b) OR c)"),
    ("NOT a AND b OR c", "(((NOT a) AND b) OR c)"),
    ("a -b", "(a AND (NOT b))"),
    ("a NOT b", "(a AND (NOT b))"),
    ("(a OR b) c", "((a OR b) AND c)"),
    ("NOT NOT a", "a"),
    ('"exact phrase"~3 comp*', '("exact phrase"~3 AND comp*)'),
    ("a NEAR/3 b", "(a NEAR/3 b)"),
    ("a NEAR/3f b", "(a NEAR/3f b)"),
    ("x <<<ignored AND (>>> y", "(x AND y)"),
    ("product:Firefox language:EN", "(product:Firefox AND lang:en)"),
    ("site:https://www.Example.com/x", "site:example.com"),
    ("engagement:[10 TO *]", "engagement:[10 TO *]"),
    ("published:[2026-11-01 TO 2026-11-20]", "published:[2026-11-01T00:00:00Z TO 2026-11-21T00:00:00Z)"),
    ("", "(everything)"),
])
def test_precedence_is_shown_fully_parenthesized(query, shown):
    assert explain(parse(query)) == shown


@pytest.mark.parametrize("query, message, position", [
    ("firefox AND", "AND needs a word after it", 9),
    ("OR firefox", "OR needs a word before it", 1),
    ("(firefox OR chrome", "unbalanced '('", 1),
    ("firefox)", "unbalanced ')'", 8),
    ("*fox", "leading wildcards", 1),
    ("fi*re", "a wildcard may only end a word", 3),
    ("colour:red", "unknown field 'colour:'", 1),
    ("sentiment:angry", "sentiment: is one of", 11),
    ('"never closed', "quote", 1),
    ("a <<<open comment", "comment", 3),
    ("()", "empty parentheses", 1),
    ("a NEAR/x b", "NEAR/number", 3),
    ("a NEAR/2 b NEAR/3 c", "one distance", 12),
    ("(a AND b) NEAR/2 c", "NEAR joins words", 11),
    ("engagement:[ten TO *]", "whole numbers", 12),
    ("published:[2026-13-01 TO *]", "dates", 11),
    ("product: firefox", "needs a value", 1),
    ("!!!", "no letters or digits", 1),
    ("a*", "at least 2 letters", 1),
])
def test_invalid_queries_say_what_and_where(query, message, position):
    with pytest.raises(QueryError) as err:
        compile_query(query)
    assert message in err.value.message
    assert err.value.position == position
    assert f"(at position {position})" in str(err.value)
    assert err.value.pointer(query).splitlines()[1] == " " * (position - 1) + "^"


@pytest.mark.parametrize("query", [
    '"', '""', "'", "' OR 1=1 --", "\"; DROP TABLE posts; --", "NEAR(a b)", "a:b:c", "{title}: x", "^start",
    "col : value", "a + b", "a && b || c", "\\", "%_%", "\x00", "🔥🔥", "a\"b\"c", "*", "-", "--a", "NEAR",
    "AND", "OR OR", "NOT", "title:", "[1 TO 2]", "x:[1 TO 2]", ")(", "\"a\"~", "\"a\"~x", "é*", "ñandú",
    "title:(a OR product:x)", "a NEAR/1 NOT b",
])
def test_hostile_input_is_an_error_or_a_search_never_a_crash(db, query):
    try:
        plan = search.prepare(db, query)
    except QueryError as exc:
        assert exc.position >= 1 and exc.message
        return
    search.search(db, plan)  # runs without any sqlite3 error
    assert store.count_posts(db) == 4  # nothing was dropped


def test_user_text_never_reaches_the_sql(db):
    evil = "x'); DROP TABLE posts; --"
    plan = search.prepare(db, f'"{evil}" OR product:"{evil}" OR author:"{evil}" OR site:example.com '
                              f'OR engagement:[3 TO *]')
    statements = [sql for _, sql, _ in plan.steps()] + [plan.select_sql()]
    assert not any("DROP" in sql for sql in statements)
    fts = [p for p in plan.params if isinstance(p, str) and "DROP" in p]
    assert len(fts) == 1                                       # a quoted FTS5 string, passed as a parameter
    assert "DROP" not in fts[0].replace(f'"{evil}"', "")     # field values became facet tokens
    search.search(db, plan)
    assert store.count_posts(db) == 4


def test_thousand_deep_parentheses_are_refused_clearly():
    query = "(" * 1000 + "firefox" + ")" * 1000
    with pytest.raises(QueryError) as err:
        parse(query)
    assert "nested more than" in err.value.message and err.value.position == MAX_DEPTH + 1
    assert explain(parse("(" * MAX_DEPTH + "firefox" + ")" * MAX_DEPTH)) == "firefox"


def test_very_long_queries(db):
    many = " OR ".join(f"word{i}" for i in range(900))  # just under the limit
    assert guids(db, many + " OR firefox") == ["1", "2", "3"]
    with pytest.raises(QueryError, match="longer than"):
        parse("a " * 6000)
    nots = "NOT " * 2001 + "firefox"  # no recursion per NOT; an odd number negates
    assert guids(db, nots) == ["4"]
    deep_title = "title:" * 1500 + "x"
    with pytest.raises(QueryError):
        parse(deep_title)


@pytest.mark.parametrize("query, expected", [
    ("firefox", ["1", "2", "3"]),
    ("Firefox AND crash*", ["1"]),
    ("crash", ["1"]),                             # Porter: crashes, crashing
    ("complain*", ["2", "4"]),
    ("firefox -chrome", ["1", "3"]),
    ("firefox NOT chrome", ["1", "3"]),
    ("chrome OR slow AND startup", ["2", "3"]),
    ('"battery life"', ["1"]),
    ('"slow startup"', ["3"]),
    ("startup NEAR/1 firefox", ["2", "3"]),
    ("startup NEAR/0f firefox", ["3"]),
    ("firefox NEAR/0f startup", ["2"]),
    ("(crash OR report) NEAR/3 firefox", ["1", "3"]),
    ("firefox NEAR/1f crashing*", ["1"]),             # FTS5 stems a wildcard word too: crash*
    ("firefox NEAR/1f (crashing* OR slow)", ["1"]),
    ('"customer slow"~3', ["4"]),
    ('"customer slow"', []),
    ("product:firefox", ["1", "2", "3"]),
    ("product:Chrome OR source:forum", ["2", "4"]),
    ("source:HN", ["1", "3"]),
    ("site:example.com", ["1", "3", "4"]),        # subdomains too: news.example.com
    ("site:www.example.com", ["1", "3", "4"]),
    ("site:news.example.com", ["3"]),
    ("site:example.org", ["2"]),
    ("author:alice", ["1"]),
    ("title:firefox", ["1"]),
    ("title:(chrome OR complaints)", ["2", "4"]),
    ("lang:de", ["3"]),
    ("language:en sentiment:negative", ["1", "4"]),
    ("topic:battery", ["1"]),
    ("topic:Support OR topic:battery", ["1", "4"]),
    ("published:[2026-11-03 TO 2026-11-04]", ["2", "3"]),
    ("published:[* TO 2026-11-02]", ["1"]),
    ("published:2026-11-20", ["4"]),
    ("engagement:[10 TO *]", ["2", "4"]),
    ("engagement:[* TO 10]", ["1", "3"]),
    ("engagement:[5 TO 9]", ["1"]),                # steps: inside the index
    ("engagement:[10 TO 49]", ["4"]),
    ("engagement:[6 TO 50]", ["2", "4"]),           # not steps: on the posts rows
    ("NOT firefox", ["4"]),
    ("-product:Firefox", ["4"]),
    ("(firefox OR product:Chrome) -battery", ["3"]),
    ("<<<only a comment>>>", ["1", "2", "3", "4"]),
])
def test_queries_find_the_right_posts(db, query, expected):
    assert guids(db, query) == expected
    assert guids(db, query, sort="relevance") == expected
    assert guids(db, query, sort="engagement") == expected


def test_filters_and_sorting(db):
    plan = search.prepare(db, "firefox", filters=search.Filters(product="FIREFOX", sentiment="negative"),
                          sort="date")
    assert [db.ids[h.id] for h in search.search(db, plan).hits] == ["1"]
    by_engagement = search.search(db, search.prepare(db, "", sort="engagement")).hits
    assert [db.ids[h.id] for h in by_engagement] == ["2", "4", "1", "3"]
    by_date = search.search(db, search.prepare(db, "", sort="date"), limit=2, offset=1)
    assert [db.ids[h.id] for h in by_date.hits] == ["3", "2"] and by_date.total == 4
    with pytest.raises(QueryError, match="sentiment"):
        search.prepare(db, "", filters=search.Filters(sentiment="furious"))


def test_highlights_use_fts_matching(db):
    page = search.search(db, search.prepare(db, "crash* OR battery -chrome"))
    hit = page.hits[0]
    assert search.marked_parts(hit.title_marked) == [("Firefox ", False), ("crashes", True), (" on startup", False)]
    assert ("crashing", True) in search.marked_parts(hit.snippet_marked)
    assert ("battery", True) in search.marked_parts(hit.snippet_marked)


def test_explain_shows_sql_with_placeholders_only(db):
    text = search.prepare(db, 'firefox OR (product:"Chrome" AND -"evil \' text")').explain()
    assert "query:  (firefox OR (product:Chrome AND (NOT \"evil ' text\")))" in text
    sql = text.split("window:", 1)[1].split("params:")[0]
    assert "evil" not in sql and "Chrome" not in sql and "?" in sql
    assert "count:" in sql and "bm25" in sql
    assert "crash* matches as crash (" in search.prepare(db, "firefox crash*").explain()


def test_ordered_near_function_and_stemmer_agree_with_sqlite():
    spec = '{"n":1,"ops":[[{"w":["crash"],"p":false}],[{"w":["report"],"p":false}]]}'
    assert near_ordered(None, "the fox crashed, new reports", spec) == 1
    assert near_ordered("reports of a crash", "reports: the fox crashed", spec) == 0
    assert tokens("Ça crashe, l'été!") == ["ca", "crashe", "l", "ete"]
    words = ["crashing", "happiness", "generously", "connection", "relational", "running", "complaints",
             "battery", "apology", "horribly", "startups", "customers"]
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE t USING fts5(x, tokenize='porter unicode61')")
    conn.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, 'instance')")
    conn.executemany("INSERT INTO t (rowid, x) VALUES (?, ?)", list(enumerate(words)))
    for term, doc in conn.execute("SELECT term, doc FROM v"):
        sqlite_stem = term[:-1] if term.endswith("i") and len(term) > 2 else term
        assert _stem(words[doc]) == sqlite_stem, words[doc]


def test_saved_searches(db):
    search.save(db, "fx-complaints", "firefox AND complain*", owner="maria", now="2026-11-21T00:00:00Z")
    search.save(db, "fx-complaints", "firefox AND crash*", owner="maria", now="2026-11-22T00:00:00Z")
    rows = store.saved_searches(db, "maria")
    assert [(r["name"], r["query"], r["owner"], r["created_at"], r["updated_at"]) for r in rows] == [
        ("fx-complaints", "firefox AND crash*", "maria", "2026-11-21T00:00:00Z", "2026-11-22T00:00:00Z")]
    assert guids(db, search.saved_query(db, "fx-complaints")) == ["1"]
    with pytest.raises(QueryError):
        search.save(db, "bad", "firefox AND", owner=None, now="2026-11-21T00:00:00Z")
    assert store.delete_saved_search(db, "fx-complaints") and not store.saved_searches(db)


@pytest.mark.timeout(20)
def test_deeply_nested_and_or_compiles_without_blowing_up():
    """Each AND child is compiled once; compiling it per use made 30 levels take 4**30 steps."""
    q = "x"
    for i in range(30):
        q = f"a{i} (b{i} OR ({q}))"
    compiled = compile_tree(parse(q))
    assert compiled.match.startswith('({title text} : ("a29") AND ({title text} : ("b29") OR ({title text} : ("a28") AND')


def _page(db, query, sort, **kw):
    page = search.search(db, search.prepare(db, query, sort=sort), **kw)
    return [db.ids[h.id] for h in page.hits], page.total


@pytest.mark.parametrize("query, sort", [
    ("firefox", "date"), ("product:Firefox", "engagement"), ("startup OR complaint*", "date"),
    ("published:[2026-11-02 TO 2026-11-04] firefox", "date"), ("engagement:[1 TO *] firefox", "engagement"),
    ("engagement:[1 TO *] firefox", "date"), ("published:[2026-11-03 TO *] startup", "engagement"),
])
def test_every_page_plan_gives_the_same_pages(db, monkeypatch, query, sort):
    """Sorting every match, walking the date or engagement index, and driving from a range's
    index (each chosen by size on a big database) return the same pages and totals."""
    pages = []
    for sort_all, probe_cost, shallow in ((10 ** 9, 7.0, False), (0, 7.0, False), (0, 0.0, False), (0, 0.0, True)):
        monkeypatch.setattr(search_plan, "SORT_ALL", sort_all)
        monkeypatch.setattr(search_plan, "PROBE_COST_US", probe_cost)  # 0: look posts up one by one
        if shallow:  # the look-ups stop before a page is full: the walk over the gathered matches takes over
            monkeypatch.setattr(search_plan, "probe_depth", lambda *a: 1)
        pages.append([_page(db, query, sort, limit=2, offset=k) for k in (0, 1, 2)])
    assert pages[0] == pages[1] == pages[2] == pages[3]
    plan = search.prepare(db, query, sort=sort)
    if plan.fts_only:
        monkeypatch.undo()
        monkeypatch.setattr(search_plan, "SORT_ALL", 0)
        monkeypatch.setattr(search_plan, "PROBE_COST_US", 0.0)
        assert "probe" in [k for k, _, _ in plan.steps(total=3, posts=4)]
    assert pages[0][0][0], "the query finds posts"
    if query.startswith(("engagement", "published")):  # the range drives when it is the smaller side
        plan = search.prepare(db, query, sort=sort)
        steps = plan.steps(total=99, drive="range")
        assert "INDEXED BY" in steps[-1][1]
        ids = [r[0] for r in db.execute(steps[-1][1], steps[-1][2]).fetchall()]
        assert [db.ids[i] for i in ids][:2] == pages[0][0][0]


def test_relevance_ranks_the_newest_matches_when_there_are_many(db, monkeypatch):
    everything, total = _page(db, "firefox", "relevance")
    assert total == 3 and sorted(everything) == ["1", "2", "3"]
    monkeypatch.setattr(search_plan, "RANK_DEPTH", 2)
    page = search.search(db, search.prepare(db, "firefox"), limit=2)
    assert page.total == 3 and page.ranked == 2
    newest = sorted(everything, key=lambda g: -next(i for i, v in db.ids.items() if v == g))[:2]
    assert sorted(db.ids[h.id] for h in page.hits) == sorted(newest)
    assert [h for h in [db.ids[h.id] for h in page.hits]] == [g for g in everything if g in newest]  # bm25 order kept
    deeper = search.search(db, search.prepare(db, "firefox"), limit=2, offset=2)  # paging past the window ranks more
    assert deeper.total == 3 and len(deeper.hits) == 1
    # with a condition on the posts rows (3 is not an engagement step) the window holds the newest that pass it
    monkeypatch.setattr(search_plan, "RANK_DEPTH", 1)
    plan = search.prepare(db, "firefox engagement:[3 TO *]")
    assert not plan.fts_only and plan.windowed
    page = search.search(db, plan, limit=1)
    assert (page.total, page.ranked, [db.ids[h.id] for h in page.hits]) == (2, 1, ["2"])


def test_facets_follow_relabels_and_reclassification(db):
    post = next(i for i, g in db.ids.items() if g == "3")
    assert _page(db, "sentiment:positive", "date")[0] == ["2"]
    store.label_post(db, post, now="2026-11-22T00:00:00Z", sentiment="positive", topics=["pricing"])
    assert sorted(_page(db, "sentiment:positive", "date")[0]) == ["2", "3"]
    assert _page(db, "topic:pricing", "date")[0] == ["3"]
    store.save_classifications(db, [Classification(post, 0.0, "neutral", "de", (Mention("Safari", "safari"),))],
                               now="2026-11-22T01:00:00Z", classifier="test")
    assert _page(db, "product:safari", "date")[0] == ["3"]
    assert _page(db, "product:firefox -product:chrome", "date")[0] == ["1"]
    assert sorted(_page(db, "sentiment:positive", "date")[0]) == ["2", "3"]  # the human label still wins
    store.upsert_posts(db, [{"source": "hn", "guid": "3", "url": "https://other.example.net/c", "author": "carol",
                             "title": "Die Suche", "text": "edited", "published_at": "2026-11-04T10:00:00Z",
                             "language": "de", "score": None, "comments": None, "likes": None, "shares": None}],
                       now="2026-11-22T02:00:00Z")
    assert _page(db, "site:example.net", "date")[0] == ["3"] and _page(db, "site:news.example.com", "date")[0] == []


SNIPPETS = Path(__file__).parent.parent / "models" / "data" / "vader_groundtruth" / "amazonReviewSnippets_GroundTruth.txt"


@pytest.fixture(scope="module")
def reviews(tmp_path_factory):
    """3,708 real review snippets (VADER's ground truth, shipped for training) as posts."""
    d = store.open_db(tmp_path_factory.mktemp("reviews") / "r.db")
    lines = SNIPPETS.read_text(encoding="utf-8").splitlines()
    store.upsert_posts(d, [{"source": "amazon", "guid": line.split("\t")[0], "url": None, "author": None,
                            "title": None, "text": line.split("\t", 2)[2], "published_at": "2026-11-01T00:00:00Z",
                            "language": "en", "score": None, "comments": None, "likes": None, "shares": None}
                           for line in lines], now="2026-11-21T00:00:00Z")
    return d


def test_wildcards_match_what_fts5_prefix_queries_match(reviews, monkeypatch):
    """A wildcard becomes an OR of the words it covers; it must match exactly the posts FTS5's
    own prefix query matches, including stems that are not their own stem (expens, from expensive)."""
    words = sorted({w for (t,) in reviews.execute("SELECT text FROM posts") for w in re.findall(r"[a-z]{4,}", t.lower())})
    prefixes = sorted({w[:k] for w in words[::40] for k in (2, 3, 5)} | {"expens", "crashing", "e-mail"})
    expanded = made_up = 0
    for prefix in prefixes:
        native = {r[0] for r in reviews.execute("SELECT rowid FROM posts_fts WHERE posts_fts MATCH ?",
                                                [f'{{title text}} : ("{prefix}" *)'])}
        plan = search.prepare(reviews, f"{prefix}*")
        ours = {r[0] for r in reviews.execute(plan.select_sql(paged=False), plan.params)}
        assert ours == native, prefix
        assert search.search(reviews, plan, limit=1).total == len(native)
        alternatives = search.prefix_words(reviews, prefix)
        if alternatives is not None:
            expanded += 1
            assert plan.compiled.match == "{title text} : (" + " OR ".join(f'"{w}"' for w in alternatives) + ")"
            made_up += sum(store.fts_tokens(reviews, w) != [w] for w in alternatives)
    assert expanded > len(prefixes) // 2 and made_up > 0, (expanded, made_up)
    assert search.prefix_words(reviews, "e-mail") is None  # a phrase ending in a wildcard stays FTS5's
    # FTS5's own prefix queries repeat their expansion on every look-up: no post-by-post walks for them
    assert [search.prepare(reviews, q).compiled.prefix_query for q in ("e-mail*", "expens*", "expens* NEAR/2 price")] \
        == [True, False, True]
    monkeypatch.setattr(search_plan, "MAX_PREFIX_TERMS", 2)
    assert search.prefix_words(reviews, "ex") is None
    assert {r[0] for r in reviews.execute(search.prepare(reviews, "ex*").select_sql(paged=False),
                                          search.prepare(reviews, "ex*").params)} == \
        {r[0] for r in reviews.execute("SELECT rowid FROM posts_fts WHERE posts_fts MATCH ?", ['{title text} : ("ex" *)'])}


def _ordered_reference(text: str, ops: list[list[tuple[list[str], bool]]], n: int) -> bool:
    """NEAR/nf by its definition: operand i+1 starts after operand i ends, at most n words between."""
    stems = [_stem(w) for w in tokens(text)]

    def at(words, prefix, i):
        k = len(words)
        return i + k <= len(stems) and stems[i:i + k - 1] == words[:-1] and \
            (stems[i + k - 1].startswith(words[-1]) if prefix else stems[i + k - 1] == words[-1])

    ends = None
    for alternatives in ops:
        spans = [(i, i + len(w) - 1) for w, p in alternatives for i in range(len(stems)) if at(w, p, i)]
        ends = [e for s, e in spans if ends is None or any(prev < s <= prev + n + 1 for prev in ends)]
        if not ends:
            return False
    return True


@pytest.mark.parametrize("ops, n", [
    ([[(["not"], False)], [(["work"], False)]], 2),
    ([[(["it"], False)], [(["work"], False)]], 0),
    ([[(["the"], False)], [(["product"], False), (["player"], False)]], 3),
    ([[(["i"], False)], [(["return"], True)], [(["it"], False)]], 4),
    ([[(["dvd"], False)], [(["play"], True)]], 5),
    ([[(["great"], False), (["good"], False)], [(["for", "the"], False)], [(["price"], False)]], 3),
    ([[(["do"], False)], [(["not"], False)], [(["buy"], False)]], 1),
    ([[(["having"], False)], [(["problem"], True)]], 3),   # having -> have: a stem the word does not start with
])
def test_ordered_near_agrees_with_its_definition_on_real_text(ops, n):
    """The quick pattern, the head search and the word-by-word check must all agree with the
    definition, on real text (mixed case, punctuation, non-ASCII)."""
    import json
    spec = json.dumps({"n": n, "ops": [[{"w": [_stem(x) for x in w], "p": p} for w, p in alts] for alts in ops]})
    texts = [line.split("\t", 2)[2] for line in SNIPPETS.read_text(encoding="utf-8").splitlines()]
    texts += ["Do NOT buy", "do-not_buy!", "dönot buy", "Ça: do not buy", "xdo not buy do not buy", "notwork not work"]
    ours = [near_ordered(None, t, spec) for t in texts]
    reference = [int(_ordered_reference(t, [[([_stem(x) for x in w], p) for w, p in alts] for alts in ops], n))
                 for t in texts]
    assert ours == reference
    assert sum(ours) > 0


def test_searching_leaves_no_transaction_open(db):
    """Highlights and wildcards write to temporary tables; an open transaction left behind would
    keep a long-lived connection on an old snapshot of the database."""
    page = search.search(db, search.prepare(db, "crash* OR firefox"))
    assert page.hits and not db.conn.in_transaction


def test_engagement_steps_are_index_tokens_that_follow_new_numbers(db):
    """A range from a step to just below one is decided in the index; re-collected numbers that
    pass a step move the post into it."""
    plan = search.prepare(db, "engagement:[10 TO 49] firefox")
    assert plan.fts_only and store.engagement_token(10) in plan.compiled.match
    assert not search.prepare(db, "engagement:[6 TO *]").fts_only
    assert guids(db, "engagement:[20 TO *]") == ["2"]
    store.upsert_posts(db, [{"source": "hn", "guid": "1", "url": "https://www.example.com/a", "author": "Alice",
                             "title": POSTS[0][4], "text": POSTS[0][5], "published_at": POSTS[0][6],
                             "language": "en", "score": 30, "comments": None, "likes": None, "shares": None}],
                       now="2026-11-22T00:00:00Z")
    assert guids(db, "engagement:[20 TO *]") == ["1", "2"]
    assert guids(db, "engagement:[20 TO 49]") == ["1"]
    assert guids(db, "product:Firefox engagement:[20 TO *]") == ["1", "2"]  # the other facets stayed


def test_a_search_over_its_time_budget_stops_with_a_clear_error(reviews):
    plan = search.prepare(reviews, "the NEAR/3f the")
    with pytest.raises(search.SearchTooSlow, match=r"took longer than 0 s and was stopped; narrow it"):
        search.search(reviews, plan, timeout=0)
    page = search.search(reviews, plan)  # the budget went with the search that hit it
    assert page.total > 100 and page.hits
    assert search.search(reviews, plan, timeout=60).total == page.total
