"""Emerging topics: cluster a period's posts and name each cluster by phrases a person would write.

Clusters: TF-IDF (word 1-2-grams; English stop words, contractions and the product's own name and
aliases dropped) is fitted on the period's posts plus the trailing baseline's, NMF factors the
period's posts into at most ``k`` clusters, and each post goes to its strongest component.

Names: the word 1- to 3-grams of the cluster's posts, taken within a sentence or clause (never
across punctuation), that neither start nor end with a stop word, hold no word of the product's
name or aliases and no number, and occur in at least two of the cluster's posts and at least a fifth
of them. Each is scored by how much more often the cluster's posts carry it than the other posts of
the period and the baseline do (a smoothed log ratio, weighted by its share of the cluster, longer
phrases a little preferred), and the best are kept, leaving out any phrase inside or around one
already kept ("gpu driver" once "new gpu driver" is kept).

A cluster's growth is the share of the period's posts carrying its top phrase against the share of
the baseline's; it is "new" when the baseline carries it at most a third as often. At most
``max_posts`` period posts and ``max_baseline`` baseline posts are read (an even sample by id, the
same every run). Deterministic (fixed seed); a pure function of texts.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, Sequence

from models.features import normalize

NEW_RATIO = 3.0     # "new": the top phrase is at least this many times more common than in the baseline
TOP_TERMS = 5
EXAMPLES = 5
MIN_SHARE = 0.2     # a naming phrase is in at least this share of the cluster's posts (and in two)
MAX_POSTS = 2000    # period posts clustered at most (an even sample beyond)
MAX_BASELINE = 4000
_LENGTH_BONUS = {1: 1.0, 2: 1.35, 3: 1.5}
_TOKEN = r"(?u)\b[^\W\d_][\w'-]+\b"
_WORD = re.compile(r"[^\W\d_][\w'’-]*", re.UNICODE)
_CLAUSE = re.compile(r"[.!?;:,()\[\]{}\"“”|/\n]+|\s-+\s|\s–\s")
_CONTRACTIONS = set("""i'm i've i'd i'll you're you've you'd you'll he's she's it's we're we've we'd we'll they're
they've they'd they'll that's there's here's what's who's where's how's let's isn't aren't wasn't weren't
don't doesn't didn't can't couldn't won't wouldn't shouldn't haven't hasn't hadn't ain't im ive dont cant
doesnt didnt isnt wont thats theres youre""".split())
_FILLER = set("""just really like also still even lot lots thing things stuff way got get gets getting go going
gone make makes made know think thought want wanted need needed use used using new old good bad great today
yesterday now day days week time times anyone someone something anything everything people guys yes yeah ok
okay url user""".split())


@dataclass(frozen=True)
class Cluster:
    terms: tuple[str, ...]     # naming phrases, best first
    size: int
    baseline_share: float      # share of baseline posts carrying the top phrase
    period_share: float        # the same in the period
    is_new: bool
    post_ids: tuple[int, ...]  # the most typical posts, best first

    @property
    def growth(self) -> float | None:
        """How many times more common the top phrase is in the period than in the baseline (None: absent before)."""
        return self.period_share / self.baseline_share if self.baseline_share else None


@lru_cache(maxsize=1)
def stop_words() -> frozenset[str]:
    """English stop words, contractions and filler words: never the first or last word of a name."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS) | _CONTRACTIONS


def name_words(names: Iterable[str]) -> frozenset[str]:
    """The lowercased words of a product's name and aliases (a name holding any of them is dropped)."""
    return frozenset(w.replace("’", "'") for n in names for w in _WORD.findall(n.lower()))


def _clean(text: str) -> str:
    return re.sub(r"\burl\b|@user", " ", normalize(text))


def phrases(text: str, stop: frozenset[str], banned: frozenset[str]) -> set[str]:
    """The candidate naming phrases of one text (see the module docstring)."""
    out: set[str] = set()
    no_edge = stop | _FILLER
    for clause in _CLAUSE.split(text.lower().replace("’", "'")):
        words = [w.strip("'-") for w in _WORD.findall(clause)]
        ok = [len(w) >= 2 and w not in banned for w in words]   # may be in a phrase
        edge = [w not in no_edge for w in words]                # may start or end one
        n = len(words)
        for i in range(n):
            if not (ok[i] and edge[i]):
                continue
            if len(words[i]) >= 3:
                out.add(words[i])
            if i + 1 < n and ok[i + 1]:
                if edge[i + 1]:
                    out.add(f"{words[i]} {words[i + 1]}")
                if i + 2 < n and ok[i + 2] and edge[i + 2]:
                    out.add(f"{words[i]} {words[i + 1]} {words[i + 2]}")
    return out


def _df(sets: Iterable[set[str]]) -> dict[str, int]:
    """In how many of ``sets`` each phrase is."""
    out: dict[str, int] = {}
    for s in sets:
        for p in s:
            out[p] = out.get(p, 0) + 1
    return out


def name_clusters(members: Sequence[Sequence[set[str]]], others: Sequence[set[str]],
                  baseline: Sequence[set[str]], *, limit: int = TOP_TERMS) -> list[tuple[str, ...]]:
    """Naming phrases, best first, for each cluster (``members``: the phrase sets of its posts, from
    ``phrases``), each against every other post of the period (the other clusters' and ``others``, the
    period's unclustered posts) and the ``baseline``'s."""
    dfs = [_df(sets) for sets in members]
    df_other, df_base = _df(others), _df(baseline)
    total: dict[str, int] = {}
    for d in dfs:
        for p, n in d.items():
            total[p] = total.get(p, 0) + n
    n_all = sum(len(sets) for sets in members) + len(others)
    out = []
    for c, d in enumerate(dfs):
        size = max(len(members[c]), 1)
        rest = max(n_all - size + len(baseline), 1)
        scored = []
        for p, k in d.items():
            share = k / size
            if k < 2 or share < MIN_SHARE:
                continue
            elsewhere = (total[p] - k + df_other.get(p, 0) + df_base.get(p, 0)) / rest
            lift = math.log((share + 0.01) / (elsewhere + 0.01))
            if lift > 0:
                scored.append((share * lift * _LENGTH_BONUS[p.count(" ") + 1], p))
        scored.sort(key=lambda x: (-x[0], x[1]))
        chosen: list[str] = []
        for _, p in scored:
            padded = f" {p} "
            if any(padded in f" {q} " for q in chosen):
                continue  # inside a phrase kept
            inner = [q for q in chosen if f" {q} " in padded]
            if inner:  # around phrases kept: it takes their place when nearly as common ("dark" -> "dark mode")
                if all(d[p] >= 0.6 * d[q] for q in inner):
                    chosen = [p if q == inner[0] else q for q in chosen if q == inner[0] or q not in inner]
                continue
            chosen.append(p)
            if len(chosen) == limit:
                break
        out.append(tuple(chosen))
    return out


def _even_sample(items: Sequence, limit: int) -> list:
    """At most ``limit`` of ``items``, evenly spaced (all when there are no more)."""
    if len(items) <= limit:
        return list(items)
    step = len(items) / limit
    return [items[int(i * step)] for i in range(limit)]


def find_clusters(period: Sequence[tuple[int, str]], baseline: Sequence[str], *, k: int = 5,
                  min_posts: int = 10, seed: int = 0, exclude: Iterable[str] = (),
                  max_posts: int = MAX_POSTS, max_baseline: int = MAX_BASELINE,
                  population: int | None = None) -> list[Cluster]:
    """Clusters of ``period`` posts ((id, text) pairs), largest first, named by phrases; [] when too
    few posts. ``exclude``: the product's name and aliases, never part of a name; ``population``: how
    many posts the period has when ``period`` is a sample of them (a cluster's size counts those)."""
    if len(period) < min_posts:
        return []
    from sklearn.decomposition import NMF
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.feature_extraction.text import TfidfVectorizer

    exclude = tuple(exclude)
    # a cluster's size counts the posts the sample stands for
    scale = max((population or len(period)) / min(len(period), max_posts), 1.0)
    period = _even_sample(sorted(period), max_posts)
    baseline = _even_sample(list(baseline), max_baseline)
    docs = [_clean(t) for _, t in period]
    base = [_clean(t) for t in baseline]
    ignored = sorted(stop_words() | name_words(exclude))
    vec = TfidfVectorizer(ngram_range=(1, 2), stop_words=ignored, min_df=2, max_df=0.5,
                          sublinear_tf=True, token_pattern=_TOKEN)
    try:
        with warnings.catch_warnings():  # the stop list's words are not split the way the tokens are
            warnings.simplefilter("ignore", UserWarning)
            x_all = vec.fit_transform(docs + base)
    except ValueError:  # no term occurs twice
        return []
    x = x_all[:len(docs)]
    n_comp = max(1, min(k, len(docs) // 3, x.shape[1]))
    nmf = NMF(n_components=n_comp, init="nndsvd", random_state=seed, max_iter=400)
    with warnings.catch_warnings():  # near-duplicate posts converge slowly; the clusters are still usable
        warnings.simplefilter("ignore", ConvergenceWarning)
        w = nmf.fit_transform(x)
    owner = w.argmax(axis=1)
    strength = w.max(axis=1)
    groups = [[i for i in range(len(docs)) if owner[i] == c and strength[i] > 0] for c in range(n_comp)]
    groups = [g for g in groups if g]
    clustered = {i for g in groups for i in g}
    stop, banned = stop_words(), name_words(exclude)
    period_sets = [phrases(t, stop, banned) for t in docs]
    base_sets = [phrases(t, stop, banned) for t in base]
    names = name_clusters([[period_sets[i] for i in g] for g in groups],
                          [period_sets[i] for i in range(len(docs)) if i not in clustered], base_sets)
    out = []
    for members, naming in zip(groups, names):
        if not naming:
            continue
        top = naming[0]
        carry_p = sum(top in s for s in period_sets) / len(period_sets)
        carry_b = sum(top in s for s in base_sets) / len(base_sets) if base_sets else 0.0
        best = sorted(members, key=lambda i: (-strength[i], period[i][0]))[:EXAMPLES]
        out.append(Cluster(terms=naming, size=round(len(members) * scale), baseline_share=round(carry_b, 4),
                           period_share=round(carry_p, 4), is_new=carry_p > 0 and carry_b * NEW_RATIO <= carry_p,
                           post_ids=tuple(period[i][0] for i in best)))
    return sorted(out, key=lambda c: (-c.size, c.terms))
