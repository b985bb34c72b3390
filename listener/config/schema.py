"""Every settings key, declared once: its name, type, default, check and help.

The dataclasses, the reader, the README settings table and the docs tests all read
these declarations. Source types declare their own keys with the same ``Setting``
(see ``listener.sources``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()  # the default of a key that must be given


@dataclass(frozen=True)
class Setting:
    """One settings key: ``kind`` is the TOML type (or a tuple of them), ``check`` cleans or rejects a value."""

    name: str
    kind: type | tuple[type, ...]
    default: Any = None
    check: Callable[[Any], Any] | None = None
    help: str = ""
    shown_default: str | None = None  # how the README shows the default, when not as TOML

    @property
    def required(self) -> bool:
        return self.default is REQUIRED
