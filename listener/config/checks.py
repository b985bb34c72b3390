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
        value = value.strip().lstrip(strip)
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
