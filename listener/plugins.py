"""The plugin manager: the built-in default plugins, then the ``listener`` entry points.

Loaded on first use (reading settings, crawling), not at import, so commands that
never need a source type do not pay for it.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata

import pluggy

from listener import hookspecs
from listener.errors import UserError

ENTRY_POINT_GROUP = "listener"
# Registered first, so built-in source types come first in every list and message.
DEFAULT_PLUGINS = ("spiders.sourcetypes",)


class PluginError(UserError):
    """An installed plugin cannot be used (it fails to import, or clashes with another), in one line."""


@functools.cache
def plugin_manager() -> pluggy.PluginManager:
    """The one plugin manager of this process, with the default plugins and every installed one."""
    pm = pluggy.PluginManager("listener")
    pm.add_hookspecs(hookspecs)
    for name in DEFAULT_PLUGINS:
        pm.register(importlib.import_module(name), name=name)
    # entry_points(group=...) reads only what it needs; pluggy's load_setuptools_entrypoints
    # walks every installed distribution and costs several times as much at start-up.
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if pm.get_plugin(ep.name) is None and not pm.is_blocked(ep.name):
            try:
                plugin = ep.load()
            except Exception as exc:  # any error of a third-party module: name the plugin, not a traceback
                raise PluginError(f"plugin {ep.name!r} ({ep.value}) cannot be loaded: "
                                  f"{type(exc).__name__}: {exc}") from exc
            pm.register(plugin, name=ep.name)
    return pm


def reload() -> None:
    """Forget the loaded plugins; the next use finds them again (after a change to ``sys.path``)."""
    importlib.invalidate_caches()
    plugin_manager.cache_clear()
