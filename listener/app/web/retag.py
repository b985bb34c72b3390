"""Re-tagging existing posts after a product's aliases or excludes changed (README: Managing what is
tracked): ``classify --all`` in a background thread of the web process, one at a time, recorded as a
``retag`` run whose ``detail`` holds the progress (``done`` of ``total`` posts), shown by
GET /api/manage/retag and the /manage/products page.

Every post is classified again, not only those matching the old or new aliases: a post that matches
neither keeps its mentions either way, and one pass of the real ``classify`` is simpler and leaves no
post tagged under the old query.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from typing import Any, Callable

from listener import pipeline, store
from listener.config import Settings
from listener.errors import UserError
from listener.text import iso_utc
from reports.digest import query_version

log = logging.getLogger(__name__)
_lock = threading.Lock()  # one re-tag at a time in this process


def status(settings: Settings) -> dict:
    """The newest re-tag: state (none | running | ok | error | interrupted ...), product, query version,
    posts done and total, started and finished."""
    db = store.open_db(settings.db_path, migrate=False)   # the app migrated it at start
    try:
        run = store.latest_run(db, "retag")
    finally:
        db.close()
    if run is None:
        return {"state": "none", "product": None, "query_version": None, "done": 0, "total": 0,
                "started_at": None, "finished_at": None}
    d = run["detail"]
    return {"state": run["status"], "product": d.get("product"), "query_version": d.get("query_version"),
            "done": d.get("done", 0), "total": d.get("total", 0), "started_at": run["started_at"],
            "finished_at": run["finished_at"]}


def start(settings: Settings, product: str, now: Callable[[], datetime], *, wait: bool = False) -> None:
    """Start re-tagging every post for ``product``'s current query in a thread (``wait``: return when it
    is done). A 409 when one is already running."""
    found = next((p for p in settings.products if p.name == product), None)
    if found is None:
        raise UserError(f"no product named {product!r} in the settings", http_status=404, field="product")
    if not _lock.acquire(blocking=False):
        raise UserError("a re-tag is already running: wait for it to finish", http_status=409)
    thread = threading.Thread(target=_run, args=(settings, product, query_version(found), now),
                              name="listener-retag", daemon=True)
    try:
        thread.start()
    except BaseException:
        _lock.release()
        raise
    if wait:
        thread.join()


def _run(settings: Settings, product: str, version: str, now: Callable[[], datetime]) -> None:
    try:
        db = store.open_db(settings.db_path)
        try:
            with store.recorded_run(db, "retag", now=iso_utc(now())) as run:
                run.detail.update(product=product, query_version=version, done=0,
                                  total=store.count_to_classify(db, everything=True))
                store.save_run_progress(db, run)

                def progress(n: int, run: Any = run) -> None:
                    run.detail["done"] += n
                    store.save_run_progress(db, run)

                pipeline.classify(db, settings, everything=True, now=now(), on_batch=progress)
        finally:
            db.close()
    except Exception:  # recorded as an error run; the page shows it
        log.exception("re-tag for %s failed", product)
    finally:
        _lock.release()
