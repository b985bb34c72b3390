"""``listener sources add``: append a ``[[sources]]`` entry to settings.toml, safely.

The new text is validated by parsing the whole file as it would be after the
change; only then is it written (atomically), so a bad entry never reaches disk.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Sequence

from listener.config.reader import parse_settings
from listener.config.settings import ConfigError, Source
from listener.errors import BadInput
from listener.files import write_atomic


def add_source(path: Path, *, name: str, type: str, url: str | None = None,
               pairs: Sequence[str] = ()) -> Source:
    """Append a source to the settings file at ``path`` and return it as loaded."""
    try:
        old = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: settings file not found (use --config or $LISTENER_CONFIG)") from None
    lines = ["", "[[sources]]", f"name = {_toml(name)}", f"type = {_toml(type)}"]
    if url:
        lines.append(f"url = {_toml(url)}")
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip().replace("_", "").isalnum():
            raise BadInput(f"--set {pair!r}: expected KEY=VALUE, e.g. subreddit=firefox")
        lines.append(f"{key.strip()} = {_value(value.strip())}")
    new = old.rstrip("\n") + "\n" + "\n".join(lines) + "\n"
    try:
        data = tomllib.loads(new)
    except tomllib.TOMLDecodeError as exc:
        raise BadInput(str(exc)) from None
    settings = parse_settings(data, path)
    write_atomic(path, new)
    return settings.source(name)


def _toml(text: str) -> str:
    """A TOML basic string (JSON's escapes are valid TOML ones)."""
    return json.dumps(text, ensure_ascii=False)


def _value(text: str) -> str:
    """A TOML literal as given (number, boolean, array, quoted string), else the text as a string."""
    try:
        tomllib.loads(f"v = {text}")
        return text
    except tomllib.TOMLDecodeError:
        return _toml(text)
