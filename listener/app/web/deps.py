"""Typed dependencies of the routes (as in full-stack-fastapi-template's ``deps.py``).

``create_app`` puts the settings, token, clock and page renderer on ``app.state``; a route
asks for what it needs by type: ``db: DbDep``, ``settings: SettingsDep``, ``pages: PagesDep``.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import date
from typing import Annotated, Callable, Iterator
from urllib.parse import parse_qs

import sqlite_utils
from fastapi import Depends, Request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from listener import store
from listener.app.web.live import fresh_settings
from listener.app.web.render import Pages
from listener.config import Settings
from listener.errors import UserError

TOKEN_ENV = "LISTENER_API_TOKEN"
COOKIE = "listener_session"
SESSION_SECONDS = 12 * 3600  # a browser logs in again after this
UNAUTHORIZED = "missing or wrong bearer token"


def sessions(token: str) -> URLSafeTimedSerializer:
    """Signs and reads the login cookie. Keyed by the token: the cookie never holds the token itself,
    every worker reads the others' cookies, and a new token ends every session."""
    return URLSafeTimedSerializer(token, salt="listener login session")


class NotAuthorized(UserError):
    """No token, or a wrong one, where ``serve.token`` is set (401 for the API, the login page for pages)."""

    http_status = 401


def get_settings(request: Request) -> Settings:
    """The app's settings, re-read when the settings file changed (a /manage page, the CLI or an editor
    wrote it; each worker notices on its next request)."""
    return fresh_settings(request.app.state)


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
    """True without a configured token, else when the bearer header carries it or the login cookie
    is one this token signed less than ``SESSION_SECONDS`` ago."""
    token = request.app.state.token
    if not token:
        return True
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return hmac.compare_digest(header[7:].encode(), token.encode())
    cookie = request.cookies.get(COOKIE)
    if not cookie:
        return False
    try:
        sessions(token).loads(cookie, max_age=SESSION_SECONDS)
    except BadSignature:  # also an expired one (SignatureExpired)
        return False
    return True


def require_token(request: Request) -> None:
    """The guard of every page and API route but the login form and its stylesheet."""
    if not authorized(request):
        raise NotAuthorized(UNAUTHORIZED)


# --- roles and CSRF: stubs so the /manage pages can be written against them --------------------


def require_role(role: str) -> Callable[[Request], None]:  # replaced by 17b
    """The dependency guarding a route for ``role`` and above; this stub only checks the login."""
    def check(request: Request) -> None:
        require_token(request)

    return check


CSRF_FIELD = "csrf_token"  # replaced by 17b


def csrf_token(request: Request) -> str:  # replaced by 17b
    """The token a form carries in its hidden ``CSRF_FIELD``; this stub: derived from ``serve.token`` (so
    every worker agrees), else random per process."""
    state = request.app.state
    if not getattr(state, "csrf", None):
        state.csrf = hmac.new(state.token.encode(), b"listener form", "sha256").hexdigest() if state.token \
            else secrets.token_urlsafe(32)
    return state.csrf


async def require_csrf(request: Request) -> None:  # replaced by 17b
    """Refuse a form post without the page's CSRF token (403)."""
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    given = (form.get(CSRF_FIELD) or [""])[0]
    if not hmac.compare_digest(given.encode(), csrf_token(request).encode()):
        raise UserError("the form's CSRF token is missing or wrong: reload the page and try again", http_status=403)
