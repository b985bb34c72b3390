"""One answer for every error, and the security headers on every response.

An error under ``/api/`` is JSON ``{"error": MESSAGE}`` plus ``"field"`` (the parameter it is in) or
``"position"`` (the 1-based character of the query) when known, with the error's status; on a page
it is the HTML error page with the same message. Every error takes this path: the ``UserError``
family, Starlette's 404 and 405, FastAPI's parameter validation (a 400 naming the first bad
parameter, not a 422 list) and bugs (500). A request without the token (when one is set) learns
only that: 401 for the API, the login page for pages.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Iterator

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException
from starlette.routing import Match

from listener.app.web.deps import CSRF_COOKIE, UNAUTHORIZED, authorized, get_pages
from listener.errors import UserError

CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; "
       "frame-ancestors 'none'")
SECURITY_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
                    "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"}


def secure(response: Response) -> Response:
    """The security headers on ``response``; a Content-Security-Policy the route set stays (a digest's page)."""
    own = response.headers.get("Content-Security-Policy")
    response.headers.update(SECURITY_HEADERS)
    if own:
        response.headers["Content-Security-Policy"] = own
    return response


def error_response(request: Request, status: int, message: str, position: int | None = None,
                   field: str | None = None) -> Response:
    """The one shape of an error: JSON under ``/api/``, else the HTML error page."""
    if status != 401 and request.url.path != "/login" and not authorized(request):
        return error_response(request, 401, UNAUTHORIZED)
    api = request.url.path.startswith("/api/")
    if status == 401 and not api:
        return RedirectResponse("/login", status_code=303)
    if api:
        body: dict = {"error": message}
        if field is not None:
            body["field"] = field
        if position is not None:
            body["position"] = position
        challenge = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return JSONResponse(body, status_code=status, headers=challenge)
    return get_pages(request).render("error.html.j2", status=status, title=HTTPStatus(status).phrase,
                                          message=message)


async def _user_error(request: Request, exc: UserError) -> Response:
    return error_response(request, exc.http_status, exc.message, exc.position, exc.field)


def _leaf_routes(routes: list) -> Iterator:
    """Every route with a path and methods, inside included routers too."""
    for route in routes:
        inner = getattr(getattr(route, "original_router", None), "routes", None) or getattr(route, "routes", None)
        if inner is not None:
            yield from _leaf_routes(inner)
        elif hasattr(route, "methods"):
            yield route


async def _http_error(request: Request, exc: HTTPException) -> Response:
    """Starlette's own errors: no route (404), wrong method (405)."""
    response = error_response(request, exc.status_code, str(exc.detail))
    response.headers.update(exc.headers or {})
    if exc.status_code == 405:  # Starlette names only the first route's methods; a path may have several
        methods = {m for route in _leaf_routes(request.app.routes) if route.matches(request.scope)[0] != Match.NONE
                   for m in route.methods or ()}
        if methods:
            response.headers["Allow"] = ", ".join(sorted(methods))
    return response


async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
    """A parameter FastAPI could not read (``limit=100000``, ``/posts/abc``): 400 naming the first
    bad parameter in ``field``, with one line per problem in ``error``."""
    problems, fields = [], []
    for e in exc.errors():
        where = ".".join(str(x) for x in e.get("loc", ()) if x not in ("query", "path", "body", "header", "cookie"))
        msg = e["msg"].removeprefix("Value error, ")  # pydantic's prefix for a validator's own message
        problems.append(f"{where}: {msg}" if where else msg)
        fields.append(where)
    return error_response(request, 400, "; ".join(problems) or "invalid request",
                          field=next((f for f in fields if f), None))


async def _server_error(request: Request, exc: Exception) -> Response:
    """A bug: a plain message for the user (Starlette re-raises it, so the server logs the traceback).
    This runs outside the middleware, so it adds the security headers itself."""
    return secure(error_response(request, 500, "internal error: the server log has the details"))


def install(app: FastAPI) -> None:
    """Register the error handlers and the security-headers middleware on ``app``."""

    @app.middleware("http")
    async def security_headers(request: Request, call_next) -> Response:
        response = await call_next(request)
        new_csrf = getattr(request.state, "new_csrf", None)
        if new_csrf:  # a form was rendered for a browser without the CSRF cookie (deps.csrf_token)
            base_url = request.app.state.settings.serve.base_url or ""
            response.set_cookie(CSRF_COOKIE, new_csrf, httponly=True, samesite="strict",
                                secure=base_url.startswith("https://") or request.url.scheme == "https")
        return secure(response)

    app.add_exception_handler(UserError, _user_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _server_error)
