"""`listener label`, `undo` and `history` go through the same change log as the web (listener.labels): a
CLI relabel shows in the web's history as made by cli:OSUSER and is undone there, a web change is undone
from the CLI, and a superseded change is refused with one line. CliRunner and TestClient on one small real
SQLite store."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from listener import pipeline, store, users
from listener.app.cli import cli, cli_user
from listener.app.web import create_app
from listener.config import load_settings
from tests.helpers.posts import PRODUCTS, post

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
STAMP = "2026-11-23T12:00:00Z"
TOPICS = '[[topics]]\nname = "Speed"\nterms = ["slow"]\n\n[[topics]]\nname = "Pricing"\nterms = ["price"]\n'


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """Two posts classified by VADER, an editor ``ed`` with an API token; the settings, the token, the ids."""
    folder = tmp_path_factory.mktemp("labels_cli")
    (folder / "settings.toml").write_text('[store]\npath = "site.db"\n[sentiment]\nmodel = "vader"\n' + PRODUCTS
                                          + TOPICS, encoding="utf-8")
    settings = load_settings(folder / "settings.toml")
    db = store.open_db(settings.db_path)
    store.upsert_posts(db, [post("s1", "Bolt is slow", "2026-11-22T09:00:00Z"),
                            post("s2", "Acme has a fair price", "2026-11-22T10:00:00Z")], now="2026-11-22T23:00:00Z")
    pipeline.classify(db, settings, now=NOW)
    users.add_user(db, "ed", "editor", "ed's password1", by="test", now=STAMP)
    token = users.issue_token(db, "ed", by="test", now=STAMP)
    ids = dict(db.execute("SELECT guid, id FROM posts").fetchall())
    db.close()
    return settings, {"Authorization": f"Bearer {token}"}, ids


def run(settings, *args: str):
    return CliRunner().invoke(cli, ["--config", str(settings.path), "--now", STAMP, *args])


def test_a_cli_relabel_is_in_the_web_history_supersedes_the_web_change_and_each_undoes_the_other(site):
    settings, ed, ids = site
    web = TestClient(create_app(settings, today=lambda: date(2026, 11, 23), now=lambda: NOW))
    slow = ids["s1"]
    assert web.put(f"/api/posts/{slow}/mentions/Bolt", json={"sentiment": "negative"}, headers=ed).status_code == 200
    out = run(settings, "label", str(slow), "--product", "bolt", "--sentiment", "positive")
    assert out.exit_code == 0 and "Bolt relabelled positive" in out.output, out.output

    history = web.get(f"/api/posts/{slow}/changes", headers=ed).json()
    (by_web, by_cli), who = history, cli_user()
    assert by_cli["who"] == who and by_cli["action"] == "mention.relabel" and by_cli["undoable"]
    assert by_cli["what"] == "sentiment negative → positive" and by_cli["at"] == STAMP
    assert not by_web["undoable"] and f"change {by_cli['id']} (mention.relabel by {who}" in by_web["why_not"]

    out = run(settings, "undo", str(by_web["id"]))   # superseded by the CLI's: refused in one line
    assert out.exit_code == 2 and out.output.count("\n") == 1, out.output
    assert out.output.startswith(f"Error: change {by_web['id']} cannot be undone: change {by_cli['id']} "
                                 f"(mention.relabel by {who} at {STAMP}) changed its sentiment since: "
                                 "undo that one first")

    r = web.post(f"/api/changes/{by_cli['id']}/undo", headers=ed)   # the web undoes the CLI's change
    assert r.status_code == 200, r.text
    assert web.get(f"/api/posts/{slow}", headers=ed).json()["marks"]["Bolt"]["sentiment"]["by"] == "ed"

    out = run(settings, "undo", str(by_web["id"]))   # now the newest: the CLI undoes the web's change
    assert out.exit_code == 0 and f"Undid change {by_web['id']} (mention.relabel of post {slow} / Bolt)" in out.output
    history = web.get(f"/api/posts/{slow}/changes", headers=ed).json()
    assert [(h["action"], h["who"], h["undoes"]) for h in history[2:]] == [
        ("change.undo", "ed", by_cli["id"]), ("change.undo", who, by_web["id"])]
    assert web.get(f"/api/posts/{slow}", headers=ed).json()["marks"] == {}

    table = run(settings, "history", str(slow))
    assert table.exit_code == 0 and "cli:" in table.output and "undid" in table.output, table.output
    assert "already" in table.output and "an undo" in table.output
    assert run(settings, "undo", "999999").exit_code == 1 and "no change with id 999999" in run(
        settings, "undo", "999999").output
    assert run(settings, "history", "999999").exit_code == 1


def test_not_about_topics_and_the_post_s_sentiment_from_the_cli_are_logged_and_undone_one_by_one(site):
    settings, ed, ids = site
    fair = ids["s2"]

    def stored() -> tuple:
        db = store.open_db(settings.db_path)
        try:
            p = store.get_post(db, fair)
            return p["sentiment_label"], [t["topic"] for t in p["topics"]], [
                (r["action"], r["target"], r["who"], r["undone_by"] is not None) for r in store.post_changes(db, fair)]
        finally:
            db.close()

    model_label, model_topics, _ = stored()
    assert run(settings, "label", str(fair), "--product", "Acme", "--not-about").exit_code == 0
    out = run(settings, "label", str(fair), "--sentiment", "negative", "--topics", "pricing")
    assert out.exit_code == 0 and "topics Pricing" in out.output, out.output
    assert run(settings, "label", str(fair), "--topics", "nope").exit_code == 2   # nothing logged for a bad one
    label, topics, rows = stored()
    who = cli_user()
    assert label == "negative" and topics == ["Pricing"] and model_label != "negative"
    assert rows == [("mention.not_about", f"post {fair} / Acme", who, False),
                    ("post.relabel", f"post {fair}", who, False), ("post.topics", f"post {fair}", who, False)]
    db = store.open_db(settings.db_path)
    try:
        relabel = next(r["id"] for r in store.post_changes(db, fair) if r["action"] == "post.relabel")
    finally:
        db.close()
    out = run(settings, "undo", str(relabel))   # the post's sentiment only: the topics label stays
    assert out.exit_code == 0 and f"sentiment negative → {model_label}" in out.output, out.output
    label, topics, rows = stored()
    assert label == model_label and topics == ["Pricing"] and rows[1][3] and not rows[2][3]
    assert run(settings, "history", str(fair)).output.count(who) >= 4
