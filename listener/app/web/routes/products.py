"""Products: the overview page, one product's page, and their API.

A product name may hold any character (``AC/DC``): templates encode it as one path segment
(``urlpart``) and the routes take the rest of the path (``{name:path}``), decoded.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import date

import sqlite_utils
from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from listener.app.web.deps import DbDep, PagesDep, SettingsDep, TodayDep
from listener.app.web.models import ErrorBody, ProductSummary
from listener.app.web.render import chart
from listener.config import Settings
from listener.errors import NotFound
from reports.overview import ProductOverview, overviews, window_end

router = APIRouter()


@router.get("/products", response_class=HTMLResponse, include_in_schema=False)
def products_page(db: DbDep, settings: SettingsDep, today: TodayDep, pages: PagesDep) -> HTMLResponse:
    return pages.render("products.html.j2", items=_overviews(db, settings, today),
                        days=settings.serve.chart_days)


@router.get("/products/{name:path}", response_class=HTMLResponse, include_in_schema=False)
def product_page(name: str, db: DbDep, settings: SettingsDep, today: TodayDep, pages: PagesDep) -> HTMLResponse:
    items, item = _product(db, settings, today, name)
    return pages.render("product.html.j2", item=item, items=items, mentions_chart=chart(item, "mentions"),
                        net_chart=chart(item, "net"), days=settings.serve.chart_days)


@router.get("/api/products", response_model=list[ProductSummary], tags=["products"])
def api_products(db: DbDep, settings: SettingsDep, today: TodayDep) -> list[dict]:
    """Every configured product over the chart window (default 30 days)."""
    return [_summary(o) for o in _overviews(db, settings, today)]


@router.get("/api/products/{name:path}", response_model=ProductSummary, tags=["products"],
            responses={404: {"model": ErrorBody, "description": "No product of that name in the settings"}})
def api_product(name: str, db: DbDep, settings: SettingsDep, today: TodayDep) -> dict:
    """One product's days, share of voice, top topics and most engaged mentions."""
    return _summary(_product(db, settings, today, name)[1])


def _overviews(db: sqlite_utils.Database, settings: Settings, today: date, detail: str | None = None) -> list:
    """Every product's overview for the chart window ending on the latest day with mentions."""
    return overviews(db, settings, end=window_end(db, today), days=settings.serve.chart_days, detail=detail)


def _product(db: sqlite_utils.Database, settings: Settings, today: date,
             name: str) -> tuple[list[ProductOverview], ProductOverview]:
    items = _overviews(db, settings, today, detail=name)
    for o in items:
        if o.name == name:
            return items, o
    raise NotFound(f"no product named {name!r} in the settings")


def _summary(o: ProductOverview) -> dict:
    d = asdict(o)
    d["days"] = [{"day": x.day, "mentions": x.mentions, "net_sentiment": x.net_sentiment} for x in o.days]
    return d
