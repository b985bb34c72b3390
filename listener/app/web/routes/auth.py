"""The routes that need no token: the login form, logging out, and the stylesheet they use."""

from __future__ import annotations

import hmac
from pathlib import Path
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from listener.app.web.deps import COOKIE, SESSION_SECONDS, PagesDep, SettingsDep, TokenDep, sessions

STYLE = Path(__file__).parent.parent / "static" / "style.css"
router = APIRouter(include_in_schema=False)


@router.get("/static/style.css")
def style(request: Request) -> PlainTextResponse:
    return PlainTextResponse(request.app.state.stylesheet, media_type="text/css")


@router.get("/login")
def login_form(pages: PagesDep) -> HTMLResponse:
    return pages.render("login.html.j2", error=None)


@router.post("/login")
async def login(request: Request, pages: PagesDep, token: TokenDep, settings: SettingsDep) -> Response:
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    given = (form.get("token") or [""])[0]
    if not token or not hmac.compare_digest(given.encode(), token.encode()):
        return pages.render("login.html.j2", status=403, error="Wrong token.")
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
