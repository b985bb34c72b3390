"""Language identification on short texts: accuracy and speed of the offline detectors.

Texts (seeded, no network): English review snippets from the bundled VADER ground truth
(``models/data/vader_groundtruth``), and for 14 other languages sentences built by Faker's
per-locale lorem word lists (real words of the language in random order: a lexical test, no
grammar). Each text is cut at a word boundary to 20-60 characters, like a short post.

Detectors: ``py3langid`` as listener calls it (``models.language.detect_language``, 12-char
minimum, no confidence floor), the same preferring English when unsure (as ``classify`` calls it
with ``sentiment.languages = ["en"]``), raw ``py3langid``, and, when installed, ``langdetect`` and
``lingua``.
"Unsure" (None) counts as wrong for accuracy; "scored ok" is the decision listener takes
(score a text detected as English or unknown, "unscored" otherwise) being right. Faker, langdetect and lingua are only needed here.

Run: ``python bench/language.py [--quick] [--json PATH]``
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path
from typing import Callable

from listener.files import write_atomic
from models.classify import covered
from models.datasets import load_vader_groundtruth
from models.language import detect_language

LOCALES = {"de": "de_DE", "fr": "fr_FR", "es": "es_ES", "it": "it_IT", "nl": "nl_NL", "pl": "pl_PL",
           "cs": "cs_CZ", "da": "da_DK", "ru": "ru_RU", "uk": "uk_UA", "ja": "ja_JP", "zh": "zh_CN",
           "el": "el_GR", "vi": "vi_VN"}


def _cut(text: str, rng: random.Random) -> str:
    limit = rng.randint(20, 60)
    if len(text) <= limit:
        return text
    cut = text[:limit]
    return cut.rsplit(" ", 1)[0] if " " in cut[15:] else cut


def make_texts(per_language: int, seed: int) -> list[tuple[str, str]]:
    """(language, text) pairs, ``per_language`` of each language."""
    rng = random.Random(seed)
    english = [t for t, _ in load_vader_groundtruth("amazon") if len(t) >= 20]
    rng.shuffle(english)
    out = [("en", _cut(t, rng)) for t in english[:per_language]]
    try:
        from faker import Faker
    except ImportError:
        print("faker not installed: English only")
        return out
    for lang, locale in LOCALES.items():
        fake = Faker(locale)
        fake.seed_instance(seed)
        out += [(lang, _cut(fake.sentence(nb_words=12), rng)) for _ in range(per_language)]
    return out


def detectors() -> dict[str, Callable[[str], str | None]]:
    found: dict[str, Callable[[str], str | None]] = {
        "listener (py3langid, min 12 chars)": detect_language,
        "listener, preferring en when unsure": lambda t: detect_language(t, prefer=("en",)),
    }
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    found["py3langid raw"] = lambda t: ident.classify(t)[0]
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

        lingua = LanguageDetectorBuilder.from_all_languages().build()

        def li(t: str) -> str | None:
            lang = lingua.detect_language_of(t)
            return lang.iso_code_639_1.name.lower() if lang else None
        found["lingua (high accuracy)"] = li
    except ImportError:
        pass
    return found


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="50 texts per language instead of 300")
    ap.add_argument("--json", type=Path, metavar="PATH")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    texts = make_texts(50 if args.quick else 300, args.seed)
    rows = {}
    print(f"{len(texts)} texts, {len({l for l, _ in texts})} languages, 20-60 characters")
    print(f"{'detector':<44}{'accuracy':>10}{'en acc':>8}{'scored ok':>10}{'texts/s':>10}")
    for name, fn in detectors().items():
        fn("warming up the model with a sentence")
        t0 = time.perf_counter()
        guesses = [fn(t) for _, t in texts]
        secs = time.perf_counter() - t0
        acc = sum(g == l for g, (l, _) in zip(guesses, texts)) / len(texts)
        en = [(g, l) for g, (l, _) in zip(guesses, texts) if l == "en"]
        en_acc = sum(g == l for g, l in en) / len(en)
        # The decision listener takes: score (English or unknown) or "unscored" (another language).
        decided = sum(covered(g, ("en",)) == (l == "en") for g, (l, _) in zip(guesses, texts)) / len(texts)
        rows[name] = {"accuracy": round(acc, 4), "english_accuracy": round(en_acc, 4),
                      "scored_decision_accuracy": round(decided, 4), "texts_per_s": round(len(texts) / secs, 1)}
        print(f"{name:<44}{acc:>10.3f}{en_acc:>8.3f}{decided:>10.3f}{len(texts) / secs:>10,.0f}")
    if args.json:
        write_atomic(args.json, json.dumps({"rows": rows, "texts": len(texts), "seed": args.seed},
                                           indent=2, sort_keys=True) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
