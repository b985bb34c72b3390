"""The trained sentiment model, its artifact, topics, emerging clusters, relabels and 'unscored'."""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from listener import learn, pipeline, store
from listener.classifier import Classifier
from listener.errors import ModelError
from listener.app.cli import cli
from listener.config import ConfigError, Topic, load_settings
from models import trained
from models.classify import classify_batch
from models.emerging import find_clusters
from models.products import compile_products
from models.sentiment import VaderScorer, load_scorer
from models.topics import compile_topics, match_topics
from tests.helpers import NOW
from tests.helpers.posts import own_words

TOPICS_TOML = """
[[topics]]
name = "battery"
terms = ["battery", "battery life", "charg*"]

[[topics]]
name = "screen"
terms = ["screen", "display"]
exclude = ["screen reader"]
"""


def invoke(settings_path: Path, *args: str, input: str | None = None):
    return CliRunner().invoke(cli, ["--config", str(settings_path), "--now", "2026-11-23T06:00:00Z", *args],
                              input=input, catch_exceptions=False)


@pytest.fixture(scope="module")
def small_artifact(tmp_path_factory) -> tuple[Path, str]:
    """A model trained with the tiny config, once for this module."""
    path = tmp_path_factory.mktemp("model") / "small.model"
    settings = tmp_path_factory.mktemp("cfg") / "settings.toml"
    settings.write_text("[store]\npath = 'x.db'\n")
    result = invoke(settings, "train", "--small", "--no-eval", "--out", str(path))
    assert result.exit_code == 0, result.output
    digest = re.search(r"artifact: .* sha256 ([0-9a-f]{64})", result.output).group(1)
    return path, digest


def test_train_is_deterministic_and_records_versions(small_artifact, tmp_path, write_settings):
    path, digest = small_artifact
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    again = tmp_path / "again.model"
    result = invoke(write_settings(), "train", "--small", "--no-eval", "--out", str(again))
    assert re.search(r"data: \d+ examples, sha256 [0-9a-f]{64}", result.output)
    assert hashlib.sha256(again.read_bytes()).hexdigest() == digest
    meta = trained.read_meta(path)
    assert meta["feature_version"] and meta["sklearn_version"] == trained.sklearn_version()
    assert len(meta["data_sha256"]) == 64 and meta["config"]["tweeteval_every"] > 1


def _rewrite(src: Path, dst: Path, change) -> None:
    with zipfile.ZipFile(src) as z:
        entries = {n: z.read(n) for n in z.namelist()}
    change(entries)
    with zipfile.ZipFile(dst, "w") as z:
        for n, data in entries.items():
            z.writestr(n, data)


def test_tampered_or_mismatched_artifact_is_refused(small_artifact, tmp_path):
    path, _ = small_artifact
    trained.load(path)  # the original loads

    def flip_coef(e):
        buf = io.BytesIO(e["arrays.npz"])
        import numpy as np
        with np.load(buf) as a:
            arrays = {k: a[k] for k in a.files}
        arrays["coef"] = arrays["coef"] * 2
        out = io.BytesIO()
        np.savez(out, **arrays)
        e["arrays.npz"] = out.getvalue()

    def meta(**changes):
        def change(e):
            m = json.loads(e["meta.json"])
            m.update(changes)
            e["meta.json"] = json.dumps(m).encode()
        return change

    def vocab(e):
        e["vocab_word.json"] = json.dumps(["evil"] + json.loads(e["vocab_word.json"])[1:]).encode()

    cases = {"coef": (flip_coef, "arrays.npz does not match"),
             "vocab": (vocab, "vocabularies do not match"),
             "sklearn": (meta(sklearn_version="0.1.0"), "scikit-learn 0.1.0"),
             "features": (meta(feature_version="old"), "features 'old'")}
    for name, (change, message) in cases.items():
        bad = tmp_path / f"{name}.model"
        _rewrite(path, bad, change)
        with pytest.raises(trained.ArtifactError, match=re.escape(message)):
            trained.load(bad)
    (tmp_path / "junk.model").write_bytes(b"\x80\x04pickle?")
    with pytest.raises(trained.ArtifactError, match="not a listener model artifact"):
        trained.load(tmp_path / "junk.model")


def test_mismatched_artifact_in_settings_fails_with_one_line(small_artifact, tmp_path, write_settings):
    bad = tmp_path / "bad.model"
    _rewrite(small_artifact[0], bad, lambda e: e.update({"meta.json": e["meta.json"].replace(b'"sent-', b'"old-')}))
    path = write_settings(extra=f'[sentiment]\nmodel = "fast"\nartifact = "{bad}"\n')
    result = CliRunner().invoke(cli, ["--config", str(path), "sentiment"], input="good\n")
    assert result.exit_code == 2 and "retrain it with `listener train`" in result.output
    # a fast model's file given to the default model (whose artifact is a folder) says what to set
    path = write_settings(extra=f'[sentiment]\nartifact = "{small_artifact[0]}"\n')
    result = CliRunner().invoke(cli, ["--config", str(path), "sentiment"], input="good\n")
    assert result.exit_code == 2 and 'is a file, not the default model\'s folder; set sentiment.model = "fast"' in result.output


def test_sentiment_command_json_lines(write_settings):
    result = invoke(write_settings(), "sentiment",
                    input="I absolutely love this, best phone ever!\nThis is awful, it broke after a day.\n"
                          "De accu is helaas al na een week kapot gegaan.\n")
    lines = [json.loads(x) for x in result.output.splitlines()]
    assert [x["label"] for x in lines] == ["positive", "negative", "unscored"]
    assert lines[0]["score"] > 0.3 and lines[1]["score"] < -0.3 and lines[2]["score"] is None
    assert all(-1 <= x["score"] <= 1 for x in lines[:2])
    assert lines[0]["model"].startswith("encoder-")   # the default model
    vader = invoke(write_settings(extra='[sentiment]\nmodel = "vader"\n'), "sentiment", input="great\n")
    assert json.loads(vader.output)["model"].startswith("vader")


def test_shipped_model_beats_vader_on_a_few_hard_cases():
    scorer = load_scorer("trained")
    texts = ["not good at all", "I can't say I love it", "the update is out, finally no more crashes :)"]
    got = [s.label for s in scorer.score(texts)]
    assert got[0] == "negative" and got[2] == "positive"


def test_shipped_model_keeps_plainly_neutral_text_near_zero():
    """Out-of-domain, plainly neutral sentences: the polar score stays small and the label neutral
    (the three-class head alone leaned negative on such text)."""
    texts = ["The meeting is at 3 pm in room 204.", "Version 2.1 was released on Tuesday.",
             "Click here to read more.", "The store opens at nine on weekdays.", "Posted in General Discussion",
             "Firmware update 4.2 is now available for download.", "The package contains a charger and a USB cable."]
    got = load_scorer("trained").score(texts)
    assert [s.label for s in got] == ["neutral"] * len(texts)
    assert all(abs(s.score) <= 0.35 for s in got), [round(s.score, 2) for s in got]


def test_polar_head_training_set():
    from models.datasets import Example
    from models.training import polar_examples

    ex = [Example("a", "positive", "t"), Example("b", "positive", "t"), Example("c", "positive", "t"),
          Example("d", "negative", "t"), Example("e", "neutral", "t"),
          Example("f", "neutral", "vader-tweets", 0.1), Example("g", "neutral", "vader-tweets", 0.0),
          Example("h", "negative", "vader-amazon", -2.5)]
    index, positive, weight = polar_examples(ex, 6.0)
    assert index.tolist() == [0, 1, 2, 3, 5, 7]          # neutral labels and exact-zero ratings left out
    assert positive.tolist() == [True, True, True, False, True, False]  # a rating counts by its sign
    assert weight.tolist() == [2 / 3, 2 / 3, 2 / 3, 2.0, 6.0, 6.0]     # unrated classes balanced


def test_label_and_score_sign_agree():
    scorer = load_scorer("trained")
    texts = ["meh", "could be better", "not bad", "Comments", "I bought it last week.", "ok I guess :)",
             "Nothing about any tracked product", "the battery died but support replaced it fast"]
    for s in scorer.score(texts):
        assert s.label == "neutral" or (s.score > 0) == (s.label == "positive"), s


def test_topics_and_topic_level_sentiment():
    rules = compile_topics([Topic("battery", ("battery", "charg*")), Topic("screen", ("screen",), ("screen reader",))])
    m = match_topics("The battery is terrible. But the screen is gorgeous!", rules)
    assert [(x.topic, x.term) for x in m] == [("battery", "battery"), ("screen", "screen")]
    assert match_topics("My screen reader works", rules) == []
    assert [x.term for x in match_topics("Charging takes forever", rules)] == ["Charging"]
    c = classify_batch([{"id": 1, "title": "Pixel review", "text": "The battery is terrible and dies by noon. "
                         "The screen is gorgeous and bright, I love it."}],
                       products=compile_products([]), scorer=load_scorer("trained"), topics=rules)[0]
    by = {t.topic: t.sentiment for t in c.topics}
    assert by["battery"] < 0 < by["screen"]


def test_unscored_language_and_digest_counts(settings_for):
    settings = settings_for()
    db = store.open_db(settings.db_path)
    posts = [{"source": "s", "guid": "en", "title": None, "text": "Firefox is fantastic, I love the new version",
              "published_at": "2026-11-22T10:00:00Z"},
             {"source": "s", "guid": "de", "title": None, "published_at": "2026-11-22T11:00:00Z",
              "text": "Firefox is sinds de laatste update vreselijk traag en crasht steeds"}]   # Dutch: not scored
    store.upsert_posts(db, posts, now="2026-11-23T05:00:00Z")
    report = pipeline.classify(db, settings, now=NOW)
    assert report.labels == {"positive": 1, "unscored": 1}
    row = db.execute("SELECT sentiment, language, detected_language FROM posts WHERE guid = 'de'").fetchone()
    assert row == (None, None, "nl")   # detected, not declared by the source
    de = db.execute("SELECT id FROM posts WHERE guid = 'de'").fetchone()[0]
    why = learn.explain_post(db, settings, de)
    assert (why.label, why.score, why.positive_terms) == ("unscored", None, [])
    assert why.reason == "its language (nl) is not one the sentiment model scores (en, de, fr, it)"
    from reports.digest import build_digest
    from reports.render import render_markdown
    d = build_digest(db, settings, day=NOW.date().replace(day=22), now=NOW)
    firefox = d.products[0]
    assert (firefox.mentions, firefox.positive, firefox.unscored, firefox.net_sentiment) == (2, 1, 1, 100.0)
    assert "Unscored" in render_markdown(d)


def _seed_posts(db, texts, day="2026-11-22"):
    store.upsert_posts(db, [{"source": "s", "guid": f"g{i}", "title": None, "text": t,
                             "published_at": f"{day}T{10 + i % 10:02d}:00:00Z"} for i, t in enumerate(texts)],
                       now="2026-11-23T05:00:00Z")


def test_label_overrides_model_and_eval_labels(write_settings):
    path = write_settings(extra=TOPICS_TOML)
    settings = load_settings(path)
    db = store.open_db(settings.db_path)
    _seed_posts(db, ["Firefox battery life is great, I love it", "Firefox is fine I guess"])
    pipeline.classify(db, settings, now=NOW)
    pid = db.execute("SELECT id FROM posts WHERE guid = 'g0'").fetchone()[0]
    result = invoke(path, "label", str(pid), "--sentiment", "negative", "--topics", "screen")
    assert result.exit_code == 0, result.output
    assert invoke(path, "label", str(pid), "--topics", "nope").exit_code == 2
    assert invoke(path, "label", "999", "--sentiment", "positive").exit_code == 1
    invoke(path, "classify", "--all")  # the relabel survives re-classification
    db = store.open_db(settings.db_path)
    assert db.execute("SELECT sentiment_label FROM posts WHERE id = ?", [pid]).fetchone()[0] == "negative"
    assert db.execute("SELECT topic FROM post_topics WHERE post_id = ?", [pid]).fetchall() == [("screen",)]
    out = invoke(path, "eval", "--labels").output
    assert "on 1 relabelled post(s): accuracy 0.000" in out
    explained = invoke(path, "explain", str(pid)).output
    assert "label: positive" in explained and "human relabel: negative" in explained
    assert "products: Firefox (alias 'Firefox')" in explained and "battery (term 'battery life'" in explained
    assert "pushed towards positive: " in explained and "love" in explained
    assert invoke(path, "explain", "999").exit_code == 1


def test_emerging_clusters_stored_and_new_marked(write_settings):
    settings = load_settings(write_settings())
    db = store.open_db(settings.db_path)
    old = [f"Firefox tabs and bookmarks sync across devices, {own_words(i)}" for i in range(12)]
    new = [f"Firefox crashes with the new GPU driver on Linux, {own_words(100 + i)}" for i in range(12)]
    _seed_posts(db, old, day="2026-11-01")
    store.upsert_posts(db, [{"source": "s", "guid": f"n{i}", "title": None, "text": t,
                             "published_at": f"2026-11-2{i % 3}T09:00:00Z"} for i, t in enumerate(new + old[:6])],
                       now="2026-11-23T05:00:00Z")
    pipeline.classify(db, settings, now=NOW)
    report = pipeline.emerging(db, settings, day=NOW.date().replace(day=22), now=NOW)
    firefox = report.clusters["Firefox"]
    assert firefox and any(c.is_new and {"gpu", "driver"} & set(" ".join(c.terms).split()) for c in firefox)
    assert not any(c.is_new and "bookmarks" in " ".join(c.terms) for c in firefox)
    stored = store.emerging_topics(db, "2026-11-22", new_only=True)
    assert stored and all(r["is_new"] and r["post_ids"] for r in stored)
    assert find_clusters([(1, "too few")], []) == []


def test_settings_validation(write_settings):
    with pytest.raises(ConfigError, match=r"sentiment.model: expected one of default, fast, vader, trained"):
        load_settings(write_settings(extra='[sentiment]\nmodel = "bert"\n'))
    with pytest.raises(ConfigError, match=r"topics\[0\].terms: required key is missing"):
        load_settings(write_settings(extra='[[topics]]\nname = "x"\n'))
    s = load_settings(write_settings(extra=TOPICS_TOML))
    assert [t.name for t in s.topics] == ["battery", "screen"] and s.sentiment.model == "default"


def test_classifier_from_settings(write_settings, tmp_path):
    settings = load_settings(write_settings(extra='[sentiment]\nmodel = "vader"\nlanguages = ["en", "de"]\n'
                                                  '[classify]\npositive_threshold = 0.3\n' + TOPICS_TOML))
    c = Classifier.from_settings(settings)
    assert c.model.startswith("vader-") and c.version.startswith(f"{c.model}/products-1/topics-1/")
    assert (c.scorer.positive_threshold, c.languages, [r.name for r in c.topics]) == (0.3, ("en", "de"),
                                                                                       ["battery", "screen"])
    r = c.classify([{"id": 1, "title": None, "text": "Firefox battery life is okay"}])[0]
    assert ([m.product for m in r.mentions], [t.topic for t in r.topics]) == (["Firefox"], ["battery"])
    assert r.label == "neutral" and 0.05 < r.sentiment < 0.3  # VADER positive, below this threshold
    missing = tmp_path / "missing.model"
    with pytest.raises(ModelError, match=re.escape(f"{missing}: model artifact not found (run `listener train`)")):
        Classifier.from_settings(load_settings(write_settings(extra=f'[sentiment]\nmodel = "fast"\nartifact = "{missing}"\n')))


def test_vader_scorer_still_available():
    out = VaderScorer().score(["I love it", "I hate it"])
    assert [o.label for o in out] == ["positive", "negative"] and out[0].model.startswith("vader-")


def test_the_linear_time_vader_gives_the_library_s_scores_exactly():
    """models.vader's analyzer hands VADER's negation and idiom checks a window of words instead of
    the whole text, skips the emoji pass for texts without emoji and the per-word call for words
    outside the lexicon; every score must stay the library's, including words near the start (where
    the library's negative indices wrap around), emoji, boosters, "kind of" and long posts."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    from models import datasets
    from models.vader import analyzer

    texts = [e.text for e in datasets.load_tweeteval("val")][:1500]
    texts += [t for t, _ in datasets.load_vader_groundtruth("amazon")][:500]
    texts += ["not bad", "NOT good at all", "never so happy", "without doubt the best", "kind of bad",
              "the bomb", "cut the mustard, yeah", "no no no good", "good", "least bad", "at least good",
              "it is not the worst but never so bad and kind of great, yeah the bomb " * 20,
              "KIND OF GREAT :) \U0001F600 ok", "love it \u263a\ufe0f", "\U0001F44D", "  padded  ", "", "kind",
              "very sort of kind of good", "GREAT product, bad SUPPORT!!!"]
    library = SentimentIntensityAnalyzer()
    ours = analyzer()
    assert type(ours) is not SentimentIntensityAnalyzer
    assert [ours.polarity_scores(t) for t in texts] == [library.polarity_scores(t) for t in texts]


def test_the_vocabulary_counter_counts_as_scikit_learn_does():
    """The trained model's word and character n-gram counts (models.trained.VocabularyCounter) are
    exactly scikit-learn's CountVectorizer's with the same vocabulary, also on a second call (its
    per-word cache warm) and on odd whitespace, one-letter words, emoji and accents."""
    import numpy as np

    from models import datasets, trained
    from models.features import normalize

    model = trained.load(trained.SHIPPED)
    texts = [normalize(e.text) for e in datasets.load_tweeteval("val")][:800]
    texts += ["", " ", "a", "ab", "a b  c\t\nd", "x" * 30, "\u00a0hello\u2003world z", "caf\u00e9 na\u00efve \U0001F600 :)",
              "i don't like it, not at all", "never again!!!"]
    for kind, vocab in (("word", model.vocab_word), ("char", model.vocab_char)):
        expected = trained._counter(kind, vocab).transform(texts)
        counter = trained.VocabularyCounter(kind, vocab)
        for _ in range(2):
            got = counter.transform(texts)
            assert got.dtype == np.float32 and got.shape == expected.shape
            assert np.array_equal(got.indptr, expected.indptr) and np.array_equal(got.indices, expected.indices)
            assert np.array_equal(got.data, expected.data)
            assert (counter.counts(texts) != expected).nnz == 0   # the same counts, in any column order
