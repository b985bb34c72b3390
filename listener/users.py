"""Users and roles: adding, changing and removing users, API tokens, login sessions.

Roles rank ``viewer`` < ``editor`` < ``admin``: a viewer reads, searches and exports; an editor
also changes what is tracked and saved searches; an admin also manages users and sees the audit
log. Passwords are hashed with argon2id (argon2-cffi, OWASP's parameters); session ids and API tokens are random
(``secrets``) and stored as their SHA-256, which is enough for a 256-bit random value. Every
change is written to the audit log (``store.audit``) with who made it.
"""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
import sqlite3
from dataclasses import dataclass

import sqlite_utils
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from listener import store
from listener.errors import BadInput, Conflict, NotFound

ROLES = ("viewer", "editor", "admin")
RANK = {role: i for i, role in enumerate(ROLES)}
MIN_PASSWORD = 8
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")
FIRST_ADMIN = "admin"
LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _.@-]{0,63}")
DEFAULT_LABEL = "default"  # a token issued without a label (before labels, each user had one)
# OWASP's argon2id minimum (19 MiB, 2 passes, 1 lane): ~0.1 s a login on a small server, where
# argon2-cffi's default (64 MiB, 3 passes, 4 lanes) takes ~0.5 s on two busy cores. The parameters
# are kept in each hash, so raising them later still verifies the old ones.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


@dataclass(frozen=True)
class Principal:
    """Who a request or command acts as: a user's ``name`` (None for the legacy token or an open
    site), their ``role``, and ``via`` (session, token, legacy-token, open)."""

    name: str | None
    role: str
    via: str

    @property
    def who(self) -> str:
        """The name the audit log records."""
        return self.name or {"legacy-token": "token", "open": "local"}.get(self.via, self.via)

    def can(self, role: str) -> bool:
        return RANK[self.role] >= RANK[role]


def digest(secret: str) -> str:
    """SHA-256 of a session id or token, as stored."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret() -> str:
    """A random URL-safe secret of 256 bits (a session id, an API token, a first password)."""
    return secrets.token_urlsafe(32)


def check_name(name: str) -> str:
    if not NAME.fullmatch(name):
        raise BadInput(f"user name: 1-64 letters, digits or _ . @ - (starting with a letter or digit), got {name!r}",
                       field="name")
    return name


def check_role(role: str) -> str:
    if role not in RANK:
        raise BadInput(f"role: one of {', '.join(ROLES)}, got {role!r}", field="role")
    return role


def check_new_password(password: str) -> str:
    """``BadInput`` for a password too short to be set."""
    if len(password) < MIN_PASSWORD:
        raise BadInput(f"password: at least {MIN_PASSWORD} characters", field="password")
    return password


def hash_password(password: str) -> str:
    return _hasher.hash(check_new_password(password))


def _public(user: dict) -> dict:
    return {"name": user["name"], "role": user["role"]}


def add_user(db: sqlite_utils.Database, name: str, role: str, password: str, *, by: str, now: str) -> None:
    """Create user ``name`` with ``role``; ``BadInput`` for a bad name, role or short password, ``Conflict`` for a taken name."""
    check_name(name), check_role(role)
    hashed = hash_password(password)
    try:
        with store.write(db):
            store.add_user(db, name, role, hashed, now=now)
            store.audit(db, who=by, action="user.add", target=name, after={"name": name, "role": role}, now=now)
    except sqlite3.IntegrityError:
        raise Conflict(f"a user named {name!r} exists already (change the password with `listener users passwd`)",
                       field="name") from None


def set_password(db: sqlite_utils.Database, name: str, password: str, *, by: str, now: str) -> None:
    """Change a user's password; ends every session of theirs."""
    hashed = hash_password(password)
    with store.write(db):
        if not store.set_password(db, name, hashed, now=now):
            raise NotFound(f"no user named {name!r}", exit_code=2)
        store.audit(db, who=by, action="user.passwd", target=name, now=now)


def remove_user(db: sqlite_utils.Database, name: str, *, by: str, now: str) -> None:
    """Remove a user (their sessions and tokens end); refuses to remove the last admin while others remain."""
    with store.write(db):
        user = store.get_user(db, name)
        if user is None:
            raise NotFound(f"no user named {name!r}", exit_code=2)
        if user["role"] == "admin" and store.count_admins(db) == 1 and len(store.users(db)) > 1:
            raise Conflict(f"{name!r} is the last admin: make another user an admin first", field="name")
        store.remove_user(db, name)
        store.audit(db, who=by, action="user.remove", target=name, before=_public(user), now=now)


def set_role(db: sqlite_utils.Database, name: str, role: str, *, by: str, now: str) -> None:
    """Change a user's role; refuses to demote the last admin."""
    check_role(role)
    with store.write(db):
        user = store.get_user(db, name)
        if user is None:
            raise NotFound(f"no user named {name!r}", exit_code=2)
        if user["role"] == role:
            return
        if user["role"] == "admin" and store.count_admins(db) == 1:
            raise Conflict(f"{name!r} is the last admin: make another user an admin first", field="role")
        store.set_role(db, name, role, now=now)
        store.audit(db, who=by, action="user.role", target=name, before=_public(user),
                    after={"name": name, "role": role}, now=now)


def remove_last_admin_refused(db: sqlite_utils.Database, name: str) -> None:
    """``Conflict`` when ``name`` is the only admin (the web never removes it, even as the only user)."""
    user = store.get_user(db, name)
    if user is not None and user["role"] == "admin" and store.count_admins(db) == 1:
        raise Conflict(f"{name!r} is the last admin: make another user an admin first", field="name")


def check_label(label: str) -> str:
    if not LABEL.fullmatch(label):
        raise BadInput(f"token label: 1-64 letters, digits, spaces or _ . @ - (starting with a letter or digit), "
                       f"got {label!r}", field="label")
    return label


def issue_token(db: sqlite_utils.Database, name: str, *, label: str = DEFAULT_LABEL, by: str, now: str) -> str:
    """A new API token for ``name`` under ``label`` (replacing their token of that label; their others
    stay), returned once; only its hash is kept."""
    check_label(label)
    token = new_secret()
    with store.write(db):
        if store.get_user(db, name) is None:
            raise NotFound(f"no user named {name!r}", exit_code=2)
        store.set_token(db, name, digest(token), label=label, now=now)
        store.audit(db, who=by, action="user.token", target=name, after={"label": label}, now=now)
    return token


def revoke_token(db: sqlite_utils.Database, name: str, label: str, *, by: str, now: str) -> None:
    """Revoke ``name``'s token of that label (it stops working at once)."""
    with store.write(db):
        if store.get_user(db, name) is None:
            raise NotFound(f"no user named {name!r}", exit_code=2)
        if not store.remove_token(db, name, label):
            known = ", ".join(repr(t["label"]) for t in store.tokens(db, name)) or "none"
            raise NotFound(f"{name!r} has no API token labelled {label!r} (theirs: {known})", exit_code=2)
        store.audit(db, who=by, action="user.revoke", target=name, before={"label": label}, now=now)


def ensure_first_admin(db: sqlite_utils.Database, *, now: str) -> str | None:
    """When there is no user at all, create ``admin`` with a random password and return that
    password (to be shown once); else None."""
    if store.has_users(db):
        return None
    password = new_secret()[:20]
    add_user(db, FIRST_ADMIN, "admin", password, by="init-db", now=now)
    return password


def check_password(db: sqlite_utils.Database, name: str, password: str) -> Principal | None:
    """The user if ``password`` is theirs, else None (an unknown name costs a hash too, so it takes as long)."""
    user = store.get_user(db, name)
    try:
        if user is None:
            _hasher.verify(_dummy_hash(), password)
            return None
        _hasher.verify(user["password_hash"], password)
    except (VerificationError, InvalidHashError):
        return None
    return Principal(user["name"], user["role"], "session")


def token_principal(db: sqlite_utils.Database, token: str, *, now: str | None = None) -> Principal | None:
    """The user an API token belongs to, or None. With ``now`` (ISO UTC) the token's last use is
    recorded, at most once a minute (a write per request would contend with the daemon's); a
    database that cannot take the write does not fail the request."""
    hashed = digest(token)
    user = store.token_user(db, hashed)
    if user is None:
        return None
    if now is not None and (user["last_used_at"] or "")[:16] != now[:16]:
        try:
            store.token_used(db, hashed, now=now)
        except sqlite3.Error:
            pass
    return Principal(user["name"], user["role"], "token")


def session_principal(db: sqlite_utils.Database, session_id: str, *, now: str) -> Principal | None:
    user = store.session_user(db, digest(session_id), now=now)
    return Principal(user["name"], user["role"], "session") if user else None


@functools.cache
def _dummy_hash() -> str:
    return _hasher.hash("not anyone's password")
