"""Per-mention relabels (`listener label POST_ID --product NAME --sentiment S`): they override the model
for that product's mention only, survive `classify --all`, show in explain / the API / the post page,
and are training data (the span the model judged, with the person's label).

Real SQLite, the real classifier (VADER), the real CLI and web app.
"""

from __future__ import annotations

from datetime import date

from click.testing import CliRunner
from fastapi.testclient import TestClient

from listener import learn, pipeline, store
from listener.app.cli import cli
from listener.app.web import create_app
from tests.helpers import NOW
from tests.test_web import comparative_site


def invoke(settings, *args: str):
    return CliRunner().invoke(cli, ["--config", str(settings.path), "--now", "2026-11-23T06:00:00Z", *args])


def mentions(settings, post_id: int) -> dict[str, tuple]:
    db = store.open_db(settings.db_path)
    try:
        return {r[0]: r[1:] for r in db.execute(
            "SELECT product, sentiment_label, sentiment, confidence, basis FROM mentions WHERE post_id = ?",
            [post_id])}
    finally:
        db.close()


def test_a_product_s_relabel_sets_that_mention_only_and_survives_reclassifying(settings_for):
    settings, ids = comparative_site(settings_for, '[sentiment]\nmodel = "vader"\n')
    cmp = ids["cmp"]
    before = mentions(settings, cmp)
    assert before["Chrome"][0] == "negative" and before["Firefox"][0] == "negative"
    result = invoke(settings, "label", str(cmp), "--product", "chrome", "--sentiment", "positive")
    assert result.exit_code == 0, result.output
    assert "Chrome relabelled positive" in result.output or "chrome relabelled positive" in result.output
    after = mentions(settings, cmp)
    assert after["Chrome"] == ("positive", 1.0, 1.0, "label")
    assert after["Firefox"] == before["Firefox"]          # the other product keeps the model's judgement
    db = store.open_db(settings.db_path)
    post_label = db.execute("SELECT sentiment_label FROM posts WHERE id = ?", [cmp]).fetchone()[0]
    pipeline.classify(db, settings, now=NOW, everything=True)
    db.close()
    assert mentions(settings, cmp)["Chrome"] == ("positive", 1.0, 1.0, "label")
    assert mentions(settings, cmp)["Firefox"] == before["Firefox"]
    db = store.open_db(settings.db_path)
    assert db.execute("SELECT sentiment_label FROM posts WHERE id = ?", [cmp]).fetchone()[0] == post_label
    # shown as a person's in explain, the API and the post page
    out = invoke(settings, "explain", str(cmp)).output
    assert "  Chrome: positive (score +1.000, confidence 1.00), basis label; " in out
    assert "(human relabel: overrides the model)" in out.split("  Chrome:")[1].split("\n")[0]
    assert "(human relabel" not in out.split("  Firefox:")[1].split("\n")[0]
    client = TestClient(create_app(settings, today=lambda: date(2026, 11, 23)))
    judged = {p["product"]: p for p in client.get(f"/api/posts/{cmp}").json()["explanation"]["products"]}
    assert judged["Chrome"]["human_label"] == "positive" and judged["Firefox"]["human_label"] is None
    assert "relabelled by a person" in client.get(f"/posts/{cmp}").text
    # search reads the relabel: positive about Chrome, still negative about Firefox
    from listener import search
    found = {q: [h.id for h in search.search(db, search.prepare(db, q)).hits]
             for q in ("product:Chrome sentiment:positive", "product:Chrome sentiment:negative",
                       "product:Firefox sentiment:negative")}
    assert found == {"product:Chrome sentiment:positive": [cmp], "product:Chrome sentiment:negative": [ids["x"]],
                     "product:Firefox sentiment:negative": [cmp]}
    # training data: the span judged about Chrome, with the person's label
    assert learn.labelled_texts(db) == [("Still better than Chrome though.", "positive")]
    db.close()


def test_relabelling_again_replaces_and_a_post_s_relabel_does_not_touch_a_compared_product(settings_for):
    settings, ids = comparative_site(settings_for, '[sentiment]\nmodel = "vader"\n')
    cmp, evil = ids["cmp"], ids["x"]
    db = store.open_db(settings.db_path)
    learn.label_post(db, settings, cmp, now=NOW, sentiment="neutral", product="Chrome")
    learn.label_post(db, settings, cmp, now=NOW, sentiment="negative", product="Chrome")
    assert db.execute("SELECT count(*) FROM mention_labels").fetchone()[0] == 1
    before = mentions(settings, cmp)
    learn.label_post(db, settings, cmp, now=NOW, sentiment="positive")     # the post, two products
    after = mentions(settings, cmp)
    assert after == before and after["Chrome"][3] == "label" and after["Firefox"][3] != "label"
    learn.label_post(db, settings, evil, now=NOW, sentiment="positive")    # the post, one product
    assert mentions(settings, evil)["Chrome"] == ("positive", 1.0, 1.0, "label")
    db.close()


def test_bad_relabels_get_one_line_and_store_nothing(settings_for):
    settings, ids = comparative_site(settings_for, '[sentiment]\nmodel = "vader"\n')
    cases = [
        (["label", str(ids["x"]), "--product", "Firefox", "--sentiment", "positive"],
         f"post {ids['x']} does not mention 'Firefox' (it mentions: Chrome)"),
        (["label", str(ids["cmp"]), "--product", "Chrome"], "give --sentiment"),
        (["label", str(ids["cmp"]), "--product", "Chrome", "--sentiment", "positive", "--topics", "x"],
         "--product takes --sentiment and no --topics"),
        (["label", "99999", "--product", "Chrome", "--sentiment", "positive"], "no post with id 99999"),
    ]
    for args, message in cases:
        result = invoke(settings, *args)
        assert result.exit_code != 0 and message in result.output, (args, result.output)
        assert "Traceback" not in result.output
    db = store.open_db(settings.db_path)
    assert db.execute("SELECT count(*) FROM mention_labels").fetchone()[0] == 0
    db.close()
