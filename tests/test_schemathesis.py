"""schemathesis (``--checks all``) against a live ``listener serve`` on a small fixture database:
no server errors, no undocumented statuses, every answer as its schema says (README: API)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx
import pytest

from listener import pipeline, store, users
from listener.config import load_settings
from tests.helpers import NOW, ROOT
from tests.helpers.posts import make_posts
from tests.helpers.serve import ServeProcess

CONFIG = ROOT / "tests" / "schemathesis.toml"
TOKEN = "schemathesis-token"  # serve.token: read-only
EDITOR: dict[str, str] = {}
DB: dict[str, object] = {}   # the live server's database path
SETTINGS = """[store]
path = "site.db"

[sentiment]
model = "vader"

[serve]
token = "{token}"

[[products]]
name = "Firefox"
aliases = ["Firefox"]
ours = true

[[products]]
name = "AC/DC"
aliases = ["Chrome"]
"""


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> str:
    """``listener serve`` in a subprocess on 127.0.0.1 over 60 classified posts, with an editor whose
    API token schemathesis uses (the write operations run: saving searches is safe on this copy); its base URL."""
    folder = tmp_path_factory.mktemp("schemathesis")
    (folder / "settings.toml").write_text(SETTINGS.format(token=TOKEN), encoding="utf-8")
    settings = load_settings(folder / "settings.toml")
    db = store.open_db(settings.db_path)
    store.upsert_posts(db, make_posts(), now="2026-11-23T00:00:00Z")
    pipeline.classify(db, settings, now=NOW)
    users.add_user(db, "editor", "editor", "an editor's password", by="test", now="2026-11-23T00:00:00Z")
    EDITOR["token"] = users.issue_token(db, "editor", by="test", now="2026-11-23T00:00:00Z")
    users.add_user(db, "admin", "admin", "an admin's password", by="test", now="2026-11-23T00:00:00Z")
    EDITOR["admin"] = users.issue_token(db, "admin", by="test", now="2026-11-23T00:00:00Z")  # the users GETs only
    store.record_alert(db, rule="fx-spike", product="Firefox", condition="spike", metric="mentions",  # the inbox's alert 1
                       fired_at="2026-11-22T12:00:00Z", window_start="2026-11-21T12:00:00Z",
                       window_end="2026-11-22T12:00:00Z", value=9.0, expected=2.0, p=0.01,
                       detail={"reason": "9 mentions, expected 2", "drivers": {"terms": [["crash", 4]], "examples": [
                           {"post_id": 1, "title": "Firefox crash", "url": None, "source": "fixture",
                            "posted_at": "2026-11-22T10:00:00Z", "sentiment": -0.5, "excerpt": "crash"}]}})
    db.close()
    DB["path"] = settings.db_path
    with ServeProcess(folder / "settings.toml") as server:
        yield server.url


def test_the_api_passes_schemathesis_with_every_check(live, tmp_path):
    started = time.monotonic()
    run = subprocess.run([sys.executable, "-m", "schemathesis.cli", "--config-file", str(CONFIG), "--no-color",
                          "run", f"{live}/api/openapi.json", "--checks", "all",
                          "-H", f"Authorization: Bearer {EDITOR['token']}"],
                         capture_output=True, text=True, timeout=120, cwd=tmp_path,
                         env={**os.environ, "SCHEMATHESIS_ADMIN_TOKEN": EDITOR["admin"]})
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-6000:]
    assert "Tested: 26" in out and "No issues found" in out, out[-3000:]

    db = store.open_db(DB["path"])
    assert any(r["action"] == "alert.status" for r in store.audit_rows(db, limit=10_000))  # the PUT reached alert 1
    db.close()
    print(f"schemathesis: {time.monotonic() - started:.1f} s")


def test_the_document_names_the_bearer_scheme_enums_and_every_error(live):
    spec = httpx.get(f"{live}/api/openapi.json", headers={"Authorization": f"Bearer {TOKEN}"}).json()
    assert spec["security"] == [{"bearer": []}]
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    for path, ops in spec["paths"].items():
        for op in ops.values():
            assert {"400", "401", "500"} <= set(op["responses"]), path
            for status, answer in op["responses"].items():
                if status[0] in "45":
                    assert answer["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorBody"}
    params = {p["name"]: p["schema"] for p in spec["paths"]["/api/search"]["get"]["parameters"]}
    assert params["sort"]["enum"] == ["relevance", "date", "engagement"]
    assert {"positive", "neutral", "negative"} == set(params["sentiment"]["anyOf"][0]["enum"])
    assert spec["paths"]["/api/posts/{post_id}"]["get"]["responses"].keys() >= {"200", "404"}
    hit = spec["components"]["schemas"]["SearchHit"]["properties"]["sentiment_label"]
    assert hit["anyOf"][0]["enum"] == ["positive", "neutral", "negative", "unscored"]
