"""The boolean query language, parsed into a tree and compiled to FTS5 MATCH plus parameterized SQL.

A Brandwatch-style subset::

    firefox "battery life" complain*        terms, "exact phrases", trailing wildcards
    a OR b AND c  ==  a OR (b AND c)         precedence NOT > AND > OR; a space is AND
    firefox -crash  ==  firefox NOT crash    exclusion
    crash NEAR/5 firefox                     within 5 words, either order
    crash NEAR/5f firefox                    within 5 words, crash first
    "slow startup"~4                         the phrase's words within 4 words of each other
    <<<comments are ignored>>>
    product:Firefox source:hn site:example.com author:alice title:crash lang:en
    sentiment:negative topic:pricing published:[2026-11-01 TO 2026-11-20] engagement:[10 TO *]

User text never reaches SQL: words and phrases become quoted FTS5 strings passed as
parameters, field values become parameters. Every mistake raises ``QueryError`` with
the 1-based character position it was found at.
"""

from __future__ import annotations

import itertools
import json
import re
import unicodedata
from functools import lru_cache
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Callable, Union

from listener.errors import UserError
from listener.facets import ENGAGEMENT_SQL, ENGAGEMENT_STEPS, day_token, engagement_token, facet_token
from listener.text import iso_utc

MAX_LENGTH = 10_000        # characters in one query
MAX_DEPTH = 64             # nested parentheses
MAX_NEAR_EXPANSION = 64    # NEAR groups produced by OR-groups inside NEAR
MIN_PREFIX = 2             # word characters before a trailing *
MAX_PERIOD_TOKENS = 200    # year/month/day tokens one published range may turn into
TEXT_COLUMNS = "{title text}"

TEXT_FIELDS = ("title",)
VALUE_FIELDS = ("product", "source", "site", "author", "lang", "sentiment", "topic")
RANGE_FIELDS = ("published", "engagement")
ALIASES = {"language": "lang"}
FIELDS = tuple(sorted(TEXT_FIELDS + VALUE_FIELDS + RANGE_FIELDS + tuple(ALIASES)))
SENTIMENTS = ("positive", "neutral", "negative")
ORDERED_FUNCTION = "listener_near_ordered"


class QueryError(UserError, ValueError):
    """An invalid query; ``position`` is the 1-based character where the problem is."""

    query: str | None = None  # the text it points into, set by ``parse``

    def __init__(self, message: str, position: int):
        super().__init__(f"{message} (at position {position})")
        self.message = message
        self.position = position

    def details(self) -> str:
        """The CLI's message: the error, then the query with a caret under the problem."""
        text = f"invalid query: {self}"
        return text if self.query is None else f"{text}\n{self.pointer(self.query)}"

    def pointer(self, query: str) -> str:
        """The query on one line and a caret under the problem."""
        line = query.replace("\n", " ").replace("\t", " ")
        return f"{line}\n{' ' * (self.position - 1)}^"


# --- syntax tree ------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    text: str
    prefix: bool = False
    pos: int = 0


@dataclass(frozen=True)
class Phrase:
    text: str
    slop: int | None = None
    pos: int = 0


@dataclass(frozen=True)
class Near:
    operands: tuple["Node", ...]  # Term, Phrase, or Or of those
    distance: int
    ordered: bool = False
    pos: int = 0


@dataclass(frozen=True)
class Column:
    """``title:...``: text search in one column."""
    column: str
    child: "Node"
    pos: int = 0


@dataclass(frozen=True)
class Field:
    name: str
    value: str
    pos: int = 0


@dataclass(frozen=True)
class Range:
    name: str
    low: str | None
    high: str | None
    pos: int = 0


@dataclass(frozen=True)
class Not:
    child: "Node"


@dataclass(frozen=True)
class And:
    children: tuple["Node", ...]


@dataclass(frozen=True)
class Or:
    children: tuple["Node", ...]


Node = Union[Term, Phrase, Near, Column, Field, Range, Not, And, Or]


# --- tokens -------------------------------------------------------------------------

@dataclass(frozen=True)
class _Tok:
    kind: str   # ( ) AND OR NOT NEAR - TERM PHRASE FIELD RANGE EOF
    pos: int    # 1-based
    text: str = ""
    value: object = None


_NEAR_RE = re.compile(r"NEAR/(\d+)(f?)")
_FIELD_RE = re.compile(r"([A-Za-z]+):")
_SLOP_RE = re.compile(r"~(\d+)")
_STOP = set(' \t\r\n()"')


def _tokenize(q: str) -> list[_Tok]:
    toks: list[_Tok] = []
    i, n = 0, len(q)
    while i < n:
        c = q[i]
        if c.isspace():
            i += 1
        elif q.startswith("<<<", i):
            end = q.find(">>>", i + 3)
            if end < 0:
                raise QueryError("comment '<<<' is never closed with '>>>'", i + 1)
            i = end + 3
        elif c in "()":
            toks.append(_Tok(c, i + 1))
            i += 1
        elif c == '"':
            tok, i = _phrase(q, i)
            toks.append(tok)
        elif c == "-" and i + 1 < n and not q[i + 1].isspace():
            toks.append(_Tok("-", i + 1))
            i += 1
        else:
            j = i
            while j < n and q[j] not in _STOP:
                j += 1
            word = q[i:j]
            if word in ("AND", "OR", "NOT"):
                toks.append(_Tok(word, i + 1, word))
            elif m := _NEAR_RE.fullmatch(word):
                toks.append(_Tok("NEAR", i + 1, word, (int(m.group(1)), bool(m.group(2)))))
            elif word.startswith("NEAR/"):
                raise QueryError(f"expected NEAR/number or NEAR/numberf, got {word!r}", i + 1)
            elif m := _FIELD_RE.match(word):
                tok, j = _field(q, i, m.group(1), i + len(m.group(0)))
                toks.append(tok)
            else:
                toks.append(_term(word, i + 1))
            i = j
    toks.append(_Tok("EOF", n + 1))
    return toks


def _phrase(q: str, i: int) -> tuple[_Tok, int]:
    end = q.find('"', i + 1)
    if end < 0:
        raise QueryError("quote '\"' is never closed", i + 1)
    text = q[i + 1:end]
    if not _searchable(text):
        raise QueryError("phrase has no letters or digits to search for", i + 1)
    if "*" in text:
        raise QueryError("wildcards are not allowed inside quotes", i + 1 + text.index("*") + 1)
    j = end + 1
    slop = None
    if m := _SLOP_RE.match(q, j):
        slop, j = int(m.group(1)), m.end()
    elif q.startswith("~", j):
        raise QueryError('expected a number after "~", as in "slow startup"~4', j + 1)
    return _Tok("PHRASE", i + 1, text, slop), j


def _term(word: str, pos: int) -> _Tok:
    star = word.find("*")
    if star == 0:
        raise QueryError(f"leading wildcards are not supported: {word!r}", pos)
    if star >= 0 and star != len(word) - 1:
        raise QueryError(f"a wildcard may only end a word: {word!r}", pos + star)
    prefix = star >= 0
    stem = word[:-1] if prefix else word
    if not _searchable(stem):
        raise QueryError(f"{word!r} has no letters or digits to search for", pos)
    if prefix and sum(ch.isalnum() for ch in stem) < MIN_PREFIX:
        raise QueryError(f"a wildcard needs at least {MIN_PREFIX} letters before it: {word!r}", pos)
    return _Tok("TERM", pos, stem, prefix)


def _field(q: str, start: int, name: str, i: int) -> tuple[_Tok, int]:
    key = name.lower()
    key = ALIASES.get(key, key)
    if key not in TEXT_FIELDS + VALUE_FIELDS + RANGE_FIELDS:
        raise QueryError(f"unknown field {name + ':'!r} (known: {', '.join(f + ':' for f in FIELDS)}; "
                         f"put text containing ':' in quotes)", start + 1)
    n = len(q)
    if i >= n or q[i].isspace() or q[i] == ")":
        raise QueryError(f"field {name}: needs a value right after the colon", start + 1)
    if key in TEXT_FIELDS:  # title: takes a word, a phrase or a group, parsed by the parser
        return _Tok("FIELD", start + 1, key, None), i
    if q[i] == "[":
        end = q.find("]", i)
        if end < 0:
            raise QueryError("range '[' is never closed with ']'", i + 1)
        if key not in RANGE_FIELDS:
            raise QueryError(f"{name}: takes a value, not a range", i + 1)
        parts = q[i + 1:end].split()
        if len(parts) != 3 or parts[1] != "TO":
            raise QueryError(f"expected a range such as {name}:[A TO B] (use * for open ends)", i + 1)
        low, high = (None if p == "*" else p for p in (parts[0], parts[2]))
        return _Tok("RANGE", start + 1, key, _range_values(key, low, high, i + 1)), end + 1
    if q[i] == '"':
        tok, j = _phrase(q, i)
        value = tok.text.strip()
    else:
        j = i
        while j < n and q[j] not in _STOP:
            j += 1
        value = q[i:j]
    if key in RANGE_FIELDS:
        if key == "published":  # published:2026-11-05 is that day
            return _Tok("RANGE", start + 1, key, _range_values(key, value, value, i + 1)), j
        raise QueryError(f"{name}: takes a range such as {name}:[10 TO *]", i + 1)
    return _Tok("FIELD", start + 1, key, _field_value(key, value, i + 1)), j


def _field_value(key: str, value: str, pos: int) -> str:
    if key == "sentiment":
        v = value.lower()
        if v not in SENTIMENTS:
            raise QueryError(f"sentiment: is one of {', '.join(SENTIMENTS)}, got {value!r}", pos)
        return v
    if key == "lang":
        v = value.lower()
        if not re.fullmatch(r"[a-z]{2,3}", v):
            raise QueryError(f"lang: takes a language code such as en or de, got {value!r}", pos)
        return v
    if key == "site":
        v = value.lower().strip().strip("/")
        v = re.sub(r"^[a-z]+://", "", v).split("/")[0]
        v = v[4:] if v.startswith("www.") else v
        if not re.fullmatch(r"[a-z0-9.-]+\.[a-z0-9-]+|localhost", v):
            raise QueryError(f"site: takes a domain such as example.com, got {value!r}", pos)
        return v
    if not value:
        raise QueryError(f"{key}: needs a value", pos)
    return value


def field_filter(name: str, value: str) -> Field:
    """A field filter from a form box (``product``, ``source``, ``sentiment``, ``lang``...), validated."""
    return Field(name, _field_value(name, value, 1))


def _range_values(key: str, low: str | None, high: str | None, pos: int) -> tuple[str | None, str | None]:
    """Normalized bounds: UTC timestamps (high exclusive) for published, integers for engagement."""
    if key == "engagement":
        out = []
        for v in (low, high):
            if v is not None and not re.fullmatch(r"-?\d+", v):
                raise QueryError(f"engagement: bounds are whole numbers or *, got {v!r}", pos)
            out.append(v)
        return out[0], out[1]
    return _time_bound(low, pos, end=False), _time_bound(high, pos, end=True)


def _time_bound(v: str | None, pos: int, *, end: bool) -> str | None:
    if v is None:
        return None
    try:
        if len(v) == 10:
            d = date.fromisoformat(v)
            return (d + timedelta(days=1) if end else d).isoformat() + "T00:00:00Z"
        t = datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        raise QueryError(f"published: bounds are dates such as 2026-11-01 (or *), got {v!r}", pos) from None
    return iso_utc(t) or ""


def _searchable(text: str) -> bool:
    return any(ch.isalnum() for ch in text)


# --- parser ----------------------------------------------------------------------


class _Parser:
    """Recursive descent; parentheses deeper than MAX_DEPTH are refused before recursing."""

    def __init__(self, toks: list[_Tok]):
        self.toks = toks
        self.i = 0
        self.depth = 0

    @property
    def tok(self) -> _Tok:
        return self.toks[self.i]

    def take(self) -> _Tok:
        t = self.toks[self.i]
        self.i += 1
        return t

    def parse(self) -> Node | None:
        if self.tok.kind == "EOF":
            return None
        node = self.or_()
        t = self.tok
        if t.kind == ")":
            raise QueryError("unbalanced ')': no '(' before it", t.pos)
        if t.kind != "EOF":  # pragma: no cover - every token kind is consumed above
            raise QueryError(f"unexpected {t.text or t.kind!r}", t.pos)
        return node

    def or_(self) -> Node:
        children = [self.and_()]
        while self.tok.kind == "OR":
            op = self.take()
            self.need_operand(op)
            children.append(self.and_())
        return _flat(Or, children)

    def and_(self) -> Node:
        children = [self.unary()]
        while True:
            if self.tok.kind == "AND":
                op = self.take()
                self.need_operand(op)
            elif self.tok.kind not in ("(", "NOT", "-", "TERM", "PHRASE", "FIELD", "RANGE"):
                break
            children.append(self.unary())
        return _flat(And, children)

    def unary(self) -> Node:
        negate = False
        while self.tok.kind in ("NOT", "-"):
            op = self.take()
            self.need_operand(op)
            negate = not negate
        node = self.near()
        return Not(node) if negate else node

    def near(self) -> Node:
        first = self.primary()
        if self.tok.kind != "NEAR":
            return first
        operands, distance, ordered, pos = [first], None, None, self.tok.pos
        while self.tok.kind == "NEAR":
            op = self.take()
            self.need_operand(op)
            d, o = op.value
            if distance is not None and (d, o) != (distance, ordered):
                raise QueryError("a chain of NEAR operators must use one distance; write "
                                 "(a NEAR/3 b) AND (b NEAR/5 c) instead", op.pos)
            distance, ordered = d, o
            operands.append(self.primary())
        for operand, where in zip(operands, [pos] * len(operands)):
            _check_near_operand(operand, where)
        return Near(tuple(operands), distance, ordered, pos)

    def primary(self) -> Node:
        t = self.take()
        if t.kind == "TERM":
            return Term(t.text, bool(t.value), t.pos)
        if t.kind == "PHRASE":
            return Phrase(t.text, t.value, t.pos)
        if t.kind == "FIELD" and t.text in TEXT_FIELDS:
            if self.tok.kind not in ("TERM", "PHRASE", "("):
                raise QueryError(f"{t.text}: searches words and phrases only (no fields or NOT inside)", t.pos)
            child = self.primary()
            if not _is_text(child):
                raise QueryError(f"{t.text}: searches words and phrases only (no fields or NOT inside)", t.pos)
            return Column(t.text, child, t.pos)
        if t.kind == "FIELD":
            return Field(t.text, t.value, t.pos)
        if t.kind == "RANGE":
            return Range(t.text, t.value[0], t.value[1], t.pos)
        if t.kind == "(":
            if self.tok.kind == ")":
                raise QueryError("empty parentheses", t.pos)
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise QueryError(f"parentheses nested more than {MAX_DEPTH} deep", t.pos)
            node = self.or_()
            self.depth -= 1
            if self.tok.kind != ")":
                raise QueryError("unbalanced '(': it is never closed", t.pos)
            self.take()
            return node
        if t.kind == "EOF":
            raise QueryError("the query ends where a word was expected", t.pos)
        if t.kind == ")":
            raise QueryError("unbalanced ')': no '(' before it" if self.depth == 0 else
                             "expected a word before ')'", t.pos)
        raise QueryError(f"{t.text} needs a word before it", t.pos)

    def need_operand(self, op: _Tok) -> None:
        if self.tok.kind in ("EOF", ")", "AND", "OR", "NEAR"):
            what = "the end of the query" if self.tok.kind == "EOF" else repr(self.tok.text or self.tok.kind)
            raise QueryError(f"{op.text or op.kind} needs a word after it, not {what}", op.pos)


def _flat(kind: type, children: list[Node]) -> Node:
    if len(children) == 1:
        return children[0]
    out: list[Node] = []
    for c in children:
        out.extend(c.children if isinstance(c, kind) else [c])
    return kind(tuple(out))


def _is_text(node: Node) -> bool:
    """Words, phrases and NEAR groups combined with AND/OR (what FTS5 can match on its own)."""
    if isinstance(node, (Term, Phrase, Near)):
        return True
    if isinstance(node, (And, Or)):
        return all(_is_text(c) for c in node.children)
    return False


def _check_near_operand(node: Node, pos: int) -> None:
    ok = isinstance(node, (Term, Phrase)) and not (isinstance(node, Phrase) and node.slop is not None)
    if isinstance(node, Or):
        ok = all(isinstance(c, (Term, Phrase)) and getattr(c, "slop", None) is None for c in node.children)
    if not ok:
        raise QueryError("NEAR joins words, phrases or (a OR b) groups of them", pos)


def parse(query: str) -> Node | None:
    """The syntax tree of a query (None for an empty one), or ``QueryError``."""
    try:
        if len(query) > MAX_LENGTH:
            raise QueryError(f"query is longer than {MAX_LENGTH:,} characters", MAX_LENGTH + 1)
        return _Parser(_tokenize(query)).parse()
    except QueryError as exc:
        exc.query = query  # so the error can point into the text it was found in
        raise


# --- explain -------------------------------------------------------------------------


def explain(node: Node | None) -> str:
    """The fully parenthesized form of a query, showing how precedence grouped it."""
    if node is None:
        return "(everything)"
    if isinstance(node, Term):
        return _show_word(node.text) + ("*" if node.prefix else "")
    if isinstance(node, Phrase):
        return _quote(node.text) + (f"~{node.slop}" if node.slop is not None else "")
    if isinstance(node, Near):
        op = f" NEAR/{node.distance}{'f' if node.ordered else ''} "
        return "(" + op.join(explain(c) for c in node.operands) + ")"
    if isinstance(node, Column):
        return f"{node.column}:{explain(node.child)}"
    if isinstance(node, Field):
        return f"{node.name}:{_show_word(node.value)}"
    if isinstance(node, Range):
        low = node.low if node.low is not None else "*"
        high = node.high if node.high is not None else "*"
        if node.name == "published":
            return f"published:[{low} TO {high})"
        return f"{node.name}:[{low} TO {high}]"
    if isinstance(node, Not):
        return f"(NOT {explain(node.child)})"
    op = " AND " if isinstance(node, And) else " OR "
    return "(" + op.join(explain(c) for c in node.children) + ")"


def _show_word(text: str) -> str:
    return text if re.fullmatch(r"[\w.@'-]+", text) and text not in ("AND", "OR", "NOT") else _quote(text)


def _quote(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


# --- compile ---------------------------------------------------------------------


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


def _ordered_sql(node: Node, params: list) -> str:
    nears = [n for n in _walk(node) if isinstance(n, Near) and n.ordered]
    column = node.column if isinstance(node, Column) else None
    checks = []
    for n in nears:
        spec = {"n": n.distance, "ops": [[_operand_spec(alt) for alt in (o.children if isinstance(o, Or) else (o,))]
                                        for o in n.operands]}
        params.append(json.dumps(spec, separators=(",", ":")))
        args = "p.title, NULL" if column == "title" else "p.title, p.text"
        checks.append(f"{ORDERED_FUNCTION}({args}, ?)")
    return " AND ".join(checks)


def _operand_spec(node: Node) -> dict:
    prefix = isinstance(node, Term) and node.prefix
    words = tokens(node.text)
    return {"w": [_stem(w) for w in words], "p": prefix}  # FTS5 stems a prefix too: crashing* is crash*


def _positive_text(node: Node) -> list[Node]:
    """Text leaves not under a NOT: what to highlight."""
    if isinstance(node, (Term, Phrase, Near, Column)):
        return [node]
    if isinstance(node, (And, Or)):
        return [leaf for c in node.children for leaf in _positive_text(c)]
    return []


def _walk(node: Node):
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        if isinstance(n, (And, Or)):
            stack.extend(n.children)
        elif isinstance(n, Near):
            stack.extend(n.operands)
        elif isinstance(n, (Not, Column)):
            stack.append(n.child)


# --- NEAR/nf: word order, checked in Python on FTS5's candidates --------------------

_WORD_RE = re.compile(r"[^\W_]+")  # unicode61 keeps letters and digits; "_" separates


def tokens(text: str | None) -> list[str]:
    """Words as FTS5's unicode61 tokenizer splits them: lower case, without diacritics."""
    if not text:
        return []
    folded = text.lower()
    if not folded.isascii():
        folded = unicodedata.normalize("NFKD", folded)
        folded = "".join(ch for ch in folded if not unicodedata.combining(ch))
    return _WORD_RE.findall(folded)


@lru_cache(maxsize=1)
def _stemmer():
    import snowballstemmer

    return snowballstemmer.stemmer("porter")


@lru_cache(maxsize=200_000)
def _stem(word: str) -> str:
    """Porter stem, with a trailing 'i' dropped: SQLite's Porter and Snowball's differ only there."""
    s = _stemmer().stemWord(word)
    return s[:-1] if s.endswith("i") and len(s) > 2 else s


def near_ordered(title: str | None, text: str | None, spec_json: str) -> int:
    """1 if, in the title or the text, the NEAR operands occur in order within the distance."""
    spec = _spec(spec_json)
    quick = spec["quick"]
    for col in (title, text):
        if not col:
            continue
        if quick is not None and col.isascii():
            m = quick.search(col.lower().encode("ascii"))
            if m is None:  # no words with the right beginnings in order within the distance
                continue
            if _verified(m, spec):
                return 1
        stems = _stems_at_heads(col, spec["heads"])
        if len(stems) >= len(spec["ops"]) and _in_order(stems, spec):
            return 1
    return 0


def _verified(m: re.Match, spec: dict) -> bool:
    """Whether the words the quick pattern found are whole words with the operands' stems."""
    start = m.start()
    if start > 0 and m.string[start - 1:start].isalnum():
        return False
    for i, known in enumerate(spec["known"], 1):
        word = m.group(i)
        ok = known.get(word)
        if ok is None:  # each distinct word is stemmed once per query
            stem = _stem(word.decode("ascii"))
            ok = known[word] = any(stem.startswith(a["w"][0]) if a["p"] else stem == a["w"][0]
                                   for a in spec["ops"][i - 1])
        if not ok:
            return False
    return True


def _quick_pattern(spec: dict) -> re.Pattern | None:
    """For operands of single words: a bytes pattern for a word starting as each operand's words do,
    in order, each within the distance of the one before. No match rules a text out; a match whose
    words have the right stems rules it in; anything else takes the full check."""
    if any(len(a["w"]) != 1 for alts in spec["ops"] for a in alts):
        return None
    parts = []
    for alternatives in spec["ops"]:
        heads = sorted({_head(a["w"][0]) for a in alternatives}, key=len, reverse=True)
        if not all(h.isascii() for h in heads):
            return None
        # Possessive runs: a word is all its letters, so backtracking into one is wasted (2x faster).
        group = b"((?:" + b"|".join(re.escape(h.encode("ascii")) for h in heads) + b")[a-z0-9]*+)"
        gap = b"" if not parts else b"(?:[^a-z0-9]++[a-z0-9]++){0,%d}?[^a-z0-9]++" % spec["n"]
        parts.append(gap + group)
    return re.compile(b"".join(parts))


# unicode61 word characters among ASCII bytes become "a", the rest " ": a word starts where " a" is.
_ASCII_MASK = bytes(0x61 if chr(b).isalnum() and b < 128 else 0x20 for b in range(256))


def _stems_at_heads(col: str, heads: tuple[str, ...]) -> dict[int, str]:
    """Token position -> stem, for the words of ``col`` that start with one of ``heads``.

    Most texts are ASCII: byte searches find the few candidate words and count the words
    before them, instead of splitting and stemming every word (3x faster on 5,000 posts)."""
    try:
        low = col.encode("ascii").lower()
    except UnicodeEncodeError:
        return {i: _stem(w) for i, w in enumerate(tokens(col)) if w.startswith(heads)}
    mask = b" " + low.translate(_ASCII_MASK)  # mask[i] describes low[i - 1]
    out = {}
    for head in heads:
        h = head.encode("ascii", "ignore")
        if len(h) != len(head):  # a non-ASCII head cannot occur in ASCII text
            continue
        i = low.find(h)
        while i >= 0:
            if mask[i] == 0x20:  # a word starts here
                end = mask.find(b" ", i + 1)
                word = low[i:end - 1] if end >= 0 else low[i:]
                out[mask.count(b" a", 0, i + 1)] = _stem(word.decode("ascii"))
            i = low.find(h, i + 1)
    return out


def _head(stem: str) -> str:
    """What every word with this stem (or a stem starting with it) starts with: Porter only
    rewrites a word's last letter (y -> i, an added e) beyond what it strips."""
    return stem[:-1] if len(stem) > 2 else stem[:1]


@lru_cache(maxsize=64)
def _spec(spec_json: str) -> dict:
    spec = json.loads(spec_json)
    spec["heads"] = tuple(sorted({_head(w) for alts in spec["ops"] for a in alts for w in a["w"]}))
    spec["quick"] = _quick_pattern(spec)
    spec["known"] = [{} for _ in spec["ops"]]  # per operand: word -> has one of its stems
    return spec


def _in_order(stems: dict[int, str], spec: dict) -> bool:
    n = spec["n"]
    ends: list[int] | None = None
    for alternatives in spec["ops"]:
        spans = [(s, s + len(a["w"]) - 1) for a in alternatives for s in _occurrences(stems, a)]
        if ends is None:
            ends = [e for _, e in spans]
        else:
            ends = [e for s, e in spans if any(prev < s <= prev + n + 1 for prev in ends)]
        if not ends:
            return False
    return True


def _occurrences(stems: dict[int, str], alt: dict) -> list[int]:
    """Positions where the operand's words start."""
    w, prefix = alt["w"], alt["p"]
    first, k = w[0], len(w)
    out = []
    for i, s in stems.items():
        if k == 1:
            if s.startswith(first) if prefix else s == first:
                out.append(i)
        elif s == first and all(stems.get(i + j) == w[j] for j in range(1, k - 1)):
            last = stems.get(i + k - 1)
            if last is not None and (last.startswith(w[-1]) if prefix else last == w[-1]):
                out.append(i)
    return out
