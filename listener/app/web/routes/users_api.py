"""Users as JSON, for admins: ``/api/users`` (list, add, change role or password, remove) and a user's API
tokens (list, issue, revoke). Each route calls the function ``listener users`` and ``/admin/users`` call
(``listener.users``), so the checks and messages are theirs: a bad name, role, label or short password
is a 400, an unknown user or label a 404, a taken name or the last admin a 409. Every change is an audit
row by the admin who made it; a password or token is never in an answer (but the new token, once) nor
in the audit log."""

from __future__ import annotations

from typing import Annotated

import sqlite_utils
from fastapi import APIRouter, Depends, Path
from fastapi.responses import Response

from listener import store, users
from listener.app.web.deps import DbDep, NowDep, require_role
from listener.app.web.models import (ROLE_ERRORS, VALUE_PATTERN, IssuedToken, NewToken, NewUser, TokenItem,
                                     UserChange, UserItem, error)
from listener.errors import NotFound
from listener.users import Principal

router = APIRouter(tags=["users"], responses=ROLE_ERRORS)
Admin = Annotated[Principal, Depends(require_role("admin"))]
UserName = Annotated[str, Path(pattern=VALUE_PATTERN, description="The user's name")]
Label = Annotated[str, Path(pattern=VALUE_PATTERN, description="The token's label")]
NO_USER = {404: error("No user of that name (`error`: `no user named 'NAME'`)")}


def _shown(u: dict) -> dict:
    """A row of ``store.users`` as a ``UserItem``."""
    return {"name": u["name"], "role": u["role"], "created": u["created_at"], "tokens": u["tokens"]}


def _item(db: sqlite_utils.Database, name: str) -> dict:
    """One user as a ``UserItem`` (``NotFound`` if there is none)."""
    for u in store.users(db):
        if u["name"] == name:
            return _shown(u)
    raise NotFound(f"no user named {name!r}")


@router.get("/api/users", response_model=list[UserItem])
def api_users(db: DbDep, admin: Admin) -> list[dict]:
    """Every user by name: role, when added and how many API tokens they hold (an admin)."""
    return [_shown(u) for u in store.users(db)]


@router.post("/api/users", response_model=UserItem, status_code=201,
             responses={400: error("A bad name, role or password (under 8 characters): `field` names it"),
                        409: error("A user of that name exists already (`field` is `name`)")})
def api_add_user(body: NewUser, db: DbDep, admin: Admin, request_now: NowDep) -> dict:
    """Add a user with a role and a password (an admin); 201 with the user (audit row `user.add`)."""
    users.add_user(db, body.name, body.role, body.password, by=admin.who, now=request_now)
    return _item(db, body.name)


@router.put("/api/users/{name}", response_model=UserItem,
            responses={**NO_USER, 400: error('A password under 8 characters, or neither "role" nor "password" '
                                             '(`field` names it); nothing was changed'),
                       409: error("The change would demote the last admin (nothing was changed)")})
def api_change_user(name: UserName, body: UserChange, db: DbDep, admin: Admin, request_now: NowDep) -> dict:
    """Change a user's role and/or password (an admin): a new role applies at once to their sessions and
    tokens, a new password ends their sessions (audit rows `user.role`, `user.passwd`); 200 with the user.
    The password is checked before anything changes."""
    if body.password is not None:
        users.check_new_password(body.password)
    if body.role is not None:
        users.set_role(db, name, body.role, by=admin.who, now=request_now)
    if body.password is not None:
        users.set_password(db, name, body.password, by=admin.who, now=request_now)
    return _item(db, name)


@router.delete("/api/users/{name}", status_code=204,
               responses={**NO_USER, 409: error("The user is the last admin: make another user an admin first")})
def api_remove_user(name: UserName, db: DbDep, admin: Admin, request_now: NowDep) -> Response:
    """Remove a user (an admin): their sessions and API tokens end (audit row `user.remove`). The last
    admin is never removed from the web, as on /admin/users."""
    users.remove_last_admin_refused(db, name)
    users.remove_user(db, name, by=admin.who, now=request_now)
    return Response(status_code=204)


@router.get("/api/users/{name}/tokens", response_model=list[TokenItem], responses=NO_USER)
def api_tokens(name: UserName, db: DbDep, admin: Admin) -> list[dict]:
    """A user's API tokens (an admin): label, when made, when last used (to the minute); never the tokens."""
    if store.get_user(db, name) is None:
        raise NotFound(f"no user named {name!r}")
    return store.tokens(db, name)


@router.post("/api/users/{name}/tokens", response_model=IssuedToken, status_code=201,
             responses={**NO_USER, 400: error("A bad label (`field` is `label`)")})
def api_issue_token(name: UserName, body: NewToken, db: DbDep, admin: Admin, request_now: NowDep) -> dict:
    """Issue a new API token for a user under ``label`` (an admin): 201 with the token, shown only now (only
    its SHA-256 is kept). It replaces their token of that label; their others stay (audit row `user.token`)."""
    token = users.issue_token(db, name, label=body.label, by=admin.who, now=request_now)
    return {"name": name, "label": body.label, "token": token}


@router.delete("/api/users/{name}/tokens/{label}", status_code=204,
               responses={404: error("No user of that name, or they have no token of that label "
                                     "(`error` lists their labels)")})
def api_revoke_token(name: UserName, label: Label, db: DbDep, admin: Admin, request_now: NowDep) -> Response:
    """Revoke a user's API token of that label (an admin): it stops working at once (audit row `user.revoke`)."""
    users.revoke_token(db, name, label, by=admin.who, now=request_now)
    return Response(status_code=204)
