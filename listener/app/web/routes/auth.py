"""The routes that need no token: the login form, logging out, and the stylesheet they use."""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from listener.app.web.deps import COOKIE, SESSION_SECONDS, PagesDep, SettingsDep, TokenDep, sessions

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
def login_form(pages: PagesDep) -> HTMLResponse:
    return pages.render("login.html.j2", error=None)


@router.post("/login")
async def login(request: Request, pages: PagesDep, token: TokenDep, settings: SettingsDep) -> Response:
    throttle: LoginThrottle = request.app.state.logins
    who = request.client.host if request.client else ""
    wait = throttle.wait(who)
    if wait:
        minutes = -(-int(wait) // 60)
        response = pages.render("login.html.j2", status=429, error=f"Too many failed attempts: try again in "
                                f"{minutes} minute{'s' if minutes > 1 else ''}.")
        response.headers["Retry-After"] = str(int(wait) + 1)
        return response
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    given = (form.get("token") or [""])[0]
    if not token or not hmac.compare_digest(given.encode(), token.encode()):
        throttle.failed(who)
        return pages.render("login.html.j2", status=403, error="Wrong token.")
    throttle.succeeded(who)
    response = RedirectResponse("/search", status_code=303)
    # Secure when served over https: behind a TLS proxy (serve.base_url) or directly
    secure = (settings.serve.base_url or "").startswith("https://") or request.url.scheme == "https"
    response.set_cookie(COOKIE, sessions(token).dumps({"by": "token"}), max_age=SESSION_SECONDS, httponly=True,
                        samesite="strict", secure=secure)
    return response


@router.api_route("/logout", methods=["GET", "POST"])
def logout() -> Response:
    """End this browser's session (the cookie); back to the login form."""
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, httponly=True, samesite="strict")
    return response
