"""Human labels as changes: relabel a post's mention, mark it (not) about its product, clear its labels,
set a post's topics or relabel the post, each with one audit row that keeps what restoring the state before
it takes; undo one change by itself; and a post's history. The web (post page, ``/api/posts/{id}/...``,
search's bulk actions) and the CLI (``listener label``, ``undo``, ``history``) both call these, so a
change made in one shows in the other's history and is undone from either. ``who``: the name the audit log
keeps (a user's name, or ``cli:OSUSER``); ``now``: ISO time (``YYYY-MM-DDTHH:MM:SSZ``)."""

from __future__ import annotations

import sqlite_utils

from listener import pipeline, store
from listener.config import Settings
from listener.errors import BadInput, NotFound, UserError
from listener.text import parse_iso

SENTIMENTS = ("positive", "neutral", "negative")
ACTIONS = (*SENTIMENTS, "not_about", "about", "clear")   # the post page's buttons (the form's ``action``)
# which human labels of a mention each action changes (the audit row's ``undo`` restores those)
FIELDS = {"mention.relabel": ("sentiment",), "mention.not_about": ("about",), "mention.about": ("about",),
          "mention.clear": ("sentiment", "about")}


def mentioned(db: sqlite_utils.Database, post_id: int, product: str) -> str:
    """The name as stored of the post's mention of ``product`` (counted or set apart; any case); NotFound if none."""
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
    return {"post_id": post_id, "product": product, "counted": counted is not None,
            "sentiment_label": counted["sentiment_label"] if counted else None,
            "labels": full_marks(db, post_id, product)}


def full_marks(db: sqlite_utils.Database, post_id: int, product: str) -> dict:
    """A mention's human labels: {sentiment, about}, each None or {value, by, at}."""
    return store.mention_marks(db, post_id).get(product, {"sentiment": None, "about": None})


def _values(marks: dict) -> dict:
    """Human labels as the audit log's before/after keep them: {sentiment, about} (values, or None)."""
    return {k: (m or {}).get("value") for k, m in marks.items()}


def change_mention(db: sqlite_utils.Database, settings: Settings, post_id: int, product: str, action: str, *,
                   who: str, now: str) -> str:
    """Apply one action (a sentiment, ``not_about``, ``about`` or ``clear``) to a post's mention of ``product``
    as ``who`` and write its audit row (with what undoing it takes); the product's name as stored. A clear
    classifies the post again at once (the model's judgement is back; about 10 ms with the default model)."""
    from listener import learn   # loads the models: when a label changes, not when this module is imported

    with store.write(db):   # the change and its audit row: one transaction
        name = mentioned(db, post_id, product)
        before = full_marks(db, post_id, name)
        when = parse_iso(now)
        if action in SENTIMENTS:
            learn.label_post(db, settings, post_id, now=when, sentiment=action, product=name, by=who)
            verb = "mention.relabel"
        elif action in ("about", "not_about"):
            learn.mark_relevance(db, post_id, name, action == "about", now=when, by=who)
            verb = f"mention.{action}"
        elif action == "clear":
            if not store.unlabel_mention(db, post_id, name):
                raise NotFound(f"post {post_id}'s mention of {name} has no human label to clear", field="product")
            pipeline.classify_posts(db, settings, [post_id], now=when)
            verb = "mention.clear"
        else:
            raise BadInput(f"action must be one of {', '.join(ACTIONS)}, got {action!r}", field="action")
        after = _values(full_marks(db, post_id, name))
        fields = FIELDS[verb]
        store.audit(db, who=who, action=verb, target=f"post {post_id} / {name}", before=_values(before),
                    after=after, now=now, undo={"post_id": post_id, "product": name,
                                                "before": {f: before[f] for f in fields},
                                                "after": {f: after[f] for f in fields}})
    return name


def set_topics(db: sqlite_utils.Database, settings: Settings, post_id: int, chosen: list[str], *,
               who: str, now: str) -> list[str]:
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
        before, label = [t["topic"] for t in post["topics"]], store.post_label(db, post_id, "topics")
        store.label_post(db, post_id, now=now, topics=topics)
        after = [t["topic"] for t in store.get_post(db, post_id)["topics"]]
        store.audit(db, who=who, action="post.topics", target=f"post {post_id}", before=before, after=after,
                    now=now, undo={"post_id": post_id, "before": {"topics": label}, "after": {"topics": topics}})
    return after


def relabel_post(db: sqlite_utils.Database, settings: Settings, post_id: int, sentiment: str, *, who: str,
                 now: str) -> None:
    """Relabel the post's own sentiment (``listener label POST_ID --sentiment``; it also sets its mention when
    the post mentions exactly one product) as ``who`` with one audit row ``post.relabel``."""
    from listener import learn

    with store.write(db):
        post = store.get_post(db, post_id)
        if post is None:
            raise NotFound(f"no post with id {post_id}")
        undo = {"post_id": post_id, "before": {"sentiment": store.post_label(db, post_id, "sentiment")},
                "after": {"sentiment": sentiment}}
        learn.label_post(db, settings, post_id, now=parse_iso(now), sentiment=sentiment)
        store.audit(db, who=who, action="post.relabel", target=f"post {post_id}",
                    before={"sentiment": post["sentiment_label"]}, after=_post_state(db, undo), now=now, undo=undo)


# --- undo one change ------------------------------------------------------------------------------


def _current(db: sqlite_utils.Database, undo: dict) -> dict:
    """The values now of the labels a change's ``undo`` restores (as its ``after`` holds them)."""
    if "product" in undo:
        return {k: v for k, v in _values(full_marks(db, undo["post_id"], undo["product"])).items()
                if k in undo["before"]}
    (field,) = undo["before"]   # a post's own label: topics or sentiment
    return {field: store.post_label(db, undo["post_id"], field)}


def _post_state(db: sqlite_utils.Database, undo: dict) -> dict | list:
    """What an audit row's before / after keep of the labels a change's ``undo`` restores, as stored now: a
    mention's {sentiment, about}, else the post's topics (a list) or its {sentiment}."""
    if "product" in undo:
        return _values(full_marks(db, undo["post_id"], undo["product"]))
    post = store.get_post(db, undo["post_id"])
    if "topics" in undo["before"]:
        return [t["topic"] for t in post["topics"]]
    return {"sentiment": post["sentiment_label"]}


def undo_refusal(db: sqlite_utils.Database, change: dict, later: list[dict] | None = None) -> str | None:
    """Why a change (an audit row) cannot be undone now, as the end of a sentence; None when it can.
    Only the newest change of each label is undone: a later change of the same label that is not undone
    itself supersedes it, and so does a change made outside the log (a label set by code that writes no
    audit row). ``later``: the target's undoable changes after it that are not undone, oldest first, when
    the caller has them."""
    undo = change["undo"]
    if undo is None:
        return ("it is an undo itself: make the change again instead" if change["action"] == "change.undo" else
                "only changes to a post's labels (its mentions, topics, sentiment) made since undo exists "
                "can be undone")
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
        return f"its {' and '.join(changed)} changed since outside the change log"
    return None


def undo_change(db: sqlite_utils.Database, settings: Settings, change_id: int, *, who: str,
                now: str) -> tuple[dict, dict]:
    """Undo one change of a post's mention, topics or sentiment as ``who``: its labels go back to what they were before
    it, the post is classified again (so a label removed gives the model's judgement back), and a
    ``change.undo`` audit row records it. The change and the undo row, as ``ChangeEntry``. NotFound when
    there is no such change, a ``UserError`` (HTTP 409) when it cannot be undone (``undo_refusal`` says why)."""
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
        before = _post_state(db, undo)
        if "product" in undo:
            store.set_mention_marks(db, post_id, undo["product"], undo["before"])
        else:
            ((field, value),) = undo["before"].items()   # a post's own label: topics or sentiment
            store.set_post_label(db, post_id, field, value, now=now)
        pipeline.classify_posts(db, settings, [post_id], now=parse_iso(now))
        after = _post_state(db, undo)
        undo_id = store.audit(db, who=who, action="change.undo", target=change["target"], before=before,
                              after=after, now=now)
        store.set_undone(db, change_id, undo_id)
        return _entry(db, store.audit_entry(db, change_id), {}), _entry(db, store.audit_entry(db, undo_id),
                                                                       {undo_id: change_id})


def undo_last(db: sqlite_utils.Database, settings: Settings, post_id: int, product: str, *, who: str,
              now: str) -> bool:
    """Undo the newest change of a post's mention of ``product`` (any case) if it can be undone (the search
    page's bulk undo); whether one was. NotFound when the post does not mention the product."""
    name = mentioned(db, post_id, product)
    found = store.later_changes(db, f"post {post_id} / {name}", 0)
    if not found or undo_refusal(db, found[-1]) is not None:
        return False
    undo_change(db, settings, found[-1]["id"], who=who, now=now)
    return True


# --- a post's history ------------------------------------------------------------------------------


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
    """Every logged change of a post's labels (mentions, topics, sentiment), oldest first, as ``ChangeEntry``."""
    found = store.post_changes(db, post_id)
    undoes = {r["undone_by"]: r["id"] for r in found if r["undone_by"] is not None}
    live: dict[str, list[dict]] = {}   # per target: the undoable changes not undone after the row at hand
    out = []
    for r in reversed(found):   # newest first: one read of the log, not one per change
        out.append(_entry(db, r, undoes, live.setdefault(r["target"], [])))
        if r["undo"] is not None and r["undone_by"] is None:
            live[r["target"]].insert(0, r)
    return out[::-1]
