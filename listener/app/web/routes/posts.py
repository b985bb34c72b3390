"""Posts: a post's page and ``/api/posts/{id}``, with why it got its label; and an editor's work on its
mentions (relabel the sentiment, mark not about / about the product, clear its labels), as forms on the page
and as ``/api/posts/{id}/mentions/{product}``. Every change writes an audit row that keeps what restoring
the state before it takes, so each change is undone by itself (the page's history, and
``POST /api/changes/{id}/undo``). The work is ``listener.labels``'s, which the CLI (``listener label``,
``undo``, ``history``) calls too; these routes read the request and answer."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import parse_qs

import sqlite_utils
from fastapi import APIRouter, Body, Depends, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.convertors import PathConvertor, register_url_convertor

from listener import store
from listener.labels import (ACTIONS, change_mention, mention_state, post_changes, set_topics,
                             undo_change)
from listener.app.web.deps import (CSRF_FIELD, DbDep, NowDep, PagesDep, SettingsDep, csrf_token, current_principal,
                                   form_fields, require_csrf, require_role)
from listener.app.web.models import (ROLE_ERRORS, ChangeEntry, MentionChange, MentionState, PostDetail, UndoResult,
                                     error)
from listener.config import Settings
from listener.errors import SQLITE_INT_MAX, NotFound
from listener.users import Principal



class _MentionConvertor(PathConvertor):
    """A product name in a mention's path: like ``:path`` (``AC/DC`` arrives decoded), but never one
    ending in ``/label``, so ``PUT .../label`` is the 405 it should be, not a relabel of ``x/label``."""

    regex = r"(?:(?!/label$).)*"


register_url_convertor("mention", _MentionConvertor())
router = APIRouter()
PostId = Annotated[int, Path(ge=1, le=SQLITE_INT_MAX, description="The post's id (as in search hits)")]
Product = Annotated[str, Path(min_length=1, pattern=r"^[^\x00-\x1F\x7F-\x9F]*$",
                              description="A product the post mentions (its name as in the settings; any case)")]
Editor = Annotated[Principal, Depends(require_role("editor"))]
NO_MENTION = error("No post with that id, or the post does not mention that product")
ChangeId = Annotated[int, Path(ge=1, le=SQLITE_INT_MAX, description="The change's id (an audit log row)")]


@router.get("/posts/{post_id}", response_class=HTMLResponse, include_in_schema=False)
def post_page(post_id: PostId, request: Request, db: DbDep, settings: SettingsDep, pages: PagesDep,
              done: str = "") -> HTMLResponse:
    who = current_principal(request)
    editor = who is not None and who.can("editor")
    return pages.render("post.html.j2", post=post_detail(db, settings, post_id), editor=editor,
                        csrf=csrf_token(request) if editor else "", csrf_field=CSRF_FIELD,
                        done=done if done in (*ACTIONS, "undone") else "", topics_saved=done == "topics",
                        changes=post_changes(db, post_id),
                        topic_names=[t.name for t in settings.topics])


@router.get("/api/posts/{post_id}", response_model=PostDetail, tags=["posts"],
            responses={404: error("No post with that id")})
def api_post(post_id: PostId, db: DbDep, settings: SettingsDep) -> dict:
    """One post with its tags, why it got its sentiment label, and the human labels of its mentions."""
    return post_detail(db, settings, post_id)


def post_detail(db: sqlite_utils.Database, settings: Settings, post_id: int) -> dict:
    """A post with its products, topics, the explanation of its label and the human labels of its
    mentions (``marks``, by product), for the page and the API."""
    p = store.get_post(db, post_id)
    if p is None:
        raise NotFound(f"no post with id {post_id}")
    # get_post already read the mentions (by product) and topics (by topic)
    p["products"], p["topics"] = p["mentions"], [t["topic"] for t in p["topics"]]
    p["marks"] = store.mention_marks(db, post_id)
    from listener import learn  # loads the models (numpy, scipy): on the first post page, not at start-up

    p["explanation"] = learn.explain(p, settings).to_dict()
    return p


# --- work on mentions (listener.labels does the work; the CLI calls it too) -----------------------


@router.post("/posts/{post_id}/mentions", include_in_schema=False, dependencies=[Depends(require_csrf)])
async def mention_form(post_id: PostId, request: Request, user: Editor, settings: SettingsDep,
                       request_now: NowDep) -> Response:
    """The post page's buttons: form fields ``product`` and ``action``; back to the page."""
    form = await form_fields(request)
    db = store.open_db(settings.db_path, migrate=False)
    try:
        await run_in_threadpool(change_mention, db, settings, post_id, form.get("product", ""),
                                form.get("action", ""), who=user.who, now=request_now)
    finally:
        db.close()
    return RedirectResponse(f"/posts/{post_id}?done={form.get('action', '')}#mentions", status_code=303)


@router.put("/api/posts/{post_id}/mentions/{product:mention}", response_model=MentionState, tags=["posts"],
            responses={**ROLE_ERRORS, 404: NO_MENTION})
def api_change_mention(post_id: PostId, product: Product, body: Annotated[MentionChange, Body()], db: DbDep,
                       settings: SettingsDep, user: Editor, request_now: NowDep) -> dict:
    """Relabel a mention's sentiment (``{"sentiment": "negative"}``) or mark whether the post is about the
    product (``{"about": false}``: it leaves every number at once; ``true``: it counts) (an editor; 400 unless
    exactly one key is given). The label wins over the model and is training data (``listener train --with-labels``)."""
    action = body.sentiment if body.sentiment is not None else ("about" if body.about else "not_about")
    name = change_mention(db, settings, post_id, product, action, who=user.who, now=request_now)
    return mention_state(db, post_id, name)


@router.delete("/api/posts/{post_id}/mentions/{product:path}/label", response_model=MentionState, tags=["posts"],
               responses={**ROLE_ERRORS, 404: error("No post with that id, the post does not mention that product, "
                                                   "or the mention has no human label")})
def api_clear_mention(post_id: PostId, product: Product, db: DbDep, settings: SettingsDep, user: Editor,
                      request_now: NowDep) -> dict:
    """Clear the human labels of a mention (its sentiment relabel and its about / not-about mark) in one
    change (``mention.clear``, itself undoable); the post is classified again at once, so the mention has the
    model's judgement back (an editor). To undo one change only: ``POST /api/changes/{id}/undo``."""
    name = change_mention(db, settings, post_id, product, "clear", who=user.who, now=request_now)
    return mention_state(db, post_id, name)


@router.get("/api/posts/{post_id}/changes", response_model=list[ChangeEntry], tags=["posts"],
            responses={404: error("No post with that id")})
def api_post_changes(post_id: PostId, db: DbDep) -> list[dict]:
    """The history of a post's mentions and topics, oldest first: every logged change (who, when, what,
    before and after), whether it can be undone now and, if not, why."""
    if store.get_post(db, post_id) is None:
        raise NotFound(f"no post with id {post_id}")
    return post_changes(db, post_id)


@router.post("/api/changes/{change_id}/undo", response_model=UndoResult, tags=["posts"],
             responses={**ROLE_ERRORS, 404: error("No change with that id"),
                        409: error("The change cannot be undone: it was undone already, a later change of the same "
                                   "label supersedes it (undo that first), the label changed outside the change log, "
                                   "it is not a change of a post's mentions or topics, or its post is gone (`error` "
                                   "says which)")})
def api_undo_change(change_id: ChangeId, db: DbDep, settings: SettingsDep, user: Editor,
                    request_now: NowDep) -> dict:
    """Undo one change of a post's mention (a relabel, a not-about / about mark, a clear) or of its topics
    (an editor): those labels go back to what they were before it and the post is classified again. Only the
    newest change of a label can be undone (a 409 names the later change to undo first). Answers the change
    (now with ``undone_by``) and the ``change.undo`` row that records the undo."""
    change, undo = undo_change(db, settings, change_id, who=user.who, now=request_now)
    return {"undone": change, "change": undo}


@router.post("/posts/{post_id}/changes/{change_id}/undo", include_in_schema=False,
             dependencies=[Depends(require_csrf)])
async def undo_form(post_id: PostId, change_id: ChangeId, user: Editor, settings: SettingsDep,
                    request_now: NowDep) -> Response:
    """The post page history's undo button; back to the page."""
    db = store.open_db(settings.db_path, migrate=False)
    try:
        change = store.audit_entry(db, change_id)
        if change is None or (change["undo"] or {}).get("post_id") != post_id:
            raise NotFound(f"post {post_id} has no undoable change with id {change_id}", field="change_id")
        await run_in_threadpool(undo_change, db, settings, change_id, who=user.who, now=request_now)
    finally:
        db.close()
    return RedirectResponse(f"/posts/{post_id}?done=undone#history", status_code=303)


# --- set a post's topics --------------------------------------------------------------------------


@router.post("/posts/{post_id}/topics", include_in_schema=False, dependencies=[Depends(require_csrf)])
async def topics_form(post_id: PostId, request: Request, user: Editor, settings: SettingsDep,
                      request_now: NowDep) -> Response:
    """The post page's topics form: a ``topic`` checkbox per configured topic; back to the page."""
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    db = store.open_db(settings.db_path, migrate=False)
    try:
        await run_in_threadpool(set_topics, db, settings, post_id, form.get("topic", []), who=user.who, now=request_now)
    finally:
        db.close()
    return RedirectResponse(f"/posts/{post_id}?done=topics#topics", status_code=303)
