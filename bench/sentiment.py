"""Sentiment models side by side: accuracy on every set we have and throughput on one core, in one run.

Models: plain VADER, the ``fast`` linear model (the shipped ``models/artifacts/sentiment.model``), the
``default`` transformer (the shipped int8 ``models/artifacts/encoder/``), and any other artifact folder
given with ``--variant NAME=DIR`` (e.g. the same network before int8 quantization).

Columns:

* TweetEval val macro-recall (the official metric; no model here trained on it);
* VADER tweets and Amazon snippets, positive vs negative macro-F1 on the fifth of each set that the
  default model never saw (``datasets.folds(n, 5, 0)``, fold 0). The fast model trains on those sets
  too, so its figure there comes from the same linear config refitted without that fifth (the
  fold-0 model of its own 5-fold cross-validation); VADER is not trained at all;
* out of domain, read in place from ``../shared/data/sentiment`` when present (``--data DIR``;
  nothing trains on them, their terms forbid copying them here): Dong 2014 tweets (the target's
  polarity as the tweet's, 3-class macro-F1) and SemEval-2014 laptop and restaurant sentences whose
  aspect terms all share one polarity (3-class macro-F1);
* texts/s of the scorer alone on one thread, on 2,000 rows of ``bench/classify.py`` (half short
  real texts, half longer product posts), and as a ratio to plain VADER in the same run. The full
  classify step's posts/s is ``bench/classify.py``.

Targets (issue 13): TweetEval val >= 0.76, VADER tweets >= 0.95, Amazon >= 0.82; each printed met / NOT MET.

Run: ``python bench/sentiment.py [--quick] [--json PATH] [--data DIR] [--variant NAME=DIR ...]``
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path
from typing import Callable, Sequence

from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere
from bench.classify import make_rows  # noqa: E402
from listener.files import write_atomic  # noqa: E402
from models import datasets, trained, training  # noqa: E402
from models.classify import post_text  # noqa: E402
from models.sentiment import LABELS, Scorer, TrainedScorer, load_scorer  # noqa: E402
from models.vader import vader_compound  # noqa: E402

TARGETS = {"tweeteval_val": 0.76, "vader_tweets": 0.95, "vader_amazon": 0.82}
HELD = 0   # the held-out fold of the VADER sets (models/encoder_training.py HELD_OUT_FOLD)


def shared_data(given: Path | None) -> Path | None:
    root = Path(__file__).resolve().parent.parent
    for d in (given, root.parent / "shared" / "data" / "sentiment", root.parent.parent / "shared" / "data" / "sentiment"):
        if d and (Path(d) / "target_dong2014").is_dir():
            return Path(d)
    return None


def dong(folder: Path) -> list[tuple[str, str]]:
    """Dong 2014 train.raw tweets with the target put back, and the target's polarity."""
    lines = (folder / "target_dong2014" / "train.raw").read_text(encoding="utf-8").split("\n")
    polarity = {"-1": "negative", "0": "neutral", "1": "positive"}
    return [(lines[i].replace("$T$", lines[i + 1].strip()), polarity[lines[i + 2].strip()])
            for i in range(0, len(lines) - 2, 3)]


def semeval(folder: Path, name: str) -> list[tuple[str, str]]:
    """SemEval-2014 ABSA sentences whose aspect terms all have one polarity (not conflict)."""
    root = ET.parse(folder / "semeval14_absa" / f"{name}_Train_v2.xml").getroot()
    out = []
    for s in root.iter("sentence"):
        pols = {t.get("polarity") for t in s.iter("aspectTerm")}
        if len(pols) == 1 and pols <= set(LABELS):
            out.append((s.findtext("text") or "", pols.pop()))
    return out


def fast_without_held_out() -> Scorer:
    """The fast model's config refitted on TweetEval train plus the VADER sets minus their held-out fifth."""
    model = trained.load(trained.SHIPPED)
    config = training.TrainConfig.from_dict(model.meta.get("config", {}))
    train = datasets.load_tweeteval("train")
    for name in config.vader_sets:
        ex = datasets.vader_examples(name)
        train += [e for e, f in zip(ex, datasets.folds(len(ex), 5, config.seed)) if f != HELD]
    return TrainedScorer(training.fit(train, replace(config, cv_folds=0)))


def measure(scorer: Scorer, vader_scorer: Scorer | None, out_of_domain: dict[str, list[tuple[str, str]]],
            every: int) -> dict:
    """Every accuracy column for ``scorer`` (``vader_scorer``: the scorer for the VADER-set columns when
    it must differ, i.e. the fast model refitted without the held-out fifth)."""
    val = datasets.subset(datasets.load_tweeteval("val"), every)
    got = [s.label for s in scorer.score([e.text for e in val])]
    out = {"tweeteval_val": training.three_class([e.label for e in val], got)["macro_recall"]}
    for name in ("tweets", "amazon"):
        rows = datasets.load_vader_groundtruth(name)
        held = [r for r, f in zip(rows, datasets.folds(len(rows), 5, 0)) if f == HELD][::every]
        scores = [s.score for s in (vader_scorer or scorer).score([t for t, _ in held])]
        out[f"vader_{name}"] = training.polar([r for _, r in held], scores)["macro_f1"]
    for name, items in out_of_domain.items():
        items = items[::every]
        got = [s.label for s in scorer.score([t for t, _ in items])]
        out[name] = training.three_class([g for _, g in items], got)["macro_f1"]
    return out


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def speed(scorers: dict[str, Scorer], bodies: Sequence[str]) -> dict[str, float]:
    """Texts/s of each scorer alone on one thread, and of plain VADER ("plain VADER")."""
    with threadpool_limits(limits=1):
        out = {"plain VADER": len(bodies) / timed(lambda: [vader_compound(b) for b in bodies])}
        for name, s in scorers.items():
            s.score(bodies[:8])
            out[name] = len(bodies) / timed(lambda: [s.score(bodies[i:i + 500]) for i in range(0, len(bodies), 500)])
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="every 4th example, 1,000 rows for speed; the fast "
                    "model's VADER-set figures from the shipped model (which saw them: marked)")
    ap.add_argument("--json", type=Path, metavar="PATH")
    ap.add_argument("--data", type=Path, help="folder holding target_dong2014/ and semeval14_absa/")
    ap.add_argument("--variant", action="append", default=[], metavar="NAME=DIR",
                    help="another default-model artifact folder to compare (repeatable)")
    args = ap.parse_args(argv)
    every = 4 if args.quick else 1
    scorers: dict[str, Scorer] = {"vader": load_scorer("vader"), "fast": load_scorer("fast"),
                                  "default (int8)": load_scorer("default")}
    for v in args.variant:
        name, _, folder = v.partition("=")
        scorers[f"default ({name})"] = load_scorer("default", Path(folder))
    folder = shared_data(args.data)
    ood = {} if folder is None else {"dong2014": dong(folder), "semeval_laptops": semeval(folder, "Laptop"),
                                      "semeval_restaurants": semeval(folder, "Restaurants")}
    fast_held = None if args.quick else fast_without_held_out()
    with threadpool_limits(limits=1):
        acc = {name: measure(s, fast_held if name == "fast" else None, ood, every) for name, s in scorers.items()}
    rows = make_rows(1000 if args.quick else 2000, 1)
    rates = speed(scorers, [post_text(r["title"], r["text"]) for r in rows])
    cols = ["tweeteval_val", "vader_tweets", "vader_amazon", *ood]
    heads = {"tweeteval_val": "TE val mR", "vader_tweets": "VADER tw F1", "vader_amazon": "Amazon F1",
             "dong2014": "Dong F1", "semeval_laptops": "SE lap F1", "semeval_restaurants": "SE rest F1"}
    print(f"{'model':<18}" + "".join(f"{heads[c]:>13}" for c in cols) + f"{'texts/s':>10}{'x VADER':>9}")
    for name in scorers:
        print(f"{name:<18}" + "".join(f"{acc[name][c]:>13.4f}" for c in cols)
              + f"{rates[name]:>10,.0f}{rates[name] / rates['plain VADER']:>9.3f}")
    print(f"{'plain VADER':<18}" + " " * 13 * len(cols) + f"{rates['plain VADER']:>10,.0f}{1:>9.3f}")
    if args.quick:
        print("(--quick: every 4th example; fast's VADER-set figures are from the shipped model, which trained on them)")
    if folder is None:
        print("(out-of-domain sets not found: pass --data DIR)")
    for col, floor in TARGETS.items():
        v = acc["default (int8)"][col]
        print(f"target: default {col} >= {floor}: {'met' if v >= floor else 'NOT MET'} ({v:.4f})")
    if args.json:
        write_atomic(args.json, json.dumps({"accuracy": acc, "texts_per_s": rates, "targets": TARGETS,
                                            "models": {k: s.name for k, s in scorers.items()},
                                            "quick": args.quick, "python": platform.python_version()},
                                           indent=2, sort_keys=True) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
