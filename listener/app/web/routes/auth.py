"""The routes that need no token: the login form, logging out, and the stylesheet they use."""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Callable

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from listener import store, users
from listener.app.web.deps import (COOKIE, SESSION_SECONDS, PagesDep, SettingsDep, TokenDep, csrf_token, form_fields,
                                   require_csrf, sessions)
from listener.config import Settings
from listener.text import iso_utc

STYLE = Path(__file__).parent.parent / "static" / "style.css"
router = APIRouter(include_in_schema=False)
MAX_FAILURES, WINDOW = 5, 15 * 60  # failed logins from one address within WINDOW seconds, then a pause


@dataclass
class LoginThrottle:
    """Failed logins per client address (one process's count: each worker keeps its own). After
    ``MAX_FAILURES`` within ``WINDOW`` seconds the address must wait until the oldest is that old."""

    clock: Callable[[], float]
    failures: dict[str, list[float]] = field(default_factory=dict)

    def wait(self, who: str) -> float:
        """Seconds until ``who`` may try again (0: now)."""
        now = self.clock()
        if len(self.failures) > 10_000:  # many addresses: forget the ones whose failures are old
            self.failures = {k: v for k, v in self.failures.items() if v[-1] > now - WINDOW}
        recent = [t for t in self.failures.get(who, []) if t > now - WINDOW]
        if recent:
            self.failures[who] = recent
        else:
            self.failures.pop(who, None)
        return recent[-MAX_FAILURES] + WINDOW - now if len(recent) >= MAX_FAILURES else 0.0

    def failed(self, who: str) -> None:
        self.failures.setdefault(who, []).append(self.clock())

    def succeeded(self, who: str) -> None:
        self.failures.pop(who, None)


@router.get("/static/style.css")
def style(request: Request) -> PlainTextResponse:
    return PlainTextResponse(request.app.state.stylesheet, media_type="text/css")


@router.get("/login")
def login_form(request: Request, pages: PagesDep) -> HTMLResponse:
    return pages.render("login.html.j2", error=None, csrf=csrf_token(request))


def _secure_cookies(request: Request, settings: Settings) -> bool:
    """Secure when served over https: behind a TLS proxy (serve.base_url) or directly."""
    return (settings.serve.base_url or "").startswith("https://") or request.url.scheme == "https"


@router.post("/login", dependencies=[Depends(require_csrf)])
async def login(request: Request, pages: PagesDep, token: TokenDep, settings: SettingsDep) -> Response:
    """A user's name and password start a server-side session (the cookie holds its random id); an
    empty name with ``serve.token`` as the password (or a ``token`` field) starts a read-only one."""
    throttle: LoginThrottle = request.app.state.logins
    who = request.client.host if request.client else ""
    csrf = csrf_token(request)
    wait = throttle.wait(who)
    if wait:
        minutes = -(-int(wait) // 60)
        response = pages.render("login.html.j2", status=429, csrf=csrf, error=f"Too many failed attempts: try "
                                f"again in {minutes} minute{'s' if minutes > 1 else ''}.")
        response.headers["Retry-After"] = str(int(wait) + 1)
        return response
    form = await form_fields(request)
    name, password = form.get("name", "").strip(), form.get("password", "") or form.get("token", "")
    session, cookie = None, None
    if name:
        db = store.open_db(settings.db_path, migrate=False)
        try:
            user = users.check_password(db, name, password)
            if user is not None:
                now = request.app.state.now()
                cookie = users.new_secret()
                store.start_session(db, users.digest(cookie), user.name, now=iso_utc(now),
                                    expires_at=iso_utc(now + timedelta(seconds=SESSION_SECONDS)))
        finally:
            db.close()
    elif token and password and hmac.compare_digest(password.encode(), token.encode()):
        cookie = sessions(token).dumps({"by": "token"})
    if cookie is None:
        throttle.failed(who)
        return pages.render("login.html.j2", status=403, csrf=csrf, error="Wrong name or password.")
    throttle.succeeded(who)
    response = RedirectResponse("/search", status_code=303)
    response.set_cookie(COOKIE, cookie, max_age=SESSION_SECONDS, httponly=True, samesite="strict",
                        secure=_secure_cookies(request, settings))
    return response


@router.get("/logout")
def logout_form(request: Request, pages: PagesDep) -> HTMLResponse:
    """A page with the logout button: a GET never logs out (a link or an image on another page could
    otherwise end a session); the button posts with the CSRF field."""
    return pages.render("logout.html.j2", csrf=csrf_token(request))


@router.post("/logout", dependencies=[Depends(require_csrf)])
def logout(request: Request, settings: SettingsDep) -> Response:
    """End this browser's session (its row too, so the cookie is dead even if kept); back to the login form.
    Only with the form's CSRF field: without it another site could log the user out."""
    cookie = request.cookies.get(COOKIE)
    if cookie and "." not in cookie:
        db = store.open_db(settings.db_path, migrate=False)
        try:
            store.end_session(db, users.digest(cookie))
        finally:
            db.close()
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, httponly=True, samesite="strict")
    return response
