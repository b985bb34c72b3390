"""Running searches: the one code path the CLI, the web pages, the API and the benchmark use.

``prepare`` turns a query plus the page's filters into a ``Plan`` (compiled SQL and its
parameters), ``search`` runs one page of a plan with the total count and highlighted
snippets, ``iter_results`` streams the whole result (CSV/JSON export).
"""

from __future__ import annotations

import csv
import io
import json
import re
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Iterator

import sqlite_utils

from listener import store
from listener.errors import BadInput, NotFound, UserError
from listener.search.query import (MATCH_SQL, ORDERED_FUNCTION, And, Compiled, Node, QueryError, Range, compile_tree,
                            field_filter, near_ordered, parse)
from listener.facets import ENGAGEMENT_SQL
from listener.text import iso_utc, snippet

SORTS = ("relevance", "date", "engagement")
MARK_OPEN, MARK_CLOSE = "\ue000", "\ue001"   # private-use characters around highlighted words
SNIPPET_TOKENS = 40
RANK = "bm25(posts_fts, 3.0, 1.0, 0.0)"  # title words weigh three times body words; facets nothing
RANK_DEPTH = 5_000    # relevance: with more matches than this, the newest this many are ranked
FTS_COUNT = "SELECT count(*) FROM posts_fts WHERE posts_fts MATCH ?"
MAX_PREFIX_TERMS = 64  # a wildcard over more indexed terms stays an FTS5 prefix query
SORT_ALL = 5_000      # date or engagement order: sort this many matches; above, walk the index
EXPORT_FIELDS = ("id", "posted_at", "source", "author", "title", "url", "sentiment_label", "sentiment",
                 "language", "engagement", "products", "topics", "text")
_COLUMNS = store.HIT_COLUMNS


@dataclass(frozen=True)
class Filters:
    """The search page's filter boxes; each one is ANDed to the query."""
    product: str | None = None
    source: str | None = None
    sentiment: str | None = None
    language: str | None = None
    since: date | None = None       # first day, inclusive (UTC)
    until: date | None = None       # last day, inclusive (UTC)

    def nodes(self) -> list[Node]:
        out: list[Node] = []
        for name in ("product", "source", "sentiment", "language"):
            value = (getattr(self, name) or "").strip()
            if value:
                out.append(field_filter("lang" if name == "language" else name, value))
        if self.since or self.until:
            out.append(Range("published", f"{self.since.isoformat()}T00:00:00Z" if self.since else None,
                             f"{(self.until + timedelta(days=1)).isoformat()}T00:00:00Z" if self.until else None))
        return out


@dataclass
class Plan:
    """A compiled search, ready to run: its FROM and WHERE over ``posts p``, its order, parameters."""
    query: str
    compiled: Compiled
    sort: str
    from_sql: str
    where_sql: str
    order_sql: str
    params: list

    def select_sql(self, paged: bool = True) -> str:
        return (f"SELECT {_COLUMNS} FROM {self.from_sql}{self.where_sql} ORDER BY {self.order_sql}"
                + (" LIMIT ? OFFSET ?" if paged else ""))

    @property
    def windowed(self) -> bool:
        """Relevance order by ranking the newest ``RANK_DEPTH`` matches (all of them, when fewer)."""
        return self.sort == "relevance" and bool(self.compiled.match) and not self.compiled.needs_ordered

    @property
    def fts_only(self) -> bool:
        """Everything the query asks is decided inside the full-text index (words and facets)."""
        return bool(self.compiled.match) and not self.compiled.where

    def steps(self, total: int | None = None, limit: int = 50, offset: int = 0,
              drive: str = "match", posts: int | None = None) -> list[tuple[str, str, list]]:
        """(kind, SQL, parameters) of what a page runs: ``window`` (ranked ids, each with the
        window's size), ``count``, ``probe`` (ids, tried first: a short page means "run page"),
        ``page`` (ids) or ``all`` (every id, in order).

        ``total`` (the number of full-text matches, when known) picks the way: few matches are
        read and sorted; many are ranked among the newest ``RANK_DEPTH`` or found by walking the
        date (engagement) index in order. ``drive="range"`` starts from the posts in a
        ``published:``/``engagement:`` range instead of from the matches. With ``posts`` (how
        many there are) a walk of a match too large to gather first looks each post up instead.
        """
        match, params = self.compiled.match, list(self.params)
        # Every result counted from the matches (in the index alone when nothing else is asked).
        counted = (("count", f"SELECT count(*) FROM {self.from_sql}{self.where_sql}", params) if self.compiled.where
                   else ("count", FTS_COUNT, [match]))
        if self.windowed:
            depth = rank_depth(limit, offset)
            if self.fts_only:
                inner = f"SELECT rowid AS id, {RANK} AS r FROM posts_fts WHERE posts_fts MATCH ? ORDER BY rowid DESC LIMIT ?"
                inner_params = [match, depth]
            else:  # the newest matches that pass the conditions on the posts rows
                inner = (f"SELECT p.id AS id, {RANK} AS r FROM {self.from_sql}{self.where_sql} "
                         f"ORDER BY posts_fts.rowid DESC LIMIT ?")
                inner_params = [*params, depth]
            window = (f"WITH w AS MATERIALIZED ({inner}) "
                      f"SELECT id, (SELECT count(*) FROM w) FROM w ORDER BY r, id DESC LIMIT ? OFFSET ?")
            return [("window", window, [*inner_params, limit, offset]), counted]
        if self.compiled.needs_ordered:  # one pass: the word-order check runs once per candidate
            return [("all", f"SELECT p.id FROM {self.from_sql}{self.where_sql} ORDER BY {self.order_sql}", params)]
        if not match:
            count = (("count", f"SELECT (SELECT count(*) FROM posts) - ({FTS_COUNT})", [self.compiled.complement])
                     if self.compiled.complement else ("count", f"SELECT count(*) FROM posts p{self.where_sql}", params))
            return [count,
                    ("page", f"SELECT p.id FROM posts p{self.where_sql} ORDER BY {self.order_sql} LIMIT ? OFFSET ?",
                     [*params, limit, offset])]
        # Relevance has returned above: what is left is newest first or by engagement.
        if drive == "range" or total is None or total > SORT_ALL:
            index = (self.range_index() if drive == "range" else
                     "posts_engagement" if self.sort == "engagement" else "posts_posted_at")
            extra, extra_params = self.index_bounds(index)
            # The match as a set probed per row of the index, in the index's order (a walk stops
            # after a page); the redundant bounds start the walk at the right place.
            where = self.where_sql.replace("posts_fts MATCH ?", MATCH_SQL, 1) + extra
            head = f"FROM posts p INDEXED BY {index}{where}"
            ps = [*params, *extra_params]
            # A walk over the whole index just to count would visit every post.
            steps = [("count", f"SELECT count(*) {head}", ps)] if drive == "range" and self.compiled.where else [counted]
            if not self.compiled.where:
                depth = (probe_depth(offset + limit, posts, total, len(_PHRASE_RE.findall(match)))
                         if drive != "range" and not self.compiled.prefix_query else None)
                if depth:
                    key = "p.posted_at" if index == "posts_posted_at" else ENGAGEMENT_SQL
                    steps.append(("probe", f"SELECT w.id FROM (SELECT p.id AS id, {key} AS k FROM posts p "
                                           f"INDEXED BY {index} ORDER BY {self.order_sql} LIMIT ?) AS w "
                                           f"WHERE EXISTS (SELECT 1 FROM posts_fts WHERE posts_fts MATCH ? "
                                           f"AND posts_fts.rowid = w.id) ORDER BY w.k DESC, w.id DESC LIMIT ? OFFSET ?",
                                  [depth, match, limit, offset]))
            return steps + [("page", f"SELECT p.id {head} ORDER BY {self.order_sql} LIMIT ? OFFSET ?", [*ps, limit, offset])]
        return [counted, ("page", f"SELECT p.id FROM {self.from_sql}{self.where_sql} ORDER BY {self.order_sql} "
                                  f"LIMIT ? OFFSET ?", [*params, limit, offset])]

    def range_index(self) -> str | None:
        """The index of the query's top-level ``engagement:`` (else ``published:``) range, if any."""
        for name, index in (("engagement", "posts_engagement"), ("published", "posts_posted_at")):
            if self.compiled.bounds(name) is not None:
                return index
        return None

    def index_bounds(self, index: str) -> tuple[str, list]:
        """``AND ...`` conditions (and parameters) keeping ``index`` within the query's range on it."""
        name, column = (("engagement", ENGAGEMENT_SQL) if index == "posts_engagement"
                        else ("published", "p.posted_at"))
        bounds = self.compiled.bounds(name)
        if bounds is None:
            return "", []
        sql, params = "", []
        low, high = bounds
        if low is not None:
            sql += f" AND {column} >= ?"
            params.append(low if name == "published" else int(low))
        if high is not None:
            sql += f" AND {column} < ?" if name == "published" else f" AND {column} <= ?"
            params.append(high if name == "published" else int(high))
        return sql, params

    def explain(self) -> str:
        """The parenthesized query and the SQL it runs, with its parameters."""
        lines = [f"query:  {self.compiled.parenthesized}",
                 f"sort:   {self.sort}" + ("" if self.sort != "relevance" or self.compiled.match
                                          else " (no words to rank by: newest first)"),
                 f"match:  {self.compiled.match or '(none: no words to search for)'}"]
        for word, words in self.compiled.wildcards.items():
            lines.append(f"{'':8}{word}* matches as {' OR '.join(words)} (words for the stems it covers)")
        if self.windowed:
            lines.append(f"rank:   bm25 over the newest {RANK_DEPTH:,} matches (all of them when there are fewer)")
        for what, sql, params in self.steps(total=None):
            lines.append(f"{what + ':':<8}{sql}")
        lines += [f"rows:   SELECT {_COLUMNS} FROM posts p WHERE p.id IN (<page ids>)",
                  f"params: {json.dumps(self.params, ensure_ascii=False)}"]
        return "\n".join(lines)


@dataclass
class Hit:
    id: int
    source: str
    url: str | None
    author: str | None
    title: str | None
    posted_at: str
    sentiment: float | None
    sentiment_label: str | None
    language: str | None
    engagement: int
    text: str | None = None
    title_marked: str = ""        # title with MARK_OPEN/MARK_CLOSE around matched words
    snippet_marked: str = ""      # a passage of the text, marked the same way
    products: list[dict] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)

    def to_json(self, with_text: bool = False) -> dict:
        d = asdict(self)
        d["title_highlighted"] = d.pop("title_marked").replace(MARK_OPEN, "[").replace(MARK_CLOSE, "]")
        d["snippet_highlighted"] = d.pop("snippet_marked").replace(MARK_OPEN, "[").replace(MARK_CLOSE, "]")
        if not with_text:
            d.pop("text")
        return d


@dataclass
class Page:
    plan: Plan
    total: int
    offset: int
    limit: int
    hits: list[Hit]
    ranked: int | None = None   # relevance order: how many of the newest matches were ranked


def prepare(db: sqlite_utils.Database, query: str, *, filters: Filters | None = None,
            sort: str = "relevance") -> Plan:
    """Parse, add the filters, compile with the stored product and source names; ``QueryError``."""
    if sort not in SORTS:
        raise QueryError(f"sort is one of {', '.join(SORTS)}, got {sort!r}", 1)
    tree = parse(query or "")
    extra = (filters or Filters()).nodes()
    if extra:
        parts = ([] if tree is None else list(tree.children if isinstance(tree, And) else [tree])) + extra
        tree = parts[0] if len(parts) == 1 else And(tuple(parts))
    compiled = compile_tree(tree, store.posted_days(db), lambda text: prefix_words(db, text))
    params: list = []
    conds = []
    if compiled.match:
        # CROSS JOIN keeps the full-text match as the driving table: left to itself SQLite
        # may walk every post of a source: filter and probe the index once per post (~4x slower).
        from_sql = "posts_fts CROSS JOIN posts p ON p.id = posts_fts.rowid"
        conds.append("posts_fts MATCH ?")
        params.append(compiled.match)
    else:
        from_sql = "posts p"
    conds += compiled.where
    params += compiled.params
    where_sql = (" WHERE " + " AND ".join(conds)) if conds else ""
    if sort == "relevance" and compiled.match:
        order = f"{RANK}, p.posted_at DESC"
    elif sort == "engagement":
        order = f"{ENGAGEMENT_SQL} DESC, p.id DESC"  # the order of the engagement index
    else:  # date, and relevance without words to rank by
        order = "p.posted_at DESC, p.id DESC"
    return Plan(query or "", compiled, sort, from_sql, where_sql, order, params)


# Stems that are not their own stem ("expens": FTS5 would stem the query word "expens" to "expen")
# are reached through a word that stems to them: the first of these endings that does.
_ENDINGS = ("e", "s", "ed", "ing", "es", "er", "y", "ate", "al", "ion", "ment", "ness", "ly", "ive", "ize", "ous")


def prefix_words(db: sqlite_utils.Database, text: str) -> list[str] | None:
    """Query words matching exactly the indexed terms a trailing-wildcard word matches, or None to
    keep FTS5's prefix query: over too many terms, or a term no word can be made to stem to.

    FTS5 merges every term's postings of a prefix into one list before it can intersect or rank
    anything; an OR of the few terms is 2-4x faster (``firefox AND crash*``: 48 -> 23 ms to rank and count)."""
    stems = store.fts_tokens(db, text)
    if len(stems) != 1:  # e-mail* is a phrase ending in a prefix: leave it to FTS5
        return None
    terms = store.index_terms(db, stems[0], MAX_PREFIX_TERMS)
    if not terms:
        return None
    # term -> a query word FTS5 turns into exactly that term (None: not found yet)
    words = {t: t if s == t else None for t, s in zip(terms, store.fts_tokens(db, " ".join(terms)))}
    missing = [t for t, w in words.items() if w is None]
    if missing:
        tries = [t + e for t in missing for e in _ENDINGS]
        for word, stem in zip(tries, store.fts_tokens(db, " ".join(tries))):
            if stem in words and words[stem] is None:
                words[stem] = word
    if any(w is None for w in words.values()):
        return None
    return list(words.values())


def _connect(db: sqlite_utils.Database) -> None:
    store.prepare_search(db, {ORDERED_FUNCTION: (3, near_ordered)})


BUDGET_CHECK_STEPS = 10_000  # SQLite steps between looks at the clock (about 0.1 ms apart)


class SearchTooSlow(UserError):
    """A search stopped at its time budget."""

    http_status = 422

    def __init__(self, seconds: float):
        super().__init__(f"the search took longer than {seconds:g} s and was stopped; narrow it "
                         f"(a field filter, a date range, fewer very common words)")
        self.seconds = seconds


@contextmanager
def _budget(db: sqlite_utils.Database, seconds: float | None) -> Iterator[None]:
    """Stop the statements run inside after ``seconds`` (None: no limit) with ``SearchTooSlow``."""
    try:
        with store.time_limit(db, seconds, check_every=BUDGET_CHECK_STEPS):
            yield
    except store.TimeLimitExceeded:
        raise SearchTooSlow(seconds) from None


def search(db: sqlite_utils.Database, plan: Plan, *, limit: int = 50, offset: int = 0,
           timeout: float | None = None) -> Page:
    """One page of results, best first, with the total and highlighted title and snippet;
    ``SearchTooSlow`` if finding them takes longer than ``timeout`` seconds."""
    _connect(db)
    with _budget(db, timeout):
        ids, total, ranked = _page_ids(db, plan, limit, offset)
    hits = [_hit(r) for r in store.posts_by_id(db, ids)]
    _decorate(db, plan, hits)
    return Page(plan, total, offset, limit, hits, ranked=ranked)


def _page_ids(db: sqlite_utils.Database, plan: Plan, limit: int, offset: int) -> tuple[list[int], int, int | None]:
    """The page's ids, the total, and (relevance order) how many matches were ranked."""
    def run(kind: str, steps: list) -> list:
        return next(store.tuples(db, sql, params) for what, sql, params in steps if what == kind)

    compiled = plan.compiled
    if plan.windowed:
        steps = plan.steps(None, limit, offset)
        rows = run("window", steps)
        depth = rank_depth(limit, offset)
        size = rows[0][1] if rows else None
        if size is not None and size < depth:
            return [r[0] for r in rows], size, size
        total = run("count", steps)[0][0]
        return [r[0] for r in rows], total, min(total, depth)
    if compiled.needs_ordered:
        every = [r[0] for r in run("all", plan.steps())]
        return every[offset:offset + limit], len(every), None
    matches, drive = None, "match"
    if compiled.match:
        matches = store.tuples(db, FTS_COUNT, [compiled.match])[0][0]
        if plan.fts_only:
            steps = plan.steps(matches, limit, offset, posts=store.count_posts(db))
            if any(kind == "probe" for kind, _, _ in steps):
                ids = [r[0] for r in run("probe", steps)]
                if len(ids) == limit or offset + len(ids) >= matches:  # else the matches lie deeper
                    return ids, matches, None
            return [r[0] for r in run("page", steps)], matches, None
        in_range = _range_size(db, plan)  # (relevance has returned above: bm25 needs the match to drive)
        if in_range is not None and in_range < matches:
            drive = "range"
    steps = plan.steps(matches, limit, offset, drive=drive)
    total = run("count", steps)[0][0]
    return [r[0] for r in run("page", steps)], total, None


# A page of a match covering much of the database is found sooner by looking up the newest posts
# one by one (about 7 µs per word or token looked up) than by first gathering every match into a
# set (0.1 µs per match).
PROBE_COST_US, SET_COST_US = 7.0, 0.1
_PHRASE_RE = re.compile(r'"(?:[^"]|"")*"|\bzz\w+')  # the quoted words and facet tokens of a MATCH


def probe_depth(need: int, posts: int | None, matches: int | None, phrases: int = 1) -> int | None:
    """How many of the first posts in index order to look up one by one for ``need`` results of
    ``matches`` spread over ``posts`` (four times the expected number), or None when gathering the
    matches costs less even if they turn out to be spread evenly."""
    if not posts or not matches:
        return None
    depth = 4 * need * posts // matches + 50
    return depth if depth * PROBE_COST_US * max(1, phrases) < matches * SET_COST_US / 2 else None


def rank_depth(limit: int, offset: int) -> int:
    """How many of the newest matches relevance ranks: ``RANK_DEPTH``, more when paging past it."""
    return max(RANK_DEPTH, offset + limit)


def _range_size(db: sqlite_utils.Database, plan: Plan) -> int | None:
    """Posts in the query's top-level engagement (else published) range, counted on its index."""
    index = plan.range_index()
    if index is None:
        return None
    sql, params = plan.index_bounds(index)
    return store.tuples(db, f"SELECT count(*) FROM posts p INDEXED BY {index} WHERE 1{sql}", params)[0][0]


def iter_results(db: sqlite_utils.Database, plan: Plan, *, limit: int | None = None,
                 batch: int = 1000) -> Iterator[Hit]:
    """Every result in order (at most ``limit``), fetched in batches, with products and topics."""
    _connect(db)
    for rows in store.iter_rows(db, plan.select_sql(paged=False) + (" LIMIT ?" if limit else ""),
                                [*plan.params] + ([limit] if limit else []), batch=batch):
        hits = [_hit(r) for r in rows]
        _attach_tags(db, hits)
        yield from hits


def _hit(r: dict) -> Hit:
    return Hit(id=r["id"], source=r["source"], url=r["url"], author=r["author"], title=r["title"],
               posted_at=r["posted_at"], sentiment=r["sentiment"], sentiment_label=r["sentiment_label"],
               language=r["language"], engagement=r["engagement"], text=r["text"],
               title_marked=_clean(r["title"]), snippet_marked=snippet(_clean(r["text"]), 240))


def _clean(text: str | None) -> str:
    return (text or "").replace(MARK_OPEN, "").replace(MARK_CLOSE, "")


def _decorate(db: sqlite_utils.Database, plan: Plan, hits: list[Hit]) -> None:
    """Highlight each hit's searched-for words (FTS5's own matching) and attach its tags."""
    expr = plan.compiled.highlight
    marked: dict[int, tuple[str, str]] = {}
    if expr and hits:
        marked = store.highlight(db, [(h.id, h.title, h.text) for h in hits], expr,
                                 marks=(MARK_OPEN, MARK_CLOSE), tokens=SNIPPET_TOKENS)
    for h in hits:
        if h.id not in marked or (h.title and (MARK_OPEN in h.title or MARK_CLOSE in h.title)):
            continue
        title, passage = marked[h.id]
        h.title_marked = title or ""
        if passage and MARK_OPEN in passage and not (h.text and MARK_OPEN in h.text):
            h.snippet_marked = " ".join(passage.split())
    _attach_tags(db, hits)


def _attach_tags(db: sqlite_utils.Database, hits: list[Hit]) -> None:
    """Each hit's product mentions and topics, in one query per tag table."""
    products, topics = store.post_tags(db, [h.id for h in hits])
    for h in hits:
        h.products, h.topics = products.get(h.id, []), topics.get(h.id, [])


def marked_parts(text: str) -> list[tuple[str, bool]]:
    """Split marked text into (text, highlighted) runs, for renderers that escape each run."""
    out: list[tuple[str, bool]] = []
    on = False
    buf = []
    for ch in text:
        if ch in (MARK_OPEN, MARK_CLOSE):
            if buf:
                out.append(("".join(buf), on))
                buf = []
            on = ch == MARK_OPEN
        else:
            buf.append(ch)
    if buf:
        out.append(("".join(buf), on))
    return out


# --- streaming exports ---------------------------------------------------------------


def export_row(h: Hit) -> dict:
    """A hit as one flat record (CSV row / JSON object)."""
    return {"id": h.id, "posted_at": h.posted_at, "source": h.source, "author": h.author, "title": h.title,
            "url": h.url, "sentiment_label": h.sentiment_label, "sentiment": h.sentiment,
            "language": h.language, "engagement": h.engagement,
            "products": ";".join(m["product"] for m in h.products), "topics": ";".join(h.topics),
            "text": h.text}


def csv_chunks(hits: Iterator[Hit], every: int = 200) -> Iterator[str]:
    """CSV text in chunks: a header, then rows; spreadsheet formula prefixes neutralized."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=EXPORT_FIELDS, lineterminator="\n")
    writer.writeheader()
    for i, h in enumerate(hits, 1):
        writer.writerow({k: _cell(v) for k, v in export_row(h).items()})
        if i % every == 0:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()


def _cell(value: object) -> object:
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def json_chunks(hits: Iterator[Hit]) -> Iterator[str]:
    """A JSON array written one object at a time."""
    yield "["
    first = True
    for h in hits:
        yield ("\n" if first else ",\n") + json.dumps(export_row(h), ensure_ascii=False)
        first = False
    yield "\n]\n"


# --- saved searches ----------------------------------------------------------------------


def save(db: sqlite_utils.Database, name: str, query: str, *, owner: str | None, now: str) -> None:
    """Check the query compiles, then store it under ``name``."""
    if not name.strip():
        raise BadInput("a saved search needs a name")
    parse(query)
    store.save_search(db, name.strip(), query, owner=owner, now=now)


def saved_query(db: sqlite_utils.Database, name: str) -> str:
    """The query text of a saved search, for reports and alert rules; ``KeyError`` if unknown."""
    for s in store.saved_searches(db):
        if s["name"] == name:
            return s["query"]
    raise NotFound(f"no saved search named {name!r}", exit_code=2)



def condition(db: sqlite_utils.Database, query: str) -> tuple[str, list]:
    """A query as one SQL condition on ``posts p`` with its parameters, for reports that count
    only the posts a (saved) search matches; ``QueryError`` if it does not parse."""
    plan = prepare(db, query)
    _connect(db)
    if plan.fts_only:
        return MATCH_SQL, [plan.compiled.match]
    return f"p.id IN (SELECT p.id FROM {plan.from_sql}{plan.where_sql})", list(plan.params)


def _scope(plan: Plan | None, product: str | None) -> tuple[str, list]:
    """FROM ... WHERE for a plan's posts (every post without a plan), optionally only those mentioning
    ``product``, open for more ANDs."""
    from_sql, where, params = ("posts p", " WHERE 1", []) if plan is None else \
        (plan.from_sql, plan.where_sql or " WHERE 1", list(plan.params))
    if product:
        where += " AND EXISTS (SELECT 1 FROM mentions m WHERE m.post_id = p.id AND m.product = ?)"
        params.append(product)
    return f"FROM {from_sql}{where}", params


def bucket_counts(db: sqlite_utils.Database, plan: Plan | None, product: str | None, start: datetime,
                  bucket_seconds: int, buckets: int) -> list[tuple[int, int]]:
    """(matches, negative matches) of a search (or a product's mentions) in consecutive buckets from
    ``start``, oldest first."""
    _connect(db)
    scope, params = _scope(plan, product)
    end = start + timedelta(seconds=bucket_seconds * buckets)
    out = [(0, 0)] * buckets
    rows = store.tuples(
        db, f"SELECT CAST((strftime('%s', p.posted_at) - ?) / ? AS INTEGER) AS b, count(*), "
            f"sum(CASE WHEN p.sentiment_label = 'negative' THEN 1 ELSE 0 END) {scope} "
            f"AND p.posted_at >= ? AND p.posted_at < ? GROUP BY b",
        [int(start.timestamp()), bucket_seconds, *params, iso_utc(start), iso_utc(end)])
    for b, n, neg in rows:
        if 0 <= b < buckets:
            out[b] = (n, neg or 0)
    return out


def window_rows(db: sqlite_utils.Database, plan: Plan | None, product: str | None, start: str, end: str, *,
                by: str = "posted_at", limit: int = 500) -> list[dict]:
    """A search's matches (or a product's mentions) posted (or first fetched) in [start, end), newest
    first, as post rows."""
    _connect(db)
    column = {"posted_at": "p.posted_at", "fetched_at": "p.fetched_at"}[by]
    scope, params = _scope(plan, product)
    return store.rows(db, f"SELECT p.id, p.source, p.url, p.title, p.text, p.author, p.posted_at, p.sentiment, "
                          f"p.sentiment_label, {ENGAGEMENT_SQL} AS engagement {scope} "
                          f"AND {column} >= ? AND {column} < ? ORDER BY {column} DESC, p.id DESC LIMIT ?",
                      [*params, start, end, limit])
