"""The hooks a listener plugin can implement (pluggy hook specifications).

A plugin is a module (or any object) with functions marked ``@hookimpl``. The
built-in source types are registered through the same hooks as a default plugin
(``spiders.sourcetypes``); a third-party package registers its module with an
entry point in the ``listener`` group (see ``listener.plugins``)::

    [project.entry-points.listener]
    jsonposts = "listener_jsonposts"
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from listener.sources import SourceType

hookspec = pluggy.HookspecMarker("listener")
hookimpl = pluggy.HookimplMarker("listener")


@hookspec
def register_source_types() -> list[SourceType]:
    """The source types this plugin adds, as ``listener.sources.SourceType`` declarations.

    Declare the spider as a ``"module:Class"`` path so that reading settings never
    imports Scrapy; the crawler child imports it when it crawls.
    """
