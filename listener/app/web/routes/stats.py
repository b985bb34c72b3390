"""Stats and saved searches: ``/api/stats`` and ``/api/saved-searches`` (saving and deleting: editors)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from fastapi.responses import Response

from listener import search, store
from listener.app.web.deps import DbDep, NowDep, require_role
from listener.app.web.models import ROLE_ERRORS, NewSavedSearch, SavedSearch, Stats, error
from listener.errors import NotFound
from listener.users import Principal
from reports.digest import NOT_COMPUTED_NOTICE

router = APIRouter()


@router.get("/api/stats", response_model=Stats, tags=["stats"])
def api_stats(db: DbDep) -> dict:
    """Totals over the whole store."""
    stats = store.post_stats(db)
    stats["sources"] = {r["name"]: r["posts"] for r in store.sources_table(db)}
    stats["products"] = store.mention_counts(db)
    stats["product_sentiment"] = store.mention_labels(db)
    if any(store.NOT_COMPUTED in labels for labels in stats["product_sentiment"].values()):
        stats["notice"] = NOT_COMPUTED_NOTICE
    return stats


@router.get("/api/saved-searches", response_model=list[SavedSearch], tags=["search"])
def api_saved(db: DbDep, owner: str | None = None) -> list[dict]:
    """Saved searches (name, query, owner)."""
    return store.saved_searches(db, owner)


Editor = Annotated[Principal, Depends(require_role("editor"))]


@router.post("/api/saved-searches", response_model=SavedSearch, status_code=201, tags=["search"],
             responses=ROLE_ERRORS)
def api_save_search(body: NewSavedSearch, db: DbDep, user: Editor, request_now: NowDep) -> dict:
    """Save a search under ``name`` (an editor; the owner is who saves it). 400 if the query does not parse."""
    name = body.name.strip()
    with store.write(db):
        before = next((s for s in store.saved_searches(db) if s["name"] == name), None)
        search.save(db, name, body.query, owner=user.name, now=request_now)
        store.audit(db, who=user.who, action="saved_search.save", target=name,
                    before=before and {"query": before["query"], "owner": before["owner"]},
                    after={"query": body.query, "owner": user.name}, now=request_now)
    return next(s for s in store.saved_searches(db) if s["name"] == name)


@router.delete("/api/saved-searches/{name}", status_code=204, tags=["search"],
               responses={**ROLE_ERRORS, 404: error("No saved search of that name")})
def api_delete_search(name: Annotated[str, Path(pattern=r"^[^\x00-\x1F\x7F-\x9F]*$")], db: DbDep, user: Editor,
                      request_now: NowDep) -> Response:
    """Delete a saved search (an editor)."""
    with store.write(db):
        before = next((s for s in store.saved_searches(db) if s["name"] == name), None)
        if before is None or not store.delete_saved_search(db, name):
            raise NotFound(f"no saved search named {name!r}")
        store.audit(db, who=user.who, action="saved_search.delete", target=name,
                    before={"query": before["query"], "owner": before["owner"]}, now=request_now)
    return Response(status_code=204)
