"""Products: the overview page, one product's page, and their API.

A product name may hold any character (``AC/DC``): templates encode it as one path segment
(``urlpart``) and the routes take the rest of the path (``{name:path}``), decoded.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, timedelta
from typing import Annotated
from urllib.parse import urlencode

import sqlite_utils
from starlette.concurrency import run_in_threadpool
from fastapi import APIRouter, Depends, Request, status
from fastapi import Path as PathParam
from fastapi import Query
from fastapi.responses import HTMLResponse

from listener.app.web import retag
from listener.app.web.deps import DbDep, PagesDep, SettingsDep, TodayDep, require_role
from listener.app.web.models import ROLE_ERRORS, Day, ProductSummary, RetagStatus, error
from listener.app.web.render import chart, share_chart
from listener import store
from listener.config import Product, Settings
from listener.errors import BadInput, NotFound
from listener.search.query import FIRST_DAY, LAST_DAY
from listener.text import parse_day
from listener.users import Principal
from reports.digest import query_version
from reports.overview import MAX_DAYS, ProductOverview, default_range, overviews

router = APIRouter()
FromQuery = Annotated[str, Query(alias="from", description="First day, YYYY-MM-DD (default: the latest digest's period, "
                                                          "else the last serve.chart_days days up to today)",
                                 json_schema_extra={"format": "date"})]
ToQuery = Annotated[str, Query(alias="to", description="Last day, YYYY-MM-DD (inclusive)",
                               json_schema_extra={"format": "date"})]
APIFrom = Annotated[Day | None, Query(alias="from", description=FromQuery.__metadata__[0].description)]
APITo = Annotated[Day | None, Query(alias="to", description=ToQuery.__metadata__[0].description)]
BAD_RANGE = error("A date that is not YYYY-MM-DD, or a bad range: `error` says why, `field` names the parameter")


@router.get("/products", response_class=HTMLResponse, include_in_schema=False)
def products_page(db: DbDep, settings: SettingsDep, today: TodayDep, pages: PagesDep,
                  first: FromQuery = "", last: ToQuery = "") -> HTMLResponse:
    period = date_range(db, settings, today, first, last)
    items = _overviews(db, settings, period)
    return pages.render("products.html.j2", items=items, share=share_chart(items), **_range_links(period))


@router.get("/products/{name:path}", response_class=HTMLResponse, include_in_schema=False)
def product_page(name: str, db: DbDep, settings: SettingsDep, today: TodayDep, pages: PagesDep,
                 first: FromQuery = "", last: ToQuery = "") -> HTMLResponse:
    period = date_range(db, settings, today, first, last)
    items, item = _product(db, settings, period, name)
    return pages.render("product.html.j2", item=item, items=items, mentions_chart=chart(item, "mentions"),
                        net_chart=chart(item, "net"), **_range_links(period))


@router.get("/api/products", response_model=list[ProductSummary], tags=["products"], responses={400: BAD_RANGE})
def api_products(db: DbDep, settings: SettingsDep, today: TodayDep, first: APIFrom = None,
                 last: APITo = None) -> list[dict]:
    """Every configured product over the range (default: the latest digest's period, else the last
    ``serve.chart_days`` days up to today), with the previous range of the same length."""
    return [_summary(o) for o in _overviews(db, settings, date_range(db, settings, today, _iso(first), _iso(last)))]


NO_PRODUCT = error("No product of that name in the settings")
# a product's name holds any character, ``/`` too: these two come before ``/api/products/{name}``, so a product
# whose name ends in ``/retag`` has no JSON page of its own (its re-tag's, rather)
ProductName = Annotated[str, PathParam(min_length=1, pattern=r"^[^\x00-\x1F\x7F-\x9F]*$",
                                       description="A product's name as in the settings")]


@router.get("/api/products/{name:path}/retag", response_model=RetagStatus, tags=["products"],
            responses={404: NO_PRODUCT})
def api_product_retag(name: ProductName, settings: SettingsDep) -> dict:
    """The newest re-tag of the product's posts and its progress (``done`` of ``total`` posts; ``state``
    none when it never had one)."""
    _configured(settings, name)
    return retag.status(settings, name)


@router.post("/api/products/{name:path}/retag", response_model=RetagStatus, tags=["products"],
             status_code=status.HTTP_202_ACCEPTED,
             responses={**ROLE_ERRORS, 404: NO_PRODUCT, 409: error("A re-tag is running already: wait for it")})
async def api_start_retag(name: ProductName, request: Request, settings: SettingsDep,
                          user: Annotated[Principal, Depends(require_role("editor"))]) -> dict:
    """Re-tag the posts a change of the product's aliases or excludes affects (those holding an old or new
    alias, and those tagged with it now) in the background (an editor): 202 with the run (``id``, ``state``
    running, ``total``); follow it with ``GET`` on the same path. One re-tag at a time (else 409)."""
    _configured(settings, name)
    return await run_in_threadpool(retag.start, settings, name, request.app.state.now)


@router.get("/api/products/{name:path}", response_model=ProductSummary, tags=["products"],
            responses={404: NO_PRODUCT, 400: BAD_RANGE})
def api_product(name: str, db: DbDep, settings: SettingsDep, today: TodayDep, first: APIFrom = None,
                last: APITo = None) -> dict:
    """One product's days, share of voice, top topics and most engaged mentions over the range, and the
    versions of its query (``query``: the current one, the one its stored tags were made with)."""
    found = _summary(_product(db, settings, date_range(db, settings, today, _iso(first), _iso(last)), name)[1])
    found["query"] = query_versions(db, _configured(settings, name), found["tagged_before_change"])
    return found


def _configured(settings: Settings, name: str) -> Product:
    found = next((p for p in settings.products if p.name == name), None)
    if found is None:
        raise NotFound(f"no product named {name!r} in the settings", field="name")
    return found


def query_versions(db: sqlite_utils.Database, product: Product, tagged_before: int) -> dict:
    """``QueryVersions`` of a product: the current query's version and the one its tags were made with."""
    change = store.query_change(db, product.name)
    current = query_version(product)
    before = retag.previous_version(change["before"]) if change and tagged_before else current
    return {"current": current, "computed_with": before, "changed_at": change["at"] if change else None,
            "tagged_before_change": tagged_before if change else 0}


def _iso(day: date | None) -> str:
    return day.isoformat() if day else ""


def date_range(db: sqlite_utils.Database, settings: Settings, today: date, first: str,
               last: str) -> tuple[date, date]:
    """The range asked for (``from``/``to``), filling a missing end from the default range; a bad
    date or range is a ``BadInput`` naming the parameter."""
    default_first, default_last = default_range(db, today, settings.serve.chart_days)
    end = _day(last, "to") if last else default_last
    try:
        begin = _day(first, "from") if first else end - (default_last - default_first)
    except OverflowError:
        begin = date.min
    if begin > end:
        raise BadInput(f"from ({begin.isoformat()}) is after to ({end.isoformat()})", field="from")
    if (end - begin).days + 1 > MAX_DAYS:
        raise BadInput(f"the range from {begin.isoformat()} to {end.isoformat()} is longer than {MAX_DAYS} days",
                       field="from" if first else "to")
    # the overview also reads the range of the same length before, and the day after
    if (begin - FIRST_DAY).days < (end - begin).days + 1 or end > LAST_DAY:
        raise BadInput(f"{'to' if end > LAST_DAY else 'from'}: the range must lie within "
                       f"{(FIRST_DAY + (end - begin) + timedelta(days=1)).isoformat()} to {LAST_DAY.isoformat()}",
                       field="to" if end > LAST_DAY else "from")
    return begin, end


def _day(value: str, name: str) -> date:
    try:
        return parse_day(value.strip())
    except ValueError as exc:
        raise BadInput(f"{name}: {exc}", field=name) from None


def _range_links(period: tuple[date, date]) -> dict:
    """What the pages show of the range: its days and the query that keeps it in links."""
    begin, end = period
    return {"days": (end - begin).days + 1, "range_query": urlencode({"from": begin.isoformat(), "to": end.isoformat()}),
            "since": begin.isoformat(), "until": end.isoformat(),
            "ranges": [(n, urlencode({"from": (end - timedelta(days=n - 1)).isoformat(), "to": end.isoformat()}))
                       for n in (7, 30, 90)]}


def _overviews(db: sqlite_utils.Database, settings: Settings, period: tuple[date, date],
               detail: str | None = None) -> list:
    begin, end = period
    return overviews(db, settings, end=end, days=(end - begin).days + 1, detail=detail)


def _product(db: sqlite_utils.Database, settings: Settings, period: tuple[date, date],
             name: str) -> tuple[list[ProductOverview], ProductOverview]:
    items = _overviews(db, settings, period, detail=name)
    for o in items:
        if o.name == name:
            return items, o
    raise NotFound(f"no product named {name!r} in the settings")


def _summary(o: ProductOverview) -> dict:
    d = asdict(o)
    d["days"] = [{"day": x.day, "mentions": x.mentions, "net_sentiment": x.net_sentiment} for x in o.days]
    return d
