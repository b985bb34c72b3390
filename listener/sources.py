"""The source-type registry: each kind of ``[[sources]]`` entry, what it reads and what fetches it.

A ``SourceType`` is declared beside its spider (the built-in ones in
``spiders/sourcetypes.py``) and registered through the ``register_source_types``
hook (``listener.hookspecs``), so a third-party package adds a type with one
module and an entry point. Config validation (``listener.config.sourcekeys``),
the crawler, the pipeline's credentials, ``listener sources add --type`` and the
README's source-type table all read this registry.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from importlib import import_module
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Callable, Mapping

import pluggy

from listener.plugins import PluginError, plugin_manager

if TYPE_CHECKING:
    from listener.config.schema import Setting

# fail(key, message) -> the exception to raise, naming the file and the source's key.
Fail = Callable[[str, str], Exception]


@dataclass(frozen=True)
class SourceType:
    """One source type: its name, spider, type-specific keys and what it needs to be fetched."""

    name: str
    spider: str | type  # the Scrapy spider class, or "module:Class" (settings never import Scrapy then)
    options: tuple[Setting, ...] = ()  # the keys of a [[sources]] entry of this type, beside the common ones
    default_url: str | None = None  # paged types: the ``url`` when a source gives none
    # Credentials read from the environment: option naming the variable -> key in the job's ``credentials``.
    credentials: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    paged: bool = True  # pages newest first with a high-water mark; takes max_pages / max_age
    # Checks across the type's keys after each was read alone (the forum's preset and selectors):
    # gets the options read and ``fail``; returns the options to keep.
    check_options: Callable[[dict[str, Any], Fail], dict[str, Any]] | None = None

    @property
    def spider_path(self) -> str:
        """The spider as ``"module:Class"``, which the crawler child imports."""
        if isinstance(self.spider, str):
            return self.spider
        return f"{self.spider.__module__}:{self.spider.__qualname__}"

    def spider_class(self) -> type:
        """The spider class (imports its module, and so Scrapy)."""
        return load_spider(self.spider_path)


def load_spider(path: str) -> type:
    """The class a ``"module:Class"`` path names."""
    module, _, qualname = path.partition(":")
    obj: Any = import_module(module)
    for attr in qualname.split("."):
        obj = getattr(obj, attr)
    return obj


def source_types() -> Mapping[str, SourceType]:
    """Every registered source type by name: the built-in ones first, then the plugins' ones."""
    return _collect(plugin_manager())


def source_type(name: str) -> SourceType:
    """The registered source type called ``name`` (``KeyError`` if there is none)."""
    return source_types()[name]


@functools.cache
def _collect(pm: pluggy.PluginManager) -> Mapping[str, SourceType]:
    types: dict[str, SourceType] = {}
    # pluggy calls the last registered plugin first; reversed, the built-ins lead.
    for batch in reversed(pm.hook.register_source_types()):
        for st in batch or ():
            if st.name in types:
                raise PluginError(f"source type {st.name!r} is registered twice (by two plugins; "
                                  "uninstall one of them)")
            types[st.name] = st
    return MappingProxyType(types)
