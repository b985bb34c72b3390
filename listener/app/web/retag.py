"""Re-tagging existing posts after a product's aliases or excludes changed (README: Managing what is
tracked): the posts the change affects are classified again in a background thread of the web process, one
re-tag at a time, recorded as a ``retag`` run whose ``detail`` holds the progress (``done`` of ``total``
posts), shown by GET /api/manage/retag, GET /api/products/{name}/retag and the /manage/products page.

The posts affected are those the full-text index finds holding one of the product's aliases, old (before
the last change of its query, from the audit log) or new, and those tagged now with the product or with one
no longer configured (renamed or removed). A post outside them matched neither query, so its tags stay
right; classifying only these is what makes a re-tag of a rare alias take seconds on a large store. When an
alias has no word the index keeps (``++``), every post is classified again.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from types import SimpleNamespace
from typing import Callable

import sqlite_utils

from listener import pipeline, store
from listener.config import Product, Settings
from listener.errors import UserError
from listener.text import iso_utc
from reports.digest import query_version

log = logging.getLogger(__name__)
_lock = threading.Lock()  # one re-tag at a time in this process
NONE = {"id": None, "state": "none", "product": None, "query_version": None, "scope": None, "done": 0, "total": 0,
        "started_at": None, "finished_at": None}


def status(settings: Settings, product: str | None = None) -> dict:
    """The newest re-tag (of ``product``, when given): id, state (none | running | ok | error | interrupted
    ...), product, query version, scope (affected | all), posts done and total, started and finished."""
    db = store.open_db(settings.db_path, migrate=False)   # the app migrated it at start
    try:
        run = store.latest_run(db, "retag", product=product)
    finally:
        db.close()
    if run is None:
        return dict(NONE)
    d = run["detail"]
    return {"id": run["id"], "state": run["status"] or "running", "product": d.get("product"),
            "query_version": d.get("query_version"), "scope": d.get("scope"), "done": d.get("done", 0),
            "total": d.get("total", 0), "started_at": run["started_at"], "finished_at": run["finished_at"]}


def _aliases(entry: dict) -> tuple[str, ...]:
    """A product's aliases in its settings entry as the audit log keeps it (none given: its name, as the
    settings loader does)."""
    return tuple(entry.get("aliases") or ([entry["name"]] if entry.get("name") else []))


def previous_version(before: dict | None) -> str | None:
    """``query_version`` of a product's settings entry as the audit log keeps it (None: none)."""
    if before is None:
        return None
    return query_version(SimpleNamespace(aliases=_aliases(before),  # type: ignore[arg-type]
                                         exclude=tuple(before.get("exclude") or ())))


def affected_posts(db: sqlite_utils.Database, settings: Settings, product: Product) -> list[int] | None:
    """The ids of the posts a change of ``product``'s query may re-tag (see the module's note); None: all."""
    before = (store.query_change(db, product.name) or {}).get("before") or {}
    phrases = {*(product.aliases or (product.name,)), *_aliases(before)}
    matched = store.posts_matching_phrases(db, sorted(phrases))
    if matched is None:
        return None
    tagged = store.tagged_posts(db, [product.name], known=[p.name for p in settings.products])
    return sorted(set(matched) | set(tagged))


def start(settings: Settings, product: str, now: Callable[[], datetime], *, wait: bool = False) -> dict:
    """Start re-tagging the posts ``product``'s query change affects in a thread (``wait``: return when it is
    done); its status (``status``), recorded before this returns. A 404 for an unknown product, a 409 when a
    re-tag is already running."""
    found = next((p for p in settings.products if p.name == product), None)
    if found is None:
        raise UserError(f"no product named {product!r} in the settings", http_status=404, field="product")
    if not _lock.acquire(blocking=False):
        raise UserError("a re-tag is already running: wait for it to finish", http_status=409)
    try:
        db = store.open_db(settings.db_path, migrate=False)
        try:
            ids = affected_posts(db, settings, found)
            run = store.start_run(db, "retag", now=iso_utc(now()))
            run.detail.update(product=product, query_version=query_version(found), done=0,
                              scope="all" if ids is None else "affected",
                              total=store.count_posts(db) if ids is None else len(ids))
            store.save_run_progress(db, run)
        finally:
            db.close()
        thread = threading.Thread(target=_run, args=(settings, run, ids, now), name="listener-retag", daemon=True)
        thread.start()
    except BaseException:
        _lock.release()
        raise
    if wait:
        thread.join()
    return status(settings, product)


def _run(settings: Settings, run: store.Run, ids: list[int] | None, now: Callable[[], datetime]) -> None:
    try:
        db = store.open_db(settings.db_path, migrate=False)
        failed = True
        try:
            def progress(n: int) -> None:
                run.detail["done"] += n
                store.save_run_progress(db, run)

            if ids is None:
                pipeline.classify(db, settings, everything=True, now=now(), on_batch=progress)
            else:
                pipeline.classify_posts(db, settings, ids, now=now(), on_batch=progress,
                                        batch_size=settings.classify.batch_size)
            failed = False
        finally:
            store.finish_run(db, run, now=iso_utc(now()), failed=failed)
            db.close()
    except Exception:  # recorded as an error run; the page shows it
        log.exception("re-tag for %s failed", run.detail.get("product"))
    finally:
        _lock.release()
