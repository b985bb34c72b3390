"""Mentions that are really about the product (issue 16): the relevance model, the products' description,
context, query and relevance settings, rejected mentions counting nowhere, search's ``relevance:low``,
about / not-about marks and the per-product corrections fitted on them.

Real SQLite, the shipped relevance model and encoder, the real CLI and web app; no training beyond a few
rows (the WePS-3 training is not bundled).
"""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from listener import learn, pipeline, search, store
from listener.app.cli import cli
from listener.app.web import create_app
from listener.classifier import Classifier, adaptations_path
from listener.config import ConfigError, load_settings
from models import relevance
from tests.helpers import NOW

SETTINGS = """[store]
path = "test.db"
[sentiment]
model = "vader"
[[products]]
name = "Delta"
aliases = ["Delta"]
description = "Delta Air Lines: US airline"
relevance = 0.3
[[products]]
name = "Firefox"
aliases = ["Firefox"]
[[products]]
name = "Apple"
aliases = ["apple"]
description = "maker of the iPhone, iPad and Mac"
query = "apple -pie"
"""
TEXTS = {
    "flight": "My Delta flight to Atlanta was delayed three hours at the gate, terrible service",
    "river": "The Mississippi river delta is losing wetlands fast",
    "variant": "delta variant cases rising in the county <script>x</script>",
    "pie": "Baked an apple pie with grandma",
    "iphone": "Apple stock jumps after the iPhone launch",
    "firefox": "Firefox crashed again today",
}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """A classified store of TEXTS (built once; each test gets a copy)."""
    folder = tmp_path_factory.mktemp("relevance")
    (folder / "settings.toml").write_text(SETTINGS, encoding="utf-8")
    settings = load_settings(folder / "settings.toml")
    db = store.open_db(settings.db_path)
    base = {"url": None, "author": None, "title": None, "published_at": "2026-11-22T10:00:00Z", "language": "en",
            "score": None, "comments": None, "likes": None, "shares": None}
    store.upsert_posts(db, [{**base, "source": "t", "guid": k, "text": t} for k, t in TEXTS.items()],
                       now="2026-11-23T00:00:00Z")
    pipeline.classify(db, settings, now=NOW)
    db.close()
    return folder


@pytest.fixture
def site(built, tmp_path):
    for f in built.iterdir():
        if f.is_file():
            shutil.copy(f, tmp_path / f.name)
    settings = load_settings(tmp_path / "settings.toml")
    db = store.open_db(settings.db_path)
    ids = dict(db.execute("SELECT guid, id FROM posts").fetchall())
    yield settings, db, ids
    db.close()


def invoke(settings, *args: str):
    return CliRunner().invoke(cli, ["--config", str(settings.path), "--now", "2026-11-23T06:00:00Z", *args])


def counted(db) -> dict[str, int]:
    return store.mention_counts(db)


def found(db, query: str) -> set[int]:
    return {h.id for h in search.search(db, search.prepare(db, query)).hits}


def test_mentions_not_about_the_product_count_nowhere_and_search_shows_them_only_when_asked(site):
    settings, db, ids = site
    # Firefox has no description: every mention counts; the river and the variant are not the airline;
    # the pie fails Apple's query
    assert counted(db) == {"Delta": 1, "Firefox": 1, "Apple": 1}
    rejects = {(r[0], r[1]): r[2:] for r in db.execute(
        "SELECT post_id, product, score, threshold, reason FROM mention_rejects")}
    assert set(rejects) == {(ids["river"], "Delta"), (ids["variant"], "Delta"), (ids["pie"], "Apple")}
    score, threshold, reason = rejects[(ids["river"], "Delta")]
    assert 0 <= score < threshold == 0.3 and reason.startswith(f"relevance {score:.3f} is below the product's threshold 0.3")
    assert rejects[(ids["pie"], "Apple")] == (None, 0.25, "the post does not match the product's query")
    # every scored mention's base score is kept: the product-level stage reads each product's mean
    history = store.relevance_history(db, relevance.load().name)
    assert history["Delta"][0] == 3 and history["Apple"][0] == 1 and "Firefox" not in history
    assert sum(r["n"] for r in store.daily_mentions(db, "2026-11-22", "2026-11-23") if r["product"] == "Delta") == 1
    assert found(db, "product:Delta") == {ids["flight"]}
    overview = TestClient(create_app(settings, today=lambda: date(2026, 11, 23))).get("/api/products/Delta").json()
    assert overview["mentions"] == 1 and sum(d["mentions"] for d in overview["days"]) == 1
    assert found(db, "product:Delta relevance:low") == {ids["river"], ids["variant"]}
    assert found(db, "relevance:low") == {ids["river"], ids["variant"], ids["pie"]}
    assert found(db, "product:Apple OR product:Delta relevance:low") == {ids["iphone"], ids["river"], ids["variant"]}


def test_a_not_about_mark_removes_a_mention_at_once_survives_reclassifying_and_about_restores_it(site):
    settings, db, ids = site
    db.close()
    out = invoke(settings, "label", str(ids["flight"]), "--product", "delta", "--not-about")
    assert out.exit_code == 0, out.output
    assert "marked not about Delta; it counts in no number now" in out.output
    db = store.open_db(settings.db_path)
    assert counted(db).get("Delta") is None and found(db, "product:Delta") == set()
    pipeline.classify(db, settings, now=NOW, everything=True)
    assert counted(db).get("Delta") is None
    assert db.execute("SELECT reason, model FROM mention_rejects WHERE post_id = ?", [ids["flight"]]).fetchone() == \
        (store.MARKED_NOT_ABOUT, "label")
    db.close()
    out = invoke(settings, "label", str(ids["river"]), "--product", "Delta", "--about")
    assert out.exit_code == 0, out.output
    db = store.open_db(settings.db_path)
    assert counted(db)["Delta"] == 1 and found(db, "product:Delta") == {ids["river"]}
    assert store.relevance_marks(db)[0]["about"] is False and len(store.relevance_marks(db)) == 2
    db.close()
    bad = invoke(settings, "label", str(ids["firefox"]), "--product", "Delta", "--not-about")
    assert bad.exit_code != 0 and "does not mention 'Delta' (it mentions: Firefox)" in bad.output
    assert "Traceback" not in bad.output
    assert invoke(settings, "label", str(ids["firefox"]), "--not-about").exit_code == 2


def test_train_with_labels_fits_a_product_s_correction_that_the_classifier_reads(site):
    settings, db, ids = site
    for key, about in (("flight", True), ("river", False), ("variant", False)):
        learn.mark_relevance(db, ids[key], "Delta", about, now=NOW)
    learn.mark_relevance(db, ids["firefox"], "Firefox", False, now=NOW)
    before = Classifier.from_settings(settings).version
    db.close()
    out = invoke(settings, "train", "--relevance", "--with-labels")
    assert out.exit_code == 0, out.output
    assert "Delta: 1 about, 2 not about" in out.output
    doc = json.loads(adaptations_path(settings).read_text())
    assert set(doc["products"]) == {"Delta"}     # Firefox has no description: nothing to correct
    after = Classifier.from_settings(settings)
    assert after.version != before and set(after.relevance.adaptations) == {"Delta"}
    verdict = after.classify([{"id": 1, "title": None, "text": TEXTS["flight"]}])[0].verdicts[0]
    assert "with 3 of its own marks" in verdict.reason


def test_explain_and_the_post_page_say_why_a_mention_does_not_count(site):
    settings, db, ids = site
    out = invoke(settings, "explain", str(ids["variant"])).output
    assert "relevance of Delta: relevance " in out and "not counted: Delta (alias 'delta'): relevance" in out
    client = TestClient(create_app(settings, today=lambda: date(2026, 11, 23)))
    page = client.get(f"/posts/{ids['variant']}").text
    assert "Not counted" in page and "below the product&#39;s threshold 0.3" in page
    assert "<script>x</script>" not in page


def test_products_settings_are_validated_with_one_line_naming_the_key(tmp_path):
    for extra, message in (('relevance = 1.5', "products[0].relevance: must be between 0 and 1, got 1.5"),
                           ('query = "apple AND ("', "products[0].query: invalid query:"),
                           ('query = "apple product:x"', "products[0].query: a product's query takes text terms only"),
                           ('description = "a\\nb"', "products[0].description: must be one line"),
                           ('context = ["ok", 3]', "products[0].context[1]: expected a non-empty string")):
        path = tmp_path / "s.toml"
        path.write_text(f'[[products]]\nname = "Apple"\n{extra}\n', encoding="utf-8")
        with pytest.raises(ConfigError) as err:
            load_settings(path)
        assert message in str(err.value) and "\n" not in str(err.value)
    path.write_text('[[products]]\nname = "Apple"\ndescription = " maker of the iPhone "\ncontext = ["iphone"]\n')
    p = load_settings(path).products[0]
    assert (p.description, p.context, p.query, p.relevance) == ("maker of the iPhone", ("iphone",), None, 0.25)


def test_features_read_the_alias_form_and_the_description():
    apple = relevance.ProductInfo("Apple", ("apple",), "maker of the iPhone and Mac", ("ipad",))
    text = "#Apple's new iPhone and iPad, see apple.com"
    f = relevance.features(text, relevance.mention_spans(text, apple), apple)
    assert {"form:hashtag", "form:title", "form:possessive", "form:repeated", "desc:met", "ctx:met", "w:new"} <= set(f)
    assert "form:start" in relevance.features("Apple wins", [(0, 5)], apple)
    g = relevance.features("i ate an apple", relevance.mention_spans("i ate an apple", apple), apple)
    assert "form:lower" in g and "desc:met" not in g and "w:ate" in g
    assert relevance.precision_at_recall([0.9, 0.8, 0.3, 0.2], [True, False, True, False], 0.5) == (1.0, 0.9)
    one_kind = relevance.adapt("X", [0.0, 0.0, 0.0], [{}, {}, {}], [False, False, False])
    assert one_kind.logit(0.0, {}) < 0 and one_kind.scale == 1.0


def test_a_damaged_relevance_file_is_one_line_naming_it(tmp_path):
    bad = tmp_path / "r.json"
    bad.write_text('{"format": "other"}')
    with pytest.raises(relevance.RelevanceError, match=r"r\.json: format 'other'"):
        relevance.load(bad)
    bad.write_text("not json")
    with pytest.raises(relevance.RelevanceError, match="not a relevance model"):
        relevance.load(bad)
    model = relevance.load()
    assert model.uses_encoder and model.meta["metrics"]["own_labels"]["50"]["labels"] == 50


def test_train_relevance_needs_the_data_folder_and_trains_from_it(tmp_path, settings_for):
    settings = settings_for()
    out = invoke(settings, "train", "--relevance")
    assert out.exit_code != 0 and "--relevance needs --data DIR" in out.output
    rows = ["entity\ttweet_num\ttweet_id\ttext\tlabel"]
    for i in range(6):
        rows.append(f"southwest airlines\t{i}\t{i}\tflying Southwest to Denver, flight {i} on time\tTRUE")
        rows.append(f"southwest airlines\t{i}\t{i}\tsunny southwest wind {i} tomorrow\tFALSE")
        rows.append(f"lufthansa\t{i}\t{i}\tLufthansa strike cancels flight {i}\tTRUE")
    (tmp_path / "training.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    target = tmp_path / "rel.json"
    out = invoke(settings, "train", "--relevance", "--data", str(tmp_path), "--out", str(target), "--no-eval")
    assert out.exit_code == 0, out.output
    assert "data: 18 labelled mentions" in out.output
    model = relevance.load(target)
    assert model.meta["examples"] == 18 and model.meta["entities"] == 52


def test_eval_prints_the_relevance_targets():
    rows = {r["target"]: r for r in learn.relevance_rows()}
    assert set(rows) == set(learn.RELEVANCE_TARGETS)
    gain = rows["relevance_precision_gain_50_labels"]
    assert gain["status"] == "met" and gain["value"] >= 0.05
    assert all(r["status"] in ("met", "NOT MET") and "entity-held-out" in r["how"] for r in rows.values())
