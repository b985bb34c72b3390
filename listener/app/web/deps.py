"""Typed dependencies of the routes (as in full-stack-fastapi-template's ``deps.py``).

``create_app`` puts the settings, token, clock and page renderer on ``app.state``; a route
asks for what it needs by type: ``db: DbDep``, ``settings: SettingsDep``, ``pages: PagesDep``.
"""

from __future__ import annotations

import hmac
from datetime import date
from typing import Annotated, Iterator

import sqlite_utils
from fastapi import Depends, Request

from listener import store
from listener.app.web.render import Pages
from listener.config import Settings
from listener.errors import UserError

TOKEN_ENV = "LISTENER_API_TOKEN"
COOKIE = "listener_token"
UNAUTHORIZED = "missing or wrong bearer token"


class NotAuthorized(UserError):
    """No token, or a wrong one, where ``serve.token`` is set (401 for the API, the login page for pages)."""

    http_status = 401


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


def get_db(settings: SettingsDep) -> Iterator[sqlite_utils.Database]:
    """A connection per request; ``create_app`` migrated the database once."""
    conn = store.open_db(settings.db_path, migrate=False)
    try:
        yield conn
    finally:
        conn.close()


DbDep = Annotated[sqlite_utils.Database, Depends(get_db)]


def get_pages(request: Request) -> Pages:
    return request.app.state.pages


PagesDep = Annotated[Pages, Depends(get_pages)]


def get_today(request: Request) -> date:
    """Today (UTC) by the app's clock, which tests fix."""
    return request.app.state.today()


TodayDep = Annotated[date, Depends(get_today)]


def get_token(request: Request) -> str | None:
    return request.app.state.token


TokenDep = Annotated[str | None, Depends(get_token)]


def authorized(request: Request) -> bool:
    """True without a configured token, else when the bearer header or the login cookie carries it."""
    token = request.app.state.token
    if not token:
        return True
    header = request.headers.get("authorization", "")
    given = header[7:] if header.lower().startswith("bearer ") else request.cookies.get(COOKIE, "")
    return bool(given) and hmac.compare_digest(given.encode(), token.encode())


def require_token(request: Request) -> None:
    """The guard of every page and API route but the login form and its stylesheet."""
    if not authorized(request):
        raise NotAuthorized(UNAUTHORIZED)
