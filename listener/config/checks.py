"""The checks settings values pass: each takes a TOML value and returns it cleaned, or raises
``ValueError`` with the problem phrased for the user (the reader adds the file and key)."""

from __future__ import annotations

import re
from typing import Any, Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_INTERVAL_RE = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_interval(value: str | int) -> int:
    """Seconds from ``90``, ``"90s"``, ``"30m"``, ``"6h"`` or ``"1d"``."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as \"30m\"")
    if isinstance(value, int):
        seconds = value
    else:
        m = _INTERVAL_RE.match(str(value))
        if not m:
            raise ValueError(f"expected a duration such as \"30m\", \"6h\" or 900, got {value!r}")
        seconds = int(m.group(1)) * _UNITS[m.group(2)]
    if seconds <= 0:
        raise ValueError("must be greater than zero")
    return seconds


KIND_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false",
               list: "an array", dict: "a table"}


def typename(value: Any) -> str:
    return {str: "string", int: "integer", float: "number", bool: "boolean", list: "array",
            dict: "table"}.get(type(value), type(value).__name__)


def positive(value: float | int) -> float | int:
    if value <= 0:
        raise ValueError(f"must be greater than zero, got {value}")
    return value


def non_negative(value: float | int) -> float | int:
    if value < 0:
        raise ValueError(f"must not be negative, got {value}")
    return value


def port(value: int) -> int:
    if not 1 <= value <= 65535:
        raise ValueError(f"must be a port number from 1 to 65535, got {value}")
    return value


def http_url(value: str) -> str:
    if not re.match(r"^https?://[^\s/]+", value):
        raise ValueError(f"expected an http:// or https:// URL, got {value!r}")
    return value


def name(value: str) -> str:
    if not _NAME_RE.match(value):
        raise ValueError(f"use letters, digits, '.', '_' or '-' (at most 64), got {value!r}")
    return value


_TIME_RE = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?$")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def parse_clock(value: str) -> tuple[int, int, int]:
    """(hour, minute, second) from ``"06:15"`` or ``"06:15:30"``."""
    m = _TIME_RE.match(value.strip())
    if not m:
        raise ValueError(f"expected a time of day such as \"06:15\" or \"06:15:30\", got {value!r}")
    return int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)


def parse_weekly(value: str) -> tuple[str, int, int, int]:
    """(weekday, hour, minute, second) from ``"mon 06:30"``."""
    day, _, clock = value.strip().partition(" ")
    if day.lower()[:3] not in WEEKDAYS or not clock:
        raise ValueError(f"expected a weekday and a time such as \"mon 06:30\", got {value!r}")
    return (day.lower()[:3], *parse_clock(clock))


def optional(check: Callable[[str], Any]) -> Callable[[str], str]:
    """A check that also accepts ``"off"``; returns the trimmed value."""
    def run(value: str) -> str:
        value = value.strip()
        if value.lower() == "off":
            return "off"
        check(value)
        return value
    return run


def timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r} (use an IANA name such as \"Europe/Berlin\")") from None
    return value


def word(what: str, strip: str = "") -> Callable[[str], str]:
    def check(value: str) -> str:
        value = value.strip()
        if strip and value.lower().startswith(strip):  # a prefix, not a set of characters: "rust" keeps its r
            value = value[len(strip):]
        if not re.fullmatch(r"[A-Za-z0-9_]{1,100}", value):
            raise ValueError(f"expected a {what} (letters, digits, _), got {value!r}")
        return value
    return check


def non_empty(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value.strip()


def env_name(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
        raise ValueError(f"expected an environment variable name, got {value!r}")
    return value


class ItemError(ValueError):
    """A problem with one element of an array; the reader names it ``key[index]``."""

    def __init__(self, index: int, message: str):
        super().__init__(message)
        self.index = index


def strings(values: list) -> tuple[str, ...]:
    """An array of non-empty strings, trimmed."""
    for i, v in enumerate(values):
        if not isinstance(v, str) or not v.strip():
            raise ItemError(i, f"expected a non-empty string, got {typename(v)} {v!r}")
    return tuple(v.strip() for v in values)


def language_codes(values: list) -> tuple[str, ...]:
    """An array of language codes, trimmed and lower-cased."""
    return tuple(v.lower() for v in strings(values))


_LANGUAGE_RE = re.compile(r"^[a-z]{2,3}$")


def terms_by_language(value: dict) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """A table of language code -> array of terms (``{de = ["Akku"], fr = ["batterie"]}``), as sorted
    (code, terms) pairs; codes lower-cased ISO 639-1 (or -3)."""
    out = []
    for code, terms in value.items():
        lang = code.strip().lower()
        if not _LANGUAGE_RE.match(lang):
            raise ValueError(f"{code!r}: expected a language code such as \"de\" (ISO 639-1)")
        if not isinstance(terms, list):
            raise ValueError(f"{code}: expected an array of terms, got {typename(terms)} {terms!r}")
        try:
            out.append((lang, strings(terms)))
        except ItemError as exc:
            raise ValueError(f"{code}[{exc.index}]: {exc}") from None
    if len({lang for lang, _ in out}) < len(out):
        raise ValueError("a language is given twice (codes are read in any case)")
    return tuple(sorted(out))


def periods(value: list) -> tuple[int, ...]:
    if not value or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value):
        raise ValueError(f"expected a non-empty array of positive integers, got {value!r}")
    return tuple(value)


def probability(value: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"must be between 0 and 1, got {value}")
    return float(value)


def one_line(value: str) -> str:
    """One line of text, trimmed (empty allowed)."""
    if "\n" in value.strip() or "\r" in value.strip():
        raise ValueError("must be one line")
    if len(value) > 300:
        raise ValueError(f"must be one line of at most 300 characters, got {len(value)}")
    return value.strip()


def threshold(value: float) -> float:
    if not -1.0 <= value <= 1.0:
        raise ValueError(f"must be between -1 and 1, got {value}")
    return value


def one_of(*allowed: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        if value not in allowed:
            raise ValueError(f"expected one of {', '.join(allowed)}, got {value!r}")
        return value
    return check


def empty_or(check: Callable[[str], str]) -> Callable[[str], str]:
    """A check that also accepts the empty string."""
    def run(value: str) -> str:
        return check(value) if value else value
    return run


_QUIET_RE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$")


def quiet_hours(value: str) -> str:
    if value and not _QUIET_RE.match(value):
        raise ValueError(f"expected HH:MM-HH:MM such as \"22:00-07:00\", got {value!r}")
    return value


def text_query(value: str) -> str:
    """A query in the search language with text terms only (a product's ``query``: it is matched against
    each post's text as it is classified, where there are no fields)."""
    from listener.search.query import Field, Range, QueryError, _walk, parse

    try:
        tree = parse(value)
    except QueryError as exc:
        raise ValueError(f"invalid query: {exc}") from None
    fields = [n for n in _walk(tree) if isinstance(n, (Field, Range))] if tree is not None else []
    if fields:
        raise ValueError(f"a product's query takes text terms only, not {fields[0].name}: (at position "
                         f"{fields[0].pos})")
    return value


def query(value: str) -> str:
    """A query in the search language."""
    from listener.search.query import QueryError, parse  # only when a rule has a query: reading settings needs no store

    try:
        parse(value)
    except QueryError as exc:
        raise ValueError(f"invalid query: {exc}") from None
    return value
