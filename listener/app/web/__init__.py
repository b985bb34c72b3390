"""``listener serve``: server-rendered search pages, product overviews, post pages and a JSON API.

FastAPI with Jinja2 templates (autoescaped) and no JavaScript. Every response carries a
Content-Security-Policy that allows only this server's stylesheet; charts are inline SVG.
With a token configured (``serve.token`` or ``$LISTENER_API_TOKEN``) every page and API call
needs ``Authorization: Bearer TOKEN`` or the cookie set by ``/login``; without one the
server only listens on a loopback address.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
from dataclasses import asdict
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Callable, Iterator, Literal
from urllib.parse import parse_qs, quote, urlencode

import sqlite_utils
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, StreamingResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape
from pydantic import BaseModel

from listener import search as search_mod
from listener import store
from listener.config import Settings
from listener.errors import UserError
from listener.search.query import QueryError
from reports.overview import ProductOverview, overviews, window_end
from reports.render import safe_url

TOKEN_ENV = "LISTENER_API_TOKEN"
COOKIE = "listener_token"
CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; "
       "frame-ancestors 'none'")
STYLE = Path(__file__).parent / "static" / "style.css"
API_MAX_LIMIT = 500


class ServeError(UserError):
    """The server refuses to start; the message says why."""


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def configured_token(settings: Settings) -> str | None:
    return os.environ.get(TOKEN_ENV) or settings.serve.token


def run(settings: Settings, *, host: str, port: int, quiet: bool = False) -> None:
    """Serve until interrupted; refuse a non-loopback host without a token."""
    import uvicorn

    token = configured_token(settings)
    if not is_loopback(host) and not token:
        raise ServeError(f"refusing to listen on {host} without a token: set serve.token in "
                         f"{settings.path} or ${TOKEN_ENV}, or listen on 127.0.0.1")
    app = create_app(settings, token=token)
    if not quiet:
        print(f"listener: serving {settings.db_path} on http://{host}:{port}/ "
              f"({'token required' if token else 'no token: loopback only'})")
    uvicorn.run(app, host=host, port=port, log_level="warning" if quiet else "info")


# --- API models (the OpenAPI document's schemas) ------------------------------------


class ProductTag(BaseModel):
    product: str
    alias: str


class SearchHit(BaseModel):
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
    title_highlighted: str
    snippet_highlighted: str
    products: list[ProductTag]
    topics: list[str]


class SearchResponse(BaseModel):
    query: str
    parenthesized: str
    sort: str
    total: int
    ranked: int | None = None  # relevance order: how many of the newest matches were ranked
    offset: int
    limit: int
    hits: list[SearchHit]


class Explanation(BaseModel):
    label: str | None
    vader_compound: float | None
    positive_threshold: float
    negative_threshold: float
    reason: str
    classifier: str | None
    classified_at: str | None


class PostDetail(BaseModel):
    id: int
    source: str
    guid: str
    url: str | None
    author: str | None
    title: str | None
    text: str | None
    posted_at: str
    language: str | None
    engagement: int
    score: int | None
    comments: int | None
    likes: int | None
    shares: int | None
    products: list[ProductTag]
    topics: list[str]
    explanation: Explanation


class DayPoint(BaseModel):
    day: str
    mentions: int
    net_sentiment: float | None


class ProductSummary(BaseModel):
    name: str
    ours: bool
    start: str
    end: str
    mentions: int
    share_of_voice: float | None
    net_sentiment: float | None
    days: list[DayPoint]
    topics: list[dict]
    top_engaged: list[dict]


class Stats(BaseModel):
    posts: int
    classified: int
    first_post_at: str | None
    last_post_at: str | None
    labels: dict[str, int]
    sources: dict[str, int]
    products: dict[str, int]


class SavedSearch(BaseModel):
    name: str
    query: str
    owner: str | None
    created_at: str
    updated_at: str


# --- the app -----------------------------------------------------------------------------


def create_app(settings: Settings, *, token: str | None = None,
               today: Callable[[], date] = lambda: datetime.now(timezone.utc).date()) -> FastAPI:
    """The ASGI app over ``settings.db_path`` (tests call this directly with a test client)."""
    app = FastAPI(title="listener", version="1", summary="Search collected posts, products and stats.",
                  docs_url=None, redoc_url=None, openapi_url="/api/openapi.json")
    env = _templates()
    stylesheet = STYLE.read_text(encoding="utf-8")  # read once, not per request
    page_size = settings.serve.page_size
    db = store.open_db(settings.db_path)  # migrate once; requests open their own connections
    db.close()

    def get_db() -> Iterator[sqlite_utils.Database]:
        conn = store.open_db(settings.db_path, migrate=False)
        try:
            yield conn
        finally:
            conn.close()

    @app.middleware("http")
    async def guard(request: Request, call_next):
        path = request.url.path
        if token and path not in ("/login", "/static/style.css") and not _authorized(request, token):
            if path.startswith("/api/"):
                response = JSONResponse({"error": "missing or wrong bearer token"}, status_code=401,
                                        headers={"WWW-Authenticate": "Bearer"})
            else:
                response = RedirectResponse("/login", status_code=303)
        else:
            response = await call_next(request)
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Frame-Options"] = "DENY"
        return response

    def render(name: str, status: int = 200, **ctx) -> HTMLResponse:
        return HTMLResponse(env.get_template(name).render(auth=bool(token), **ctx), status_code=status)

    # --- pages ---

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/search", status_code=303)

    @app.get("/static/style.css", include_in_schema=False)
    def style() -> PlainTextResponse:
        return PlainTextResponse(stylesheet, media_type="text/css")

    @app.get("/login", include_in_schema=False)
    def login_form() -> HTMLResponse:
        return render("login.html.j2", error=None)

    @app.post("/login", include_in_schema=False)
    async def login(request: Request):
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        given = (form.get("token") or [""])[0]
        if not token or not hmac.compare_digest(given.encode(), token.encode()):
            return render("login.html.j2", status=403, error="Wrong token.")
        response = RedirectResponse("/search", status_code=303)
        response.set_cookie(COOKIE, token, httponly=True, samesite="strict")
        return response

    @app.get("/search", response_class=HTMLResponse, include_in_schema=False)
    def search_page(request: Request, db: sqlite_utils.Database = Depends(get_db), q: str = "",
                    product: str = "", source: str = "", sentiment: str = "", language: str = "",
                    since: str = "", until: str = "", sort: str = "relevance", page: int = Query(1, ge=1)):
        form = dict(q=q, product=product, source=source, sentiment=sentiment, language=language,
                    since=since, until=until, sort=sort)
        choices = {"products": [p.name for p in settings.products],
                   "sources": store.distinct_values(db, "posts", "source")}
        try:
            plan = search_mod.prepare(db, q, filters=_filters(form), sort=sort)
        except QueryError as exc:
            return render("search.html.j2", status=400, form=form, choices=choices, error=exc,
                          pointer=exc.pointer(q) if q else "", page=None)
        try:
            result = search_mod.search(db, plan, limit=page_size, offset=(page - 1) * page_size,
                                       timeout=settings.serve.search_timeout)
        except search_mod.SearchTooSlow as exc:
            return render("search.html.j2", status=422, form=form, choices=choices, error=None, pointer="",
                          page=None, slow=str(exc))
        pages = max(1, -(-result.total // page_size))
        links = {"prev": _link("/search", form, page=page - 1) if page > 1 else None,
                 "next": _link("/search", form, page=page + 1) if page < pages else None,
                 "csv": _link("/search.csv", form)}
        return render("search.html.j2", form=form, choices=choices, error=None, pointer="", page=result,
                      number=page, pages=pages, links=links)

    @app.get("/search.csv", include_in_schema=False)
    def search_csv(db: sqlite_utils.Database = Depends(get_db), q: str = "", product: str = "",
                   source: str = "", sentiment: str = "", language: str = "", since: str = "",
                   until: str = "", sort: str = "relevance"):
        form = dict(q=q, product=product, source=source, sentiment=sentiment, language=language,
                    since=since, until=until)
        try:
            plan = search_mod.prepare(db, q, filters=_filters(form), sort=sort)
        except QueryError as exc:
            return PlainTextResponse(f"invalid query: {exc}\n", status_code=400)
        conn = store.open_db(settings.db_path, migrate=False)  # lives as long as the stream

        def stream() -> Iterator[str]:
            try:
                yield from search_mod.csv_chunks(search_mod.iter_results(conn, plan))
            finally:
                conn.close()

        return StreamingResponse(stream(), media_type="text/csv; charset=utf-8",
                                 headers={"Content-Disposition": 'attachment; filename="search.csv"'})

    @app.get("/products", response_class=HTMLResponse, include_in_schema=False)
    def products_page(db: sqlite_utils.Database = Depends(get_db)):
        return render("products.html.j2", items=_overviews(db), days=settings.serve.chart_days)

    @app.get("/products/{name}", response_class=HTMLResponse, include_in_schema=False)
    def product_page(name: str, db: sqlite_utils.Database = Depends(get_db)):
        items, item = _product(db, name)
        return render("product.html.j2", item=item, items=items, mentions_chart=_chart(item, "mentions"),
                      net_chart=_chart(item, "net"), days=settings.serve.chart_days)

    @app.get("/posts/{post_id}", response_class=HTMLResponse, include_in_schema=False)
    def post_page(post_id: int, db: sqlite_utils.Database = Depends(get_db)):
        return render("post.html.j2", post=_post(db, post_id))

    # --- API ---

    @app.get("/api/search", response_model=SearchResponse, tags=["search"],
             responses={400: {"description": "Invalid query: `error` says why, `position` where (1-based)"},
                        422: {"description": "The search took longer than `serve.search_timeout`: `error` says so"}})
    def api_search(db: sqlite_utils.Database = Depends(get_db),
                   q: str = Query("", description="Query in the listener query language"),
                   product: str = "", source: str = "", sentiment: str = "", language: str = "",
                   since: date | None = None, until: date | None = None,
                   sort: Literal["relevance", "date", "engagement"] = "relevance",
                   limit: int = Query(50, ge=1, le=API_MAX_LIMIT), offset: int = Query(0, ge=0)):
        """One page of posts matching a query, with the total count and highlighted snippets."""
        try:
            filters = search_mod.Filters(product=product or None, source=source or None,
                                         sentiment=sentiment or None, language=language or None,
                                         since=since, until=until)
            plan = search_mod.prepare(db, q, filters=filters, sort=sort)
        except QueryError as exc:
            return JSONResponse({"error": exc.message, "position": exc.position}, status_code=400)
        try:
            result = search_mod.search(db, plan, limit=limit, offset=offset, timeout=settings.serve.search_timeout)
        except search_mod.SearchTooSlow as exc:
            return JSONResponse({"error": str(exc)}, status_code=422)
        return {"query": q, "parenthesized": plan.compiled.parenthesized, "sort": sort,
                "total": result.total, "ranked": result.ranked, "offset": offset, "limit": limit,
                "hits": [h.to_json() for h in result.hits]}

    @app.get("/api/posts/{post_id}", response_model=PostDetail, tags=["posts"])
    def api_post(post_id: int, db: sqlite_utils.Database = Depends(get_db)):
        """One post with its tags and why it got its sentiment label."""
        return _post(db, post_id)

    @app.get("/api/products", response_model=list[ProductSummary], tags=["products"])
    def api_products(db: sqlite_utils.Database = Depends(get_db)):
        """Every configured product over the chart window (default 30 days)."""
        return [_summary(o) for o in _overviews(db)]

    @app.get("/api/products/{name}", response_model=ProductSummary, tags=["products"])
    def api_product(name: str, db: sqlite_utils.Database = Depends(get_db)):
        """One product's days, share of voice, top topics and most engaged mentions."""
        return _summary(_product(db, name)[1])

    @app.get("/api/stats", response_model=Stats, tags=["stats"])
    def api_stats(db: sqlite_utils.Database = Depends(get_db)):
        """Totals over the whole store."""
        stats = store.post_stats(db)
        stats["sources"] = {r["name"]: r["posts"] for r in store.sources_table(db)}
        stats["products"] = dict(db.execute("SELECT product, count(*) FROM mentions GROUP BY product").fetchall())
        return stats

    @app.get("/api/saved-searches", response_model=list[SavedSearch], tags=["search"])
    def api_saved(db: sqlite_utils.Database = Depends(get_db), owner: str | None = None):
        """Saved searches (name, query, owner)."""
        return store.saved_searches(db, owner)

    def _product(db: sqlite_utils.Database, name: str) -> tuple[list[ProductOverview], ProductOverview]:
        items = _overviews(db, detail=name)
        for o in items:
            if o.name == name:
                return items, o
        raise HTTPException(404, f"no product named {name!r} in the settings")

    def _overviews(db: sqlite_utils.Database, detail: str | None = None) -> list:
        """Every product's overview for the chart window ending on the latest day with mentions."""
        return overviews(db, settings, end=window_end(db, today()), days=settings.serve.chart_days, detail=detail)

    def _post(db: sqlite_utils.Database, post_id: int) -> dict:
        p = store.get_post(db, post_id)
        if p is None:
            raise HTTPException(404, f"no post with id {post_id}")
        # get_post already read the mentions (by product) and topics (by topic)
        p["products"], p["topics"] = p["mentions"], [t["topic"] for t in p["topics"]]
        p["explanation"] = _explain(p, settings)
        return p

    @app.exception_handler(HTTPException)
    async def not_found(request: Request, exc: HTTPException):
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": exc.detail}, status_code=exc.status_code)
        return render("error.html.j2", status=exc.status_code, message=exc.detail)

    return app


def _authorized(request: Request, token: str) -> bool:
    header = request.headers.get("authorization", "")
    given = header[7:] if header.lower().startswith("bearer ") else request.cookies.get(COOKIE, "")
    return bool(given) and hmac.compare_digest(given.encode(), token.encode())


def _filters(form: dict) -> search_mod.Filters:
    days = {}
    for key in ("since", "until"):
        try:
            days[key] = date.fromisoformat(form[key]) if form[key] else None
        except ValueError:
            raise QueryError(f"{key}: expected a date such as 2026-11-01, got {form[key]!r}", 1) from None
    return search_mod.Filters(product=form["product"] or None, source=form["source"] or None,
                              sentiment=form["sentiment"] or None, language=form["language"] or None, **days)


def _link(path: str, form: dict, **extra) -> str:
    params = {k: v for k, v in {**form, **extra}.items() if v not in ("", None)}
    return path + ("?" + urlencode(params) if params else "")


def _explain(p: dict, settings: Settings) -> dict:
    k = settings.classify
    c, label = p["sentiment"], p["sentiment_label"]
    if c is None:
        reason = "not classified yet"
    elif label == "positive":
        reason = f"VADER compound {c:+.3f} is at or above the positive threshold {k.positive_threshold:+.2f}"
    elif label == "negative":
        reason = f"VADER compound {c:+.3f} is at or below the negative threshold {k.negative_threshold:+.2f}"
    else:
        reason = (f"VADER compound {c:+.3f} is between the thresholds "
                  f"{k.negative_threshold:+.2f} and {k.positive_threshold:+.2f}")
    return {"label": label, "vader_compound": c, "positive_threshold": k.positive_threshold,
            "negative_threshold": k.negative_threshold, "reason": reason, "classifier": p["classifier"],
            "classified_at": p["classified_at"]}


def _summary(o: ProductOverview) -> dict:
    d = asdict(o)
    d["days"] = [{"day": x.day, "mentions": x.mentions, "net_sentiment": x.net_sentiment} for x in o.days]
    return d


# --- rendering helpers ---------------------------------------------------------------------

CHART_W, CHART_H, CHART_PAD = 640, 160, 24


def _chart(o: ProductOverview, kind: str) -> dict:
    """Bar geometry for an inline SVG chart: mentions per day, or net sentiment (-100..100) per day."""
    n = len(o.days)
    step = (CHART_W - 2 * CHART_PAD) / max(n, 1)
    inner = CHART_H - 2 * CHART_PAD
    bars = []
    if kind == "mentions":
        peak = max([d.mentions for d in o.days] + [1])
        zero = CHART_PAD + inner
        for i, d in enumerate(o.days):
            h = inner * d.mentions / peak
            bars.append({"x": CHART_PAD + i * step + 1, "y": zero - h, "w": max(step - 2, 1), "h": h,
                         "cls": "bar", "label": f"{d.day}: {d.mentions} mention(s)"})
        axis = {"top": f"{peak}", "bottom": "0"}
    else:
        zero = CHART_PAD + inner / 2
        for i, d in enumerate(o.days):
            v = d.net_sentiment
            h = 0 if v is None else inner / 2 * abs(v) / 100
            bars.append({"x": CHART_PAD + i * step + 1, "y": zero - h if (v or 0) >= 0 else zero,
                         "w": max(step - 2, 1), "h": h, "cls": "pos" if (v or 0) >= 0 else "neg",
                         "label": f"{d.day}: " + ("no mentions" if v is None else f"net sentiment {v:+.0f}")})
        axis = {"top": "+100", "bottom": "-100"}
    return {"w": CHART_W, "h": CHART_H, "pad": CHART_PAD, "zero": zero, "bars": bars, "axis": axis,
            "first": o.days[0].day if o.days else "", "last": o.days[-1].day if o.days else ""}


def _marked(value: str | None) -> Markup:
    """Highlight markers as <mark>, everything else escaped."""
    out = Markup("")
    for part, on in search_mod.marked_parts(value or ""):
        out += Markup("<mark>{}</mark>").format(part) if on else escape(part)
    return out


def _templates() -> Environment:
    env = Environment(loader=PackageLoader("listener.app.web", "templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(marked=_marked, safe_url=safe_url, urlpart=lambda v: quote(str(v), safe=""),
                       pct=lambda v: "n/a" if v is None else f"{v * 100:.1f}%",
                       signed=lambda v: "n/a" if v is None else f"{v:+.0f}")
    return env
