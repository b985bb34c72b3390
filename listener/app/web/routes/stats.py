"""Stats and saved searches: ``/api/stats`` and ``/api/saved-searches``."""

from __future__ import annotations

from fastapi import APIRouter

from listener import store
from listener.app.web.deps import DbDep
from listener.app.web.models import SavedSearch, Stats
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
