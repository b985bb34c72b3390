"""A search's plan: ``prepare`` parses a query, adds the page's ``Filters`` and compiles it into a
``Plan`` (FROM, WHERE, ORDER BY and parameters over ``posts p``), whose ``steps`` are the
statements a page runs, chosen by how many posts match; ``explain`` shows them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date

import sqlite_utils

from listener import store
from listener.facets import ENGAGEMENT_SQL
from listener.search.compiler import MATCH_SQL, Compiled, compile_tree
from listener.search.query import And, Node, QueryError, Range, day_bound, field_filter, parse

SORTS = ("relevance", "date", "engagement")
RANK = "bm25(posts_fts, 3.0, 1.0, 0.0)"  # title words weigh three times body words; facets nothing
RANK_DEPTH = 5_000    # relevance: with more matches than this, the newest this many are ranked
FTS_COUNT = "SELECT count(*) FROM posts_fts WHERE posts_fts MATCH ?"
MAX_PREFIX_TERMS = 64  # a wildcard over more indexed terms stays an FTS5 prefix query
SORT_ALL = 5_000      # date or engagement order: sort this many matches; above, walk the index
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
                out.append(field_filter("lang" if name == "language" else name, value, name))
        if self.since or self.until:
            out.append(Range("published", day_bound(self.since, end=False, field="since") if self.since else None,
                             day_bound(self.until, end=True, field="until") if self.until else None))
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


def prepare(db: sqlite_utils.Database, query: str, *, filters: Filters | None = None,
            sort: str = "relevance") -> Plan:
    """Parse, add the filters, compile with the stored product and source names; ``QueryError``."""
    if sort not in SORTS:
        raise QueryError(f"sort is one of {', '.join(SORTS)}, got {sort!r}", None, field="sort")
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
