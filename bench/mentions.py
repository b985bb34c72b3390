"""Per-mention sentiment benchmark: accuracy on target-level data, and the added cost in the classify step.

Accuracy: macro-F1 (negative, neutral, positive) and accuracy on

* Dong et al. 2014 (``target_dong2014/train.raw``: tweets, one target each, its polarity), and
* SemEval-2014 Task 4 training sentences (restaurants, laptops): each aspect term with its polarity
  (``conflict`` dropped), the term's offsets given as the mention's span,

read in place from ``../shared/data/sentiment`` (their terms do not allow redistribution, so the
repository holds neither; ``--data DIR`` or ``LISTENER_SHARED_DATA`` points elsewhere). Nothing is
trained on them here, so the split is only there to quote a held-out figure comparable to later
learned heads: a fixed 20% held-out split (seed 13) and the whole set are both printed.

Rows, per scorer (VADER, the shipped trained model), in the same run:

* post-level: the post's label given to every target (the baseline of the ratios);
* per-mention: ``models.mentions.judge_batch``;
* (trained row only) + head: a light learned component tried side by side, not shipped: a
  multinomial logistic regression over 24 dense features of the target (the trained model's
  score, signed confidence and neutrality of the post, of the text left and right of the target
  and of the span judged; VADER's compound of the post, left and right; the per-mention score,
  neutrality and comparative flag of both scorers), out-of-fold over 5 stratified folds of Dong
  (seed 13), and trained on all of Dong for the SemEval rows (a transfer test);
* + head + n-grams: the same plus hashed word 1-2-grams of 4 tokens either side of the target:
  it fits Dong better and transfers worse (the reason it is printed).

Speed: the full classify step (``Classifier.classify``, batches of 2,000, one thread, the rows of
``bench/classify.py``) with and without ``judge_batch`` on its mentions; the added milliseconds per
mention. Target: the full step with mentions >= 300 posts/s with the trained model.

Run: ``python bench/mentions.py [--quick] [--json PATH] [--data DIR]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere
from bench.classify import BATCH, make_rows, settings_for  # noqa: E402
from listener.classifier import Classifier  # noqa: E402
from listener.files import write_atomic  # noqa: E402
from models import datasets  # noqa: E402
from models.classify import post_text  # noqa: E402
from models.features import normalize, word_tokens  # noqa: E402
from models.mentions import judge_batch, judge_targets  # noqa: E402
from models.sentiment import LABELS, Scorer, Sentiment, load_scorer  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
Item = datasets.TargetItem


def data_dir(given: Path | None) -> Path:
    for d in (given, os.environ.get("LISTENER_SHARED_DATA"), ROOT.parent / "shared" / "data" / "sentiment",
              ROOT.parent.parent / "shared" / "data" / "sentiment"):
        if d and (Path(d) / "target_dong2014").is_dir():
            return Path(d)
    raise SystemExit("target_dong2014 not found: pass --data DIR (the folder holding target_dong2014/)")


def macro_f1(gold: list[str], pred: list[str]) -> float:
    f1s = []
    for c in LABELS:
        tp = sum(g == c and p == c for g, p in zip(gold, pred))
        fp = sum(g != c and p == c for g, p in zip(gold, pred))
        fn = sum(g == c and p != c for g, p in zip(gold, pred))
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return sum(f1s) / len(f1s)


def head_features(items: list[Item], trained: Scorer, vader: Scorer) -> np.ndarray:
    """The head's dense features (see the module docstring), one row per item."""
    texts = [t for t, _, _, _ in items]
    post_t, post_v = trained.score(texts), vader.score(texts)
    jt = judge_batch([(t, ms, p) for (t, ms, _, _), p in zip(items, post_t)], trained)
    jv = judge_batch([(t, ms, p) for (t, ms, _, _), p in zip(items, post_v)], vader)
    left = [t[:ms[k].spans[0][0]] or "." for t, ms, k, _ in items]
    right = [t[ms[k].spans[0][1]:] or "." for t, ms, k, _ in items]
    lt, rt, lv, rv = trained.score(left), trained.score(right), vader.score(left), vader.score(right)
    span_t = trained.score([j[k].span or "." for j, (_, _, k, _) in zip(jt, items)])
    rows = []
    for i, (_, _, k, _) in enumerate(items):
        m, mv, row = jt[i][k], jv[i][k], []
        for x in (post_t[i], lt[i], rt[i], span_t[i]):
            row += [x.score, x.confidence if x.label != "neutral" else -x.confidence, float(x.label == "neutral")]
        row += [post_v[i].score, lv[i].score, rv[i].score, m.score or 0.0, float(m.label == "neutral"),
                float(m.basis == "comparative"), mv.score or 0.0, float(mv.basis == "comparative")]
        rows.append(row)
    return np.array(rows, dtype=np.float64)


def context_ngrams(items: list[Item], k: int = 4):
    """Hashed word 1-2-grams of the ``k`` tokens left (L_) and right (R_) of the target."""
    from sklearn.feature_extraction.text import HashingVectorizer

    docs = []
    for t, ms, i, _ in items:
        a, b = ms[i].spans[0]
        left, right = word_tokens(normalize(t[:a]))[-k:], word_tokens(normalize(t[b:]))[:k]
        docs.append(" ".join([f"L_{w}" for w in left] + [f"R_{w}" for w in right] + [f"W_{w}" for w in left + right]))
    return HashingVectorizer(n_features=2 ** 16, token_pattern=r"\S+", ngram_range=(1, 2), alternate_sign=False,
                             norm="l2").transform(docs)


def heads(sets: dict[str, list[Item]], trained: Scorer, vader: Scorer) -> dict[str, dict[str, list[str]]]:
    """Labels of the two heads: out-of-fold on Dong, trained on all of Dong for the other sets."""
    from scipy import sparse
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from sklearn.preprocessing import StandardScaler

    feats = {n: head_features(items, trained, vader) for n, items in sets.items()}
    grams = {n: context_ngrams(items) for n, items in sets.items()}
    y = np.array([LABELS.index(g) for _, _, _, g in sets["dong2014"]])

    def design(name: str, scaler, ngrams: bool):
        x = sparse.csr_matrix(scaler.transform(feats[name]))
        return sparse.hstack([x, grams[name]]).tocsr() if ngrams else x

    out: dict[str, dict[str, list[str]]] = {n: {} for n in sets}
    for method, ngrams in (("+ head", False), ("+ head + n-grams", True)):
        pred = np.zeros(len(y), dtype=int)
        for trn, tst in StratifiedKFold(5, shuffle=True, random_state=13).split(feats["dong2014"], y):
            scaler = StandardScaler().fit(feats["dong2014"][trn])
            clf = LogisticRegression(max_iter=3000).fit(design("dong2014", scaler, ngrams)[trn], y[trn])
            pred[tst] = clf.predict(design("dong2014", scaler, ngrams)[tst])
        out["dong2014"][method] = [LABELS[i] for i in pred]
        scaler = StandardScaler().fit(feats["dong2014"])
        clf = LogisticRegression(max_iter=3000).fit(design("dong2014", scaler, ngrams), y)
        for name in sets:
            if name != "dong2014":
                out[name][method] = [LABELS[i] for i in clf.predict(design(name, scaler, ngrams))]
    return out


def evaluate(items: list[Item], scorer: Scorer) -> dict[str, list[str]]:
    """Predicted labels: post-level and per-mention."""
    post, mention = judge_targets(items, scorer)
    return {"post-level": post, "per-mention": mention}


def held_out(n: int, seed: int = 13, share: float = 0.2) -> list[int]:
    idx = list(range(n))
    random.Random(seed).shuffle(idx)
    return sorted(idx[:int(n * share)])


def speed(n: int, seed: int) -> dict[str, dict]:
    rows = make_rows(n, seed)
    out = {}
    for model in ("vader", "trained"):
        c = Classifier.from_settings(settings_for(model))
        c.classify(rows[:50])
        with threadpool_limits(limits=1):
            t0 = time.perf_counter()
            results = [r for i in range(0, n, BATCH) for r in c.classify(rows[i:i + BATCH])]
            t1 = time.perf_counter()
            bodies = {r["id"]: post_text(r["title"], r["text"]) for r in rows}
            items = [(bodies[x.post_id], x.mentions, Sentiment(x.label, x.sentiment, x.confidence, x.model))
                     for x in results]
            for i in range(0, n, BATCH):
                judge_batch(items[i:i + BATCH], c.scorer)
            t2 = time.perf_counter()
        mentions = sum(len(x.mentions) for x in results)
        out[model] = {"posts": n, "mentions": mentions, "classify_posts_per_s": round(n / (t1 - t0), 1),
                      "with_mentions_posts_per_s": round(n / (t2 - t0), 1),
                      "ratio": round((t1 - t0) / (t2 - t0), 3),
                      "ms_per_mention": round(1000 * (t2 - t1) / max(mentions, 1), 4)}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="the held-out 20%% only, 4,000 posts for speed")
    ap.add_argument("--json", type=Path, metavar="PATH")
    ap.add_argument("--data", type=Path, metavar="DIR")
    ap.add_argument("--posts", type=int)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    folder = data_dir(args.data)
    sets = {"dong2014": datasets.load_dong(folder),
            "semeval14-restaurants": datasets.load_absa_terms(folder, "restaurants"),
            "semeval14-laptops": datasets.load_absa_terms(folder, "laptops")}
    scorers = {"vader": load_scorer("vader"), "trained": load_scorer("trained")}
    report: dict = {"data": str(folder), "accuracy": {}, "python": platform.python_version()}
    print(f"{'set':<24}{'split':<10}{'scorer':<9}{'method':<18}{'n':>6}{'macro-F1':>10}{'acc':>8}"
          f"{'F1 x post':>11}{'acc x post':>12}")
    learned = heads(sets, scorers["trained"], scorers["vader"])
    for set_name, items in sets.items():
        for sname, scorer in scorers.items():
            preds = evaluate(items, scorer)
            if sname == "trained":
                preds.update(learned[set_name])
            gold = [g for _, _, _, g in items]
            for split, idx in (("held-out", held_out(len(items))),) + ((() if args.quick else
                                                                         (("all", list(range(len(items)))),))):
                g = [gold[i] for i in idx]
                base_f1 = base_acc = None
                for method, p in preds.items():
                    p = [p[i] for i in idx]
                    f1, acc = macro_f1(g, p), sum(a == b for a, b in zip(g, p)) / len(g)
                    base_f1, base_acc = base_f1 or f1, base_acc or acc
                    report["accuracy"].setdefault(set_name, {}).setdefault(split, {}).setdefault(sname, {})[method] = {
                        "n": len(g), "macro_f1": round(f1, 4), "accuracy": round(acc, 4),
                        "f1_ratio_to_post": round(f1 / base_f1, 3), "acc_ratio_to_post": round(acc / base_acc, 3)}
                    print(f"{set_name:<24}{split:<10}{sname:<9}{method:<18}{len(g):>6}{f1:>10.3f}{acc:>8.3f}"
                          f"{f1 / base_f1:>11.3f}{acc / base_acc:>12.3f}")
    print("published, Dong 2014 test macro-F1: AdaRNN 0.659, LSTM target models ~0.69-0.70, BERT-class 0.73-0.75")
    n = args.posts or (4_000 if args.quick else 20_000)
    report["speed"] = speed(n, args.seed)
    print(f"\nclassify step, {n:,} posts, one thread{'':<6}{'posts/s':>10}{'+mentions':>11}{'ratio':>8}"
          f"{'mentions':>10}{'ms/mention':>12}")
    for model, s in report["speed"].items():
        print(f"{model:<45}{s['classify_posts_per_s']:>10,.0f}{s['with_mentions_posts_per_s']:>11,.0f}"
              f"{s['ratio']:>8.3f}{s['mentions']:>10,}{s['ms_per_mention']:>12.3f}")
    rate = report["speed"]["trained"]["with_mentions_posts_per_s"]
    print(f"target: full classify with mentions, trained model >= 300 posts/s: {'met' if rate >= 300 else 'NOT MET'}")
    if args.json:
        write_atomic(args.json, json.dumps(report, indent=2, sort_keys=True) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
