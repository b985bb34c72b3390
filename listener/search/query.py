"""The boolean query language: tokens, syntax tree, parser, and the parenthesized form of a tree.

A Brandwatch-style subset::

    firefox "battery life" complain*        terms, "exact phrases", trailing wildcards
    a OR b AND c  ==  a OR (b AND c)         precedence NOT > AND > OR; a space is AND
    firefox -crash  ==  firefox NOT crash    exclusion
    crash NEAR/5 firefox                     within 5 words, either order
    crash NEAR/5f firefox                    within 5 words, crash first
    "slow startup"~4                         the phrase's words within 4 words of each other
    <<<comments are ignored>>>
    product:Firefox source:hn site:example.com author:alice title:crash lang:en relevance:low
    sentiment:negative topic:pricing published:[2026-11-01 TO 2026-11-20] engagement:[10 TO *]

Every mistake raises ``QueryError`` with the 1-based character position it was found at (or,
for a filter box, the box's name). Control characters other than tab and line breaks are refused,
and every number must fit in SQLite (a NEAR distance or a phrase's slop in ``MAX_DISTANCE``).
``compiler`` turns a tree into FTS5 MATCH plus parameterized SQL.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Union

from listener.errors import SQLITE_INT_MAX, SQLITE_INT_MIN, UserError
from listener.text import iso_utc

MAX_LENGTH = 10_000        # characters in one query
MAX_DEPTH = 64             # nested parentheses
MIN_PREFIX = 2             # word characters before a trailing *
MAX_DISTANCE = 1_000_000   # words in NEAR/N and "phrase"~N (FTS5 reads them as 32-bit numbers)
FIRST_DAY, LAST_DAY = date(1, 1, 2), date(9999, 12, 30)  # published bounds: a day either side stays a date

TEXT_FIELDS = ("title",)
VALUE_FIELDS = ("product", "source", "site", "author", "lang", "sentiment", "topic", "relevance")
RANGE_FIELDS = ("published", "engagement")
ALIASES = {"language": "lang"}
FIELDS = tuple(sorted(TEXT_FIELDS + VALUE_FIELDS + RANGE_FIELDS + tuple(ALIASES)))
SENTIMENTS = ("positive", "neutral", "negative")


class QueryError(UserError, ValueError):
    """An invalid query; ``position`` is the 1-based character where the problem is (None for a
    filter box's value, which ``field`` names instead)."""

    query: str | None = None  # the text it points into, set by ``parse``

    def __init__(self, message: str, position: int | None, field: str | None = None):
        super().__init__(message if position is None else f"{message} (at position {position})", field=field)
        self.message = message
        self.position = position

    def details(self) -> str:
        """The CLI's message: the error, then the query with a caret under the problem."""
        text = f"invalid query: {self}"
        return text if self.query is None or self.position is None else f"{text}\n{self.pointer(self.query)}"

    def pointer(self, query: str) -> str:
        """The query on one line and a caret under the problem ("" when it is not in the query)."""
        if self.position is None:
            return ""
        line = "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in query)
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
                toks.append(_Tok("NEAR", i + 1, word, (_distance(m.group(1), i + 1), bool(m.group(2)))))
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
        slop, j = _distance(m.group(1), j + 2), m.end()
    elif q.startswith("~", j):
        raise QueryError('expected a number after "~", as in "slow startup"~4', j + 1)
    return _Tok("PHRASE", i + 1, text, slop), j


def _distance(digits: str, pos: int) -> int:
    """A NEAR distance or a phrase's slop, at most ``MAX_DISTANCE`` words."""
    if len(digits) > len(str(MAX_DISTANCE)) or int(digits) > MAX_DISTANCE:
        raise QueryError(f"a distance is at most {MAX_DISTANCE:,} words, got {digits}", pos)
    return int(digits)


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


def _field_value(key: str, value: str, pos: int | None, param: str | None = None) -> str:
    """A field's value, normalized; ``QueryError`` at ``pos`` in the query, or naming the box ``param``."""
    def fail(message: str) -> QueryError:
        return QueryError(message, pos, field=param)

    if any(unicodedata.category(ch) == "Cc" for ch in value):
        raise fail(f"{key}: control characters are not allowed, got {value!r}")
    if key == "sentiment":
        v = value.lower()
        if v not in SENTIMENTS:
            raise fail(f"sentiment: is one of {', '.join(SENTIMENTS)}, got {value!r}")
        return v
    if key == "relevance":
        if value.lower() != "low":
            raise QueryError(f"relevance: takes low (mentions judged not about their product), got {value!r}", pos)
        return "low"
    if key == "lang":
        v = value.lower()
        if not re.fullmatch(r"[a-z]{2,3}", v):
            raise fail(f"lang: takes a language code such as en or de, got {value!r}")
        return v
    if key == "site":
        v = value.lower().strip().strip("/")
        v = re.sub(r"^[a-z]+://", "", v).split("/")[0]
        v = v[4:] if v.startswith("www.") else v
        if not re.fullmatch(r"[a-z0-9.-]+\.[a-z0-9-]+|localhost", v):
            raise fail(f"site: takes a domain such as example.com, got {value!r}")
        return v
    if not value:
        raise fail(f"{key}: needs a value")
    return value


def field_filter(name: str, value: str, param: str | None = None) -> Field:
    """A field filter from a form box (``product``, ``source``, ``sentiment``, ``lang``...), validated;
    a ``QueryError`` names the box (``param``, default ``name``)."""
    return Field(name, _field_value(name, value, None, param or name))


def _range_values(key: str, low: str | None, high: str | None, pos: int) -> tuple[str | None, str | None]:
    """Normalized bounds: UTC timestamps (high exclusive) for published, integers for engagement."""
    if key == "engagement":
        out = []
        for v in (low, high):
            if v is not None and not re.fullmatch(r"-?\d+", v):
                raise QueryError(f"engagement: bounds are whole numbers or *, got {v!r}", pos)
            short = v is None or len(v.lstrip("-").lstrip("0")) <= 19  # int() of a longer one is wasted work
            if v is not None and not (short and SQLITE_INT_MIN <= int(v) <= SQLITE_INT_MAX):
                raise QueryError(f"engagement: bounds are whole numbers from {SQLITE_INT_MIN} to "
                                 f"{SQLITE_INT_MAX} or *, got {v}", pos)
            out.append(v)
        return out[0], out[1]
    return _time_bound(low, pos, end=False), _time_bound(high, pos, end=True)


def _time_bound(v: str | None, pos: int, *, end: bool) -> str | None:
    if v is None:
        return None
    try:
        if len(v) == 10:
            d = date.fromisoformat(v)
        else:
            t = datetime.fromisoformat(v.replace("Z", "+00:00"))
            d, utc = None, iso_utc(t) or ""
    except (ValueError, OverflowError):
        raise QueryError(f"published: bounds are dates such as 2026-11-01 (or *), got {v!r}", pos) from None
    if d is not None:
        return day_bound(d, end=end, pos=pos)
    day_bound(date.fromisoformat(utc[:10]), end=False, pos=pos)  # in range
    return utc


def day_bound(d: date, *, end: bool, pos: int | None = 1, field: str | None = None) -> str:
    """The UTC timestamp a published range starts at (``end``: the day after, where it stops);
    ``QueryError`` for a day outside ``FIRST_DAY``..``LAST_DAY``."""
    if not FIRST_DAY <= d <= LAST_DAY:
        raise QueryError(f"{field or 'published'}: days run from {FIRST_DAY.isoformat()} to {LAST_DAY.isoformat()}, "
                         f"got {d.isoformat()}", None if field else pos, field=field)
    return (d + timedelta(days=1) if end else d).isoformat() + "T00:00:00Z"


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
        for i, ch in enumerate(query):
            if unicodedata.category(ch) == "Cc" and ch not in "\t\n\r":
                raise QueryError(f"control character U+{ord(ch):04X} is not allowed in a query", i + 1)
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
