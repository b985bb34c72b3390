"""The README settings tables, written from the schema and the source-type registry.

``python -m listener.config.docs`` rewrites the two tables in README.md between their marker
comments (every section's keys; the keys of each source type); ``--check`` only says whether they
are up to date (exit 1 if not). tests/test_docs.py checks the same, so a key added to the schema
or a source type without the README, or the other way round, fails.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Mapping

from listener.config.schema import SECTIONS, Section, Setting
from listener.sources import SourceType, source_types

README = Path(__file__).resolve().parents[2] / "README.md"
BEGIN = "<!-- settings table: written from listener/config/schema.py by `python -m listener.config.docs` -->"
END = "<!-- end of settings table -->"
TYPES_BEGIN = ("<!-- source type keys: written from the source-type registry (listener/sources.py) "
               "by `python -m listener.config.docs` -->")
TYPES_END = "<!-- end of source type keys -->"


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


def source_keys_table(types: Mapping[str, SourceType] | None = None) -> str:
    """The Markdown table of the type-specific ``[[sources]]`` keys, one row per key name."""
    types = source_types() if types is None else types
    by_key: dict[str, list[tuple[str, Setting]]] = {}
    for kind in types.values():
        for option in kind.options:
            by_key.setdefault(option.name, []).append((kind.name, option))
    rows = ["| key | default | meaning |", "|---|---|---|"]
    for key, uses in by_key.items():
        rows.append(f"| `sources[].{key}` | {_type_default(uses)} | "
                    + "; ".join(f"`{name}`: {option.help}" for name, option in uses) + " |")
    return "\n".join(rows) + "\n"


def _type_default(uses: list[tuple[str, Setting]]) -> str:
    shown = {default_cell(option) for _, option in uses if not option.required}
    required = [f"`{name}`" for name, option in uses if option.required]
    optional = [f"`{name}`" for name, option in uses if not option.required]
    if not required:
        return " or ".join(sorted(shown))
    text = "required for " + ", ".join(required)
    return text + (f"; optional for {', '.join(optional)}" if optional else "")


def with_table(readme: str, table: str, begin_marker: str = BEGIN, end_marker: str = END) -> str:
    """``readme`` with the text between the markers replaced by ``table``."""
    head, begin, rest = readme.partition(begin_marker + "\n")
    _, end, tail = rest.partition(end_marker)
    if not begin or not end:
        raise ValueError(f"README has no {begin_marker!r} ... {end_marker!r} block")
    return head + begin + table + end + tail


def with_tables(readme: str) -> str:
    """``readme`` with both generated tables rewritten."""
    return with_table(with_table(readme, settings_table()), source_keys_table(), TYPES_BEGIN, TYPES_END)


def main(argv: list[str] | None = None) -> int:
    """Rewrite README.md's settings tables, or with ``--check`` report whether they are current."""
    args = sys.argv[1:] if argv is None else argv
    check = "--check" in args
    path = Path(next((a for a in args if a != "--check"), README))
    text = path.read_text(encoding="utf-8")
    new = with_tables(text)
    if new == text:
        return 0
    if check:
        print(f"{path}: the settings table is out of date; run python -m listener.config.docs", file=sys.stderr)
        return 1
    path.write_text(new, encoding="utf-8")
    print(f"{path}: settings tables rewritten")
    return 0


if __name__ == "__main__":
    sys.exit(main())
