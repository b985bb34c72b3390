"""Running a plan: ``search`` finds one page (the total, highlighted title and snippet, tags) within a
time budget; ``iter_results`` streams every result in order.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from itertools import chain
from typing import Iterator

import sqlite_utils

from listener import store
from listener.errors import SQLITE_INT_MAX, BadInput, UserError
from listener.search.near import _connect
from listener.search.plan import FTS_COUNT, Plan, rank_depth
from listener.text import snippet

MARK_OPEN, MARK_CLOSE = "\ue000", "\ue001"   # private-use characters around highlighted words
SNIPPET_TOKENS = 40


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


class SearchTooSlow(UserError):
    """A search stopped at its time budget."""

    http_status = 422

    def __init__(self, seconds: float):
        super().__init__(f"the search took longer than {seconds:g} s and was stopped; narrow it "
                         f"(a field filter, a date range, fewer very common words)")
        self.seconds = seconds


BUDGET_CHECK_STEPS = 10_000  # SQLite steps between looks at the clock (about 0.1 ms apart)


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
    ``SearchTooSlow`` if finding them takes longer than ``timeout`` seconds; ``BadInput`` for a page
    SQLite cannot count to (a negative limit or offset, or their sum past its integers)."""
    check_page(limit, offset)
    _connect(db)
    with _budget(db, timeout):
        ids, total, ranked = _page_ids(db, plan, limit, offset)
    hits = [_hit(r) for r in store.posts_by_id(db, ids)]
    _decorate(db, plan, hits)
    return Page(plan, total, offset, limit, hits, ranked=ranked)


def check_page(limit: int, offset: int) -> None:
    """``BadInput`` naming ``limit`` or ``offset`` unless the page's last row is one SQLite can number."""
    if limit < 0:
        raise BadInput(f"limit: must be 0 or more, got {limit}", field="limit")
    if offset < 0:
        raise BadInput(f"offset: must be 0 or more, got {offset}", field="offset")
    if offset + limit > SQLITE_INT_MAX:
        raise BadInput(f"offset: with limit {limit} it must be at most {SQLITE_INT_MAX - limit}, got {offset}",
                       field="offset")


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


def _range_size(db: sqlite_utils.Database, plan: Plan) -> int | None:
    """Posts in the query's top-level engagement (else published) range, counted on its index."""
    index = plan.range_index()
    if index is None:
        return None
    sql, params = plan.index_bounds(index)
    return store.tuples(db, f"SELECT count(*) FROM posts p INDEXED BY {index} WHERE 1{sql}", params)[0][0]


def iter_results(db: sqlite_utils.Database, plan: Plan, *, limit: int | None = None,
                 batch: int = 1000) -> Iterator[Hit]:
    """Every result in order (at most ``limit``), fetched in batches, with products and topics.

    The first batch is read before this returns, so a search that fails raises here, before an
    export has written anything (an error answer, not a 200 with an empty body)."""
    if limit:
        check_page(limit, 0)
    _connect(db)
    batches = store.iter_rows(db, plan.select_sql(paged=False) + (" LIMIT ?" if limit else ""),
                              [*plan.params] + ([limit] if limit else []), batch=batch)
    return chain(_tagged(db, next(batches, [])), (h for rows in batches for h in _tagged(db, rows)))


def _tagged(db: sqlite_utils.Database, rows: list[dict]) -> list[Hit]:
    hits = [_hit(r) for r in rows]
    _attach_tags(db, hits)
    return hits


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
