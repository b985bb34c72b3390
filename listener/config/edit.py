"""Change what settings.toml tracks (products, topics, sources, alert rules, channels) from the CLI or the web.

The settings file stays the single source of truth. Each change is made on a tomlkit document,
so the user's comments, order and layout survive; the changed text is then loaded in memory by
the real loader (``parse_settings``), and only when it loads is it written, atomically. A change
that breaks validation is never saved: the caller gets the loader's own ``ConfigError``, which
names the file and the key (``settings.toml: alerts.rules[0].product: no product named 'X'``).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import tomllib
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, MutableMapping, Sequence

import tomlkit
from tomlkit.items import AoT

from listener.config.reader import parse_settings
from listener.config.settings import Channel, ConfigError, Settings, Source
from listener.errors import BadInput, NotFound
from listener.files import write_atomic


@dataclass(frozen=True)
class Kind:
    """One array of tables a user edits: where it lives in the file and what its entries are called."""

    key: str    # "products", "alerts.rules"
    noun: str   # "product", "alert rule"
    fold: bool  # names compare case-insensitively (the loader's uniqueness check folds case)


KINDS: dict[str, Kind] = {k.key: k for k in (
    Kind("products", "product", True), Kind("topics", "topic", True),
    Kind("sources", "source", False), Kind("alerts.rules", "alert rule", False), Kind("channels", "channel", False))}


def edit_settings(path: Path, change: Callable[[tomlkit.TOMLDocument], tomlkit.TOMLDocument | None]) -> Settings:
    """Apply ``change`` to the file's document (it changes it, or returns a new one), check the result with the loader, write it atomically;
    return the settings as loaded. Nothing is written if ``change`` or the loader refuses."""
    if not path.is_file():
        raise ConfigError(f"{path}: settings file not found (use --config or $LISTENER_CONFIG)")
    with _locked(path):
        return _edit(path, change)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One edit at a time (CLI, web workers): an flock on ``.NAME.lock`` beside the file (not on the
    file itself, which each write replaces)."""
    try:
        fd = os.open(path.with_name(f".{path.name}.lock"), os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot edit the settings file: {exc.strerror or exc}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _edit(path: Path, change: Callable[[tomlkit.TOMLDocument], tomlkit.TOMLDocument | None]) -> Settings:
    old = path.read_text(encoding="utf-8")
    try:
        doc = tomlkit.parse(old)
    except tomlkit.exceptions.ParseError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    doc = change(doc) or doc
    new = tomlkit.dumps(doc)
    try:
        data = tomllib.loads(new)
    except tomllib.TOMLDecodeError as exc:  # a value tomlkit wrote but TOML refuses (a control character)
        raise BadInput(f"{path}: the change is not valid TOML: {exc}") from None
    settings = parse_settings(data, path)
    if new != old:
        write_atomic(path, new)
    return settings


def add_entry(path: Path, kind: str, values: Mapping[str, Any]) -> Settings:
    """Append a ``[[kind]]`` entry with these keys (``None`` values left out): after the last entry of
    its kind, or, for the first one, at the end of the file (comments stay where they were)."""
    def change(doc: tomlkit.TOMLDocument) -> tomlkit.TOMLDocument | None:
        table = tomlkit.table()
        for key, value in values.items():
            if value is not None:
                table[key] = _plain(value)
        entries = _array(doc, KINDS[kind])
        if not len(entries):  # tomlkit would put it inside a parent table, under that table's trailing comments
            first = tomlkit.document()
            *outer, last = KINDS[kind].key.split(".")
            parent: Any = first
            for part in outer:
                parent[part] = tomlkit.table(is_super_table=True)
                parent = parent[part]
            parent[last] = tomlkit.aot()
            parent[last].append(table)
            text = tomlkit.dumps(doc).rstrip("\n")
            return tomlkit.parse((text + "\n\n" if text else "") + tomlkit.dumps(first))
        table.add(tomlkit.nl())  # a blank line before whatever follows
        if not entries[-1].as_string().endswith("\n\n"):
            entries[-1].add(tomlkit.nl())  # and one after the entry before it
        entries.append(table)
        return None

    return edit_settings(path, change)


def _unwrapped(value: object) -> object:
    """A table's value as plain Python (tomlkit gives a boolean as a plain ``bool``, with no ``unwrap``)."""
    unwrap = getattr(value, "unwrap", None)
    return unwrap() if unwrap else value


def update_entry(path: Path, kind: str, name: str, changes: Mapping[str, Any], *,
                 replace: bool = False) -> Settings:
    """Change the keys of the entry called ``name``: a ``None`` value removes the key; with
    ``replace`` every key not in ``changes`` is removed too (the entry becomes exactly ``changes``)."""
    def change(doc: tomlkit.TOMLDocument) -> None:
        table = _array(doc, KINDS[kind])[_index(doc, KINDS[kind], name)]
        if replace:
            for key in [k for k in table if k not in changes]:
                del table[key]
        for key, value in changes.items():
            if value is None:
                if key in table:
                    del table[key]
            elif key not in table or _unwrapped(table[key]) != _plain(value):  # unchanged: keep its comment
                table[key] = _plain(value)

    return edit_settings(path, change)


def remove_entry(path: Path, kind: str, name: str) -> Settings:
    """Remove the entry called ``name`` (a rule still naming it makes the loader refuse; a channel
    still in use is refused first, naming where it is used)."""
    def change(doc: tomlkit.TOMLDocument) -> None:
        entries = _array(doc, KINDS[kind])
        index = _index(doc, KINDS[kind], name)
        if kind == "channels":
            _refuse_used_channel(path, doc, index, str(entries[index].get("name", "")))
        del entries[index]
        if not len(entries):  # else tomlkit writes "key = []" where the tables were
            *outer, last = KINDS[kind].key.split(".")
            parents = [doc]
            for part in outer:
                parents.append(parents[-1][part])
            del parents[-1][last]
            for parent, part in zip(reversed(parents[:-1]), reversed(outer)):
                if len(parent[part]) == 0:
                    del parent[part]

    return edit_settings(path, change)


def _refuse_used_channel(path: Path, doc: tomlkit.TOMLDocument, index: int, name: str) -> None:
    """A channel that ``digest.channels`` or an alert rule sends to is not removed: the loader would
    refuse the file without it (``no channel named ...``); this says which of them to change first."""
    data = doc.unwrap()
    users = [f"alert rule {r.get('name')!r}" for r in data.get("alerts", {}).get("rules", [])
             if isinstance(r, dict) and name in (r.get("channels") or [])]
    if name in (data.get("digest", {}).get("channels") or []):
        users.append("digest.channels")
    if users:
        raise ConfigError(f"{path}: channels[{index}].name: channel {name!r} is still used by {', '.join(users)}: "
                          "take it out of them first (nothing was changed)")


def entry_values(path: Path, kind: str, name: str) -> dict[str, Any]:
    """The keys of one entry as written in the file (not the loader's defaults)."""
    doc = tomlkit.parse(path.read_text(encoding="utf-8"))
    return _array(doc, KINDS[kind])[_index(doc, KINDS[kind], name)].unwrap()


def all_entries(path: Path) -> dict[str, dict[str, dict[str, Any]]]:
    """Every entry of every kind as written in the file: kind key -> name -> its keys (the audit
    log's before and after)."""
    doc = tomlkit.parse(path.read_text(encoding="utf-8"))
    return {key: {str(t.get("name", "")): _logged(key, t.unwrap()) for t in _array(doc, kind)}
            for key, kind in KINDS.items()}


def _logged(kind: str, entry: dict[str, Any]) -> dict[str, Any]:
    """An entry as the audit log keeps it: a channel's URL (often a secret: a webhook's address is
    its password) as a short hash, which still shows that it changed."""
    if kind == "channels" and entry.get("url"):
        digest = hashlib.sha256(str(entry["url"]).encode()).hexdigest()[:12]
        return {**entry, "url": f"(not shown; sha256 {digest})"}
    return entry


def entry_changes(before: Mapping[str, Mapping[str, Any]],
                  after: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, str, Any, Any]]:
    """What changed between two ``all_entries``: ``(action, name, old, new)`` per entry added, edited or
    removed, with ``action`` as the audit log names it (``settings.products.add``, ``.edit``, ``.remove``)."""
    out = []
    for kind in before:
        for name in sorted(before[kind].keys() | after.get(kind, {}).keys()):
            old, new = before[kind].get(name), after.get(kind, {}).get(name)
            if old != new:
                action = "add" if old is None else "remove" if new is None else "edit"
                out.append((f"settings.{kind}.{action}", name, old, new))
    return out


def channel_summary(channel: Channel, environ: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """Where a channel sends (recipients, or where its URL is kept: never the URL, often a secret) and
    each environment variable holding one of its secrets, with whether it is set in ``environ``."""
    secrets = [{"key": key, "env": env, "set": bool(environ.get(env))}
               for key, env in (("password_env", channel.password_env), ("url_env", channel.url_env),
                                ("secret_env", channel.secret_env)) if env]
    where = (", ".join(channel.to) if channel.type == "email" else "URL in the settings file" if channel.url
             else f"URL in ${channel.url_env}" if channel.url_env else "")
    return {"name": channel.name, "type": channel.type, "where": where, "secrets": secrets}


def add_source(path: Path, *, name: str, type: str, url: str | None = None,
               pairs: Sequence[str] = ()) -> Source:
    """Append a source to the settings file at ``path`` and return it as loaded."""
    values: dict[str, Any] = {"name": name, "type": type, "url": url or None}
    values.update(parse_pairs(pairs))
    return add_entry(path, "sources", values).source(name)


def parse_pairs(pairs: Sequence[str]) -> dict[str, Any]:
    """``KEY=VALUE`` options: the value as a TOML literal (number, boolean, array, quoted string) or plain text."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z0-9_]+", key.strip()):
            raise BadInput(f"--set {pair!r}: expected KEY=VALUE, e.g. subreddit=firefox")
        out[key.strip()] = literal(value.strip())
    return out


def literal(text: str) -> Any:
    """A TOML literal as the value it writes, else the text itself as a string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _plain(value: Any) -> Any:
    """What tomlkit writes: lists for tuples, an inline table for a mapping."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        inline = tomlkit.inline_table()
        inline.update({k: _plain(v) for k, v in value.items()})
        return inline
    return value


def _array(doc: tomlkit.TOMLDocument, kind: Kind) -> AoT:
    """The array of tables ``kind.key`` in ``doc`` (an empty one, not in ``doc``, when there is none)."""
    parent: Any = doc
    *outer, last = kind.key.split(".")
    for part in outer:
        if part not in parent:
            return tomlkit.aot()
        parent = parent[part]
        if not isinstance(parent, MutableMapping):
            raise ConfigError(f"{part}: expected a table")
    if last not in parent:
        return tomlkit.aot()
    found = parent[last]
    if not isinstance(found, AoT):
        raise ConfigError(f"{kind.key}: expected an array of tables ([[{kind.key}]]), "
                          "not an inline array: edit this file by hand")
    return found


def _index(doc: tomlkit.TOMLDocument, kind: Kind, name: str) -> int:
    """The position of the entry called ``name`` (exact, else case-folded where names fold)."""
    names = [str(t.get("name", "")) for t in _array(doc, kind)]
    if name in names:
        return names.index(name)
    if kind.fold:
        folded = [n.lower() for n in names]
        if name.lower() in folded:
            return folded.index(name.lower())
    known = ", ".join(repr(n) for n in names) or "none configured"
    raise NotFound(f"{kind.key}: no {kind.noun} named {name!r} (known: {known})", field="name")
