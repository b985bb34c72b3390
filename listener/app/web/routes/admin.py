"""Admin pages: ``/admin/audit``, the audit log (every change: who, when, what, before and after), and
``/admin/users``: list, add, change the role of and remove users (the ``listener users`` CLI's functions,
``listener.users``; each change audited; the last admin is neither removed nor demoted)."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from listener import store, users
from listener.app.web.deps import (DbDep, NowDep, PagesDep, csrf_token, current_principal, form_fields,
                                   require_csrf, require_role)
from listener.errors import SQLITE_INT_MAX, UserError

router = APIRouter(include_in_schema=False, dependencies=[Depends(require_role("admin"))])
PAGE = 100


@router.get("/admin/audit")
def audit_page(db: DbDep, pages: PagesDep,
               before: Annotated[int | None, Query(ge=1, le=SQLITE_INT_MAX)] = None) -> HTMLResponse:
    """The newest changes first, ``PAGE`` at a time (``before``: older than this row id)."""
    found = store.audit_rows(db, limit=PAGE + 1, before_id=before)
    rows = [{**r, "before": _json(r["before"]), "after": _json(r["after"])} for r in found[:PAGE]]
    older = rows[-1]["id"] if len(found) > PAGE else None
    return pages.render("audit.html.j2", rows=rows, older=older)


def _json(value: object) -> str:
    return "" if value is None else json.dumps(value, sort_keys=True, ensure_ascii=False)


USER_DONE = {"added": "User added.", "role": "Role changed.", "removed": "User removed."}


def users_page(request: Request, db, pages, *, problem: UserError | None = None, done: str = "",
               form: dict | None = None) -> HTMLResponse:
    return pages.render("users.html.j2", status=problem.http_status if problem else 200, users=store.users(db),
                        roles=users.ROLES, csrf=csrf_token(request), error=problem.message if problem else "",
                        done=USER_DONE.get(done, ""), form={"name": "", "role": "viewer", **(form or {})})


@router.get("/admin/users")
def users_list(request: Request, db: DbDep, pages: PagesDep, done: str = "") -> HTMLResponse:
    """Every user with their role, and the forms to add one, change a role or remove one."""
    return users_page(request, db, pages, done=done)


@router.post("/admin/users", dependencies=[Depends(require_csrf)])
async def users_change(request: Request, db: DbDep, pages: PagesDep, request_now: NowDep) -> Response:
    """One change, by the form's ``do``: ``add`` (name, role, password), ``role`` (name, role), ``remove`` (name)."""
    form = await form_fields(request)
    who = current_principal(request)
    by = who.who if who and who.who else "local"
    do, name = form.get("do", ""), form.get("name", "")
    try:
        if do == "add":
            users.add_user(db, name, form.get("role", ""), form.get("password", ""), by=by, now=request_now)
        elif do == "role":
            users.set_role(db, name, form.get("role", ""), by=by, now=request_now)
        elif do == "remove":
            users.remove_last_admin_refused(db, name)
            users.remove_user(db, name, by=by, now=request_now)
            do = "removed"
        else:
            raise UserError(f"do: one of add, role, remove, got {do!r}", field="do")
    except UserError as exc:
        shown = {k: v for k, v in form.items() if k in ("name", "role")} if do == "add" else {}
        return users_page(request, db, pages, problem=exc, form=shown)
    return RedirectResponse(f"/admin/users?done={'added' if do == 'add' else do}", status_code=303)
