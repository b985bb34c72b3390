"""Manage what is tracked: products, topics, alert rules, sources and channels, as pages and as a JSON API.

Every change goes through ``listener.config.edit``: the settings file is edited with its comments
kept, loaded by the real loader in memory and only then written (atomically), so a change that
breaks validation is never saved and its error names the key as the loader does. Every route
needs the editor role (changing a channel: admin); every form carries the CSRF token.
"""

# No ``from __future__ import annotations``: the routes made in a loop annotate their body with the
# loop's model, which FastAPI must see as a class, not as a name to resolve later.

import dataclasses
import os
import re
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any, Callable, Literal
from urllib.parse import parse_qs, quote

import tomlkit
from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from listener import pipeline, store
from listener.app.web import live
from listener.app.web import retag as retag_job
from listener.app.web.deps import (CSRF_FIELD, PagesDep, SettingsDep, csrf_token, current_principal, get_now,
                                   require_csrf, require_role)
from listener.app.web.models import VALUE_PATTERN, RetagStatus, error
from listener.config import ConfigError, Settings
from listener.config import edit
from listener.config.schema import ALERT_RULES, CHANNELS, PRODUCTS, REQUIRED, SOURCES, TOPICS, Section, Setting
from listener.errors import SQLITE_INT_MAX, BadInput, UserError
from listener.sources import source_types

router = APIRouter()
Csrf = [Depends(require_csrf)]
NOT_FOUND = error("No entry of that name in the settings")
INVALID = error("The change does not pass the settings' validation (nothing was saved): `error` is the "
                "loader's message naming the key, `field` the key")
CHOICES = {"condition": ("spike", "threshold", "new_mention"), "metric": ("volume", "negative_share")}
SECTIONS: dict[str, Section] = {"products": PRODUCTS, "topics": TOPICS, "alerts": ALERT_RULES}
KIND = {"products": "products", "topics": "topics", "alerts": "alerts.rules", "sources": "sources"}
TITLES = {"products": "Products", "topics": "Topics", "alerts": "Alert rules", "sources": "Sources"}
TEST_POSTS = 10  # posts a test fetch shows
TEST_SECONDS = 60.0  # a test fetch is a page load: it stops sooner than a run (collect.crawl_timeout)


# --- saving ---------------------------------------------------------------------------


def save(request: Request, settings: Settings, change: Callable[[Path], Settings]) -> Settings:
    """Run one edit of the settings file; the app uses the result from now on. A loader error
    becomes a 400 naming the key (``field``), with the file's name rather than its full path."""
    if settings.path is None:
        raise BadInput("the server was started without a settings file: nothing to edit")
    before = edit.all_entries(settings.path)
    try:
        new = change(settings.path)
    except ConfigError as exc:
        message = str(exc).replace(str(settings.path), settings.path.name)
        raise BadInput(message, field=key_of(message)) from None
    live.took(request.app.state, new)
    _audit(request, settings, before, edit.all_entries(settings.path))
    return new


def _audit(request: Request, settings: Settings, before: dict, after: dict) -> None:
    """One audit row per entry the change added, edited or removed (``settings.products.edit`` ...)."""
    who, now = current_principal(request), get_now(request)
    db = store.open_db(settings.db_path)
    try:
        for action, name, old, new in edit.entry_changes(before, after):
            store.audit(db, who=who.who if who else "local", action=action, target=name, before=old, after=new,
                        now=now)
    finally:
        db.close()


def key_of(message: str) -> str | None:
    """The key a loader message is about, as a form field (``FILE: products[2].aliases: ...`` -> ``aliases``)."""
    rest = message.split(": ", 1)[-1]
    m = re.match(r"([a-z_]+(?:\[\d+\])?(?:\.[a-z_]+(?:\[\d+\])?)*): ", rest)
    return re.sub(r"\[\d+\]", "", m.group(1)).split(".")[-1] if m else None


# --- forms --------------------------------------------------------------------------------


async def form_of(request: Request) -> dict[str, str]:
    """A posted form's fields (the last value of each; a checkbox is present or absent)."""
    parsed = parse_qs((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[-1] for k, v in parsed.items()}


def form_value(setting: Setting, text: str | None, where: str) -> Any:
    """A form field as the TOML value of ``setting`` (``None``: leave the key out, its default applies)."""
    kind = setting.kind if isinstance(setting.kind, tuple) else (setting.kind,)
    if bool in kind:
        checked = text is not None
        return None if checked == (setting.value or False) else checked
    text = (text or "").strip()
    if not text:
        return None
    if list in kind:
        return [line.strip() for line in re.split(r"[\r\n]+", text) if line.strip()]
    if dict in kind:
        try:
            return tomlkit.parse(text).unwrap()
        except tomlkit.exceptions.ParseError as exc:
            raise BadInput(f"{where}.{setting.name}: expected TOML lines such as key = \"value\": {exc}",
                           field=setting.name) from None
    if int in kind and re.fullmatch(r"[+-]?\d+", text):
        number = int(text)
        if abs(number) > SQLITE_INT_MAX:
            raise BadInput(f"{where}.{setting.name}: {text} is out of range", field=setting.name)
        return number
    if float in kind or (int in kind and str not in kind):
        try:
            return float(text) if float in kind else int(text)
        except ValueError:
            raise BadInput(f"{where}.{setting.name}: expected a number, got {text!r}", field=setting.name) from None
    return text


def field_text(value: Any) -> str:
    """A value as written in the file, shown in its form field."""
    if isinstance(value, (list, tuple)):
        return "\n".join(str(v) for v in value)
    if isinstance(value, dict):
        return tomlkit.dumps(value).strip()
    return "" if value is None else str(value)


def fields(settings: tuple[Setting, ...], values: dict[str, Any], *, choices: dict | None = None,
           hidden: tuple[str, ...] = ()) -> list[dict]:
    """What a form shows for each key: its input, value, help and placeholder (the default)."""
    choices = {**CHOICES, **(choices or {})}
    out = []
    for s in settings:
        kind = s.kind if isinstance(s.kind, tuple) else (s.kind,)
        widget = ("hidden" if s.name in hidden else "select" if s.name in choices else "checkbox" if bool in kind
                  else "textarea" if list in kind or dict in kind else "text")
        value = values.get(s.name)
        default = None if s.default is None or s.required else s.shown_default or field_text(s.default)
        out.append({"name": s.name, "widget": widget, "required": s.required, "help": s.help.replace("`", ""),
                    "value": field_text(value), "checked": bool(s.value if value is None else value),
                    "choices": choices.get(s.name, ()), "placeholder": (default or "").replace("`", "")})
    return out


def values_from(form: dict[str, str], settings: tuple[Setting, ...], where: str) -> dict[str, Any]:
    return {s.name: form_value(s, form.get(s.name), where) for s in settings}


# --- products, topics, alert rules: one page shape ---------------------------------------


def rows(what: str, settings: Settings) -> list[dict]:
    if what == "products":
        return [{"name": p.name, "cells": [p.name, ", ".join(p.aliases), ", ".join(p.exclude),
                                           "ours" if p.ours else "competitor"]} for p in settings.products]
    if what == "topics":
        return [{"name": t.name, "cells": [t.name, ", ".join(t.terms), ", ".join(t.exclude)]} for t in settings.topics]
    return [{"name": r.name, "cells": [r.name, r.condition, r.subject, r.metric,
                                       f"{r.threshold:g}" if r.condition == "threshold" else "",
                                       ", ".join(r.channels) or "recorded only"]} for r in settings.alerts.rules]


COLUMNS = {"products": ["name", "aliases", "excludes", "kind"], "topics": ["name", "terms", "exclude"],
           "alerts": ["name", "condition", "watches", "metric", "threshold", "channels"]}


def channels(settings: Settings, environ: dict | os._Environ = os.environ) -> list[dict]:
    """Each channel and where its secrets are: the environment variable and whether it is set."""
    return [edit.channel_summary(ch, environ) for ch in settings.channels]


def entry_page(what: str, request: Request, settings: Settings, pages: Any, *, edit_name: str | None = None,
               form: dict | None = None, problem: UserError | None = None, done: str = "",
               prefill: dict | None = None, retag: str = "") -> HTMLResponse:
    section = SECTIONS[what]
    original = edit_name or ""
    if prefill:  # a new entry's fields filled in (the /saved page's "Add an alert rule for it")
        values = prefill
    elif form is not None:
        values = values_or_text(form, section)
        original = form.get("original", "")
    elif edit_name:
        values = edit.entry_values(settings.path, KIND[what], edit_name) if settings.path else {}
    else:
        values = {}
    product_choice = {"product": ("",) + tuple(p.name for p in settings.products)} if what == "alerts" else {}
    shown = fields(section.settings, values, choices=product_choice)
    field = problem.field if problem else None
    return pages.render("manage.html.j2", status=problem.http_status if problem else 200, what=what,
                        title=TITLES[what], columns=COLUMNS[what], rows=rows(what, settings),
                        forms=[{"title": f"Edit {original}" if original else "Add", "action": f"/manage/{what}",
                                "original": original, "type": "", "fields": shown, "open": True}],
                        error=problem.message if problem else "", error_field=field, done=done,
                        channels=channels(settings) if what == "alerts" else None, test=None,
                        csrf=csrf_token(request), csrf_field=CSRF_FIELD,
                        retag_offer=retag if any(p.name == retag for p in settings.products) else "",
                        retag=retag_job.status(settings) if what == "products" else None)


def values_or_text(form: dict, section: Section | tuple[Setting, ...]) -> dict:
    """A refused form's fields as typed, to show them again (a checkbox: present or not)."""
    out: dict[str, Any] = {}
    for s in section:
        kind = s.kind if isinstance(s.kind, tuple) else (s.kind,)
        out[s.name] = (s.name in form) if bool in kind else form.get(s.name)
    return out


def _entry_routes(what: str) -> None:
    """The page, its add/edit post and its remove post for one kind of entry."""
    kind, section = KIND[what], SECTIONS[what]

    @router.get(f"/manage/{what}", response_class=HTMLResponse, include_in_schema=False, name=f"manage_{what}")
    def page(request: Request, settings: SettingsDep, pages: PagesDep, edit: str = "", done: str = "",
             saved: str = "", retag: str = "") -> HTMLResponse:
        """``?saved=NAME`` (alert rules): the add form watches that saved search; ``?retag=NAME``
        (products): offer to re-tag existing posts after NAME's query changed."""
        prefill = {"name": saved, "saved": saved} if what == "alerts" and saved and not edit else None
        return entry_page(what, request, settings, pages, edit_name=edit or None, done=done, prefill=prefill,
                          retag=retag)

    @router.post(f"/manage/{what}", include_in_schema=False, dependencies=Csrf, name=f"manage_{what}_save")
    async def save_form(request: Request, settings: SettingsDep, pages: PagesDep) -> Response:
        form = await form_of(request)
        try:
            values = values_from(form, section.settings, kind)
            original = form.get("original", "")
            new = save(request, settings, lambda p: edit.update_entry(p, kind, original, values, replace=True)
                       if original else edit.add_entry(p, kind, values))
        except UserError as exc:
            return entry_page(what, request, settings, pages, form=form, problem=exc)
        changed = query_changed(settings, new, original, form.get("name", "")) if what == "products" else None
        offer = f"&retag={quote(changed)}" if changed else ""
        return RedirectResponse(f"/manage/{what}?done=saved{offer}", status_code=303)

    @router.post(f"/manage/{what}/remove", include_in_schema=False, dependencies=Csrf, name=f"manage_{what}_remove")
    async def remove_form(request: Request, settings: SettingsDep, pages: PagesDep) -> Response:
        form = await form_of(request)
        try:
            save(request, settings, lambda p: edit.remove_entry(p, kind, form.get("name", "")))
        except UserError as exc:
            return entry_page(what, request, settings, pages, problem=exc)
        return RedirectResponse(f"/manage/{what}?done=removed", status_code=303)


for _what in ("products", "topics", "alerts"):
    _entry_routes(_what)


# --- re-tagging after a product's query changed -------------------------------------------


def query_changed(old: Settings, new: Settings, original: str, name: str) -> str | None:
    """The product's name when saving it added it or changed its aliases or excludes, else None."""
    after = next((p for p in new.products if p.name == name), None)
    before = next((p for p in old.products if p.name == (original or name)), None)
    if after is None:
        return None
    if before is None or (before.aliases, before.exclude) != (after.aliases, after.exclude):
        return after.name
    return None


@router.post("/manage/retag", include_in_schema=False, dependencies=Csrf)
async def retag_form(request: Request, settings: SettingsDep, pages: PagesDep) -> Response:
    form = await form_of(request)
    try:
        await run_in_threadpool(retag_job.start, settings, form.get("product", ""), request.app.state.now)
    except UserError as exc:
        return entry_page("products", request, settings, pages, problem=exc)
    return RedirectResponse("/manage/products?done=retag", status_code=303)


@router.get("/api/manage/retag", response_model=RetagStatus, tags=["manage"],
            summary="The newest re-tag of existing posts and its progress (posts done of total)")
def api_retag(settings: SettingsDep) -> dict:
    return retag_job.status(settings)


# --- sources ------------------------------------------------------------------------------


def source_settings(type_name: str) -> tuple[Setting, ...]:
    """The keys of a source of this type: the common ones (paged types also take the page limits), then its own."""
    kind = source_types()[type_name]
    common = [s for s in SOURCES if kind.paged or s.name not in ("max_pages", "max_age")]
    if kind.default_url is None:
        common = [dataclasses.replace(s, default=REQUIRED) if s.name == "url" else s for s in common]
    return tuple(common) + kind.options


def sources_page(request: Request, settings: Settings, pages: Any, *, edit_name: str | None = None,
                 form: dict | None = None, problem: UserError | None = None, done: str = "",
                 test: dict | None = None) -> HTMLResponse:
    values: dict[str, Any] = {}
    editing = ""
    if form is not None:
        editing = form.get("original", "")
        values = {"type": form.get("type", "feed")}
    elif edit_name and settings.path:
        values = edit.entry_values(settings.path, "sources", edit_name)
        editing = edit_name
    forms = []
    for name, kind in source_types().items():
        if editing and values.get("type", "feed") != name:
            continue
        mine = values.get("type", "feed") == name
        shown = values_or_text(form, source_settings(name)) if form is not None and mine else \
            ({**values, "type": name} if mine and editing else {"type": name})
        forms.append({"title": f"Edit {editing} ({name})" if editing else f"Add a {name} source", "type": name,
                      "action": "/manage/sources", "original": editing, "open": mine and (bool(editing) or form is not None),
                      "fields": fields(source_settings(name), shown, hidden=("type",))})
    table = [{"name": s.name, "cells": [s.name, s.type, s.url, f"{s.interval}s",
                                        "yes" if s.enabled else "no"]} for s in settings.sources]
    return pages.render("manage.html.j2", status=problem.http_status if problem else 200, what="sources",
                        title=TITLES["sources"], columns=["name", "type", "url", "interval", "enabled"], rows=table,
                        forms=forms, error=problem.message if problem else "",
                        error_field=problem.field if problem else None, done=done, channels=None, test=test,
                        csrf=csrf_token(request), csrf_field=CSRF_FIELD)


@router.get("/manage/sources", response_class=HTMLResponse, include_in_schema=False)
def sources_form(request: Request, settings: SettingsDep, pages: PagesDep, edit: str = "",
                 done: str = "") -> HTMLResponse:
    return sources_page(request, settings, pages, edit_name=edit or None, done=done)


@router.post("/manage/sources", include_in_schema=False, dependencies=Csrf)
async def sources_save(request: Request, settings: SettingsDep, pages: PagesDep) -> Response:
    form = await form_of(request)
    try:
        type_name = form.get("type", "feed")
        if type_name not in source_types():
            raise BadInput(f"sources.type: unknown source type {type_name!r}", field="type")
        values = values_from(form, source_settings(type_name), "sources")
        values["type"] = type_name
        original = form.get("original", "")
        save(request, settings, lambda p: edit.update_entry(p, "sources", original, values, replace=True)
             if original else edit.add_entry(p, "sources", values))
    except UserError as exc:
        return sources_page(request, settings, pages, form=form, problem=exc)
    return RedirectResponse("/manage/sources?done=saved", status_code=303)


@router.post("/manage/sources/remove", include_in_schema=False, dependencies=Csrf)
async def sources_remove(request: Request, settings: SettingsDep, pages: PagesDep) -> Response:
    form = await form_of(request)
    try:
        save(request, settings, lambda p: edit.remove_entry(p, "sources", form.get("name", "")))
    except UserError as exc:
        return sources_page(request, settings, pages, problem=exc)
    return RedirectResponse("/manage/sources?done=removed", status_code=303)


@router.post("/manage/sources/test", include_in_schema=False, dependencies=Csrf)
async def sources_test(request: Request, settings: SettingsDep, pages: PagesDep) -> Response:
    form = await form_of(request)
    try:
        result = await run_in_threadpool(test_fetch, settings, form.get("name", ""))
    except UserError as exc:
        return sources_page(request, settings, pages, problem=exc)
    return sources_page(request, settings, pages, test=result)


def test_fetch(settings: Settings, name: str, now: datetime | None = None) -> dict:
    """Collect one configured source once into a scratch database (the real one is not touched) with
    the crawler the daemon uses; what it found or its error."""
    source = settings.source(name)
    now = now or datetime.now(timezone.utc)
    with tempfile.TemporaryDirectory(prefix="listener-test-fetch-") as folder:
        collect = dataclasses.replace(settings.collect,
                                      crawl_timeout=min(settings.collect.crawl_timeout, TEST_SECONDS))
        scratch = dataclasses.replace(settings, db_path=Path(folder) / "scratch.db", sources=(source,),
                                      collect=collect)
        db = store.open_db(scratch.db_path)
        try:
            report = pipeline.collect(db, scratch, [source.name], now=now)
            outcome = report.outcomes[0]
            posts = store.posts_by_id(db, list(range(1, TEST_POSTS + 1)))  # a new database: the first ids
        finally:
            db.close()
    return {"source": source.name, "status": outcome.status, "error": outcome.error, "entries": outcome.entries,
            "new": outcome.counts.new, "bozo": outcome.bozo,
            "posts": [{"title": p.get("title") or "", "url": p.get("url"), "author": p.get("author"),
                       "posted_at": p.get("posted_at")} for p in posts]}


# --- channels: an admin changes them, an editor sees them ----------------------------------

Admin = [Depends(require_role("admin"))]
CHANNEL_TYPES = ("email", "slack", "webhook")
CHANNEL_KEYS = {"email": ("to", "from", "host", "port", "security", "user", "password_env"),
                "slack": ("url", "url_env"), "webhook": ("url", "url_env", "secret_env")}
URL_KEPT = "kept as it is (not shown: a webhook URL is a secret); type a new one to replace it"


def channel_settings(type_name: str) -> tuple[Setting, ...]:
    """The keys of a channel of this type: its type and name, its own keys, then the delivery ones."""
    by_name = {s.name: s for s in CHANNELS.settings}
    return tuple(by_name[k] for k in ("type", "name", *CHANNEL_KEYS[type_name], "attempts", "backoff", "timeout"))


def channel_values(path: Path, original: str, values: dict[str, Any]) -> dict[str, Any]:
    """A channel form's or body's keys as written: ``security = "none"`` is the default (left out), and
    a blank URL keeps the one in the file (never shown) unless ``url_env`` now holds it."""
    values = {**values, "security": None if values.get("security") == "none" else values.get("security")}
    if original and not values.get("url") and not values.get("url_env"):
        values["url"] = edit.entry_values(path, "channels", original).get("url")
    return values


def channels_page(request: Request, settings: Settings, pages: Any, *, edit_name: str | None = None,
                  form: dict | None = None, problem: UserError | None = None, done: str = "") -> HTMLResponse:
    """The channels with their secrets' variables (set or not) and, for an admin, one add form per type."""
    me = current_principal(request)
    admin = me is not None and me.can("admin")
    values: dict[str, Any] = {}
    editing = ""
    if form is not None:
        editing, values = form.get("original", ""), {"type": form.get("type", "email")}
    elif edit_name and settings.path:
        values, editing = edit.entry_values(settings.path, "channels", edit_name), edit_name
    forms = []
    for name in CHANNEL_TYPES if admin else ():
        if editing and values.get("type") != name:
            continue
        mine = values.get("type", "email") == name
        shown = values_or_text(form, channel_settings(name)) if form is not None and mine else \
            ({**values, "type": name} if mine and editing else {"type": name})
        url_kept = bool(editing and mine and (values.get("url") or form is not None))
        shown = {**shown, "url": None}  # never on the page, not even as typed
        listed = fields(channel_settings(name), shown, choices={"security": ("none", "starttls", "ssl")},
                        hidden=("type",))
        for f in listed:
            if f["name"] == "url" and url_kept:
                f["placeholder"] = URL_KEPT
        forms.append({"title": f"Edit {editing} ({name})" if editing else f"Add {'an' if name == 'email' else 'a'} {name} channel", "type": name,
                      "action": "/manage/channels", "original": editing,
                      "open": mine and (bool(editing) or form is not None), "fields": listed})
    table = [{"name": c["name"], "cells": [c["name"], c["type"], c["where"], "; ".join(
        f"{x['key']}: ${x['env']} {'set' if x['set'] else 'NOT SET'}" for x in c["secrets"]) or "none"]}
        for c in channels(settings)]
    return pages.render("manage.html.j2", status=problem.http_status if problem else 200, what="channels",
                        title="Channels", columns=["name", "type", "sends to", "secrets (environment variables)"],
                        rows=table, forms=forms, error=problem.message if problem else "",
                        error_field=problem.field if problem else None, done=done, channels=None, test=None,
                        csrf=csrf_token(request), csrf_field=CSRF_FIELD, readonly=not admin)


@router.get("/manage/channels", response_class=HTMLResponse, include_in_schema=False)
def channels_form(request: Request, settings: SettingsDep, pages: PagesDep, edit: str = "",
                  done: str = "") -> HTMLResponse:
    return channels_page(request, settings, pages, edit_name=edit or None, done=done)


@router.post("/manage/channels", include_in_schema=False, dependencies=Admin + Csrf)
async def channels_save(request: Request, settings: SettingsDep, pages: PagesDep) -> Response:
    form = await form_of(request)
    try:
        type_name = form.get("type", "email")
        if type_name not in CHANNEL_TYPES:
            raise BadInput(f"channels.type: expected email, slack or webhook, got {type_name!r}", field="type")
        values = {**values_from(form, channel_settings(type_name), "channels"), "type": type_name}
        original = form.get("original", "")
        save(request, settings, lambda p: edit.update_entry(p, "channels", original,
                                                            channel_values(p, original, values), replace=True)
             if original else edit.add_entry(p, "channels", channel_values(p, "", values)))
    except UserError as exc:
        return channels_page(request, settings, pages, form=form, problem=exc)
    return RedirectResponse("/manage/channels?done=saved", status_code=303)


@router.post("/manage/channels/remove", include_in_schema=False, dependencies=Admin + Csrf)
async def channels_remove(request: Request, settings: SettingsDep, pages: PagesDep) -> Response:
    form = await form_of(request)
    try:
        save(request, settings, lambda p: edit.remove_entry(p, "channels", form.get("name", "")))
    except UserError as exc:
        return channels_page(request, settings, pages, problem=exc)
    return RedirectResponse("/manage/channels?done=removed", status_code=303)


# --- the JSON API -------------------------------------------------------------------------

Text = Annotated[str, Field(min_length=1, max_length=500, pattern=VALUE_PATTERN)]
Duration = Annotated[int, Field(ge=1, le=SQLITE_INT_MAX)] | Annotated[str, Field(max_length=50, pattern=VALUE_PATTERN)]


class ProductEntry(BaseModel):
    """A ``[[products]]`` entry (``aliases`` empty: the name itself)."""
    name: Text
    aliases: list[Text] = []
    exclude: list[Text] = []
    ours: bool = False


class TopicEntry(BaseModel):
    """A ``[[topics]]`` entry: ``terms`` for posts in every language, ``terms_by_language`` (a language code
    such as ``de`` -> terms) for posts in that language; at least one term in either."""
    name: Text
    terms: list[Text] = []
    terms_by_language: dict[Annotated[str, Field(min_length=2, max_length=12, pattern=VALUE_PATTERN)],
                            list[Text]] = {}
    exclude: list[Text] = []


class AlertRuleEntry(BaseModel):
    """An ``[[alerts.rules]]`` entry (see "Spikes and alerts" in the README); durations as seconds or "24h"."""
    name: Text
    condition: Literal["spike", "threshold", "new_mention"] = "spike"
    product: Text | None = None
    metric: Literal["volume", "negative_share"] = "volume"
    threshold: Annotated[float, Field(ge=0, le=1e15)] | None = None
    window: Duration | None = None
    channels: list[Text] = []
    cooldown: Duration | None = None
    quiet_hours: Annotated[str, Field(max_length=20, pattern=VALUE_PATTERN)] | None = None
    query: Annotated[str, Field(max_length=2000, pattern=VALUE_PATTERN)] | None = None
    saved: Text | None = None


class SourceEntry(BaseModel):
    """A ``[[sources]]`` entry: the common keys, and the type's own in ``options`` (GET /api/manage/source-types)."""
    name: Text
    type: Text = "feed"
    url: Annotated[str, Field(max_length=2000, pattern=VALUE_PATTERN)] | None = None
    interval: Duration | None = None
    enabled: bool = True
    silent_after: Duration | None = None
    max_pages: Annotated[int, Field(ge=1, le=SQLITE_INT_MAX)] | None = None
    max_age: Duration | None = None
    options: dict[str, Any] = {}


class SourceField(BaseModel):
    name: str
    type: str
    required: bool
    default: str | None
    help: str


class SourceTypeInfo(BaseModel):
    name: str
    paged: bool
    default_url: str | None
    fields: list[SourceField]


class ChannelSecret(BaseModel):
    key: str       # the settings key naming the variable (password_env, url_env, secret_env)
    env: str       # the environment variable
    set: bool      # whether it is set in the server's environment


class ChannelInfo(BaseModel):
    """A channel as the API shows it: its keys (never its URL, often a secret: ``url_set`` says whether
    the file holds one), where it sends and the environment variables holding its secrets."""
    model_config = ConfigDict(populate_by_name=True)
    name: str
    type: Literal["email", "slack", "webhook"]
    where: str
    secrets: list[ChannelSecret]
    to: list[str] = []
    sender: str = Field("listener@localhost", alias="from")
    host: str = "localhost"
    port: int = 25
    security: Literal["none", "starttls", "ssl"] = "none"
    user: str = ""
    password_env: str = ""
    url_set: bool = False
    url_env: str = ""
    secret_env: str = ""
    attempts: int = 3
    backoff: float = 2.0
    timeout: float = 10.0


EnvName = Annotated[str, Field(max_length=200, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


class ChannelEntry(BaseModel):
    """A ``[[channels]]`` entry (see the settings table, ``channels[]``). Secrets stay in environment
    variables: ``password_env``, ``url_env``, ``secret_env`` name them. ``url`` is write-only: left out
    of a PUT, the URL in the file stays (unless ``url_env`` is given); ``""`` removes it."""
    model_config = ConfigDict(populate_by_name=True)
    name: Text
    type: Literal["email", "slack", "webhook"]
    to: list[Text] = []
    sender: Text | None = Field(None, alias="from")
    host: Text | None = None
    port: Annotated[int, Field(ge=1, le=65535)] | None = None
    security: Literal["none", "starttls", "ssl"] | None = None
    user: Text | None = None
    password_env: EnvName | None = None
    url: Annotated[str, Field(max_length=2000, pattern=VALUE_PATTERN)] | None = None
    url_env: EnvName | None = None
    secret_env: EnvName | None = None
    attempts: Annotated[int, Field(ge=1, le=1000)] | None = None
    backoff: Annotated[float, Field(ge=0, le=3600)] | None = None
    timeout: Annotated[float, Field(gt=0, le=3600)] | None = None


class FetchedPost(BaseModel):
    title: str
    url: str | None
    author: str | None
    posted_at: str | None


class TestFetch(BaseModel):
    source: str
    status: int | None
    error: str | None
    entries: int
    new: int
    bozo: str | None
    posts: list[FetchedPost]


def _toml(model: BaseModel, *, drop_defaults: tuple[str, ...] = ()) -> dict[str, Any]:
    """A body as the entry's keys: unset and empty values left out (their defaults apply)."""
    values = model.model_dump()
    options = values.pop("options", None) or {}
    out = {k: v for k, v in values.items() if v not in (None, [], {}) and not (k in drop_defaults and v is False)}
    if isinstance(model, SourceEntry):
        if model.enabled:
            out.pop("enabled", None)
        out.update(options)
    if isinstance(model, AlertRuleEntry):
        out = {k: v for k, v in out.items() if not (k == "condition" and v == "spike") and
               not (k == "metric" and v == "volume")}
    return out


def _product(p) -> dict:
    return {"name": p.name, "aliases": list(p.aliases), "exclude": list(p.exclude), "ours": p.ours}


def _topic(t) -> dict:
    return {"name": t.name, "terms": list(t.terms),
            "terms_by_language": {lang: list(terms) for lang, terms in t.terms_by_language}, "exclude": list(t.exclude)}


def _rule(r) -> dict:
    return {"name": r.name, "condition": r.condition, "product": r.product, "metric": r.metric,
            "threshold": r.threshold, "window": r.window, "channels": list(r.channels), "cooldown": r.cooldown,
            "quiet_hours": r.quiet_hours, "query": r.query, "saved": r.saved}


def _source(s) -> dict:
    return {"name": s.name, "type": s.type, "url": s.url, "interval": s.interval, "enabled": s.enabled,
            "silent_after": s.silent_after, "max_pages": s.max_pages, "max_age": s.max_age,
            "options": dict(s.options)}


API = {"products": (ProductEntry, _product, lambda s: s.products),
       "topics": (TopicEntry, _topic, lambda s: s.topics),
       "alerts": (AlertRuleEntry, _rule, lambda s: s.alerts.rules),
       "sources": (SourceEntry, _source, lambda s: s.sources)}


def _find(entries, name: str) -> Any:
    for e in entries:
        if e.name == name:
            return e
    return next(e for e in entries if e.name.lower() == name.lower())


def _api_routes(what: str) -> None:
    model, shape, listed = API[what]
    kind, noun = KIND[what], edit.KINDS[KIND[what]].noun
    tag = ["manage"]
    one = "{name:path}" if what == "products" else "{name}"  # only a product's name may hold a "/"

    @router.get(f"/api/manage/{what}", response_model=list[model], tags=tag, summary=f"Every {noun}",
                name=f"api_list_{what}")
    def list_entries(settings: SettingsDep) -> list[dict]:
        return [shape(e) for e in listed(settings)]

    @router.post(f"/api/manage/{what}", response_model=model, status_code=201, tags=tag, summary=f"Add a {noun}",
                 responses={400: INVALID}, name=f"api_add_{what}")
    def add(request: Request, settings: SettingsDep, body: Annotated[model, Body()]) -> dict:  # type: ignore[valid-type]
        new = save(request, settings, lambda p: edit.add_entry(p, kind, _toml(body, drop_defaults=("ours",))))
        return shape(_find(listed(new), body.name))

    @router.put(f"/api/manage/{what}/{one}", response_model=model, tags=tag, summary=f"Replace a {noun}",
                responses={400: INVALID, 404: NOT_FOUND}, name=f"api_replace_{what}")
    def replace(request: Request, settings: SettingsDep, name: str,
                body: Annotated[model, Body()]) -> dict:  # type: ignore[valid-type]
        values = _toml(body, drop_defaults=("ours",))
        if what != "sources":  # keys the model does not name (added by a newer schema) stay as they are
            values = {**{k: None for k in type(body).model_fields}, **values}
        new = save(request, settings, lambda p: edit.update_entry(p, kind, name, values, replace=what == "sources"))
        return shape(_find(listed(new), body.name))

    @router.delete(f"/api/manage/{what}/{one}", status_code=204, tags=tag, summary=f"Remove a {noun}",
                   responses={400: INVALID, 404: NOT_FOUND}, response_class=Response, name=f"api_remove_{what}")
    def remove(request: Request, settings: SettingsDep, name: str) -> Response:
        save(request, settings, lambda p: edit.remove_entry(p, kind, name))
        return Response(status_code=204)


for _what in ("products", "topics", "alerts", "sources"):
    _api_routes(_what)


@router.get("/api/manage/source-types", response_model=list[SourceTypeInfo], tags=["manage"],
            summary="Every registered source type and its keys")
def api_source_types() -> list[dict]:
    out = []
    for name, kind in source_types().items():
        out.append({"name": name, "paged": kind.paged, "default_url": kind.default_url, "fields": [
            {"name": s.name, "type": " or ".join(k.__name__ for k in (s.kind if isinstance(s.kind, tuple) else (s.kind,))),
             "required": s.required, "default": None if s.default is None or s.required else str(s.default),
             "help": s.help} for s in source_settings(name) if s.name != "type"]})
    return out


def _channel(settings: Settings, name: str) -> dict:
    ch = next(c for c in settings.channels if c.name == name)
    keys = {f.name: getattr(ch, f.name) for f in dataclasses.fields(ch) if f.name not in ("sender", "url")}
    return {**keys, "to": list(ch.to), "from": ch.sender, "url_set": bool(ch.url), **edit.channel_summary(ch)}


def _channel_body(path: Path, original: str, body: ChannelEntry) -> dict[str, Any]:
    values = body.model_dump(by_alias=True, exclude={"url"})
    values = {k: v for k, v in values.items() if v not in (None, [])}
    if body.url is not None or not original:
        values["url"] = body.url or None
    return channel_values(path, original if "url" not in values else "", values)


@router.get("/api/manage/channels", response_model=list[ChannelInfo], tags=["manage"],
            summary="Channels and whether the environment variables holding their secrets are set")
def api_channels(settings: SettingsDep) -> list[dict]:
    return [_channel(settings, c.name) for c in settings.channels]


@router.post("/api/manage/channels", response_model=ChannelInfo, status_code=201, tags=["manage"],
             summary="Add a channel (admin)", responses={400: INVALID}, dependencies=Admin, name="api_add_channels")
def api_add_channel(request: Request, settings: SettingsDep, body: Annotated[ChannelEntry, Body()]) -> dict:
    new = save(request, settings, lambda p: edit.add_entry(p, "channels", _channel_body(p, "", body)))
    return _channel(new, body.name)


@router.put("/api/manage/channels/{name}", response_model=ChannelInfo, tags=["manage"],
            summary="Replace a channel (admin; the URL in the file stays unless `url` or `url_env` is given)",
            responses={400: INVALID, 404: NOT_FOUND}, dependencies=Admin, name="api_replace_channels")
def api_replace_channel(request: Request, settings: SettingsDep, name: str,
                        body: Annotated[ChannelEntry, Body()]) -> dict:
    new = save(request, settings, lambda p: edit.update_entry(p, "channels", name, _channel_body(p, name, body),
                                                              replace=True))
    return _channel(new, body.name)


@router.delete("/api/manage/channels/{name}", status_code=204, tags=["manage"],
               summary="Remove a channel (admin; refused while digest.channels or an alert rule sends to it)",
               responses={400: INVALID, 404: NOT_FOUND}, response_class=Response, dependencies=Admin,
               name="api_remove_channels")
def api_remove_channel(request: Request, settings: SettingsDep, name: str) -> Response:
    save(request, settings, lambda p: edit.remove_entry(p, "channels", name))
    return Response(status_code=204)


@router.post("/api/manage/sources/{name}/test", response_model=TestFetch, tags=["manage"],
             summary="Collect a source once into a scratch database; what it found or its error",
             responses={404: NOT_FOUND})
def api_test_fetch(settings: SettingsDep, name: str) -> dict:
    try:
        return test_fetch(settings, name)
    except ConfigError as exc:  # no such source
        raise UserError(str(exc).replace(str(settings.path), settings.path.name if settings.path else ""),
                        http_status=404, field="name") from None
