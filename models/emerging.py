"""Emerging topics: cluster a period's posts and name each cluster by its distinguishing terms.

TF-IDF (word 1-2-grams, English stop words dropped) is fitted on the period's posts plus the
trailing baseline's, NMF factors the period's posts into at most ``k`` clusters (each post goes
to its strongest component), and a cluster is named by its heaviest terms that are at least
twice as common in the period as in the baseline. A cluster is "new" when the posts of the
baseline carry its two top terms together at most a third as often as the period's do.
Deterministic (fixed seed); pure function of texts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from models.features import normalize

LIFT = 2.0          # a naming term is at least this many times more common than in the baseline
NEW_RATIO = 3.0     # "new": the top term pair is at least this many times more common than before
TOP_TERMS = 5
EXAMPLES = 5
_TOKEN = r"(?u)\b[^\W\d_][\w'-]+\b"


@dataclass(frozen=True)
class Cluster:
    terms: tuple[str, ...]
    size: int
    baseline_share: float    # share of baseline posts carrying the two top terms
    period_share: float      # the same in the period
    is_new: bool
    post_ids: tuple[int, ...]  # the most typical posts, best first


def _clean(text: str) -> str:
    return re.sub(r"\burl\b|@user", " ", normalize(text))


def find_clusters(period: Sequence[tuple[int, str]], baseline: Sequence[str], *, k: int = 5,
                  min_posts: int = 10, seed: int = 0) -> list[Cluster]:
    """Clusters of ``period`` posts ((id, text) pairs), largest first; [] when too few posts."""
    if len(period) < min_posts:
        return []
    from sklearn.decomposition import NMF
    from sklearn.feature_extraction.text import TfidfVectorizer

    docs = [_clean(t) for _, t in period]
    base = [_clean(t) for t in baseline]
    vec = TfidfVectorizer(ngram_range=(1, 2), stop_words="english", min_df=2, max_df=0.5,
                          sublinear_tf=True, token_pattern=_TOKEN)
    try:
        x_all = vec.fit_transform(docs + base)
    except ValueError:  # no term occurs twice
        return []
    x, xb = x_all[:len(docs)], x_all[len(docs):]
    n_comp = max(1, min(k, len(docs) // 3, x.shape[1]))
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    nmf = NMF(n_components=n_comp, init="nndsvd", random_state=seed, max_iter=400)
    with warnings.catch_warnings():  # near-duplicate posts converge slowly; the clusters are still usable
        warnings.simplefilter("ignore", ConvergenceWarning)
        w = nmf.fit_transform(x)
    h = nmf.components_
    terms = vec.get_feature_names_out()
    df_period = np.asarray((x > 0).mean(axis=0)).ravel()
    df_base = np.asarray((xb > 0).mean(axis=0)).ravel() if xb.shape[0] else np.zeros(x.shape[1])
    owner = w.argmax(axis=1)
    strength = w.max(axis=1)
    out = []
    for c in range(n_comp):
        members = [i for i in range(len(docs)) if owner[i] == c and strength[i] > 0]
        if not members:
            continue
        ranked = [j for j in np.argsort(-h[c]) if h[c, j] > 0]
        naming = [j for j in ranked if df_period[j] >= LIFT * df_base[j]][:TOP_TERMS] or ranked[:TOP_TERMS]
        if not naming:
            continue
        pair = naming[:2]
        carry_p = _share(x, pair)
        carry_b = _share(xb, pair) if xb.shape[0] else 0.0
        best = sorted(members, key=lambda i: (-strength[i], period[i][0]))[:EXAMPLES]
        out.append(Cluster(terms=tuple(str(terms[j]) for j in naming), size=len(members),
                           baseline_share=round(carry_b, 4), period_share=round(carry_p, 4),
                           is_new=carry_p > 0 and carry_b * NEW_RATIO <= carry_p,
                           post_ids=tuple(period[i][0] for i in best)))
    return sorted(out, key=lambda c: (-c.size, c.terms))


def _share(x, columns: list[int]) -> float:
    """Share of rows of ``x`` with every one of ``columns`` non-zero."""
    if x.shape[0] == 0:
        return 0.0
    hits = np.ones(x.shape[0], dtype=bool)
    for j in columns:
        hits &= np.asarray(x[:, j].todense()).ravel() > 0
    return float(hits.mean())
