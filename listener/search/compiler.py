"""A query's syntax tree compiled to SQL pieces: the FTS5 MATCH that drives a search, the conditions
on the posts rows FTS5 cannot decide, their parameters, and the words to highlight.

User text never reaches SQL: words and phrases become quoted FTS5 strings passed as
parameters, field values become parameters.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Callable

from listener.facets import ENGAGEMENT_SQL, ENGAGEMENT_STEPS, day_token, engagement_token, facet_token, mention_value
from listener.search.near import _ordered_sql
from listener.search.query import (And, Column, Field, Near, Node, Not, Or, Phrase, QueryError, Range, Term, _quote,
                                   _walk, explain, parse)

MAX_NEAR_EXPANSION = 64    # NEAR groups produced by OR-groups inside NEAR
MAX_PERIOD_TOKENS = 200    # year/month/day tokens one published range may turn into
TEXT_COLUMNS = "{title text}"


@dataclass
class Compiled:
    """A query as SQL pieces. ``match`` drives the search through FTS5 (None: no text to rank by)."""
    tree: Node | None
    match: str | None                      # FTS5 expression for the driving MATCH
    where: list[str] = field(default_factory=list)   # SQL conditions on posts p, ANDed
    params: list = field(default_factory=list)       # parameters of ``where``, in order
    highlight: str | None = None           # FTS5 expression of every searched-for word
    needs_ordered: bool = False            # uses the NEAR/nf Python function
    wildcards: dict[str, list[str]] = field(default_factory=dict)  # word* -> the words it matched as
    complement: str | None = None          # a query of NOTs only: the FTS5 expression of what it excludes
    prefix_query: bool = False             # FTS5 expands a word* itself (each look-up of a post repeats it)
    about_products: bool = False           # a sentiment: filter means the sentiment about product: filters

    @property
    def parenthesized(self) -> str:
        return explain(self.tree)

    def bounds(self, name: str) -> tuple[str | None, str | None] | None:
        """The first top-level ``name:`` range every result lies in (None: no such range), so a
        search can walk that index between its ends."""
        children = self.tree.children if isinstance(self.tree, And) else (self.tree,)
        for c in children:
            if isinstance(c, Range) and c.name == name and (c.low is not None or c.high is not None):
                return c.low, c.high
        return None


Days = "tuple[str | None, str | None] | None"  # the data's first day and the day after its last (UTC midnights)


def compile_query(query: str | Node | None, days: Days = None) -> Compiled:
    """Parse (if needed) and compile a query; raises ``QueryError`` for invalid input.

    ``days`` closes open-ended ``published:`` ranges so they too become day tokens
    (without it they are checked on the posts rows).
    """
    tree = parse(query) if isinstance(query, str) else query
    return compile_tree(tree, days)


PrefixWords = Callable[[str], "list[str] | None"]


def compile_tree(tree: Node | None, days: Days = None, prefix_words: PrefixWords | None = None) -> Compiled:
    """SQL pieces for a syntax tree: the driving MATCH and the other conditions.

    ``prefix_words`` may turn a trailing-wildcard word into the words it stands for (None: keep
    FTS5's prefix query); FTS5 then matches them as an OR of words."""
    out = Compiled(tree=tree, match=None)
    if tree is None:
        return out
    paired = about_products(tree)
    out.about_products, tree = paired != tree, low_relevance(paired)
    if prefix_words is not None:
        prefix_words = _recorded(prefix_words, out.wildcards)
    children = tree.children if isinstance(tree, And) else (tree,)
    fts = {i: _fts(c, days, prefix_words) for i, c in enumerate(children)}
    positive = [i for i, c in enumerate(children) if fts[i] is not None and not _ordered(c)]
    ordered = [i for i, c in enumerate(children) if _ordered(c)]
    negative = {i: _fts(c.child, days, prefix_words) for i, c in enumerate(children)
                if isinstance(c, Not) and not _ordered_inside(c.child)}
    negative = {i: f for i, f in negative.items() if f is not None}
    drivers = positive + ordered
    rest = list(range(len(children)))
    if drivers:
        # A range the index cannot match exactly still narrows the match by the steps (days) around
        # it; the posts rows then decide.
        wider = [w for i, c in enumerate(children) if fts[i] is None and isinstance(c, Range)
                 for w in [_wider_fts(c, days)] if w]
        parts = [fts[i] for i in drivers] + wider  # an ordered NEAR matches as its unordered superset
        expr = " AND ".join(parts)
        expr = f"({expr})" if len(parts) > 1 else expr
        for f in negative.values():
            expr = f"{expr} NOT {f}"
        out.match = expr
        for i in ordered:
            out.where.append(_ordered_sql(children[i], out.params))
        rest = [i for i in rest if i not in positive and i not in ordered and i not in negative]
    for i in rest:
        out.where.append(_sql(children[i], out.params, days))
    if not drivers and negative and len(negative) == len(children):
        out.complement = " OR ".join(f"({f})" for f in negative.values())
    words = [_fts(leaf) for leaf in _positive_text(tree)]
    out.highlight = " OR ".join(w for w in words if w) or None
    out.needs_ordered = any(_ordered(n) for n in _walk(tree))
    in_near = {id(t) for n in _walk(tree) if isinstance(n, Near) for t in _walk(n) if t is not n}
    out.prefix_query = any(isinstance(n, Term) and n.prefix and (n.text not in out.wildcards or id(n) in in_near)
                           for n in _walk(tree))
    return out


def about_products(node: Node, products: tuple[tuple[str, ...], ...] = ()) -> Node:
    """The tree with each ``sentiment:S`` that has ``product:`` filters beside it (in its AND group
    or an enclosing one, the nearest such group) made to mean "S about those products": the mention's
    own sentiment, not the post's. ``product:A product:B sentiment:S`` is S about A and about B;
    ``(product:A OR product:B) sentiment:S`` is S about A or about B. Without a product filter,
    ``sentiment:`` stays the post's."""
    if isinstance(node, Field) and node.name == "sentiment" and products:
        def about(name: str) -> Field:
            return Field("mention", mention_value(name, node.value), node.pos)
        groups = [about(g[0]) if len(g) == 1 else Or(tuple(about(p) for p in g)) for g in products]
        return groups[0] if len(groups) == 1 else And(tuple(groups))
    if isinstance(node, And):
        own = tuple(g for g in (_product_group(c) for c in node.children) if g)
        return And(tuple(about_products(c, own or products) for c in node.children))
    if isinstance(node, Or):
        return Or(tuple(about_products(c, products) for c in node.children))
    if isinstance(node, Not):
        return Not(about_products(node.child, products))
    return node


def low_relevance(node: Node) -> Node:
    """The tree with each AND group holding ``relevance:low`` and ``product:`` filters made to mean "mentions
    of those products judged not about them" (which ``product:`` alone never finds); ``relevance:low``
    without a product filter: posts with any such mention."""
    if isinstance(node, And):
        kids = node.children
        if any(isinstance(c, Field) and c.name == "relevance" for c in kids) and any(_product_group(c) for c in kids):
            def rejected(c: Node) -> Node:
                group = _product_group(c)
                if not group:
                    return low_relevance(c)
                low = tuple(Field("rejected", p, getattr(c, "pos", 0)) for p in group)
                return low[0] if len(low) == 1 else Or(low)
            kept = tuple(rejected(c) for c in kids if not (isinstance(c, Field) and c.name == "relevance"))
            return kept[0] if len(kept) == 1 else And(kept)
        return And(tuple(low_relevance(c) for c in kids))
    if isinstance(node, Or):
        return Or(tuple(low_relevance(c) for c in node.children))
    if isinstance(node, Not):
        return Not(low_relevance(node.child))
    return node


def _product_group(node: Node) -> tuple[str, ...]:
    """The products a ``product:X`` filter, or an OR of them only, names (empty: neither)."""
    if isinstance(node, Field) and node.name == "product":
        return (node.value,)
    if isinstance(node, Or) and all(isinstance(c, Field) and c.name == "product" for c in node.children):
        return tuple(c.value for c in node.children)
    return ()


def _recorded(prefix_words: PrefixWords, into: dict[str, list[str]]) -> PrefixWords:
    def words(text: str) -> list[str] | None:
        if text not in into:
            found = prefix_words(text)
            if not found:
                return None
            into[text] = found
        return into[text]
    return words


def _fts(node: Node, days: Days = None, prefix_words: PrefixWords | None = None) -> str | None:
    """FTS5 expression for a node FTS5 can match alone (ordered NEAR: its unordered superset)."""
    if isinstance(node, Term) and node.prefix and prefix_words is not None:
        words = prefix_words(node.text)
        if words:
            return f"{TEXT_COLUMNS} : ({' OR '.join(_quote(w) for w in words)})"
    if isinstance(node, (Term, Phrase, Near)):
        return f"{TEXT_COLUMNS} : ({_text_fts(node)})"  # never the facets column
    if isinstance(node, Field):
        return f"facets : {facet_token(node.name, node.value)}"
    if isinstance(node, Range):
        return _period_fts(node, days) if node.name == "published" else _engagement_fts(node)
    if isinstance(node, Column):
        return f"{node.column} : ({_fts(node.child, days, prefix_words)})"
    if isinstance(node, Or):
        parts = [_fts(c, days, prefix_words) for c in node.children]
        if any(p is None or _ordered(c) for p, c in zip(parts, node.children)):
            return None
        return "(" + " OR ".join(parts) + ")"
    if isinstance(node, And):
        pos = [c for c in node.children if not isinstance(c, Not)]
        neg = [c.child for c in node.children if isinstance(c, Not)]
        # Each child once: calling _fts again per use made nested queries exponential to compile.
        pos_fts = [_fts(c, days, prefix_words) for c in pos]
        neg_fts = [_fts(c, days, prefix_words) for c in neg]
        if not pos or any(f is None or _ordered(c) for f, c in zip(pos_fts + neg_fts, pos + neg)):
            return None
        expr = "(" + " AND ".join(pos_fts) + ")"
        for n in neg_fts:
            expr = f"{expr} NOT {n}"
        return f"({expr})" if neg else expr
    return None


def _text_fts(node: Node) -> str:
    if isinstance(node, Term):
        return _quote(node.text) + (" *" if node.prefix else "")
    if isinstance(node, Phrase):
        words = node.text.split()
        if node.slop is None or len(words) < 2:
            return _quote(node.text)
        return f"NEAR({' '.join(_quote(w) for w in words)}, {node.slop})"
    groups = [c.children if isinstance(c, Or) else (c,) for c in node.operands]
    combos = list(itertools.islice(itertools.product(*groups), MAX_NEAR_EXPANSION + 1))
    if len(combos) > MAX_NEAR_EXPANSION:
        raise QueryError(f"NEAR with OR-groups expands to more than {MAX_NEAR_EXPANSION} "
                         "combinations; use fewer alternatives", node.pos)
    nears = [f"NEAR({' '.join(_text_fts(o) for o in combo)}, {node.distance})" for combo in combos]
    return nears[0] if len(nears) == 1 else "(" + " OR ".join(nears) + ")"


def _engagement_fts(node: Range) -> str | None:
    """An engagement range from a step up to (not counting) a step, as facet tokens (None: it does
    not start at a step, or does not end just below one: checked on the posts rows)."""
    if node.low is None or int(node.low) not in ENGAGEMENT_STEPS:
        return None
    expr = f"facets : {engagement_token(int(node.low))}"
    if node.high is None:
        return expr
    if int(node.high) + 1 not in ENGAGEMENT_STEPS:
        return None
    return f"({expr} NOT facets : {engagement_token(int(node.high) + 1)})"


def _wider_fts(node: Range, days: Days) -> str | None:
    """Facet tokens for a range of whole steps (days) around ``node``: a superset of it."""
    if node.name == "engagement":
        if node.low is None or int(node.low) < 1:
            return None
        low = max(step for step in ENGAGEMENT_STEPS if step <= int(node.low))
        above = [step for step in ENGAGEMENT_STEPS if node.high is not None and step > int(node.high)]
        return _engagement_fts(Range("engagement", str(low), str(above[0] - 1) if above else None))
    def whole(v: str | None, up: bool) -> str | None:
        if v is None or v.endswith("T00:00:00Z"):
            return v
        d = date.fromisoformat(v[:10]) + timedelta(days=1 if up else 0)
        return f"{d.isoformat()}T00:00:00Z"
    return _period_fts(Range("published", whole(node.low, False), whole(node.high, True)), days)


def _period_fts(node: Range, days: Days) -> str | None:
    """A published range of whole UTC days as year, month and day facet tokens (None: not whole days,
    or an open end ``days`` cannot close)."""
    if node.name != "published":
        return None
    bounds = []
    for v, edge in zip((node.low, node.high), days or (None, None)):
        if v is None:
            v = edge
        if v is None or not v.endswith("T00:00:00Z"):
            return None
        bounds.append(date.fromisoformat(v[:10]))
    d, end = bounds
    toks = []
    while d < end:
        next_year, next_month = date(d.year + 1, 1, 1), date(d.year + d.month // 12, d.month % 12 + 1, 1)
        if d.month == 1 and d.day == 1 and next_year <= end:
            toks.append(day_token("y", d.isoformat()))
            d = next_year
        elif d.day == 1 and next_month <= end:
            toks.append(day_token("m", d.isoformat()))
            d = next_month
        else:
            toks.append(day_token("d", d.isoformat()))
            d += timedelta(days=1)
        if len(toks) > MAX_PERIOD_TOKENS:
            return None
    if not toks:
        return None
    return "facets : " + (toks[0] if len(toks) == 1 else "(" + " OR ".join(toks) + ")")


def _ordered(node: Node) -> bool:
    return isinstance(node, Near) and node.ordered or isinstance(node, Column) and _ordered_inside(node.child)


def _ordered_inside(node: Node) -> bool:
    return any(_ordered(n) for n in _walk(node))


MATCH_SQL = "p.id IN (SELECT rowid FROM posts_fts WHERE posts_fts MATCH ?)"


def _sql(node: Node, params: list, days: Days) -> str:
    """SQL condition on ``posts p`` for any node; parameters appended to ``params``."""
    if _ordered(node):
        params.append(_fts(node, days))
        return f"({MATCH_SQL} AND {_ordered_sql(node, params)})"
    fts = _fts(node, days)
    if fts is not None:
        params.append(fts)
        return MATCH_SQL
    if isinstance(node, Not):
        return f"NOT ({_sql(node.child, params, days)})"
    if isinstance(node, (And, Or)):
        op = " AND " if isinstance(node, And) else " OR "
        return "(" + op.join(_sql(c, params, days) for c in node.children) + ")"
    if isinstance(node, Range):
        return _range_sql(node, params)
    raise QueryError("this part of the query cannot be searched", getattr(node, "pos", 1))  # pragma: no cover


def _range_sql(node: Range, params: list) -> str:
    parts = []
    col = "p.posted_at" if node.name == "published" else ENGAGEMENT_SQL
    cast = (lambda x: x) if node.name == "published" else int
    if node.low is not None:
        parts.append(f"{col} >= ?")
        params.append(cast(node.low))
    if node.high is not None:
        parts.append(f"{col} < ?" if node.name == "published" else f"{col} <= ?")
        params.append(cast(node.high))
    return "(" + " AND ".join(parts) + ")" if parts else "1"


def _positive_text(node: Node) -> list[Node]:
    """Text leaves not under a NOT: what to highlight."""
    if isinstance(node, (Term, Phrase, Near, Column)):
        return [node]
    if isinstance(node, (And, Or)):
        return [leaf for c in node.children for leaf in _positive_text(c)]
    return []
