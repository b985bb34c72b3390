"""Admin pages: ``/admin/audit``, the audit log (every change: who, when, what, before and after)."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse

from listener import store
from listener.app.web.deps import DbDep, PagesDep, require_role
from listener.errors import SQLITE_INT_MAX

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
