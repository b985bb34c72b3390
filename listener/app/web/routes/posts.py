"""Posts: a post's page and ``/api/posts/{id}``, with why it got its label; and an editor's work on its
mentions (relabel the sentiment, mark not about / about the product, clear its labels), as forms on the page
and as ``/api/posts/{id}/mentions/{product}``. Every change writes an audit row that keeps what restoring
the state before it takes, so each change is undone by itself (``undo_change``: the page's history, and
``POST /api/changes/{id}/undo``)."""

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
from listener.app.web.models import (ROLE_ERRORS, ChangeEntry, MentionChange, MentionState, PostDetail, UndoResult,
                                     error)
from listener.config import Settings
from listener.errors import SQLITE_INT_MAX, BadInput, NotFound, UserError
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
ACTIONS = (*SENTIMENTS, "not_about", "about", "clear")   # the page's buttons (the form's ``action``)
# which human labels of a mention each action changes (the audit row's ``undo`` restores those)
_FIELDS = {"mention.relabel": ("sentiment",), "mention.not_about": ("about",), "mention.about": ("about",),
           "mention.clear": ("sentiment", "about")}
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


def _full_marks(db: sqlite_utils.Database, post_id: int, product: str) -> dict:
    """A mention's human labels: {sentiment, about}, each None or {value, by, at}."""
    return store.mention_marks(db, post_id).get(product, {"sentiment": None, "about": None})


def _values(marks: dict) -> dict:
    """Human labels as the audit log's before/after keep them: {sentiment, about} (values, or None)."""
    return {k: (m or {}).get("value") for k, m in marks.items()}


def change_mention(db: sqlite_utils.Database, settings: Settings, post_id: int, product: str, action: str, *,
                   who: Principal, now: str) -> str:
    """Apply one action (a sentiment, ``not_about``, ``about`` or ``clear``) to a post's mention of ``product``
    as ``who`` and write its audit row (with what undoing it takes); the product's name as stored. A clear
    classifies the post again in the request (the model's judgement is back at once; about 10 ms with the
    default model)."""
    from listener import learn

    with store.write(db):   # the change and its audit row: one transaction
        name = mentioned(db, post_id, product)
        before = _full_marks(db, post_id, name)
        when = parse_iso(now)
        if action in SENTIMENTS:
            learn.label_post(db, settings, post_id, now=when, sentiment=action, product=name, by=who.who)
            verb = "mention.relabel"
        elif action in ("about", "not_about"):
            learn.mark_relevance(db, post_id, name, action == "about", now=when, by=who.who)
            verb = f"mention.{action}"
        elif action == "clear":
            if not store.unlabel_mention(db, post_id, name):
                raise NotFound(f"post {post_id}'s mention of {name} has no human label to clear", field="product")
            pipeline.classify_posts(db, settings, [post_id], now=when)
            verb = "mention.clear"
        else:
            raise BadInput(f"action must be one of {', '.join(ACTIONS)}, got {action!r}", field="action")
        after = _values(_full_marks(db, post_id, name))
        fields = _FIELDS[verb]
        store.audit(db, who=who.who, action=verb, target=f"post {post_id} / {name}", before=_values(before),
                    after=after, now=now, undo={"post_id": post_id, "product": name,
                                                "before": {f: before[f] for f in fields},
                                                "after": {f: after[f] for f in fields}})
    return name


# --- undo one change ------------------------------------------------------------------------------


def _current(db: sqlite_utils.Database, undo: dict) -> dict:
    """The values now of the labels a change's ``undo`` restores (as its ``after`` holds them)."""
    if "product" in undo:
        return {k: v for k, v in _values(_full_marks(db, undo["post_id"], undo["product"])).items()
                if k in undo["before"]}
    return {"topics": store.topics_label(db, undo["post_id"])}


def undo_refusal(db: sqlite_utils.Database, change: dict, later: list[dict] | None = None) -> str | None:
    """Why a change (an audit row) cannot be undone now, as the end of a sentence; None when it can.
    Only the newest change of each label is undone: a later change of the same label that is not undone
    itself supersedes it, and so does a change made outside the log (``listener label``). ``later``: the
    target's undoable changes after it that are not undone, oldest first, when the caller has them."""
    undo = change["undo"]
    if undo is None:
        return ("it is an undo itself: make the change again instead" if change["action"] == "change.undo" else
                "only changes to a post's mentions and topics made since undo exists can be undone")
    if change["undone_by"] is not None:
        return f"it was undone already (change {change['undone_by']})"
    fields = set(undo["before"])
    for after in store.later_changes(db, change["target"], change["id"]) if later is None else later:
        touched = sorted(fields & set(after["undo"]["before"]))
        if touched:
            return (f"change {after['id']} ({after['action']} by {after['who']} at {after['at']}) changed its "
                    f"{' and '.join(touched)} since: undo that one first")
    now = _current(db, undo)
    if now != undo["after"]:
        changed = sorted(k for k in now if now[k] != undo["after"].get(k))
        return f"its {' and '.join(changed)} changed since outside the web (for instance with listener label)"
    return None


def undo_change(db: sqlite_utils.Database, settings: Settings, change_id: int, *, who: Principal,
                now: str) -> tuple[dict, dict]:
    """Undo one change of a post's mention or topics as ``who``: its labels go back to what they were before
    it, the post is classified again (so a label removed gives the model's judgement back), and a
    ``change.undo`` audit row records it. The change and the undo row, as ``ChangeEntry``. 404 when there
    is no such change, 409 when it cannot be undone (``undo_refusal`` says why)."""
    with store.write(db):
        change = store.audit_entry(db, change_id)
        if change is None:
            raise NotFound(f"no change with id {change_id}", field="change_id")
        why = undo_refusal(db, change)
        if why is None and store.get_post(db, change["undo"]["post_id"]) is None:
            why = f"post {change['undo']['post_id']} is gone"
        if why is not None:
            raise UserError(f"change {change_id} cannot be undone: {why}", http_status=409, field="change_id")
        undo = change["undo"]
        post_id = undo["post_id"]
        if "product" in undo:
            before = _values(_full_marks(db, post_id, undo["product"]))
            store.set_mention_marks(db, post_id, undo["product"], undo["before"])
        else:
            before = [t["topic"] for t in store.get_post(db, post_id)["topics"]]
            store.set_topics_label(db, post_id, undo["before"]["topics"], now=now)
        pipeline.classify_posts(db, settings, [post_id], now=parse_iso(now))
        after = (_values(_full_marks(db, post_id, undo["product"])) if "product" in undo else
                 [t["topic"] for t in store.get_post(db, post_id)["topics"]])
        undo_id = store.audit(db, who=who.who, action="change.undo", target=change["target"], before=before,
                              after=after, now=now)
        store.set_undone(db, change_id, undo_id)
        return _entry(db, store.audit_entry(db, change_id), {}), _entry(db, store.audit_entry(db, undo_id),
                                                                       {undo_id: change_id})


def undo_last(db: sqlite_utils.Database, settings: Settings, post_id: int, product: str, *, who: Principal,
              now: str) -> bool:
    """Undo the newest change of a post's mention of ``product`` (any case) if it can be undone (the search
    page's bulk undo); whether one was. 404 when the post does not mention the product."""
    name = mentioned(db, post_id, product)
    found = store.later_changes(db, f"post {post_id} / {name}", 0)
    if not found or undo_refusal(db, found[-1]) is not None:
        return False
    undo_change(db, settings, found[-1]["id"], who=who, now=now)
    return True


def _entry(db: sqlite_utils.Database, row: dict, undoes: dict[int, int], later: list[dict] | None = None) -> dict:
    """An audit row as ``ChangeEntry``: with whether it can be undone now, or why not, and what it undid."""
    why = undo_refusal(db, row, later)
    return {k: row[k] for k in ("id", "at", "who", "action", "target", "before", "after", "undone_by")} | {
        "undoes": undoes.get(row["id"]), "undoable": why is None, "why_not": why, "what": describe(row)}


def describe(row: dict) -> str:
    """What a change of a mention or of topics did, in words: ``sentiment none → negative``."""
    def shown(key: str, v: object) -> str:
        if v is None:
            return "none"
        if key == "about":
            return "about" if v else "not about"
        return ", ".join(v) or "none" if isinstance(v, list) else str(v)

    before, after = row["before"], row["after"]
    if isinstance(after, dict):
        old = before if isinstance(before, dict) else {}
        parts = [f"{k} {shown(k, old.get(k))} → {shown(k, v)}" for k, v in sorted(after.items()) if old.get(k) != v]
    else:
        parts = [f"topics {shown('topics', before or [])} → {shown('topics', after or [])}"]
    return "; ".join(parts) or "no label changed"


def post_changes(db: sqlite_utils.Database, post_id: int) -> list[dict]:
    """Every logged change of a post's mentions and topics, oldest first, as ``ChangeEntry``."""
    found = store.post_changes(db, post_id)
    undoes = {r["undone_by"]: r["id"] for r in found if r["undone_by"] is not None}
    live: dict[str, list[dict]] = {}   # per target: the undoable changes not undone after the row at hand
    out = []
    for r in reversed(found):   # newest first: one read of the log, not one per change
        out.append(_entry(db, r, undoes, live.setdefault(r["target"], [])))
        if r["undo"] is not None and r["undone_by"] is None:
            live[r["target"]].insert(0, r)
    return out[::-1]


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
def api_clear_mention(post_id: PostId, product: Product, db: DbDep, settings: SettingsDep, user: Editor,
                      request_now: NowDep) -> dict:
    """Clear the human labels of a mention (its sentiment relabel and its about / not-about mark) in one
    change (``mention.clear``, itself undoable); the post is classified again at once, so the mention has the
    model's judgement back (an editor). To undo one change only: ``POST /api/changes/{id}/undo``."""
    name = change_mention(db, settings, post_id, product, "clear", who=user, now=request_now)
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
                                   "label supersedes it (undo that first), the label changed outside the web, it is "
                                   "not a change of a post's mentions or topics, or its post is gone (`error` says which)")})
def api_undo_change(change_id: ChangeId, db: DbDep, settings: SettingsDep, user: Editor,
                    request_now: NowDep) -> dict:
    """Undo one change of a post's mention (a relabel, a not-about / about mark, a clear) or of its topics
    (an editor): those labels go back to what they were before it and the post is classified again. Only the
    newest change of a label can be undone (a 409 names the later change to undo first). Answers the change
    (now with ``undone_by``) and the ``change.undo`` row that records the undo."""
    change, undo = undo_change(db, settings, change_id, who=user, now=request_now)
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
        await run_in_threadpool(undo_change, db, settings, change_id, who=user, now=request_now)
    finally:
        db.close()
    return RedirectResponse(f"/posts/{post_id}?done=undone#history", status_code=303)


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
        before, label = [t["topic"] for t in post["topics"]], store.topics_label(db, post_id)
        store.label_post(db, post_id, now=now, topics=topics)
        after = [t["topic"] for t in store.get_post(db, post_id)["topics"]]
        store.audit(db, who=who.who, action="post.topics", target=f"post {post_id}", before=before, after=after,
                    now=now, undo={"post_id": post_id, "before": {"topics": label}, "after": {"topics": topics}})
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
