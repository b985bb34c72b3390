"""The web app's settings follow the settings file: the /manage pages, the CLI or an editor may change it."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from listener.config import Settings, load_settings
from listener.errors import UserError
from listener.files import file_stamp

log = logging.getLogger("listener.app.web")


def fresh_settings(state: Any) -> Settings:
    """``state.settings``, first re-read when its file changed since it was read (``state`` is the app's
    ``app.state``). A file that no longer loads is logged and the running settings kept; the database
    stays the one the app opened (``store.path`` changes need a restart)."""
    settings: Settings = state.settings
    if settings.path is None:
        return settings
    stamp = file_stamp(settings.path)
    known = getattr(state, "settings_stamp", None)
    if known is None:
        state.settings_stamp = stamp
        return settings
    if stamp == known or stamp is None:
        return settings
    state.settings_stamp = stamp
    try:
        new = load_settings(settings.path)
    except UserError as exc:
        log.warning("settings changed but do not load; keeping the running ones: %s", exc)
        return settings
    state.settings = dataclasses.replace(new, db_path=settings.db_path)
    return state.settings


def took(state: Any, settings: Settings) -> None:
    """Use ``settings``, just written to their file by this process, from the next request on."""
    state.settings = dataclasses.replace(settings, db_path=state.settings.db_path)
    state.settings_stamp = file_stamp(settings.path)
