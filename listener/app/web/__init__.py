"""``listener serve``: server-rendered search pages, product overviews, post pages and a JSON API.

FastAPI with Jinja2 templates (autoescaped) and no JavaScript. Every response carries a
Content-Security-Policy that allows only this server's stylesheet; charts are inline SVG.
With users (``listener users``) or a token configured (``serve.token`` or ``$LISTENER_API_TOKEN``,
read-only) every page and API call needs ``Authorization: Bearer TOKEN`` or the session cookie set
by ``/login``, and changes need a role (``deps.require_role``); without either the server runs open
and only listens on a loopback address. ``run(workers=N)`` starts N uvicorn worker processes,
each building its app with ``app_from_env`` from the settings file named in ``$LISTENER_CONFIG``.

The OpenAPI document (``/api/openapi.json``) lists every status each operation answers with the
one error model (``models.ErrorBody``) and, with a token, the bearer scheme.

Layout (after full-stack-fastapi-template): ``routes/`` holds one router per resource,
``deps.py`` the typed dependencies (settings, database, pages, clock, token), ``handlers.py``
the one error answer and the security headers, ``models.py`` the API schemas and
``render.py`` the templates and chart geometry.
"""

from __future__ import annotations

import ipaddress
import os
import time
from datetime import date, datetime, timezone
from typing import Callable

from fastapi import Depends, FastAPI
from fastapi.responses import JSONResponse

from listener import store
from listener.app.web import handlers
from listener.app.web.deps import TOKEN_ENV, require_token
from listener.app.web.handlers import CSP
from listener.app.web.models import API_ERRORS
from listener.app.web.render import Pages, templates
from listener.app.web.routes import admin, auth, inbox, manage, people, posts, products, saved, search, stats, users_api
from listener.app.web.deps import require_role
from listener.app.web.models import error as error_answer
from listener.files import file_stamp
from listener.config import ENV_VAR, Settings, load_settings
from listener.errors import UserError

__all__ = ["CSP", "TOKEN_ENV", "ServeError", "app_from_env", "configured_token", "create_app", "is_loopback", "run"]


class ServeError(UserError):
    """The server refuses to start; the message says why."""


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def configured_token(settings: Settings) -> str | None:
    return os.environ.get(TOKEN_ENV) or settings.serve.token


def _has_users(settings: Settings) -> bool:
    db = store.open_db(settings.db_path)
    try:
        return store.has_users(db)
    finally:
        db.close()


def run(settings: Settings, *, host: str, port: int, quiet: bool = False, workers: int = 1) -> None:
    """Serve until interrupted (``workers`` uvicorn processes); refuse a non-loopback host without a token."""
    import uvicorn

    token = configured_token(settings)
    if not is_loopback(host) and not token and not _has_users(settings):
        raise ServeError(f"refusing to listen on {host} without users or a token: add one with "
                         f"`listener users add NAME --role admin`, set serve.token in {settings.path} "
                         f"or ${TOKEN_ENV}, or listen on 127.0.0.1")
    if workers > 1 and settings.path is None:
        raise ServeError("--workers needs a settings file (--config) for each worker to read")
    app = create_app(settings, token=token)  # also checks, once, that the app can be built
    if not quiet:
        guard = "login required" if token or _has_users(settings) else "no users or token: open, loopback only"
        print(f"listener: serving {settings.db_path} on http://{host}:{port}/ with {workers} worker(s) ({guard})")
    log_level = "warning" if quiet else "info"
    if workers == 1:
        uvicorn.run(app, host=host, port=port, log_level=log_level)
        return
    os.environ[ENV_VAR] = str(settings.path)  # the workers (new processes) read the same file
    uvicorn.run("listener.app.web:app_from_env", factory=True, host=host, port=port, workers=workers,
                log_level=log_level)


def app_from_env() -> FastAPI:
    """The app of one ``serve --workers`` process: the settings in ``$LISTENER_CONFIG``, the token as ``run`` found it."""
    settings = load_settings(os.environ[ENV_VAR])
    return create_app(settings, token=configured_token(settings))


def create_app(settings: Settings, *, token: str | None = None,
               today: Callable[[], date] = lambda: datetime.now(timezone.utc).date(),
               clock: Callable[[], float] = time.monotonic,
               now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> FastAPI:
    """The ASGI app over ``settings.db_path`` (tests call this directly with a test client);
    ``clock`` (seconds) times the login throttle, ``now`` (UTC) sessions and the audit log."""
    app = FastAPI(title="listener", version="1", summary="Search collected posts, products and stats.",
                  docs_url=None, redoc_url=None, openapi_url=None)
    db = store.open_db(settings.db_path)  # migrate once; requests open their own connections
    app.state.has_users = store.has_users(db)
    db.close()
    app.state.settings, app.state.token, app.state.today, app.state.now = settings, token, today, now
    app.state.logins = auth.LoginThrottle(clock)
    app.state.pages = Pages(templates(), auth=bool(token))
    app.state.stylesheet = auth.STYLE.read_text(encoding="utf-8")  # read once, not per request
    guarded = [Depends(require_token)]
    app.include_router(auth.router)
    app.include_router(admin.router, dependencies=guarded)
    for resource in (search, products, posts, stats, people, inbox, saved, users_api):
        app.include_router(resource.router, dependencies=guarded, responses=API_ERRORS)
    app.state.settings_stamp = file_stamp(settings.path)  # the settings follow their file (web/live.py)
    app.include_router(manage.router, dependencies=guarded + [Depends(require_role("editor"))],
                       responses={**API_ERRORS, 403: error_answer("The role is not allowed to change the settings")})

    generate = app.openapi

    def document() -> dict:
        """FastAPI's document without its 422 answers (a bad parameter is a 400 ``ErrorBody`` here),
        plus the bearer scheme (users can be added while the server runs)."""
        if app.openapi_schema is None:
            schema = generate()
            for operations in schema["paths"].values():
                for op in operations.values():
                    answer = op["responses"].get("422", {})
                    if "HTTPValidationError" in str(answer):
                        del op["responses"]["422"]
            for name in ("HTTPValidationError", "ValidationError"):
                schema.get("components", {}).get("schemas", {}).pop(name, None)
            schema.setdefault("components", {}).setdefault("securitySchemes", {})["bearer"] = {
                "type": "http", "scheme": "bearer",
                "description": "a user's API token (`listener users token NAME`, that user's role) or serve.token "
                               "(read-only); a browser may use the /login cookie instead. Needed once any user "
                               "or token is configured"}
            schema["security"] = [{"bearer": []}]
        return generate()

    app.openapi = document  # type: ignore[method-assign]

    @app.get("/api/openapi.json", include_in_schema=False, dependencies=guarded)
    def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    handlers.install(app)
    return app
