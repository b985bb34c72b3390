"""Stats and saved searches: ``/api/stats`` and ``/api/saved-searches``."""

from __future__ import annotations

from fastapi import APIRouter

from listener import store
from listener.app.web.deps import DbDep
from listener.app.web.models import SavedSearch, Stats

router = APIRouter()


@router.get("/api/stats", response_model=Stats, tags=["stats"])
def api_stats(db: DbDep) -> dict:
    """Totals over the whole store."""
    stats = store.post_stats(db)
    stats["sources"] = {r["name"]: r["posts"] for r in store.sources_table(db)}
    stats["products"] = store.mention_counts(db)
    return stats


@router.get("/api/saved-searches", response_model=list[SavedSearch], tags=["search"])
def api_saved(db: DbDep, owner: str | None = None) -> list[dict]:
    """Saved searches (name, query, owner)."""
    return store.saved_searches(db, owner)
