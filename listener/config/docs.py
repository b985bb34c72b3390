"""The README settings table, written from the schema.

``python -m listener.config.docs`` rewrites the table in README.md between its two marker
comments; ``--check`` only says whether it is up to date (exit 1 if not). tests/test_docs.py
checks the same, so a key added to the schema without the README, or the other way round, fails.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from listener.config.schema import SECTIONS, Section, Setting

README = Path(__file__).resolve().parents[2] / "README.md"
BEGIN = "<!-- settings table: written from listener/config/schema.py by `python -m listener.config.docs` -->"
END = "<!-- end of settings table -->"


def toml(value: Any) -> str:
    """A default as it is written in settings.toml."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml(v) for v in value) + "]"
    return repr(value)


def default_cell(setting: Setting) -> str:
    """The README's default column for one key."""
    if setting.shown_default is not None:
        return setting.shown_default
    if setting.required:
        return "required"
    if setting.default is None:
        return "none"
    return f"`{toml(setting.default)}`"


def settings_table(sections: tuple[Section, ...] = SECTIONS) -> str:
    """The Markdown table of every key of ``sections``: key, default, meaning."""
    rows = ["| key | default | meaning |", "|---|---|---|"]
    for section in sections:
        rows += [f"| `{section.key}.{s.name}` | {default_cell(s)} | {s.help} |" for s in section]
    return "\n".join(rows) + "\n"


def with_table(readme: str, table: str) -> str:
    """``readme`` with the text between the markers replaced by ``table``."""
    head, begin, rest = readme.partition(BEGIN + "\n")
    _, end, tail = rest.partition(END)
    if not begin or not end:
        raise ValueError(f"README has no {BEGIN!r} ... {END!r} block")
    return head + begin + table + end + tail


def main(argv: list[str] | None = None) -> int:
    """Rewrite README.md's settings table, or with ``--check`` report whether it is current."""
    args = sys.argv[1:] if argv is None else argv
    check = "--check" in args
    path = Path(next((a for a in args if a != "--check"), README))
    text = path.read_text(encoding="utf-8")
    new = with_table(text, settings_table())
    if new == text:
        return 0
    if check:
        print(f"{path}: the settings table is out of date; run python -m listener.config.docs", file=sys.stderr)
        return 1
    path.write_text(new, encoding="utf-8")
    print(f"{path}: settings table rewritten")
    return 0


if __name__ == "__main__":
    sys.exit(main())
