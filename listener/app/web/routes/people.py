"""Authors and sources: one author's page (authors are per source), one source's page, and their API.

Names are collected text: templates escape them and encode them as one path segment (``urlpart``);
an author's name may hold ``/``, so the route takes the rest of the path (``{author:path}``).
The range (``from``/``to``) is read and checked as on the product pages.
"""

from __future__ import annotations

from datetime import date, timedelta
from urllib.parse import urlencode

import sqlite_utils
from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from listener import store
from listener.app.web.deps import DbDep, PagesDep, SettingsDep, TodayDep
from listener.app.web.models import PersonSummary, error
from listener.app.web.routes.products import BAD_RANGE, APIFrom, APITo, FromQuery, ToQuery, _iso, _range_links, \
    date_range
from listener.errors import NotFound
from reports.digest import net_sentiment

router = APIRouter()
TOP = 10   # top posts and authors shown
_NO_AUTHOR = error("No post by that author in that source")
_NO_SOURCE = error("No source of that name (configured or with posts)")


@router.get("/authors/{source}/{author:path}", response_class=HTMLResponse, include_in_schema=False)
def author_page(source: str, author: str, db: DbDep, settings: SettingsDep, today: TodayDep, pages: PagesDep,
                first: FromQuery = "", last: ToQuery = "") -> HTMLResponse:
    period = date_range(db, settings, today, first, last)
    return _page(pages, summary(db, source, author, period), period)


@router.get("/sources/{name}", response_class=HTMLResponse, include_in_schema=False)
def source_page(name: str, db: DbDep, settings: SettingsDep, today: TodayDep, pages: PagesDep,
                first: FromQuery = "", last: ToQuery = "") -> HTMLResponse:
    period = date_range(db, settings, today, first, last)
    return _page(pages, summary(db, name, None, period), period)


@router.get("/api/authors/{source}/{author:path}", response_model=PersonSummary, tags=["people"],
            responses={404: _NO_AUTHOR, 400: BAD_RANGE})
def api_author(source: str, author: str, db: DbDep, settings: SettingsDep, today: TodayDep,
               first: APIFrom = None, last: APITo = None) -> dict:
    """One author of one source over the range (default as for products): posts, first and last
    post, total engagement, the products they mention with the mentions' own labels and net
    sentiment, and their most engaged posts. Copies are left out."""
    return summary(db, source, author, date_range(db, settings, today, _iso(first), _iso(last)))


@router.get("/api/sources/{name}", response_model=PersonSummary, tags=["people"],
            responses={404: _NO_SOURCE, 400: BAD_RANGE})
def api_source(name: str, db: DbDep, settings: SettingsDep, today: TodayDep, first: APIFrom = None,
               last: APITo = None) -> dict:
    """One source over the range: the author numbers for all its posts, and its most prolific authors."""
    return summary(db, name, None, date_range(db, settings, today, _iso(first), _iso(last)))


def summary(db: sqlite_utils.Database, source: str, author: str | None, period: tuple[date, date]) -> dict:
    """The numbers of an author (``author`` set) or a source over ``period``; ``NotFound`` when unknown."""
    if not store.person_known(db, source, author):
        raise NotFound(f"no post by author {author!r} in source {source!r}" if author is not None
                       else f"no source named {source!r}")
    begin, end = period
    a, b = begin.isoformat(), (end + timedelta(days=1)).isoformat()
    products = [{**p, "net_sentiment": net_sentiment(p["positive"], p["negative"], p["scored"])}
                for p in store.person_products(db, source, author, a, b)]
    return {"source": source, "author": author, "start": a, "end": end.isoformat(),
            **store.person_posts(db, source, author, a, b), "products": products,
            "top_posts": store.person_top_posts(db, source, author, a, b, limit=TOP),
            "top_authors": store.source_authors(db, source, a, b, limit=TOP) if author is None else [],
            "search": search_link(source, author, period)}


def search_link(source: str, author: str | None, period: tuple[date, date]) -> str:
    """The search page filtered to the source (and the author, with the query's ``author:`` field
    when the name can be written in it: no quote, no control character, no edge space) over ``period``."""
    params = {"source": source}
    if author is not None and author.strip() == author and author and '"' not in author \
            and all(ch.isprintable() for ch in author):
        params["q"] = f'author:"{author}"'
    params.update(sort="date", since=period[0].isoformat(), until=period[1].isoformat())
    return "/search?" + urlencode(params)


def _page(pages, item: dict, period: tuple[date, date]) -> HTMLResponse:
    return pages.render("person.html.j2", item=item, **_range_links(period))
