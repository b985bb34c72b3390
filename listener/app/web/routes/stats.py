"""Stats and saved searches: ``/api/stats`` and ``/api/saved-searches`` (saving, renaming and deleting: editors,
through the functions the /saved page uses, in routes/saved.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from fastapi.responses import Response

from listener import store
from listener.app.web.deps import DbDep, NowDep, SettingsDep, require_role
from listener.app.web.models import ROLE_ERRORS, NewSavedSearch, SavedSearch, SavedSearchRename, Stats, error
from listener.app.web.routes import saved
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
    return saved.save_search(db, user, body.name, body.query, now=request_now)


SavedName = Annotated[str, Path(pattern=r"^[^\x00-\x1F\x7F-\x9F]*$", description="The saved search's name")]
WATCHED = ("an alert rule watches the saved search (`saved = \"NAME\"`): `error` names the rules to change first")


@router.put("/api/saved-searches/{name}", response_model=SavedSearch, tags=["search"],
            responses={**ROLE_ERRORS, 400: error(f"The new name is blank, too long, has a control character or is "
                                                 f"taken (`field` is `name`), or {WATCHED}"),
                       404: error("No saved search of that name")})
def api_rename_search(name: SavedName, body: SavedSearchRename, db: DbDep, settings: SettingsDep, user: Editor,
                      request_now: NowDep) -> dict:
    """Rename a saved search (an editor): ``{"name": "NEW"}``; 200 with the saved search under its new name
    (the same name again changes nothing)."""
    return saved.rename_search(db, settings, user, name, body.name, now=request_now)


@router.delete("/api/saved-searches/{name}", status_code=204, tags=["search"],
               responses={**ROLE_ERRORS, 400: error(f"A bad parameter, or {WATCHED}"),
                          404: error("No saved search of that name")})
def api_delete_search(name: SavedName, db: DbDep, settings: SettingsDep, user: Editor,
                      request_now: NowDep) -> Response:
    """Delete a saved search (an editor)."""
    saved.delete_search(db, settings, user, name, now=request_now)
    return Response(status_code=204)
