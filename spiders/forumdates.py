"""Forum dates ("Today at 5:04 pm", "November 04, 2015, 05:04:20 pm", "Wed Nov 04, 2015 5:04 pm",
"11-04-2015, 05:04 PM") to UTC, reading them in the forum's time zone."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from dateutil import parser as dateparser

from listener.text import iso_utc

_NOISE_RE = re.compile(r"«|»|&[lr]aquo;|\b(?:reply\s*#\s*\d+\s*)?on\s*:|\bposted\s*:?|\blast post\b|\bby\s*$|^\s*by\b"
                       r"|#\d+", re.I)
_RELATIVE_RE = re.compile(r"\b(today|yesterday)\b[\s,]*(?:at\s+)?(.*)$", re.I)


def parse_forum_date(text: str | None, tz: str, now: datetime) -> str | None:
    """``YYYY-MM-DDTHH:MM:SSZ`` for a forum's date text, or None if there is no date in it.

    Times without a zone are in ``tz`` (an IANA name); "Today" and "Yesterday"
    are relative to ``now`` in that zone. Month-first for numeric dates
    (vBulletin's default "11-04-2015"); ISO times with an offset keep it.
    """
    if not text:
        return None
    zone = ZoneInfo(tz)
    clean = " ".join(_NOISE_RE.sub(" ", text.replace("\xa0", " ")).split()).strip(" ,-|")
    if not clean:
        return None
    local_now = now.astimezone(zone)
    m = _RELATIVE_RE.search(clean)
    try:
        if m:
            day = local_now.date() - timedelta(days=1 if m.group(1).lower() == "yesterday" else 0)
            base = datetime(day.year, day.month, day.day)
            when = dateparser.parse(m.group(2), default=base, fuzzy=True) if m.group(2).strip() else base
        else:
            when = dateparser.parse(clean, fuzzy=True, default=datetime(local_now.year, 1, 1))
    except (ValueError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=zone)
    return iso_utc(when)
