"""Read one ``[[sources]]`` entry: the keys every source has and the keys of its type."""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from listener.config import checks
from listener.config.settings import Source
from listener.config.schema import SOURCES
from listener.plugins import PluginError
from listener.sources import source_types

if TYPE_CHECKING:
    from listener.config.reader import _Reader


def read_source(s: "_Reader") -> Source:
    sname = s.read(SOURCES["name"])
    stype = s.read(SOURCES["type"])
    try:
        types = source_types()
    except PluginError as exc:
        raise s.fail("type", str(exc)) from None
    if stype not in types:
        raise s.fail("type", f"unknown source type {stype!r} (known: {', '.join(types)})")
    kind = types[stype]
    default_url = kind.default_url
    options: dict[str, Any] = {}
    for opt in kind.options:
        value = s.read(opt)
        if value is not None:
            options[opt.name] = value
    if kind.check_options is not None:
        options = kind.check_options(options, s.fail)
    paged = kind.paged
    source = Source(
        name=sname, type=stype,
        url=s.get("url", str, required=default_url is None, default=default_url, check=checks.http_url).rstrip("/")
        if paged else s.get("url", str, required=True, check=checks.http_url),
        interval=s.read(SOURCES["interval"]),
        enabled=s.read(SOURCES["enabled"]),
        silent_after=s.read(SOURCES["silent_after"]),
        options=MappingProxyType(options),
        max_pages=s.read(SOURCES["max_pages"]) if paged else None,
        max_age=s.read(SOURCES["max_age"]) if paged else None,
    )
    s.finish()
    return source
