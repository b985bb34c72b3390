"""Users, their login sessions and API tokens, and the audit log.

The store keeps what it is given: password hashes (argon2id, made by ``listener.users``) and
SHA-256 digests of session ids and tokens; it never sees a password or a raw token.
"""

from __future__ import annotations

import json

import sqlite_utils

from listener.store.db import write
from listener.store.sql import rows


def users(db: sqlite_utils.Database) -> list[dict]:
    """Every user (name, role, created_at, updated_at, has_token, tokens: how many) by name; no hashes."""
    return rows(db, "SELECT u.name, u.role, u.created_at, u.updated_at, "
                    "(SELECT count(*) FROM api_tokens t WHERE t.user = u.name) AS tokens, "
                    "EXISTS (SELECT 1 FROM api_tokens t WHERE t.user = u.name) AS has_token "
                    "FROM users u ORDER BY u.name")


def get_user(db: sqlite_utils.Database, name: str) -> dict | None:
    """One user with its password hash, or None."""
    found = rows(db, "SELECT * FROM users WHERE name = ?", [name])
    return found[0] if found else None


def has_users(db: sqlite_utils.Database) -> bool:
    return db.execute("SELECT EXISTS (SELECT 1 FROM users)").fetchone()[0] == 1


def add_user(db: sqlite_utils.Database, name: str, role: str, password_hash: str, *, now: str) -> None:
    """Create a user; ``sqlite3.IntegrityError`` if the name is taken."""
    with write(db):
        db.execute("INSERT INTO users (name, role, password_hash, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
                   [name, role, password_hash, now, now])


def set_password(db: sqlite_utils.Database, name: str, password_hash: str, *, now: str) -> bool:
    """Replace a user's password hash and end every session of theirs; False if no such user."""
    with write(db):
        changed = db.conn.execute("UPDATE users SET password_hash = ?, updated_at = ? WHERE name = ?",
                                  [password_hash, now, name]).rowcount > 0
        db.execute("DELETE FROM sessions WHERE user = ?", [name])
    return changed


def remove_user(db: sqlite_utils.Database, name: str) -> bool:
    """Delete a user with their sessions and token; False if no such user."""
    with write(db):
        return db.conn.execute("DELETE FROM users WHERE name = ?", [name]).rowcount > 0


def count_admins(db: sqlite_utils.Database) -> int:
    return db.execute("SELECT count(*) FROM users WHERE role = 'admin'").fetchone()[0]


def start_session(db: sqlite_utils.Database, id_hash: str, user: str, *, now: str, expires_at: str) -> None:
    """Record a login session (also drops sessions that have expired)."""
    with write(db):
        db.execute("DELETE FROM sessions WHERE expires_at <= ?", [now])
        db.execute("INSERT INTO sessions (id_hash, user, created_at, expires_at) VALUES (?, ?, ?, ?)",
                   [id_hash, user, now, expires_at])


def session_user(db: sqlite_utils.Database, id_hash: str, *, now: str) -> dict | None:
    """The user (name, role) of an unexpired session, or None."""
    found = rows(db, "SELECT u.name, u.role FROM sessions s JOIN users u ON u.name = s.user "
                     "WHERE s.id_hash = ? AND s.expires_at > ?", [id_hash, now])
    return found[0] if found else None


def end_session(db: sqlite_utils.Database, id_hash: str) -> None:
    with write(db):
        db.execute("DELETE FROM sessions WHERE id_hash = ?", [id_hash])


def set_token(db: sqlite_utils.Database, user: str, token_hash: str, *, label: str = "default", now: str) -> None:
    """Give ``user`` this API token under ``label``, replacing (revoking) the one of that label they had;
    their tokens of other labels stay."""
    with write(db):
        db.execute("INSERT INTO api_tokens (token_hash, user, label, created_at) VALUES (?, ?, ?, ?) "
                   "ON CONFLICT(user, label) DO UPDATE SET token_hash = excluded.token_hash, "
                   "created_at = excluded.created_at, last_used_at = NULL", [token_hash, user, label, now])


def tokens(db: sqlite_utils.Database, user: str) -> list[dict]:
    """A user's API tokens (label, created_at, last_used_at), oldest first; never their hashes."""
    return rows(db, "SELECT label, created_at, last_used_at FROM api_tokens WHERE user = ? "
                    "ORDER BY created_at, label", [user])


def remove_token(db: sqlite_utils.Database, user: str, label: str) -> bool:
    """Revoke the user's token of that label; False if there is none."""
    with write(db):
        return db.conn.execute("DELETE FROM api_tokens WHERE user = ? AND label = ?", [user, label]).rowcount > 0


def token_user(db: sqlite_utils.Database, token_hash: str) -> dict | None:
    """The user (name, role) an API token belongs to, with the token's label and last use; or None."""
    found = rows(db, "SELECT u.name, u.role, t.label, t.last_used_at FROM api_tokens t "
                     "JOIN users u ON u.name = t.user WHERE t.token_hash = ?", [token_hash])
    return found[0] if found else None


def token_used(db: sqlite_utils.Database, token_hash: str, *, now: str) -> None:
    """Record that a token was used now."""
    with write(db):
        db.execute("UPDATE api_tokens SET last_used_at = ? WHERE token_hash = ?", [now, token_hash])


def audit(db: sqlite_utils.Database, *, who: str, action: str, target: str, before: object = None,
          after: object = None, now: str, undo: object = None) -> int:
    """Record one change: who made it, when, what (``action`` on ``target``), and the state before
    and after as JSON (None: did not exist); ``undo``: what restoring the state before it takes (None: it
    cannot be undone). The row's id. Call it inside the change's own transaction when there is one."""
    dump = lambda v: None if v is None else json.dumps(v, sort_keys=True, ensure_ascii=False)  # noqa: E731
    with write(db):
        return db.conn.execute(
            "INSERT INTO audit_log (at, who, action, target, before, after, undo) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [now, who, action, target, dump(before), dump(after), dump(undo)]).lastrowid


def _parsed(found: list[dict]) -> list[dict]:
    for r in found:
        for key in ("before", "after", "undo"):
            r[key] = None if r.get(key) is None else json.loads(r[key])
    return found


def audit_entry(db: sqlite_utils.Database, entry_id: int) -> dict | None:
    """One audit row (``before``/``after``/``undo`` parsed), or None."""
    found = _parsed(rows(db, "SELECT * FROM audit_log WHERE id = ?", [entry_id]))
    return found[0] if found else None


def post_changes(db: sqlite_utils.Database, post_id: int) -> list[dict]:
    """The audit rows of a post's changes, oldest first: its topics (target ``post N``) and its mentions
    (``post N / PRODUCT``)."""
    prefix = f"post {post_id} /"
    return _parsed(rows(db, "SELECT * FROM audit_log WHERE target = ? OR (target >= ? AND target < ?) ORDER BY id",
                        [f"post {post_id}", prefix + " ", prefix + "!"]))


def later_changes(db: sqlite_utils.Database, target: str, after_id: int) -> list[dict]:
    """The undoable changes of ``target`` made after row ``after_id`` and not undone, oldest first."""
    return _parsed(rows(db, "SELECT * FROM audit_log WHERE target = ? AND id > ? AND undo IS NOT NULL "
                            "AND undone_by IS NULL ORDER BY id", [target, after_id]))


def set_undone(db: sqlite_utils.Database, entry_id: int, by_id: int) -> None:
    """Record that audit row ``by_id`` undid row ``entry_id``."""
    with write(db):
        db.execute("UPDATE audit_log SET undone_by = ? WHERE id = ?", [by_id, entry_id])


def audit_rows(db: sqlite_utils.Database, *, limit: int = 100, before_id: int | None = None) -> list[dict]:
    """The newest audit rows first (older than ``before_id`` when given), ``before``/``after`` parsed."""
    found = rows(db, "SELECT * FROM audit_log WHERE id < ? ORDER BY id DESC LIMIT ?",
                 [before_id if before_id is not None else 2**63 - 1, limit])
    return _parsed(found)


def last_query_change(db: sqlite_utils.Database, product: str) -> str | None:
    """When ``product``'s aliases or excludes last changed through the settings editor (its audit rows:
    added, or edited with other aliases/exclude), or None when the audit log has no such change or a
    re-tag of the product started after it finished ok (every post it affects was classified again)."""
    found = query_change(db, product)
    return None if found is None else found["at"]


def query_change(db: sqlite_utils.Database, product: str) -> dict | None:
    """The last change of ``product``'s aliases or excludes not re-tagged since (see ``last_query_change``):
    {at, before, after} (the product's settings entries; ``before`` None when it was added), or None."""
    for r in rows(db, "SELECT at, before, after FROM audit_log WHERE target = ? AND action IN "
                      "('settings.products.add', 'settings.products.edit') ORDER BY id DESC", [product]):
        old, new = (json.loads(r[k]) if r[k] else {} for k in ("before", "after"))
        if any(old.get(k) != new.get(k) for k in ("aliases", "exclude")):
            retagged = db.execute("SELECT EXISTS (SELECT 1 FROM runs WHERE kind = 'retag' AND status = 'ok' "
                                  "AND json_extract(detail, '$.product') = ? AND started_at >= ?)",
                                  [product, r["at"]]).fetchone()[0]
            return None if retagged else {"at": r["at"], "before": json.loads(r["before"]) if r["before"] else None,
                                          "after": new}
    return None


def set_role(db: sqlite_utils.Database, name: str, role: str, *, now: str) -> bool:
    """Change a user's role (their sessions and token take it at once); False if no such user."""
    with write(db):
        return db.conn.execute("UPDATE users SET role = ?, updated_at = ? WHERE name = ?",
                               [role, now, name]).rowcount > 0
