"""Search: the search page (with an editor's bulk actions on the selected results), its CSV export
and ``/api/search``."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Iterator, Literal
from urllib.parse import parse_qs

import sqlite_utils
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from listener import search as search_mod
from listener import store
from listener.app.web.deps import (CSRF_FIELD, DbDep, NowDep, PagesDep, SettingsDep, csrf_token, current_principal,
                                   require_csrf, require_role)
from listener.app.web.models import QUERY_PATTERN, VALUE_PATTERN, Day, SearchResponse, Sort, error
from listener.app.web.render import link
from listener.errors import SQLITE_INT_MAX, BadInput, NotFound
from listener.search.query import SENTIMENTS, QueryError
from listener.users import Principal
from reports.digest import NOT_COMPUTED_NOTICE

API_MAX_LIMIT = 500
API_MAX_OFFSET = SQLITE_INT_MAX - API_MAX_LIMIT  # offset + limit stays an integer SQLite stores
router = APIRouter()
Sentiment = Literal[SENTIMENTS]  # type: ignore[valid-type]


@router.get("/", include_in_schema=False)
def home() -> RedirectResponse:
    return RedirectResponse("/search", status_code=303)


@router.get("/search", response_class=HTMLResponse, include_in_schema=False)
def search_page(request: Request, db: DbDep, settings: SettingsDep, pages: PagesDep, q: str = "", product: str = "",
                source: str = "", sentiment: str = "", language: str = "", since: str = "", until: str = "",
                sort: str = "relevance", page: int = Query(1, ge=1, le=SQLITE_INT_MAX), changed: int = -1,
                skipped: int = 0) -> HTMLResponse:
    form = dict(q=q, product=product, source=source, sentiment=sentiment, language=language,
                since=since, until=until, sort=sort)
    choices = {"products": [p.name for p in settings.products],
               "sources": store.distinct_values(db, "posts", "source")}
    size = settings.serve.page_size
    if page > SQLITE_INT_MAX // size:
        raise BadInput(f"page: at most {SQLITE_INT_MAX // size} with {size} results a page, got {page}", field="page")
    # an invalid query or a slow search is shown in the form, not on the error page
    try:
        plan = search_mod.prepare(db, q, filters=_filters(form), sort=sort)
    except QueryError as exc:
        if exc.position is None:  # a filter box's value: the error page names the box
            raise
        return pages.render("search.html.j2", status=400, form=form, choices=choices, error=exc,
                            pointer=exc.pointer(q) if q else "", page=None)
    try:
        result = search_mod.search(db, plan, limit=size, offset=(page - 1) * size,
                                   timeout=settings.serve.search_timeout)
    except search_mod.SearchTooSlow as exc:
        return pages.render("search.html.j2", status=422, form=form, choices=choices, error=None, pointer="",
                            page=None, slow=str(exc))
    count = max(1, -(-result.total // size))
    links = {"prev": link("/search", form, page=page - 1) if page > 1 else None,
             "next": link("/search", form, page=page + 1) if page < count else None,
             "csv": link("/search.csv", form)}
    who = current_principal(request)
    editor = who is not None and who.can("editor")  # may save this search (the form posts to /saved), bulk actions
    bulk = {"csrf": csrf_token(request), "field": CSRF_FIELD, "actions": BULK_ACTIONS,
            "back": link("/search", form, page=page), "changed": changed, "skipped": skipped} if editor else None
    return pages.render("search.html.j2", form=form, choices=choices, error=None, pointer="", page=result,
                        number=page, pages=count, links=links, notice=_notice(db, plan),
                        csrf=csrf_token(request) if editor else "", bulk=bulk)


BULK_ACTIONS = {"not_about": "mark not about", "about": "mark about (count it)", "positive": "relabel as positive",
                "neutral": "relabel as neutral", "negative": "relabel as negative",
                "undo": "undo the last change of"}


@router.post("/search/bulk", include_in_schema=False, dependencies=[Depends(require_csrf)])
async def bulk_form(request: Request, user: Annotated[Principal, Depends(require_role("editor"))],
                    settings: SettingsDep, request_now: NowDep) -> Response:
    """The search page's bulk form: fields ``post`` (one per selected result), ``product``, ``action``
    (a sentiment, ``not_about``, ``about`` or ``undo``) and ``back`` (the results' URL). Each selected post's
    mention of the product changes as on the post page (one audit row each); ``undo`` undoes the newest change
    of each mention that can be undone, as its undo button does. Posts that do not mention the product, or
    (undo) have no change to undo, are skipped."""
    form = parse_qs((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
    action, product = (form.get(k, [""])[-1] for k in ("action", "product"))
    back = form.get("back", ["/search"])[-1]
    if not back.startswith("/search") or back.startswith("/search/"):   # never off this page
        back = "/search"
    if action not in BULK_ACTIONS:
        raise BadInput(f"action must be one of {', '.join(BULK_ACTIONS)}, got {action!r}", field="action")
    try:
        ids = sorted({int(v) for v in form.get("post", [])})
    except ValueError:
        raise BadInput("post: expected post ids (whole numbers)", field="post") from None
    if not ids:
        raise BadInput("post: select at least one result", field="post")
    if not 0 < ids[0] <= ids[-1] <= SQLITE_INT_MAX:
        raise BadInput("post: a post id is out of range", field="post")
    changed = await run_in_threadpool(_bulk, settings, ids, product, action, user, request_now)
    sep = "&" if "?" in back else "?"
    return RedirectResponse(f"{back}{sep}changed={changed}&skipped={len(ids) - changed}", status_code=303)


def _bulk(settings, ids: list[int], product: str, action: str, who: Principal, now: str) -> int:
    """Apply ``action`` to each post's mention of ``product``: how many changed."""
    from listener.labels import change_mention, undo_last

    db = store.open_db(settings.db_path, migrate=False)
    changed = 0
    try:
        for post_id in ids:
            try:
                if action == "undo":
                    changed += undo_last(db, settings, post_id, product, who=who.who, now=now)
                else:
                    change_mention(db, settings, post_id, product, action, who=who.who, now=now)
                    changed += 1
            except NotFound:   # the post does not mention the product (or is gone)
                pass
    finally:
        db.close()
    return changed


@router.get("/search.csv", include_in_schema=False)
def search_csv(db: DbDep, settings: SettingsDep, q: str = "", product: str = "", source: str = "",
               sentiment: str = "", language: str = "", since: str = "", until: str = "",
               sort: str = "relevance") -> Response:
    """Every result as CSV. The query is run and its first rows read before the response starts, so a
    failure is an error answer (the error page, with its status), not a 200 with an empty body."""
    form = dict(q=q, product=product, source=source, sentiment=sentiment, language=language,
                since=since, until=until)
    plan = search_mod.prepare(db, q, filters=_filters(form), sort=sort)
    conn = store.open_db(settings.db_path, migrate=False)  # lives as long as the stream
    try:
        hits = search_mod.iter_results(conn, plan)  # runs the query: a failure raises here
    except BaseException:
        conn.close()
        raise

    def stream() -> Iterator[str]:
        try:
            yield from search_mod.csv_chunks(hits)
        finally:
            conn.close()

    return StreamingResponse(stream(), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": 'attachment; filename="search.csv"'})


@router.get("/api/search", response_model=SearchResponse, tags=["search"],
            responses={400: error("An invalid query (`error` says why, `position` where, 1-based) or parameter "
                                  "(`field` names it)"),
                       422: error("The search took longer than `serve.search_timeout` and was stopped")})
def api_search(db: DbDep, settings: SettingsDep,
               q: str = Query("", description="Query in the listener query language (README: Search); "
                                              "control characters other than tab and line breaks are refused",
                              json_schema_extra={"pattern": QUERY_PATTERN}),
               product: str = Query("", description="Only posts mentioning this product",
                                    json_schema_extra={"pattern": VALUE_PATTERN}),
               source: str = Query("", description="Only posts from this source",
                                   json_schema_extra={"pattern": VALUE_PATTERN}),
               sentiment: Sentiment | None = Query(None, description="Only posts of this sentiment"),
               language: str = Query("", description="Only posts in this language (a code such as en)"),
               since: Day | None = Query(None, description="First day, inclusive (UTC)"),
               until: Day | None = Query(None, description="Last day, inclusive (UTC)"),
               sort: Sort = "relevance",
               limit: int = Query(50, ge=1, le=API_MAX_LIMIT),
               offset: int = Query(0, ge=0, le=API_MAX_OFFSET)) -> dict:
    """One page of posts matching a query, with the total count and highlighted snippets."""
    filters = search_mod.Filters(product=product or None, source=source or None, sentiment=sentiment or None,
                                 language=language or None, since=since, until=until)
    plan = search_mod.prepare(db, q, filters=filters, sort=sort)
    result = search_mod.search(db, plan, limit=limit, offset=offset, timeout=settings.serve.search_timeout)
    return {"query": q, "parenthesized": plan.compiled.parenthesized, "sort": sort,
            "total": result.total, "ranked": result.ranked, "offset": offset, "limit": limit,
            "hits": [h.to_json() for h in result.hits], "notice": _notice(db, plan)}


def _notice(db: sqlite_utils.Database, plan: search_mod.Plan) -> str | None:
    """The not-computed note when the query asks for sentiment about a product and some mentions
    have none yet (they match no sentiment: beside a product)."""
    return NOT_COMPUTED_NOTICE if plan.compiled.about_products and store.unjudged_mentions(db) else None


def _filters(form: dict) -> search_mod.Filters:
    days = {}
    for key in ("since", "until"):
        try:
            days[key] = date.fromisoformat(form[key]) if form[key] else None
        except ValueError:
            raise QueryError(f"{key}: expected a date such as 2026-11-01, got {form[key]!r}", None,
                             field=key) from None
    return search_mod.Filters(product=form["product"] or None, source=form["source"] or None,
                              sentiment=form["sentiment"] or None, language=form["language"] or None, **days)
