"""A domain head per language: `listener train --with-labels` on German and Polish relabels adapts each
language's own model (models.multilingual), classify then uses it, `listener eval --labels` reports per
model, and English keeps the configured model untouched.

Real SQLite and the real CLI. As in tests/test_adapt.py, the opinion words are made up ("grimbly" is bad,
"flurbous" is good), so only the relabels can teach them; the sentences around them are German or Polish.
"""

from __future__ import annotations

import io
import random
import re
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from listener import learn, store
from listener.app.cli import cli
from listener.classifier import scorer_for
from listener.config import load_settings
from models import adapt
from tests.helpers import NOW
from tests.test_adapt import BAD, GOOD

# Two words of each kind, so each is seen about ten times: a word the language model's vocabulary lacks is
# learned only through the character n-grams it has (models/adapt.py).
WORDS = {"negative": BAD[2:4], "positive": GOOD[1:3]}

NOUNS = {"de": ["Akku", "Bildschirm", "Lüfter", "Deckel", "Lautsprecher", "Treiber", "Kellner", "Tisch"],
         "pl": ["ekran", "wentylator", "głośnik", "sterownik", "kelner", "stolik", "akumulator", "deser"]}
SAY = {"de": ("der {noun} ist diesmal wirklich {word}", "der {noun} kam heute mit {n} Teilen an"),
       "pl": ("ten {noun} jest tym razem naprawdę {word}", "ten {noun} przyszedł dzisiaj w {n} częściach")}
HELD = {"de": ("der Akku ist diesmal wirklich grimbly", "negative"),
        "pl": ("ten ekran jest tym razem naprawdę flurbous", "positive")}
ENGLISH = "the new update made the app faster, love it"


def domain(lang: str, n: int, seed: int) -> list[tuple[str, str]]:
    """(text, label) in ``lang``: a made-up bad word negative, a good one positive, a plain fact neutral."""
    rnd = random.Random(seed)
    opinion, fact = SAY[lang]
    rows = []
    for i in range(n):
        noun = rnd.choice(NOUNS[lang])
        if i % 3 == 0:
            rows.append((opinion.format(noun=noun, word=rnd.choice(WORDS["negative"])), "negative"))
        elif i % 3 == 1:
            rows.append((opinion.format(noun=noun, word=rnd.choice(WORDS["positive"])), "positive"))
        else:
            rows.append((fact.format(noun=noun, n=rnd.randint(2, 9)), "neutral"))
    return rows


def invoke(path: Path, *args: str):
    return CliRunner().invoke(cli, ["--config", str(path), "--now", "2026-11-23T06:00:00Z", *args])


def _team(write_settings, head: Path, model: str = "fast") -> tuple[Path, dict[str, int]]:
    """60 relabelled German and 60 Polish posts, one French relabel (French is not scored), and unlabelled
    held-out posts in German, Polish and English; (settings path, ids of the held-out posts by language)."""
    path = write_settings(extra=f'[sentiment]\nmodel = "{model}"\nlanguages = ["en", "de", "pl"]\n'
                                f'adaptation = "{head}"\n')
    settings = load_settings(path)
    db = store.open_db(settings.db_path)
    labelled = [(lang, t, y) for lang in ("de", "pl") for t, y in domain(lang, 60, 3)]
    labelled.append(("fr", "la batterie est vraiment grimbly cette fois, quelle déception", "negative"))
    posts = [{"source": "s", "guid": f"g{i}", "title": None, "text": t, "language": lang,
              "published_at": "2026-11-22T10:00:00Z"} for i, (lang, t, _) in enumerate(labelled)]
    posts += [{"source": "s", "guid": f"held-{lang}", "title": None, "text": t, "language": lang,
               "published_at": "2026-11-22T11:00:00Z"} for lang, (t, _) in HELD.items()]
    posts.append({"source": "s", "guid": "held-en", "title": None, "text": ENGLISH, "language": None,
                  "published_at": "2026-11-22T11:00:00Z"})
    store.upsert_posts(db, posts, now="2026-11-23T05:00:00Z")
    ids = {g: i for i, g in db.execute("SELECT id, guid FROM posts").fetchall()}
    for i, (_, _, y) in enumerate(labelled):
        learn.label_post(db, settings, ids[f"g{i}"], now=NOW, sentiment=y)
    return path, {lang: ids[f"held-{lang}"] for lang in ("de", "pl", "en")}


def _stored(path: Path, post_id: int) -> tuple[str, str, str]:
    db = store.open_db(load_settings(path).db_path)
    return tuple(db.execute("SELECT sentiment_label, detected_language, classifier FROM posts WHERE id = ?",
                            [post_id]).fetchone())


@pytest.mark.parametrize("model,tier", [("fast", ""), ("default", r"\+use")])
def test_german_and_polish_relabels_adapt_their_own_language_models(write_settings, tmp_path, model, tier):
    """With the default model each language's head adapts its n-gram model with the encoder part (``+use``)."""
    head = tmp_path / "team.head"
    path, held = _team(write_settings, head, model)
    assert invoke(path, "classify", "--all").exit_code == 2        # the configured head does not exist yet

    result = invoke(path, "train", "--with-labels")
    assert result.exit_code == 0, result.output
    out = result.output
    for lang in ("de", "pl"):
        assert re.search(rf"^{lang}: labels: 60 relabelled post\(s\) \(20 negative, 20 neutral, 20 positive\); head "
                         rf"fitted in [\d.]+ s over multilingual-\w+-{lang}{tier}$", out, re.M), out
        base = float(re.search(rf"^{lang}: base model on these labels: accuracy [\d.]+, macro-F1 ([\d.]+)", out,
                               re.M).group(1))
        cv = float(re.search(rf"^{lang}: domain head, cross-validated \(5 folds\): accuracy [\d.]+, macro-F1 "
                             r"([\d.]+)", out, re.M).group(1))
        assert cv > base + 0.2, out   # the language's model cannot read the made-up words; its head learns them
    assert "left out: 1 relabel(s) in languages no model scores now (fr 1)" in out
    assert "en: labels" not in out                                   # no English relabels, no English head
    assert adapt.keys(head) == ["de", "pl"]

    assert invoke(path, "classify", "--all").exit_code == 0
    for lang in ("de", "pl"):
        label, detected, version = _stored(path, held[lang])
        assert (label, detected) == (HELD[lang][1], lang)
        assert re.search(rf"\+{lang}:multilingual-\w+-{lang}{tier}\+head-\w+", version), version
    label, detected, version = _stored(path, held["en"])
    alone = scorer_for(load_settings(path), head=False).score([ENGLISH])[0].label   # the configured model alone
    assert (label, detected) == (alone, "en") and "+head-" not in version.split("+de:")[0]

    ev = invoke(path, "eval", "--labels")
    assert ev.exit_code == 0, ev.output
    for lang in ("de", "pl"):
        assert re.search(rf"^{lang}: model multilingual-\w+-{lang}{tier}\+head-\w+ on 60 relabelled post\(s\): accuracy "
                         r"1\.000, macro-F1 1\.000 \(in-sample", ev.output, re.M), ev.output
        assert re.search(rf"^{lang}: cross-validated domain head \(5 folds\) on the same labels: accuracy [\d.]+, "
                         rf"macro-F1 [\d.]+; base model multilingual-\w+-{lang}{tier}: accuracy", ev.output, re.M), ev.output
    assert "on 120 relabelled post(s)" in ev.output and "(fr 1)" in ev.output


def test_a_tampered_language_head_is_refused_in_one_line_naming_the_file_and_language(write_settings, tmp_path):
    head = tmp_path / "team.head"
    path, _ = _team(write_settings, head)
    assert invoke(path, "train", "--with-labels", "--no-eval").exit_code == 0
    with zipfile.ZipFile(head) as z:
        entries = {n: z.read(n) for n in z.namelist()}
    entries["pl/arrays.npz"] = entries["pl/arrays.npz"][:-9] + b"\x01" + entries["pl/arrays.npz"][-8:]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for n, data in entries.items():
            z.writestr(n, data)
    head.write_bytes(buf.getvalue())
    result = invoke(path, "classify", "--all")
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and f"{head} (pl)" in lines[0] and "does not match the checksum" in lines[0], result.output


def test_only_relabels_in_unscored_languages_say_so(write_settings, tmp_path):
    path = write_settings(extra='[sentiment]\nmodel = "fast"\n')
    settings = load_settings(path)
    db = store.open_db(settings.db_path)
    store.upsert_posts(db, [{"source": "s", "guid": "f", "title": None, "language": "fr",
                             "text": "la batterie est vraiment nulle cette fois, quelle déception",
                             "published_at": "2026-11-22T10:00:00Z"}], now="2026-11-23T05:00:00Z")
    learn.label_post(db, settings, 1, now=NOW, sentiment="negative")
    result = invoke(path, "train", "--with-labels")
    assert result.exit_code == 2 and "none of the 1 relabelled posts is in a language the models score (fr: 1)" \
        in result.output, result.output
    ev = invoke(path, "eval", "--labels")
    assert ev.exit_code == 0 and "None of the 1 relabelled post(s) is in a language the models score (fr 1)." \
        in ev.output, ev.output
