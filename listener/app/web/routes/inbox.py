"""The alert inbox and the digest archive: ``/alerts`` (every alert that fired, newest first, with its reason,
drivers and example posts, and its status new / seen / handled, which an editor changes: the page's form or
``PUT /api/alerts/{id}/status``, each change audited as ``alert.status``), ``GET /api/alerts``; ``/digests``
(the digests written to ``digest.output_dir``) and ``/digests/{filename}`` (one of them, opened in the browser)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated, Literal

import sqlite_utils
from fastapi import APIRouter, Body, Depends, Path as PathParam, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from listener import store
from listener.app.web.deps import (DbDep, NowDep, PagesDep, SettingsDep, csrf_token, current_principal, form_fields,
                                   require_csrf, require_role)
from listener.app.web.models import (ROLE_ERRORS, VALUE_PATTERN, AlertList, AlertState, AlertStatusChange, Day,
                                     error)
from listener.app.web.render import link
from listener.errors import SQLITE_INT_MAX, BadInput, NotFound
from listener.users import Principal

router = APIRouter()
Editor = Annotated[Principal, Depends(require_role("editor"))]
AlertId = Annotated[int, PathParam(ge=1, le=SQLITE_INT_MAX, description="The fired alert's id")]
Status = Literal["new", "seen", "handled"]
PAGE = 50
API_MAX_LIMIT = 500
NO_ALERT = error("No fired alert with that id")

# --- the alert inbox ----------------------------------------------------------------------------------


def alert_filter(status: str | None, rule: str | None, product: str | None, since: date | str | None,
                 until: date | str | None) -> store.AlertFilter:
    """The inbox's filter from its query parameters ("" is no filter; ``from``/``to`` are days, both
    included); ``BadInput`` naming the parameter for a bad one."""
    status, rule, product = (v or None for v in (status, rule, product))
    if status is not None and status not in store.ALERT_STATUSES:
        raise BadInput(f"status must be one of {', '.join(store.ALERT_STATUSES)}, got {status!r}", field="status")
    for name, value in (("rule", rule), ("product", product)):
        if value is not None and not re.fullmatch(VALUE_PATTERN, value):
            raise BadInput(f"{name} must not contain control characters", field=name)
    days = {}
    for name, value in (("from", since), ("to", until)):
        if isinstance(value, str) and value:
            try:
                if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
                    raise ValueError
                value = date.fromisoformat(value)
            except ValueError:
                raise BadInput(f"{name} must be a date as YYYY-MM-DD, got {value!r}", field=name) from None
        days[name] = value or None
    if days["from"] and days["to"] and days["from"] > days["to"]:
        raise BadInput(f"from ({days['from']}) is after to ({days['to']})", field="from")
    stamp = lambda d: d.isoformat() + "T00:00:00Z"  # noqa: E731  # fired_at is ISO UTC: text order is time order
    end = days["to"] + timedelta(days=1) if days["to"] and days["to"] < date.max else None
    return store.AlertFilter(status=status, rule=rule, product=product,
                             since=stamp(days["from"]) if days["from"] else None, until=stamp(end) if end else None)


def alert_json(row: dict) -> dict:
    """A fired alert as the API and the page show it: the stored columns, ``reason``, ``drivers`` and
    ``examples`` (each with ``post_id``) out of its detail."""
    detail = row.pop("detail") or {}
    detail = detail if isinstance(detail, dict) else {}
    found = detail.get("drivers") if isinstance(detail.get("drivers"), dict) else {}  # older rows kept other shapes
    row["reason"] = str(detail.get("reason") or "")
    row["drivers"] = {k: [[str(pair[0]), int(pair[1])] for pair in found.get(k) or []
                          if isinstance(pair, list) and len(pair) == 2 and isinstance(pair[1], (int, float))]
                      for k in ("terms", "sources", "authors", "topics")}
    row["examples"] = [e for e in found.get("examples") or [] if isinstance(e, dict) and isinstance(e.get("post_id"), int)]
    return row


@router.get("/alerts", response_class=HTMLResponse, include_in_schema=False)
def alerts_page(request: Request, db: DbDep, pages: PagesDep, status: str = "", rule: str = "", product: str = "",
                since: Annotated[str, Query(alias="from")] = "", until: Annotated[str, Query(alias="to")] = "",
                offset: Annotated[int, Query(ge=0, le=SQLITE_INT_MAX - PAGE)] = 0,
                done: str = "") -> HTMLResponse:
    """The inbox, ``PAGE`` alerts at a time, newest first, filtered by the query parameters."""
    which = alert_filter(status, rule, product, since, until)
    found, total = store.fired_alerts(db, which, limit=PAGE, offset=offset)
    rules, products = store.alert_names(db)
    form = {"status": status, "rule": rule, "product": product, "from": since, "to": until}
    who = current_principal(request)
    can_edit = bool(who and who.can("editor"))
    newer = link("/alerts", form, offset=max(offset - PAGE, 0)) if offset else None
    older = link("/alerts", form, offset=offset + PAGE) if total > offset + PAGE else None
    return pages.render("alerts.html.j2", alerts=[alert_json(r) for r in found], total=total, offset=offset,
                        page=PAGE, form=form, back=link("", form), newer=newer, older=older, rules=rules,
                        products=products, statuses=store.ALERT_STATUSES, can_edit=can_edit,
                        csrf=csrf_token(request) if can_edit else "",
                        done=done if done in store.ALERT_STATUSES else "")


def change_status(db: sqlite_utils.Database, alert_id: int, status: str, *, who: Principal, now: str) -> dict:
    """Set a fired alert's status as ``who`` and write its ``alert.status`` audit row (one transaction);
    the alert after. ``NotFound`` without such an alert, ``BadInput`` for a status not in ``ALERT_STATUSES``."""
    if status not in store.ALERT_STATUSES:
        raise BadInput(f"status must be one of {', '.join(store.ALERT_STATUSES)}, got {status!r}", field="status")
    with store.write(db):
        before = store.get_alert(db, alert_id)
        if before is None:
            raise NotFound(f"no fired alert {alert_id}", field="id")
        store.set_alert_status(db, alert_id, status, by=who.who, now=now)
        after = store.get_alert(db, alert_id) or {}
        keep = ("status", "status_by", "status_at")
        store.audit(db, who=who.who, action="alert.status", target=f"alert {alert_id} ({before['rule']})",
                    before={k: before[k] for k in keep}, after={k: after[k] for k in keep}, now=now)
    return after


@router.post("/alerts/{alert_id}/status", include_in_schema=False, dependencies=[Depends(require_csrf)])
async def status_form(alert_id: AlertId, request: Request, user: Editor, settings: SettingsDep,
                      request_now: NowDep) -> Response:
    """The inbox's status buttons: form field ``status``; back to the inbox (its filters in ``back``)."""
    form = await form_fields(request)
    db = store.open_db(settings.db_path, migrate=False)
    try:
        await run_in_threadpool(change_status, db, alert_id, form.get("status", ""), who=user, now=request_now)
    finally:
        db.close()
    back = form.get("back", "")
    back = back if back.startswith("?") and "\n" not in back and "\r" not in back else ""
    done = f"{'&' if back else '?'}done={form.get('status', '')}"
    return RedirectResponse(f"/alerts{back}{done}#alert-{alert_id}", status_code=303)


@router.get("/api/alerts", response_model=AlertList, tags=["alerts"])
def api_alerts(db: DbDep, status: Annotated[Status | None, Query(description="Only alerts with this status")] = None,
               rule: Annotated[str | None, Query(min_length=1, pattern=VALUE_PATTERN,
                                                 description="Only this rule's alerts")] = None,
               product: Annotated[str | None, Query(min_length=1, pattern=VALUE_PATTERN,
                                                    description="Only alerts on this product (or query)")] = None,
               since: Annotated[Day | None, Query(alias="from", description="Fired on or after this day, YYYY-MM-DD "
                                                  "(UTC)")] = None,
               until: Annotated[Day | None, Query(alias="to", description="Fired on or before this day, YYYY-MM-DD "
                                                  "(UTC)")] = None,
               limit: Annotated[int, Query(ge=1, le=API_MAX_LIMIT)] = 50,
               offset: Annotated[int, Query(ge=0, le=SQLITE_INT_MAX - API_MAX_LIMIT)] = 0) -> dict:
    """The alerts that fired, newest first, with why (``reason``), what was behind them (``drivers``:
    terms, sources, authors, topics with counts), example posts, and their inbox status."""
    which = alert_filter(status, rule, product, since, until)
    found, total = store.fired_alerts(db, which, limit=limit, offset=offset)
    return {"total": total, "offset": offset, "limit": limit, "alerts": [alert_json(r) for r in found]}


@router.put("/api/alerts/{alert_id}/status", response_model=AlertState, tags=["alerts"],
            responses={**ROLE_ERRORS, 404: NO_ALERT})
def api_alert_status(alert_id: AlertId, body: Annotated[AlertStatusChange, Body()], db: DbDep, user: Editor,
                     request_now: NowDep) -> dict:
    """Set a fired alert's inbox status: ``seen``, ``handled`` (records who and when) or back to ``new``
    (an editor). Audited as ``alert.status``."""
    after = change_status(db, alert_id, body.status, who=user, now=request_now)
    return {k: after[k] for k in ("id", "status", "status_by", "status_at")}


# --- the digest archive ---------------------------------------------------------------------------------

# what pipeline.digest writes (reports.render.write_digest): <slug>.html/.md/.json/.pdf, <slug>.<chart>.png
DIGEST_FILE = re.compile(r"(digest-\d{4}-\d{2}-\d{2}[a-z0-9-]*)(\.[a-z0-9-]+)?\.(html|md|json|pdf|png)")
FORMATS = ("html", "md", "json", "pdf")
MEDIA_TYPES = {"html": "text/html; charset=utf-8", "md": "text/plain; charset=utf-8",  # text/markdown downloads
               "json": "application/json", "pdf": "application/pdf", "png": "image/png"}
# a digest page is ours but shows collected text: no scripts, no requests but its own inline charts and style
DIGEST_CSP = ("sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data: 'self'; base-uri 'none'; "
              "frame-ancestors 'none'")


@dataclass
class DigestFiles:
    slug: str
    files: dict[str, str]   # format -> file name
    modified: str           # the newest file's modification time, ISO UTC


def digest_files(folder: Path) -> list[DigestFiles]:
    """The digests in ``folder`` (files directly in it named as ``write_digest`` names them), newest first."""
    found: dict[str, DigestFiles] = {}
    try:
        entries = [p for p in folder.iterdir() if p.is_file()]
    except OSError:   # not written yet
        return []
    for path in entries:
        m = DIGEST_FILE.fullmatch(path.name)
        if not m or m.group(2) or m.group(3) not in FORMATS:
            continue
        stamp = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        entry = found.setdefault(m.group(1), DigestFiles(m.group(1), {}, stamp))
        entry.files[m.group(3)] = path.name
        entry.modified = max(entry.modified, stamp)
    return sorted(found.values(), key=lambda d: (d.modified, d.slug), reverse=True)


@router.get("/digests", response_class=HTMLResponse, include_in_schema=False)
def digests_page(db: DbDep, settings: SettingsDep, pages: PagesDep) -> HTMLResponse:
    """The digests written to ``digest.output_dir``, newest first, and the last digest runs."""
    runs = [r for r in store.recent_runs(db, limit=200) if r["kind"] == "digest"][:10]
    return pages.render("digests.html.j2", digests=digest_files(settings.digest.output_dir),
                        folder=str(settings.digest.output_dir), formats=FORMATS, runs=runs)


@router.get("/digests/{filename}", include_in_schema=False)
def digest_file(filename: str, settings: SettingsDep) -> Response:
    """One digest file, opened in the browser: only a file directly in ``digest.output_dir`` whose name is a
    digest's (so never a path elsewhere); 404 otherwise."""
    m = DIGEST_FILE.fullmatch(filename)
    folder = Path(settings.digest.output_dir).resolve()
    path = folder / filename
    if not m or not path.is_file() or path.resolve().parent != folder:
        raise NotFound(f"no digest file {filename!r}")
    response = FileResponse(path, media_type=MEDIA_TYPES[m.group(3)])
    if m.group(3) == "html":
        response.headers["Content-Security-Policy"] = DIGEST_CSP
    return response
