"""Users and roles (README: Users and roles): the `listener users` commands on a real SQLite file,
logins as each role through the web form, 403 for a lower role, CSRF, API tokens, sessions that end,
and the audit log."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from click.testing import CliRunner
import uvicorn
from fastapi.testclient import TestClient

from listener import store
from listener.app.cli import cli, cli_user
from listener.app.web import create_app
from listener.config import load_settings
from tests.helpers.web import csrf_of, login

SETTINGS = '[store]\npath = "site.db"\n\n[serve]\ntoken = "legacy-token"\n'
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
PASSWORDS = {"maria": "maria's password", "ed": "ed's password1", "vic": "vic's password"}


def run(settings, *args: str, input: str | None = None):
    return CliRunner().invoke(cli, ["--config", str(settings.path), "--now", "2026-11-23T12:00:00Z", *args],
                              input=input)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A store made by `init-db` (so it has its first admin), with an admin, an editor and a viewer."""
    folder = tmp_path_factory.mktemp("users")
    (folder / "settings.toml").write_text(SETTINGS, encoding="utf-8")
    settings = load_settings(folder / "settings.toml")
    first = run(settings, "init-db")
    assert first.exit_code == 0 and "Created the first user, 'admin' (role admin), with the password " in first.output
    for name, role in (("maria", "admin"), ("ed", "editor"), ("vic", "viewer")):
        r = run(settings, "users", "add", name, "--role", role, "--password-stdin", input=PASSWORDS[name] + "\n")
        assert r.exit_code == 0 and f"Added user {name!r} ({role})." in r.output, r.output
    PASSWORDS["admin"] = first.output.split("with the password ", 1)[1].split()[0]
    return settings


def client(settings, now=lambda: NOW) -> TestClient:
    return TestClient(create_app(settings, token="legacy-token", today=lambda: date(2026, 11, 23), now=now),
                      follow_redirects=False)


def test_the_users_commands_on_a_real_store(site):
    assert "Created the first user" not in run(site, "init-db").output  # only when there is none
    listing = run(site, "users", "list").output
    for name, role in (("admin", "admin"), ("maria", "admin"), ("ed", "editor"), ("vic", "viewer")):
        assert f"│ {name} " in listing and role in listing
    refused = {("users", "add", "ed", "--role", "viewer", "--password-stdin"): "a user named 'ed' exists already",
               ("users", "add", "bob", "--role", "viewer", "--password-stdin"): "password: at least 8 characters",
               ("users", "add", "bob b", "--role", "viewer"): "user name: 1-64 letters",
               ("users", "add", "bob", "--role", "boss"): "'boss' is not one of 'viewer', 'editor', 'admin'",
               ("users", "passwd", "nobody", "--password-stdin"): "no user named 'nobody'",
               ("users", "token", "nobody"): "no user named 'nobody'"}
    for args, message in refused.items():
        r = run(site, *args, input="short\n")
        assert r.exit_code == 2 and message in r.output and "Traceback" not in r.output, (args, r.output)
    db = store.open_db(site.db_path)
    assert store.get_user(db, "ed")["password_hash"].startswith("$argon2id$")  # never the password
    assert PASSWORDS["ed"] not in str(store.rows(db, "SELECT * FROM users"))
    actions = [(r["who"], r["action"], r["target"]) for r in reversed(store.audit_rows(db))]
    assert actions[:4] == [("init-db", "user.add", "admin"), (cli_user(), "user.add", "maria"),
                           (cli_user(), "user.add", "ed"), (cli_user(), "user.add", "vic")]
    assert store.audit_rows(db)[0]["after"] == {"name": "vic", "role": "viewer"}


def test_a_user_is_removed_but_never_the_last_admin_while_others_remain(site):
    assert login(client(site), name="admin", password=PASSWORDS["admin"]).status_code == 303  # the printed one
    r = run(site, "users", "add", "temp", "--role", "admin", "--password-stdin", input="temporary1\n")
    assert r.exit_code == 0
    assert run(site, "users", "remove", "temp").exit_code == 0
    assert run(site, "users", "remove", "temp").exit_code == 2
    db = store.open_db(site.db_path)
    assert store.audit_rows(db, limit=1)[0]["before"] == {"name": "temp", "role": "admin"}
    # the last-admin rule: of the two admins left (admin, maria) the second cannot go while others remain
    assert run(site, "users", "remove", "admin").exit_code == 0
    r = run(site, "users", "remove", "maria")
    assert r.exit_code == 2 and "'maria' is the last admin" in r.output
    r = run(site, "users", "add", "admin", "--role", "admin", "--password-stdin", input="the admin again\n")
    assert r.exit_code == 0


def test_each_role_logs_in_and_a_lower_role_gets_403(site):
    for name, can_save, can_audit in (("maria", True, True), ("ed", True, False), ("vic", False, False)):
        c = client(site)
        assert login(c, name=name, password="wrong password").status_code == 403
        r = login(c, name=name, password=PASSWORDS[name])
        assert r.status_code == 303 and r.headers["location"] == "/search", name
        assert c.get("/search").status_code == 200 and c.get("/api/stats").status_code == 200
        saved = c.post("/api/saved-searches", json={"name": f"by {name}", "query": "firefox AND crash*"})
        if can_save:
            assert saved.status_code == 201 and saved.json()["owner"] == name, saved.text
        else:
            assert (saved.status_code, saved.json()) == (403, {"error": "this needs the editor role: vic is a viewer"})
        page = c.get("/admin/audit")
        assert page.status_code == (200 if can_audit else 403), name
        if not can_audit:
            assert "this needs the admin role" in page.text
    c = client(site)
    login(c, name="maria", password=PASSWORDS["maria"])
    page = c.get("/admin/audit").text
    assert "saved_search.save" in page and "by ed" in page and "firefox AND crash*" in page


def test_form_posts_without_the_csrf_token_are_refused(site):
    c = client(site)
    form = c.get("/login")
    token = csrf_of(form.text)
    assert "listener_csrf=" in form.headers["set-cookie"] and "samesite=strict" in form.headers["set-cookie"].lower()
    for data in ({"name": "ed", "password": PASSWORDS["ed"]}, {"name": "ed", "password": PASSWORDS["ed"], "csrf": "x"}):
        r = c.post("/login", data=data)
        assert r.status_code == 403 and "missing or wrong CSRF token" in r.text and "set-cookie" not in r.headers
    other = TestClient(create_app(site, token="legacy-token"), follow_redirects=False)  # the field without the cookie
    assert other.post("/login", data={"name": "ed", "password": PASSWORDS["ed"], "csrf": token}).status_code == 403
    assert c.post("/login", data={"name": "ed", "password": PASSWORDS["ed"], "csrf": token}).status_code == 303


def test_api_tokens_by_role_and_the_read_only_legacy_token(site):
    issued = run(site, "users", "token", "ed")
    token = issued.stdout.strip()
    assert issued.exit_code == 0 and len(token) >= 40 and "shown only now" in issued.stderr
    db = store.open_db(site.db_path)
    assert token not in str(store.rows(db, "SELECT * FROM api_tokens"))  # only its hash is kept
    c = client(site)
    bearer = {"Authorization": f"Bearer {token}"}
    r = c.post("/api/saved-searches", json={"name": "by token", "query": "chrome"}, headers=bearer)
    assert r.status_code == 201 and r.json()["owner"] == "ed"
    assert c.delete("/api/saved-searches/by%20token", headers=bearer).status_code == 204
    assert c.delete("/api/saved-searches/by%20token", headers=bearer).json() == {"error": "no saved search named 'by token'"}
    assert store.audit_rows(db, limit=1)[0]["before"] == {"owner": "ed", "query": "chrome"}
    legacy = {"Authorization": "Bearer legacy-token"}
    assert c.get("/api/saved-searches", headers=legacy).status_code == 200
    r = c.post("/api/saved-searches", json={"name": "x", "query": "x"}, headers=legacy)
    assert (r.status_code, r.json()) == (403, {"error": "this needs the editor role: serve.token is read-only"})
    assert run(site, "users", "token", "ed").exit_code == 0  # a new one revokes the old
    assert c.get("/api/stats", headers=bearer).status_code == 401


def test_a_user_has_several_labelled_tokens_each_listed_with_its_last_use_and_revoked_alone(site):
    ci = run(site, "users", "token", "vic", "--label", "ci").stdout.strip()
    laptop = run(site, "users", "token", "vic", "--label", "laptop").stdout.strip()
    plain = run(site, "users", "token", "vic").stdout.strip()  # the label 'default', as before labels
    now = [NOW]
    c = client(site, now=lambda: now[0])
    for token in (ci, laptop, plain):
        assert c.get("/api/stats", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    now[0] += timedelta(seconds=30)  # the same minute: not written again
    assert c.get("/api/stats", headers={"Authorization": f"Bearer {ci}"}).status_code == 200
    listing = run(site, "users", "tokens", "vic").output
    assert [line.split("│")[1].strip() for line in listing.splitlines() if line.startswith("│")] == \
        ["ci", "default", "laptop"] and listing.count("2026-11-23T12:00:00Z") == 6 and ci not in listing
    assert "│ vic   │ viewer │ 3 " in run(site, "users", "list").output
    r = run(site, "users", "revoke", "vic", "ci")
    assert r.exit_code == 0 and "Revoked the API token 'ci' of 'vic'." in r.output
    assert c.get("/api/stats", headers={"Authorization": f"Bearer {ci}"}).status_code == 401
    assert c.get("/api/stats", headers={"Authorization": f"Bearer {laptop}"}).status_code == 200  # the others stay
    r = run(site, "users", "revoke", "vic", "ci")
    assert r.exit_code == 2 and "'vic' has no API token labelled 'ci' (theirs: 'default', 'laptop')" in r.output
    assert "token label: 1-64 letters" in run(site, "users", "token", "vic", "--label", "a/b").output
    db = store.open_db(site.db_path)
    rows = [(r["action"], r["before"], r["after"]) for r in store.audit_rows(db, limit=2)]
    assert rows == [("user.revoke", {"label": "ci"}, None), ("user.token", None, {"label": "default"})]


def test_sessions_end_at_logout_password_change_and_expiry(site):
    now = [NOW]
    c = client(site, now=lambda: now[0])
    login(c, name="vic", password=PASSWORDS["vic"])
    cookie = c.cookies["listener_session"]
    assert c.get("/api/stats").status_code == 200
    assert c.post("/logout").status_code == 403  # without the CSRF field: refused, still logged in
    assert c.get("/api/stats").status_code == 200
    assert c.post("/logout", data={"csrf": csrf_of(c.get("/logout").text)}).status_code == 303
    kept = client(site)
    kept.cookies.set("listener_session", cookie)  # a copy of the cookie kept past logout: dead, the row is gone
    assert kept.get("/api/stats").status_code == 401
    login(c, name="vic", password=PASSWORDS["vic"])
    now[0] += timedelta(hours=11, minutes=59)
    assert c.get("/api/stats").status_code == 200
    now[0] += timedelta(minutes=2)
    assert c.get("/api/stats").status_code == 401 and c.get("/search").headers["location"] == "/login"
    now[0] = NOW
    login(c, name="vic", password=PASSWORDS["vic"])
    assert run(site, "users", "passwd", "vic", "--password-stdin", input=PASSWORDS["vic"] + "\n").exit_code == 0
    assert c.get("/api/stats").status_code == 401


def test_without_users_or_a_token_the_site_is_open_and_changes_are_audited_as_local(tmp_path, monkeypatch):
    (tmp_path / "settings.toml").write_text('[store]\npath = "open.db"\n', encoding="utf-8")
    settings = load_settings(tmp_path / "settings.toml")
    c = TestClient(create_app(settings, now=lambda: NOW))
    assert c.post("/api/saved-searches", json={"name": "open", "query": "firefox"}).status_code == 201
    db = store.open_db(settings.db_path)
    assert store.audit_rows(db)[0]["who"] == "local"
    assert run(settings, "users", "add", "ann", "--role", "viewer", "--password-stdin",
               input="ann's password\n").exit_code == 0
    assert c.get("/api/stats").status_code == 401  # a user now exists: no restart needed to close the site

    started = []
    monkeypatch.delenv("LISTENER_API_TOKEN", raising=False)
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: started.append(kw["host"]))  # checked, not listening
    r = run(settings, "-q", "serve", "--host", "0.0.0.0")
    assert r.exit_code == 0 and started == ["0.0.0.0"], r.output  # users exist: no token needed


def test_pages_show_who_is_logged_in_and_a_logout_form(site, tmp_path):
    c = client(site)
    assert 'id="me"' not in c.get("/login").text
    login(c, name="ed", password=PASSWORDS["ed"])
    for path in ("/search", "/manage/products", "/no-such-page"):  # the error page too
        html = c.get(path).text
        assert '<span id="me" title="logged in as ed, role editor">ed <small>(editor)</small></span>' in html, path
        assert '<form method="post" action="/logout" class="logout">' in html and csrf_of(html) == c.cookies["listener_csrf"]
    r = c.post("/logout", data={"csrf": csrf_of(c.get("/search").text)})
    assert (r.status_code, r.headers["location"]) == (303, "/login")
    assert c.get("/search").headers["location"] == "/login"  # the session is over
    token = client(site)
    login(token, token="legacy-token")
    assert '<span id="me" title="logged in as token, role viewer">' in token.get("/search").text
    (tmp_path / "settings.toml").write_text('[store]\npath = "open.db"\n', encoding="utf-8")
    opened = TestClient(create_app(load_settings(tmp_path / "settings.toml"), now=lambda: NOW))
    html = opened.get("/search").text  # an open site: nobody to name, nothing to log out of
    assert opened.get("/search").status_code == 200 and 'id="me"' not in html and "/logout" not in html


def root_and_ed(tmp_path):
    """A store without a token, with an admin (root) and an editor (ed); its settings and an open connection."""
    from listener import users

    (tmp_path / "settings.toml").write_text('[store]\npath = "site.db"\n', encoding="utf-8")
    settings = load_settings(tmp_path / "settings.toml")
    db = store.open_db(settings.db_path)
    users.add_user(db, "root", "admin", "root's password", by="test", now="2026-11-23T00:00:00Z")
    users.add_user(db, "ed", "editor", PASSWORDS["ed"], by="test", now="2026-11-23T00:00:00Z")
    return settings, db


def test_the_admin_users_page_adds_changes_roles_and_removes_but_keeps_the_last_admin(tmp_path):
    settings, db = root_and_ed(tmp_path)
    db.close()
    c = TestClient(create_app(settings, today=lambda: date(2026, 11, 23), now=lambda: NOW), follow_redirects=False)
    assert login(c, name="ed", password=PASSWORDS["ed"]).status_code == 303
    assert c.get("/admin/users").status_code == 403
    r = c.post("/admin/users", data={"do": "remove", "name": "root", "csrf": csrf_of(c.get("/login").text)})
    assert r.status_code == 403 and "this needs the admin role" in r.text
    c = TestClient(create_app(settings, today=lambda: date(2026, 11, 23), now=lambda: NOW), follow_redirects=False)
    assert login(c, name="root", password="root's password").status_code == 303
    page = c.get("/admin/users").text
    assert "root (you)" in page and ">ed<" in page
    csrf = csrf_of(page)
    assert c.post("/admin/users", data={"do": "add", "name": "newbie", "role": "viewer",
                                        "password": "newbie's pw"}).status_code == 403   # no CSRF token
    r = c.post("/admin/users", data={"do": "add", "name": "newbie", "role": "viewer", "password": "newbie's pw",
                                     "csrf": csrf})
    assert r.status_code == 303 and r.headers["location"] == "/admin/users?done=added"
    assert "User added." in c.get(r.headers["location"]).text
    for form, message in (({"do": "add", "name": "bob", "role": "viewer", "password": "short"}, "at least 8"),
                          ({"do": "add", "name": "newbie", "role": "viewer", "password": "long enough"}, "exists already"),
                          ({"do": "role", "name": "ed", "role": "boss"}, "role: one of viewer, editor, admin"),
                          ({"do": "role", "name": "root", "role": "editor"}, "&#39;root&#39; is the last admin"),
                          ({"do": "remove", "name": "root"}, "&#39;root&#39; is the last admin"),
                          ({"do": "remove", "name": "nobody"}, "no user named"),
                          ({"do": "explode"}, "do: one of add, role, remove")):
        r = c.post("/admin/users", data={**form, "csrf": csrf})
        assert r.status_code in (400, 404, 409) and message in r.text and 'role="alert"' in r.text, (form, r.text[-800:])
    r = c.post("/admin/users", data={"do": "role", "name": "ed", "role": "admin", "csrf": csrf})
    assert r.status_code == 303 and r.headers["location"] == "/admin/users?done=role"
    r = c.post("/admin/users", data={"do": "remove", "name": "newbie", "csrf": csrf})
    assert r.status_code == 303 and r.headers["location"] == "/admin/users?done=removed"
    r = run(settings, "users", "role", "ed", "editor")   # the CLI does the same
    assert r.exit_code == 0 and "'ed' now has the role editor." in r.output, r.output
    r = run(settings, "users", "role", "root", "viewer")
    assert r.exit_code == 2 and "'root' is the last admin" in r.output
    db = store.open_db(settings.db_path)
    try:
        assert [(u["name"], u["role"]) for u in store.users(db)] == [("ed", "editor"), ("root", "admin")]
        audited = [(a["who"], a["action"], a["target"], a["after"]) for a in store.audit_rows(db, limit=4)]
        assert audited == [(cli_user(), "user.role", "ed", {"name": "ed", "role": "editor"}),
                           ("root", "user.remove", "newbie", None),
                           ("root", "user.role", "ed", {"name": "ed", "role": "admin"}),
                           ("root", "user.add", "newbie", {"name": "newbie", "role": "viewer"})]
    finally:
        db.close()


def test_the_users_api_for_admins_with_the_cli_s_checks_and_audit(tmp_path):
    from listener import users

    settings, db = root_and_ed(tmp_path)
    root = {"Authorization": "Bearer " + users.issue_token(db, "root", by="test", now="2026-11-23T00:00:00Z")}
    ed = {"Authorization": "Bearer " + users.issue_token(db, "ed", by="test", now="2026-11-23T00:00:00Z")}
    c = TestClient(create_app(settings, now=lambda: NOW), headers=root)
    for method, path in (("GET", "/api/users"), ("POST", "/api/users"), ("PUT", "/api/users/ed"),
                         ("DELETE", "/api/users/ed"), ("GET", "/api/users/ed/tokens"),
                         ("POST", "/api/users/ed/tokens"), ("DELETE", "/api/users/ed/tokens/default")):
        r = c.request(method, path, headers=ed, json={"role": "admin"})
        assert (r.status_code, r.json()) == (403, {"error": "this needs the admin role: ed is a editor"}), path
    assert c.get("/api/users").json() == [
        {"name": "ed", "role": "editor", "created": "2026-11-23T00:00:00Z", "tokens": 1},
        {"name": "root", "role": "admin", "created": "2026-11-23T00:00:00Z", "tokens": 1}]
    r = c.post("/api/users", json={"name": "newbie", "role": "viewer", "password": "newbie's pw"})
    assert (r.status_code, r.json()) == (201, {"name": "newbie", "role": "viewer", "created": "2026-11-23T12:00:00Z",
                                               "tokens": 0})
    refused = [("POST", "/api/users", {"name": "newbie", "role": "viewer", "password": "long enough"},
                409, "a user named 'newbie' exists already", "name"),
               ("POST", "/api/users", {"name": "bob", "role": "viewer", "password": "short"},
                400, "password: at least 8 characters", "password"),
               ("POST", "/api/users", {"name": "bob b", "role": "viewer", "password": "long enough"},
                400, "user name: 1-64 letters", "name"),
               ("POST", "/api/users", {"name": "bob", "role": "boss", "password": "long enough"}, 400, "role", "role"),
               ("PUT", "/api/users/root", {"role": "editor"}, 409, "'root' is the last admin", "role"),
               ("PUT", "/api/users/nobody", {"role": "viewer"}, 404, "no user named 'nobody'", None),
               ("PUT", "/api/users/newbie", {"role": "admin", "password": "short"}, 400, "at least 8", "password"),
               ("PUT", "/api/users/newbie", {}, 400, 'give "role", "password" or both', None),
               ("PUT", "/api/users/newbie", {"role": None}, 400, "role: Input should be 'viewer'", "role"),
               ("DELETE", "/api/users/root", None, 409, "'root' is the last admin", "name"),
               ("DELETE", "/api/users/nobody", None, 404, "no user named 'nobody'", None),
               ("GET", "/api/users/nobody/tokens", None, 404, "no user named 'nobody'", None),
               ("POST", "/api/users/newbie/tokens", {"label": "a/b"}, 400, "token label: 1-64", "label"),
               ("POST", "/api/users/nobody/tokens", {"label": "ci"}, 404, "no user named 'nobody'", None),
               ("DELETE", "/api/users/newbie/tokens/ci", None, 404, "'newbie' has no API token labelled 'ci'", None)]
    for method, path, body, status, message, field in refused:
        r = c.request(method, path, json=body)
        assert r.status_code == status and message in r.json()["error"], (method, path, body, r.text)
        assert field is None or r.json()["field"] == field, r.json()
    assert c.get("/api/users").json()[1]["role"] == "viewer"  # the refused PUT with a short password changed nothing
    r = c.put("/api/users/newbie", json={"role": "editor", "password": "a new password"})
    assert (r.status_code, r.json()["role"]) == (200, "editor")
    assert users.check_password(db, "newbie", "a new password") is not None
    r = c.post("/api/users/newbie/tokens", json={"label": "ci"})
    token = r.json()["token"]
    assert r.status_code == 201 and r.json()["label"] == "ci" and len(token) >= 40
    assert c.get("/api/stats", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert [t["label"] for t in c.get("/api/users/newbie/tokens").json()] == ["ci"]
    assert token not in c.get("/api/users/newbie/tokens").text
    assert c.delete("/api/users/newbie/tokens/ci").status_code == 204
    assert c.get("/api/stats", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert c.delete("/api/users/newbie").status_code == 204
    assert [u["name"] for u in c.get("/api/users").json()] == ["ed", "root"]
    audited = [(a["who"], a["action"], a["target"]) for a in store.audit_rows(db, limit=6)]
    assert audited == [("root", "user.remove", "newbie"), ("root", "user.revoke", "newbie"),
                       ("root", "user.token", "newbie"), ("root", "user.passwd", "newbie"),
                       ("root", "user.role", "newbie"), ("root", "user.add", "newbie")]
    log = str(store.rows(db, "SELECT * FROM audit_log"))
    assert "newbie's pw" not in log and "a new password" not in log and token not in log
    db.close()

    spec = c.get("/api/openapi.json").json()
    ops = spec["paths"]
    assert set(ops["/api/users"]["post"]["responses"]) == {"201", "400", "401", "403", "409", "500"}
    assert set(ops["/api/users/{name}"]["put"]["responses"]) == {"200", "400", "401", "403", "404", "409", "500"}
    assert set(ops["/api/users/{name}"]["delete"]["responses"]) == {"204", "400", "401", "403", "404", "409", "500"}
    assert set(ops["/api/users/{name}/tokens/{label}"]["delete"]["responses"]) >= {"204", "403", "404"}
    schemas = spec["components"]["schemas"]
    assert schemas["NewUser"]["properties"]["role"]["enum"] == ["viewer", "editor", "admin"]
    assert schemas["NewUser"]["properties"]["password"]["writeOnly"] is True
    assert "password" not in schemas["UserItem"]["properties"]
