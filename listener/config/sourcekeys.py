"""Read one ``[[sources]]`` entry: the keys every source has and the keys of its type."""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Callable

from listener.config import DEFAULT_URLS, SOURCE_TYPES, Source, checks
from listener.config.schema import REQUIRED as _REQUIRED, SOURCES
from spiders.forum_presets import PRESETS, REQUIRED_SELECTORS, SELECTOR_KEYS

if TYPE_CHECKING:
    from listener.config.reader import _Reader


def _preset(value: str) -> str:
    if value not in PRESETS:
        raise ValueError(f"unknown forum preset {value!r} (known: {', '.join(PRESETS)})")
    return value


# Type-specific source keys: name -> (kind, default or _REQUIRED, check).
TYPE_OPTIONS: dict[str, dict[str, tuple[type, Any, Callable[[Any], Any] | None]]] = {
    "feed": {},
    "hackernews": {"query": (str, _REQUIRED, checks.non_empty), "tags": (str, "(story,comment)", checks.non_empty)},
    "reddit": {"subreddit": (str, _REQUIRED, checks.word("subreddit name", "r/")),
               "query": (str, None, checks.non_empty),
               "client_id_env": (str, "REDDIT_CLIENT_ID", checks.env_name),
               "client_secret_env": (str, "REDDIT_CLIENT_SECRET", checks.env_name)},
    "mastodon": {"hashtag": (str, _REQUIRED, checks.word("hashtag", "#")),
                 "token_env": (str, "MASTODON_TOKEN", checks.env_name)},
    "bluesky": {"query": (str, _REQUIRED, checks.non_empty),
                "handle_env": (str, "BLUESKY_HANDLE", checks.env_name),
                "password_env": (str, "BLUESKY_APP_PASSWORD", checks.env_name)},
    "forum": {"preset": (str, None, _preset), "timezone": (str, "UTC", checks.timezone),
              "selectors": (dict, None, None)},
}


def read_source(s: "_Reader") -> Source:
    sname = s.read(SOURCES["name"])
    stype = s.read(SOURCES["type"])
    if stype not in SOURCE_TYPES:
        raise s.fail("type", f"unknown source type {stype!r} (known: {', '.join(SOURCE_TYPES)})")
    default_url = DEFAULT_URLS.get(stype)
    options: dict[str, Any] = {}
    for key, (kind, default, check) in TYPE_OPTIONS[stype].items():
        value = s.get(key, kind, required=default is _REQUIRED, default=default, check=check)
        if value is not None:
            options[key] = value
    if stype == "forum":
        options.update(_forum_options(s, options))
    paged = stype != "feed"
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


def _forum_options(s: "_Reader", options: dict[str, Any]) -> dict[str, Any]:
    """Check a forum's preset and selector overrides; the result holds the full selector set."""
    preset = options.get("preset")
    given = options.pop("selectors", None) or {}
    for key, value in given.items():
        if key not in SELECTOR_KEYS:
            raise s.fail(f"selectors.{key}", f"unknown selector (allowed here: {', '.join(SELECTOR_KEYS)})")
        if not isinstance(value, str) or not value.strip():
            raise s.fail(f"selectors.{key}", f"expected a CSS selector string, got {checks.typename(value)} {value!r}")
    if preset == "discourse":
        if given:
            raise s.fail("selectors", "the discourse preset reads the JSON API and takes no selectors")
        return {}
    if preset is None and not given:
        raise s.fail("preset", f"required key is missing (known presets: {', '.join(PRESETS)}; "
                               "or give every selector in selectors)")
    selectors = {**PRESETS.get(preset or "", {}), **given}
    missing = [k for k in REQUIRED_SELECTORS if not selectors.get(k)]
    if missing:
        raise s.fail("selectors", f"missing selector(s) {', '.join(missing)} (no preset provides them)")
    return {"selectors": MappingProxyType(selectors)}


