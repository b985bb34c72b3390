"""Saved searches as pages: ``/saved`` lists them (run one, the command making a digest of it, the alert
rules watching it); an editor saves the search page's search (``POST /saved``), renames and deletes.
The changes here and in ``/api/saved-searches`` (routes/stats.py) share the functions below, each one
transaction with its audit row. A saved search an alert rule watches (``saved = "NAME"``) is neither
renamed nor deleted: the rule would stop working, so the answer names the rules to change first."""

from __future__ import annotations

import shlex
from typing import Annotated

import sqlite_utils
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from listener import search as search_mod
from listener import store
from listener.app.web.deps import (DbDep, NowDep, PagesDep, SettingsDep, csrf_token, current_principal,
                                   form_fields, require_csrf, require_role)
from listener.app.web.render import Pages, link
from listener.app.web.routes.search import _filters  # the search page's own reading of its boxes
from listener.config import Settings
from listener.errors import BadInput, NotFound, UserError
from listener.users import Principal

router = APIRouter()
Editor = Annotated[Principal, Depends(require_role("editor"))]
Csrf = [Depends(require_csrf)]
DONE = {"saved": "Saved.", "renamed": "Renamed.", "deleted": "Deleted."}
FILTERS = ("product", "source", "sentiment", "language", "since", "until")  # the search page's boxes


def _state(s: dict) -> dict:
    return {"query": s["query"], "owner": s["owner"]}


def save_search(db: sqlite_utils.Database, user: Principal, name: str, query: str, *, now: str) -> dict:
    """Save ``query`` under ``name`` (replacing one of that name) as ``user``, with its audit row;
    the saved search. ``BadInput`` for a bad name, ``QueryError`` if the query does not parse."""
    name = search_mod.check_name(name)
    with store.write(db):
        before = store.saved_search(db, name)
        search_mod.save(db, name, query, owner=user.name, now=now)
        store.audit(db, who=user.who, action="saved_search.save", target=name, before=before and _state(before),
                    after={"query": query, "owner": user.name}, now=now)
    return store.saved_search(db, name) or {}


def _unwatched(settings: Settings, name: str, doing: str) -> None:
    rules = search_mod.rules_watching(settings.alerts.rules, name)
    if rules:
        raise BadInput(f"cannot {doing} saved search {name!r}: alert rule(s) {', '.join(rules)} watch it "
                       f"(change or remove them first, on /manage/alerts)", field="name")


def rename_search(db: sqlite_utils.Database, settings: Settings, user: Principal, name: str, new: str, *,
                  now: str) -> dict:
    """Rename the saved search ``name`` to ``new`` as ``user``, with its audit row; the saved search.
    ``NotFound`` if there is none; ``BadInput`` if ``new`` is not a valid name, is taken, or an alert
    rule watches ``name``."""
    new = search_mod.check_name(new)
    with store.write(db):
        before = store.saved_search(db, name)
        if before is None:
            raise NotFound(f"no saved search named {name!r}")
        if new == name:
            return before
        _unwatched(settings, name, "rename")
        if store.saved_search(db, new) is not None:
            raise BadInput(f"a saved search named {new!r} exists already", field="name")
        store.rename_saved_search(db, name, new, now=now)
        store.audit(db, who=user.who, action="saved_search.rename", target=name, before={"name": name},
                    after={"name": new}, now=now)
    return store.saved_search(db, new) or {}


def delete_search(db: sqlite_utils.Database, settings: Settings, user: Principal, name: str, *, now: str) -> None:
    """Delete the saved search ``name`` as ``user``, with its audit row. ``NotFound`` if there is none;
    ``BadInput`` if an alert rule watches it."""
    with store.write(db):
        before = store.saved_search(db, name)
        if before is None:
            raise NotFound(f"no saved search named {name!r}")
        _unwatched(settings, name, "delete")
        store.delete_saved_search(db, name)
        store.audit(db, who=user.who, action="saved_search.delete", target=name, before=_state(before), now=now)


# --- pages ----------------------------------------------------------------------------------------


def saved_page(request: Request, db: sqlite_utils.Database, settings: Settings, pages: Pages, *, done: str = "",
               problem: UserError | None = None) -> HTMLResponse:
    """The list of saved searches, each with how to use it, and an editor's forms (``problem``: a
    refused change, its message shown above the list with its status)."""
    who = current_principal(request)
    editor = who is not None and who.can("editor")
    items = [{**s, "run": link("/search", {"q": s["query"]}),
              "digest": f"listener digest --search {shlex.quote(s['name'])}",
              "cli_search": f"listener search --saved {shlex.quote(s['name'])}",
              "alert": link("/manage/alerts", {"saved": s["name"]}),
              "rules": search_mod.rules_watching(settings.alerts.rules, s["name"])} for s in store.saved_searches(db)]
    return pages.render("saved.html.j2", status=problem.http_status if problem else 200, items=items,
                        editor=editor, done=DONE.get(done, ""), error=problem.message if problem else "",
                        csrf=csrf_token(request) if editor else "")


@router.get("/saved", response_class=HTMLResponse, include_in_schema=False)
def saved_list(request: Request, db: DbDep, settings: SettingsDep, pages: PagesDep, done: str = "") -> HTMLResponse:
    return saved_page(request, db, settings, pages, done=done)


@router.post("/saved", include_in_schema=False, dependencies=Csrf)
async def save_form(request: Request, user: Editor, db: DbDep, settings: SettingsDep, pages: PagesDep,
                    request_now: NowDep) -> Response:
    """The search page's "Save this search": fields ``name``, ``q`` and the filter boxes, which are saved
    as fields of the query (``product:``, ``published:[...]``, ...), so the saved search is what the page showed."""
    form = await form_fields(request)
    try:
        query = search_mod.with_filters(form.get("q", ""), _filters({k: form.get(k, "") for k in FILTERS}))
        save_search(db, user, form.get("name", ""), query, now=request_now)
    except UserError as exc:
        return saved_page(request, db, settings, pages, problem=exc)
    return RedirectResponse("/saved?done=saved", status_code=303)


@router.post("/saved/rename", include_in_schema=False, dependencies=Csrf)
async def rename_form(request: Request, user: Editor, db: DbDep, settings: SettingsDep, pages: PagesDep,
                      request_now: NowDep) -> Response:
    """A saved search's Rename form: fields ``original`` and ``name``."""
    form = await form_fields(request)
    try:
        rename_search(db, settings, user, form.get("original", ""), form.get("name", ""), now=request_now)
    except UserError as exc:
        return saved_page(request, db, settings, pages, problem=exc)
    return RedirectResponse("/saved?done=renamed", status_code=303)


@router.post("/saved/delete", include_in_schema=False, dependencies=Csrf)
async def delete_form(request: Request, user: Editor, db: DbDep, settings: SettingsDep, pages: PagesDep,
                      request_now: NowDep) -> Response:
    """A saved search's Delete button: field ``name``."""
    form = await form_fields(request)
    try:
        delete_search(db, settings, user, form.get("name", ""), now=request_now)
    except UserError as exc:
        return saved_page(request, db, settings, pages, problem=exc)
    return RedirectResponse("/saved?done=deleted", status_code=303)
