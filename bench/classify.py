"""Classify benchmark: posts/s of the full classify step (sentiment + products + topics + language).

On one core (BLAS limited to one thread), in batch mode (``Classifier.classify``, built by
``Classifier.from_settings``, over batches of 2,000, as ``listener classify`` runs it), on N posts:
short real texts (TweetEval val and the VADER ground-truth sets, bundled in ``models/data``) mixed
half and half with the synthetic, longer product posts of ``bench/ingest.py`` (40-800 characters).
Rows, measured in the same run:

* plain VADER:              ``vader_compound`` alone per post (the baseline of the ratio);
* classify, vader:          the full step with ``sentiment.model = "vader"``;
* classify, default:        the full step with the shipped default model (the transformer, onnxruntime
                            on one thread);
* classify, fast:           the full step with ``sentiment.model = "fast"`` (the linear model);
* default / fast sentiment only: the scorer's ``score`` alone on the post bodies;
* classify, fast, non-English: the full step (``sentiment.model = "fast"``, every language of the
                            multilingual artifact in ``sentiment.languages``) on as many posts in German,
                            French, Spanish, Italian, Portuguese and Polish (Faker's per-locale sentences,
                            the same product mentions, 40-800 characters; the ``bench`` extra), each post
                            scored by its language's own model (``models.multilingual``);
* classify, default, non-English: the same posts with the default model configured (English keeps it;
                            each other language's model averages in its encoder part, which embeds the
                            post's opening: ``models.multilingual``, ``+use``).

Every row's posts/s is also printed as a ratio to plain VADER, and each non-English row's as a ratio to
the English row of the same model (``ratio_to_english`` in the JSON). Store writes are not included
(see ``bench/ingest.py``).

Run: ``python bench/classify.py [--quick] [--json PATH] [--posts N]``
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable

from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere
from bench.ingest import bench_settings, make_posts  # noqa: E402
from listener.classifier import Classifier
from listener.config import Settings, Topic
from listener.files import write_atomic
from models import datasets, training
from models.classify import post_text
from models.language import detect_language
from models.vader import vader_compound

BATCH = 2000
TOPICS = (Topic("performance", ("slow", "fast", "speed", "lag*", "memory")),
          Topic("bugs", ("bug*", "crash*", "broke*", "broken")),
          Topic("privacy", ("privacy", "tracking", "tracker*")),
          Topic("battery", ("battery", "battery life", "power")))


def settings_for(model: str) -> Settings:
    """bench/ingest.py's products, these topics, and the sentiment ``model``."""
    return replace(bench_settings(Path("bench.db"), model), topics=TOPICS)


def make_rows(n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    short = [e.text for e in datasets.load_tweeteval("val")]
    for name in datasets.VADER_SETS:
        short += [t for t, _ in datasets.load_vader_groundtruth(name)]
    long = make_posts(n - n // 2, seed)
    rows = [{"id": i, "title": None, "text": rng.choice(short), "language": None} for i in range(n // 2)]
    rows += [{"id": n // 2 + i, "title": p["title"], "text": p["text"], "language": p["language"]}
             for i, p in enumerate(long)]
    rng.shuffle(rows)
    return rows


FOREIGN_LOCALES = {"de": "de_DE", "fr": "fr_FR", "es": "es_ES", "it": "it_IT", "pt": "pt_PT", "pl": "pl_PL"}


def make_foreign_rows(n: int, seed: int) -> list[dict] | None:
    """N posts in the languages of ``FOREIGN_LOCALES`` (in turn), sentences from Faker's word lists with a
    product mention each 40-800 characters; None without Faker (the ``bench`` extra)."""
    try:
        from faker import Faker
    except ImportError:
        return None
    from bench.ingest import MENTIONS

    rng = random.Random(seed)
    fakers = {lang: Faker(locale) for lang, locale in FOREIGN_LOCALES.items()}
    for i, f in enumerate(fakers.values()):
        f.seed_instance(seed + i)
    langs = list(fakers)
    rows = []
    for i in range(n):
        f = fakers[langs[i % len(langs)]]
        target = rng.randint(40, 800)
        parts = [f"{rng.choice(MENTIONS)} {f.sentence()}"]
        while sum(len(p) + 1 for p in parts) < target:
            parts.append(f.sentence() if rng.random() < 0.8 else f"{rng.choice(MENTIONS)} {f.sentence()}")
        rows.append({"id": i, "title": None, "text": " ".join(parts)[:target], "language": None})
    return rows


def foreign_settings(model: str) -> Settings:
    """``settings_for(model)`` scoring English and every language the multilingual artifact covers."""
    from models.multilingual import LANGUAGES

    s = settings_for(model)
    return replace(s, sentiment=replace(s.sentiment, languages=("en", *LANGUAGES)))


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="4,000 posts instead of 20,000")
    ap.add_argument("--json", type=Path, metavar="PATH")
    ap.add_argument("--posts", type=int)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    n = args.posts or (4_000 if args.quick else 20_000)
    rows = make_rows(n, args.seed)
    foreign = make_foreign_rows(n, args.seed)
    vader = Classifier.from_settings(settings_for("vader"))
    default = Classifier.from_settings(settings_for("default"))
    fast = Classifier.from_settings(settings_for("fast"))
    bodies = [post_text(r["title"], r["text"]) for r in rows]
    detect_language("warming up the language model"), vader_compound("warm")
    default.scorer.score(["warm up"]), fast.scorer.score(["warm up"])

    def full(classifier: Classifier, rows: list[dict] = rows) -> Callable[[], object]:
        return lambda: [classifier.classify(rows[i:i + BATCH]) for i in range(0, len(rows), BATCH)]

    if foreign is not None:
        fast_foreign = Classifier.from_settings(foreign_settings("fast"))
        default_foreign = Classifier.from_settings(foreign_settings("default"))
        fast_foreign.classify(foreign[:20]), default_foreign.classify(foreign[:20])

    def alone(classifier: Classifier) -> Callable[[], object]:
        return lambda: [classifier.scorer.score(bodies[i:i + BATCH]) for i in range(0, len(bodies), BATCH)]

    with threadpool_limits(limits=1):
        secs = {
            "plain VADER": timed(lambda: [vader_compound(b) for b in bodies]),
            "classify, vader": timed(full(vader)),
            "classify, default": timed(full(default)),
            "classify, fast": timed(full(fast)),
            "default sentiment only": timed(alone(default)),
            "fast sentiment only": timed(alone(fast)),
        }
        if foreign is not None:
            secs["classify, fast, non-English"] = timed(full(fast_foreign, foreign))
            secs["classify, default, non-English"] = timed(full(default_foreign, foreign))
    base = n / secs["plain VADER"]
    print(f"{n:,} posts ({n // 2:,} short real texts, {n - n // 2:,} synthetic product posts), one thread"
          + (f"; non-English rows: {n:,} posts in {', '.join(FOREIGN_LOCALES)}" if foreign is not None
             else "; no non-English rows (install the bench extra for Faker)"))
    print(f"{'':<30}{'seconds':>10}{'posts/s':>12}{'x plain VADER':>15}")
    out = {}
    for name, s in secs.items():
        rate = n / s
        out[name] = {"seconds": round(s, 3), "posts_per_s": round(rate, 1), "ratio_to_vader": round(rate / base, 3)}
        print(f"{name:<30}{s:>10.2f}{rate:>12,.0f}{rate / base:>15.2f}")
    for row, floor, why in (("classify, default", training.SPEED_TARGETS["default"], "accuracy first"),
                            ("classify, fast", training.SPEED_TARGETS["fast"], "the fast model"),
                            ("classify, default, non-English", training.SPEED_TARGETS["default"], "accuracy first"),
                            ("classify, fast, non-English", training.SPEED_TARGETS["fast"], "the fast model")):
        if row not in out:
            continue
        rate = out[row]["posts_per_s"]
        print(f"target: {row} >= {floor:,.0f} posts/s ({why}): {'met' if rate >= floor else 'NOT MET'} ({rate:,.0f})")
    for row, english in (("classify, fast, non-English", "classify, fast"), ("classify, default, non-English", "classify, default")):
        if row in out:
            out[row]["ratio_to_english"] = round(out[row]["posts_per_s"] / out[english]["posts_per_s"], 3)
            print(f"{row}: {out[row]['ratio_to_english']:.2f}x English ({english}, same run)")
    if args.json:
        write_atomic(args.json, json.dumps({"posts": n, "rows": out, "seed": args.seed, "models": {"default": default.model, "fast": fast.model},
                                            "python": platform.python_version()}, indent=2, sort_keys=True) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
