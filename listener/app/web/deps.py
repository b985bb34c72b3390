"""Typed dependencies of the routes (as in full-stack-fastapi-template's ``deps.py``).

``create_app`` puts the settings, token, clocks and page renderer on ``app.state``; a route
asks for what it needs by type: ``db: DbDep``, ``settings: SettingsDep``, ``pages: PagesDep``.
Who may do what: ``require_token`` (any valid login) guards every route; ``require_role(role)``
(viewer < editor < admin) guards each change; ``require_csrf`` checks every form post's hidden
``csrf`` field, which templates fill with ``csrf_token(request)``.
"""

from __future__ import annotations

import hmac
import secrets
import sqlite3
from dataclasses import replace
from datetime import date
from typing import Annotated, Callable, Iterator
from urllib.parse import parse_qs

import sqlite_utils
from fastapi import Depends, Request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from listener import store, users
from listener.app.web.live import fresh_settings
from listener.app.web.render import Pages
from listener.config import Settings
from listener.errors import UserError
from listener.text import iso_utc
from listener.users import Principal

TOKEN_ENV = "LISTENER_API_TOKEN"
COOKIE = "listener_session"
CSRF_COOKIE = "listener_csrf"
SESSION_SECONDS = 12 * 3600  # a browser logs in again after this
UNAUTHORIZED = "missing or wrong bearer token"


def sessions(token: str) -> URLSafeTimedSerializer:
    """Signs and reads the login cookie. Keyed by the token: the cookie never holds the token itself,
    every worker reads the others' cookies, and a new token ends every session."""
    return URLSafeTimedSerializer(token, salt="listener login session")


class Forbidden(UserError):
    """A principal whose role is too low, or a form post without its CSRF token (403)."""

    http_status = 403


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
    """The page renderer, told who is logged in so the nav shows their name, role and a logout form
    (nothing on an open site: no users, no token)."""
    pages: Pages = request.app.state.pages
    me = current_principal(request)
    if me is None or me.via == "open":
        return pages
    return replace(pages, me=me, logout_csrf=csrf_token(request))


PagesDep = Annotated[Pages, Depends(get_pages)]


def get_today(request: Request) -> date:
    """Today (UTC) by the app's clock, which tests fix."""
    return request.app.state.today()


TodayDep = Annotated[date, Depends(get_today)]


def get_now(request: Request) -> str:
    """Now (UTC, ``YYYY-MM-DDTHH:MM:SSZ``) by the app's wall clock, which tests fix."""
    return iso_utc(request.app.state.now())


NowDep = Annotated[str, Depends(get_now)]


def get_token(request: Request) -> str | None:
    return request.app.state.token


TokenDep = Annotated[str | None, Depends(get_token)]


def _legacy_cookie(request: Request, token: str | None) -> bool:
    """The cookie a ``serve.token`` login set: signed by the token less than ``SESSION_SECONDS`` ago."""
    cookie = request.cookies.get(COOKIE)
    if not token or not cookie:
        return False
    try:
        sessions(token).loads(cookie, max_age=SESSION_SECONDS)
    except BadSignature:  # also an expired one (SignatureExpired)
        return False
    return True


def _has_users(request: Request, db: sqlite_utils.Database) -> bool:
    """Whether any user exists (asked per request: ``listener users add`` needs no restart); when the
    database cannot say, what it said last, so a broken database never opens a guarded site."""
    try:
        request.app.state.has_users = store.has_users(db)
    except sqlite3.Error:
        pass
    return request.app.state.has_users


def _find_principal(request: Request) -> Principal | None:
    """Who the request comes from: a user's API token or ``serve.token`` (bearer header), a user's
    login session or a token login (cookie); None if none of them. Open (an admin) when neither a
    token nor any user is configured: the server then listens only on loopback."""
    token = request.app.state.token
    header = request.headers.get("authorization", "")
    bearer = header[7:] if header.lower().startswith("bearer ") else None
    if token and bearer and hmac.compare_digest(bearer.encode(), token.encode()):
        return Principal(None, "viewer", "legacy-token")  # serve.token: read-only
    db = store.open_db(request.app.state.settings.db_path, migrate=False)
    try:
        if not token and not _has_users(request, db):
            return Principal(None, "admin", "open")
        if bearer is not None:
            return users.token_principal(db, bearer, now=iso_utc(request.app.state.now())) if bearer else None
        cookie = request.cookies.get(COOKIE)
        if cookie and "." not in cookie:  # a session id (token_urlsafe has no dot; a signed cookie has)
            return users.session_principal(db, cookie, now=iso_utc(request.app.state.now()))
        return Principal(None, "viewer", "legacy-token") if _legacy_cookie(request, token) else None
    finally:
        db.close()


def current_principal(request: Request) -> Principal | None:
    """``_find_principal``, worked out once per request."""
    if not hasattr(request.state, "principal"):
        request.state.principal = _find_principal(request)
    return request.state.principal


def authorized(request: Request) -> bool:
    """True when the request may read: open, or it carries a token or session that is valid now."""
    return current_principal(request) is not None


def require_token(request: Request) -> None:
    """The guard of every page and API route but the login form and its stylesheet."""
    if not authorized(request):
        raise NotAuthorized(UNAUTHORIZED)


def require_role(role: str) -> Callable[[Request], Principal]:
    """A dependency that lets through a principal of ``role`` or higher (viewer < editor < admin):
    401 without one, 403 for a lower role. The route may take its result: ``user: Annotated[Principal,
    Depends(require_role("editor"))]``."""
    users.check_role(role)

    def check(request: Request) -> Principal:
        who = current_principal(request)
        if who is None:
            raise NotAuthorized(UNAUTHORIZED)
        if not who.can(role):
            what = "serve.token is read-only" if who.via == "legacy-token" else f"{who.who} is a {who.role}"
            raise Forbidden(f"this needs the {role} role: {what}")
        return who

    check.__name__ = f"require_{role}"
    return check


def csrf_token(request: Request) -> str:
    """The CSRF token for a form's hidden ``csrf`` field (templates: ``csrf_token(request)``): the
    browser's ``listener_csrf`` cookie, or a new one the response sets (see ``handlers.install``)."""
    value = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "new_csrf", None)
    if not value:
        value = request.state.new_csrf = secrets.token_urlsafe(32)
    return value


async def form_fields(request: Request) -> dict[str, str]:
    """A url-encoded form's fields (the first value of each); the body is cached for the route."""
    form = parse_qs((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[0] for k, v in form.items()}


async def require_csrf(request: Request) -> None:
    """The check of every form post: its ``csrf`` field must equal the ``listener_csrf`` cookie
    (double submit; the cookie is SameSite=Strict, so another site can neither send nor read it).
    A request with a bearer header needs none: no browser adds that header by itself."""
    if request.headers.get("authorization", "").lower().startswith("bearer "):
        return
    cookie = request.cookies.get(CSRF_COOKIE, "")
    given = (await form_fields(request)).get("csrf", "")
    if not cookie or not hmac.compare_digest(cookie.encode(), given.encode()):
        raise Forbidden("missing or wrong CSRF token: reload the form and send it again", field="csrf")


CSRF_FIELD = "csrf"   # the hidden field of every form (``csrf_token(request)`` gives its value)


PrincipalDep = Annotated[Principal | None, Depends(current_principal)]
