"""How a digest is shown, apart from what it says: the time zone of its times and listener's own address.

Shared by every rendering (HTML, Markdown, PDF, email), so all of them write a time the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from listener.config import Settings
from listener.text import parse_iso


@dataclass(frozen=True)
class Look:
    """How a digest is shown, not what it says: the time zone its timestamps are written in, and
    listener's own address (``serve.base_url``) for a second link on every post."""

    timezone: str = "UTC"
    base_url: str | None = None

    @classmethod
    def of(cls, settings: Settings) -> Look:
        """``schedule.timezone`` and ``serve.base_url`` of ``settings``."""
        return cls(settings.schedule.timezone, (settings.serve.base_url or "").rstrip("/") or None)

    def time(self, value: str | None) -> str:
        """An ISO timestamp as "2 Dec 2026, 08:15 CET" in this look's time zone (text that is no
        timestamp is returned as it is)."""
        t = parse_iso(value)
        if t is None:
            return value or ""
        local = t.astimezone(ZoneInfo(self.timezone))
        zone = local.tzname() or self.timezone
        if zone[:1] in "+-":  # zones without an abbreviation name themselves by offset: "-03"
            zone = "UTC" + zone
        return f"{local.day} {local:%b %Y, %H:%M} {zone}"

    def post_url(self, post_id: int | None) -> str | None:
        """Listener's own page of a post, when ``serve.base_url`` is set."""
        return f"{self.base_url}/posts/{int(post_id)}" if self.base_url and post_id is not None else None
