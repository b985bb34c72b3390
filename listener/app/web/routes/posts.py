"""Posts: a post's page and ``/api/posts/{id}``, with why it got its label; and an editor's work on its
mentions (relabel the sentiment, mark not about / about the product, undo), as forms on the page and as
``/api/posts/{id}/mentions/{product}``. Every change writes an audit row."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import parse_qs

import sqlite_utils
from fastapi import APIRouter, Body, Depends, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.convertors import PathConvertor, register_url_convertor

from listener import pipeline, store
from listener.app.web.deps import (CSRF_FIELD, DbDep, NowDep, PagesDep, SettingsDep, csrf_token, current_principal,
                                   form_fields, require_csrf, require_role)
from listener.app.web.models import ROLE_ERRORS, MentionChange, MentionState, PostDetail, error
from listener.config import Settings
from listener.errors import SQLITE_INT_MAX, BadInput, NotFound
from listener.text import parse_iso
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
SENTIMENTS = ("positive", "neutral", "negative")
ACTIONS = (*SENTIMENTS, "not_about", "about", "undo")   # the page's buttons (the form's ``action``)


@router.get("/posts/{post_id}", response_class=HTMLResponse, include_in_schema=False)
def post_page(post_id: PostId, request: Request, db: DbDep, settings: SettingsDep, pages: PagesDep,
              done: str = "") -> HTMLResponse:
    who = current_principal(request)
    editor = who is not None and who.can("editor")
    return pages.render("post.html.j2", post=post_detail(db, settings, post_id), editor=editor,
                        csrf=csrf_token(request) if editor else "", csrf_field=CSRF_FIELD,
                        done=done if done in ACTIONS else "", topics_saved=done == "topics",
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


# --- work on mentions -----------------------------------------------------------------------------


def mentioned(db: sqlite_utils.Database, post_id: int, product: str) -> str:
    """The name as stored of the post's mention of ``product`` (counted or set apart; any case); 404 if none."""
    post = store.get_post(db, post_id)
    if post is None:
        raise NotFound(f"no post with id {post_id}")
    name = store.mentioned_product(post, product)
    if name is None:
        raise NotFound(store.not_mentioned(post, product), field="product")
    return name


def mention_state(db: sqlite_utils.Database, post_id: int, product: str) -> dict:
    """``MentionState`` of one mention as stored now."""
    post = store.get_post(db, post_id) or {"mentions": []}
    counted = next((m for m in post["mentions"] if m["product"] == product), None)
    labels = store.mention_marks(db, post_id).get(product, {"sentiment": None, "about": None})
    return {"post_id": post_id, "product": product, "counted": counted is not None,
            "sentiment_label": counted["sentiment_label"] if counted else None, "labels": labels}


def _marks(db: sqlite_utils.Database, post_id: int, product: str) -> dict:
    """A mention's human labels as the audit log keeps them: {sentiment, about} (values, or None)."""
    m = store.mention_marks(db, post_id).get(product, {"sentiment": None, "about": None})
    return {k: (m[k] or {}).get("value") for k in ("sentiment", "about")}


def change_mention(db: sqlite_utils.Database, settings: Settings, post_id: int, product: str, action: str, *,
                   who: Principal, now: str) -> str:
    """Apply one action (a sentiment, ``not_about``, ``about`` or ``undo``) to a post's mention of ``product``
    as ``who`` and write its audit row; the product's name as stored. An undo classifies the post again in
    the request (the model's judgement is back at once; about 10 ms with the default model)."""
    from listener import learn

    with store.write(db):   # the change and its audit row: one transaction
        name = mentioned(db, post_id, product)
        before = _marks(db, post_id, name)
        when = parse_iso(now)
        if action in SENTIMENTS:
            learn.label_post(db, settings, post_id, now=when, sentiment=action, product=name, by=who.who)
            verb = "mention.relabel"
        elif action in ("about", "not_about"):
            learn.mark_relevance(db, post_id, name, action == "about", now=when, by=who.who)
            verb = f"mention.{action}"
        elif action == "undo":
            if not store.unlabel_mention(db, post_id, name):
                raise NotFound(f"post {post_id}'s mention of {name} has no human label to undo", field="product")
            pipeline.classify_posts(db, settings, [post_id], now=when)
            verb = "mention.undo"
        else:
            raise BadInput(f"action must be one of {', '.join(ACTIONS)}, got {action!r}", field="action")
        store.audit(db, who=who.who, action=verb, target=f"post {post_id} / {name}", before=before,
                    after=_marks(db, post_id, name), now=now)
    return name


@router.post("/posts/{post_id}/mentions", include_in_schema=False, dependencies=[Depends(require_csrf)])
async def mention_form(post_id: PostId, request: Request, user: Editor, settings: SettingsDep,
                       request_now: NowDep) -> Response:
    """The post page's buttons: form fields ``product`` and ``action``; back to the page."""
    form = await form_fields(request)
    db = store.open_db(settings.db_path, migrate=False)
    try:
        await run_in_threadpool(change_mention, db, settings, post_id, form.get("product", ""),
                                form.get("action", ""), who=user, now=request_now)
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
    name = change_mention(db, settings, post_id, product, action, who=user, now=request_now)
    return mention_state(db, post_id, name)


@router.delete("/api/posts/{post_id}/mentions/{product:path}/label", response_model=MentionState, tags=["posts"],
               responses={**ROLE_ERRORS, 404: error("No post with that id, the post does not mention that product, "
                                                   "or the mention has no human label")})
def api_undo_mention(post_id: PostId, product: Product, db: DbDep, settings: SettingsDep, user: Editor,
                     request_now: NowDep) -> dict:
    """Undo: remove the human labels of a mention (its sentiment relabel and its about / not-about mark); the
    post is classified again at once, so the mention has the model's judgement back (an editor)."""
    name = change_mention(db, settings, post_id, product, "undo", who=user, now=request_now)
    return mention_state(db, post_id, name)


# --- set a post's topics --------------------------------------------------------------------------


def set_topics(db: sqlite_utils.Database, settings: Settings, post_id: int, chosen: list[str], *,
               who: Principal, now: str) -> list[str]:
    """Set the post's topics to ``chosen`` (configured ``[[topics]]`` names, any case; a human label that
    overrides the model's topics) as ``who`` with one audit row ``post.topics``; the topics as stored."""
    names = {t.name.casefold(): t.name for t in settings.topics}
    unknown = sorted({c for c in chosen if c.strip().casefold() not in names})
    if unknown:
        raise BadInput(f"unknown topic(s) {', '.join(map(repr, unknown))}; the topics are: "
                       f"{', '.join(names.values()) or 'none configured'}", field="topic")
    topics = sorted({names[c.strip().casefold()] for c in chosen})
    with store.write(db):   # the change and its audit row: one transaction
        post = store.get_post(db, post_id)
        if post is None:
            raise NotFound(f"no post with id {post_id}")
        before = [t["topic"] for t in post["topics"]]
        store.label_post(db, post_id, now=now, topics=topics)
        after = [t["topic"] for t in store.get_post(db, post_id)["topics"]]
        store.audit(db, who=who.who, action="post.topics", target=f"post {post_id}", before=before, after=after,
                    now=now)
    return after


@router.post("/posts/{post_id}/topics", include_in_schema=False, dependencies=[Depends(require_csrf)])
async def topics_form(post_id: PostId, request: Request, user: Editor, settings: SettingsDep,
                      request_now: NowDep) -> Response:
    """The post page's topics form: a ``topic`` checkbox per configured topic; back to the page."""
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    db = store.open_db(settings.db_path, migrate=False)
    try:
        await run_in_threadpool(set_topics, db, settings, post_id, form.get("topic", []), who=user, now=request_now)
    finally:
        db.close()
    return RedirectResponse(f"/posts/{post_id}?done=topics#topics", status_code=303)
