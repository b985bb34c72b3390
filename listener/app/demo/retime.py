"""Re-timing of the demo's recorded payloads: every date in a payload moved by a whole number of days.

The bundled payloads were recorded years apart. The demo serves each source's payloads with all their
dates moved by the same whole number of days, so that the source's last real day becomes the day before
the demo runs: the texts, authors and times of day stay as recorded, only the calendar dates move (and
the weekday names written beside them). The files on disk stay byte for byte as their README lists them.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_D, _M = "|".join(_DAYS), "|".join(_MONTHS)
# 2017-06-27T00:54:17Z, 2018-01-06T08:00, 2019-08-21T07:46:38-04:00 (Atom, JSON APIs, JSON Feed)
ISO = re.compile(rb"(?<![\d-])(\d{4})-(\d{2})-(\d{2})(?=T\d{2}:\d{2})")
# Sun, 27 Dec 2020 02:44:15 -0600 (RSS pubDate)
RFC822 = re.compile(rb"\b(?:(" + _D.encode() + rb"), )?(\d{1,2}) (" + _M.encode() + rb") (\d{4})(?= \d{2}:\d{2})")
# Mon Nov 16, 2026 9:12 am (phpBB's default date format)
PHPBB = re.compile(rb"\b(" + _D.encode() + rb") (" + _M.encode() + rb") (\d{1,2}), (\d{4})(?= \d{1,2}:\d{2})")
# "created_at_i":1591023663 (Algolia's Unix seconds beside its ISO created_at)
EPOCH = re.compile(rb'("created_at_i"\s*:\s*)(\d{9,11})\b')


def shift_payload(body: bytes, days: int) -> bytes:
    """``body`` with every date it writes (ISO 8601, RFC 822, phpBB, Algolia Unix seconds) ``days`` later."""
    if not days:
        return body
    step = timedelta(days=days)

    def iso(m: re.Match) -> bytes:
        d = date(int(m[1]), int(m[2]), int(m[3])) + step
        return d.isoformat().encode()

    def rfc(m: re.Match) -> bytes:
        d = date(int(m[4]), _MONTHS.index(m[3].decode()) + 1, int(m[2])) + step
        day = f"{_DAYS[d.weekday()]}, " if m[1] else ""
        return f"{day}{d.day:0{len(m[2])}d} {_MONTHS[d.month - 1]} {d.year}".encode()

    def phpbb(m: re.Match) -> bytes:
        d = date(int(m[4]), _MONTHS.index(m[2].decode()) + 1, int(m[3])) + step
        return f"{_DAYS[d.weekday()]} {_MONTHS[d.month - 1]} {d.day:02d}, {d.year}".encode()

    body = ISO.sub(iso, body)
    body = RFC822.sub(rfc, body)
    body = PHPBB.sub(phpbb, body)
    return EPOCH.sub(lambda m: m[1] + str(int(m[2]) + days * 86400).encode(), body)


def shift_to(last_day: date, yesterday: date) -> int:
    """Days that move ``last_day`` (a source's last real day, UTC) onto ``yesterday``."""
    return (yesterday - last_day).days
