"""Mention relevance: is a post that names a product really about it ("Delta" the airline, not the river delta)?

A logistic regression over features of one mention (``features``), trained across many named entities
(WePS-3) so that it works for a product it never saw, from what the settings say about the product
(``ProductInfo``: its aliases, a one-line ``description``, ``context`` terms):

- ``w:`` the words around the alias (``WINDOW`` each side), ``t:`` the post's other words;
- ``form:`` how the alias is written: ``@handle``, ``#hashtag``, Capitalised, lower case, ALL CAPS,
  at the start of the post, as a domain (``delta.com``), possessive;
- ``desc:`` and ``ctx:`` whether the post's words (stemmed) meet the description's or the context terms'
  (other tracked products named in the same post count as context: a post naming your competitor is
  likely about your market);
- ``sim:`` optionally, the cosine similarity of the post and the description under the shipped encoder
  (``models.encoder``), given by the caller as ``similarity``.

The score is P(about the product) in [0, 1]. ``Adaptation`` is a per-product correction fitted on a
product's own marks (about / not about): a logistic regression over the base model's logit and the
mention's words, pulled towards the base model by regularisation.

Artifact: one JSON file (``SHIPPED`` is the shipped one), no pickle: format, feature version, the weights
by feature name, the intercept, the training data's checksum, config and measured figures.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

from models.trained import ArtifactError

if TYPE_CHECKING:
    import numpy as np

FORMAT = "listener-relevance-1"
FEATURE_VERSION = "rel-features-1"
SHIPPED = Path(__file__).parent / "artifacts" / "relevance.json"
PAIR_SCALE = 10.0    # the pair features (products of unit-vector components) are scaled up to about unit size
WINDOW = 3           # words each side of the alias that count as its window
MAX_CHARS = 1000     # the opening of a long post is read

_TOKEN = re.compile(r"[#@]?\w[\w'’]*")
_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
STOPWORDS = frozenset(
    "a an and are as at be been but by can do for from had has have he her his i if in into is it its me my "
    "no not of on or our she so that the their them they this to up was we were what when which who will "
    "with you your rt".split())


class RelevanceError(ArtifactError):
    """An unusable relevance artifact, adaptations file or training data (the message names it and says what
    to do); an ``ArtifactError``, so ``listener.errors.model_errors`` shows it as one line."""


@dataclass(frozen=True)
class ProductInfo:
    """What the settings say about a product: its name, aliases, one-line description and context terms."""
    name: str
    aliases: tuple[str, ...] = ()
    description: str = ""
    context: tuple[str, ...] = ()

    @property
    def ambiguous(self) -> bool:
        """Whether the relevance model judges its mentions: only when the settings say what the product is
        (a description or context terms); without either every mention is kept."""
        return bool(self.description.strip() or self.context)


def stem(word: str) -> str:
    """A crude stem (lower case, the first 6 letters, no plural s): enough for "flights" to meet "flight"."""
    w = word.lower().lstrip("#@").replace("’", "'").split("'")[0]
    if len(w) > 3 and w.endswith("s") and not w.endswith("ss"):
        w = w[:-1]
    return w[:6]


def tokens(text: str) -> list[tuple[str, int, int]]:
    """(lower-case word, start, end) of each word in ``text`` (URLs read as the word ``url``)."""
    out = []
    text = text[:MAX_CHARS]
    last = 0
    for u in _URL.finditer(text):
        out += [(m.group().lower(), m.start(), m.end()) for m in _TOKEN.finditer(text, last, u.start())]
        out.append(("url", u.start(), u.end()))
        last = u.end()
    out += [(m.group().lower(), m.start(), m.end()) for m in _TOKEN.finditer(text, last)]
    return out


def term_stems(terms: Iterable[str], skip: Iterable[str] = ()) -> frozenset[str]:
    """The content-word stems of ``terms`` (stop words and the ``skip`` words left out)."""
    skipped = {stem(w) for s in skip for w, _, _ in tokens(s)}
    return frozenset(stem(w) for t in terms for w, _, _ in tokens(t)
                     if w.lstrip("#@") not in STOPWORDS and stem(w) not in skipped and len(w) > 1)


def features(text: str, spans: Sequence[tuple[int, int]], product: ProductInfo, *,
             others: Sequence[str] = (), similarity: float | None = None) -> dict[str, float]:
    """The features of one mention of ``product`` in ``text`` at ``spans`` (where its aliases match).

    ``others``: the names of other tracked products the post mentions; ``similarity``: the encoder's cosine
    similarity of the post and the description (None: not used)."""
    text = text[:MAX_CHARS]
    spans = [s for s in spans if s[0] < len(text)] or [(0, 0)]
    toks = tokens(text)
    alias_stems = term_stems(product.aliases + (product.name,))
    inside = [any(a < e and s < b for a, b in spans) for _, s, e in toks]
    f: dict[str, float] = {"bias": 1.0}
    # the alias's form, read at its first occurrence (the others count by ``form:repeated``)
    a, b = spans[0]
    written = text[a:b]
    before, after = text[max(0, a - 1):a], text[b:b + 4]
    if before == "@":
        f["form:handle"] = 1.0
    elif before == "#":
        f["form:hashtag"] = 1.0
    letters = [c for c in written if c.isalpha()]
    if len(letters) > 1 and all(c.isupper() for c in letters):
        f["form:upper"] = 1.0
    elif letters and letters[0].isupper():
        f["form:title"] = 1.0
    elif letters:
        f["form:lower"] = 1.0
    if not text[:a].strip() or text[:a].rstrip()[-1:] in ".!?:":
        f["form:start"] = 1.0
    if re.match(r"\.(?:com|net|org|co)\b", after, re.IGNORECASE):
        f["form:domain"] = 1.0
    if re.match(r"['’]s\b", after):
        f["form:possessive"] = 1.0
    if len(spans) > 1:
        f["form:repeated"] = 1.0
    # words: the window around each occurrence, then the rest of the post
    near: set[str] = set()
    for i, hit in enumerate(inside):
        if hit:
            near.update(range(max(0, i - WINDOW), i)), near.update(range(i + 1, min(len(toks), i + 1 + WINDOW)))
    words = []
    for i, (w, _, _) in enumerate(toks):
        if inside[i] or stem(w) in alias_stems:
            continue
        bare = w.lstrip("#@")
        kind = "w" if i in near else "t"
        if w.startswith("@"):
            f[f"{kind}:@user"] = 1.0
        elif bare not in STOPWORDS:
            f[f"{kind}:{bare}"] = 1.0
        words.append(w)
    f["len"] = min(len(words), 30) / 30.0
    # what the settings say: overlap with the description and the context terms
    stems = {stem(w) for w in words}
    desc = term_stems([product.description], skip=product.aliases + (product.name,))
    ctx = term_stems(product.context, skip=product.aliases + (product.name,)) | term_stems(others)
    for key, terms in (("desc", desc), ("ctx", ctx)):
        if terms:
            met = len(stems & terms)
            f[f"{key}:given"] = 1.0
            if met:
                f[f"{key}:met"] = 1.0
                f[f"{key}:count"] = math.log1p(met)
    if similarity is not None:
        f["sim:cos"] = similarity
    return f


def sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-35.0, min(35.0, z))))


@dataclass
class RelevanceModel:
    """A trained model: weights by feature name, an intercept, and (``uses_encoder``) weights of the post's
    encoder embedding (``post``) and of its element-wise product with the description's (``pair``): a
    learned similarity (``meta``: how it was made)."""
    weights: dict[str, float]
    intercept: float
    meta: dict = field(default_factory=dict)
    post: tuple[float, ...] = ()
    pair: tuple[float, ...] = ()
    # the product-level stage: logit = mention * base + product * (the product's mean base logit) + intercept;
    # ``prior`` and ``shrink``: the mean is pulled towards ``prior`` as if ``shrink`` mentions scored it
    stack: dict[str, float] = field(default_factory=dict)
    _arrays: tuple | None = field(default=None, repr=False, compare=False)   # post and pair as numpy arrays

    def stacked(self, base: float, product_mean: float | None) -> float:
        """The log-odds after the product-level stage (the base log-odds without one, or without a mean)."""
        if not self.stack or product_mean is None:
            return base
        return self.stack["mention"] * base + self.stack["product"] * product_mean + self.stack["intercept"]

    def product_mean(self, n: int, total: float) -> float:
        """The product's mean base log-odds from ``n`` mentions summing to ``total``, pulled towards the prior."""
        k, prior = self.stack.get("shrink", 0.0), self.stack.get("prior", 0.0)
        return (total + k * prior) / (n + k) if n + k > 0 else prior

    @property
    def uses_encoder(self) -> bool:
        """Whether it reads the encoder's embeddings of the post and the description."""
        return bool(self.pair) or "sim:cos" in self.weights

    @property
    def name(self) -> str:
        return f"relevance-{self.meta.get('artifact_id', 'unsaved')[:12]}"

    def logit(self, f: dict[str, float], post: Sequence[float] | None = None,
              description: Sequence[float] | None = None) -> float:
        """The log-odds of a mention's features; ``post`` and ``description``: their unit-length
        embeddings (None: the encoder's part is left out)."""
        z = self.intercept + sum(self.weights.get(k, 0.0) * v for k, v in f.items())
        if post is not None and self.post:
            import numpy as np

            if self._arrays is None:
                self._arrays = (np.asarray(self.post, np.float64), np.asarray(self.pair, np.float64))
            w_post, w_pair = self._arrays
            x = np.asarray(post, np.float64)
            z += float(w_post @ x)
            if description is not None and self.pair:
                z += PAIR_SCALE * float(w_pair @ (x * np.asarray(description, np.float64)))
        return float(z)

    def score(self, f: dict[str, float], post: Sequence[float] | None = None,
              description: Sequence[float] | None = None) -> float:
        """P(about the product) of a mention's features (and embeddings, see ``logit``)."""
        return sigmoid(self.logit(f, post, description))

    def contributions(self, f: dict[str, float], top: int = 5, post: Sequence[float] | None = None,
                      description: Sequence[float] | None = None) -> list[tuple[str, float]]:
        """The features that pushed a mention's score most (either way), strongest first; the encoder's
        part (the post's embedding and its match with the description's) counts as one, ``encoder``."""
        pushes = [(k, self.weights.get(k, 0.0) * v) for k, v in f.items() if k != "bias"]
        if post is not None and self.post:
            pushes.append(("encoder", self.logit({}, post, description) - self.intercept))
        return sorted((p for p in pushes if p[1]), key=lambda p: -abs(p[1]))[:top]


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides the trained model, recorded in the artifact."""
    C: float = 0.3
    min_df: int = 3
    encoder: bool = True      # read the encoder's embeddings of the post and the description
    seed: int = 0

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


def fit(rows: Sequence[dict[str, float]], labels: Sequence[bool], config: TrainConfig,
        posts: "np.ndarray | None" = None, descriptions: "np.ndarray | None" = None) -> RelevanceModel:
    """Fit the model on feature dicts and their labels (True: about the product); with ``config.encoder``,
    also on the unit-length embeddings of each post and of its product's description (rows aligned)."""
    import numpy as np
    from scipy import sparse
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LogisticRegression

    counts: dict[str, int] = {}
    for r in rows:
        for k in r:
            counts[k] = counts.get(k, 0) + 1
    keep = {k for k, n in counts.items() if n >= config.min_df or ":" not in k or k.split(":")[0] not in "wt"}
    vec = DictVectorizer()
    x = vec.fit_transform([{k: v for k, v in r.items() if k in keep} for r in rows]).astype(np.float64)
    dim = 0
    if config.encoder:
        assert posts is not None and descriptions is not None
        dim = posts.shape[1]
        x = sparse.hstack([x, sparse.csr_matrix(posts), sparse.csr_matrix(posts * descriptions * PAIR_SCALE)])
    x = sparse.csr_matrix(x)
    x.indices, x.indptr = x.indices.astype(np.int32), x.indptr.astype(np.int32)
    y = np.asarray(labels, dtype=int)
    with _single_thread():
        clf = LogisticRegression(C=config.C, max_iter=3000, random_state=config.seed)
        clf.fit(x, y)
    coef = clf.coef_[0]
    names = vec.feature_names_
    weights = {k: round(float(w), 6) for k, w in zip(names, coef[:len(names)]) if abs(w) > 1e-6}
    dense = coef[len(names):]
    return RelevanceModel(weights, float(clf.intercept_[0]),
                          {"config": asdict(config), "examples": len(rows), "positives": int(y.sum())},
                          tuple(round(float(w), 6) for w in dense[:dim]),
                          tuple(round(float(w), 6) for w in dense[dim:]))


def _single_thread():
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


def serialize(model: RelevanceModel) -> bytes:
    """The artifact's bytes (JSON, keys sorted: the same model gives the same bytes)."""
    meta = {k: v for k, v in model.meta.items() if k != "artifact_id"}
    return (json.dumps({"format": FORMAT, "feature_version": FEATURE_VERSION, "intercept": model.intercept,
                        "weights": dict(sorted(model.weights.items())), "post": list(model.post),
                        "pair": list(model.pair), "stack": dict(sorted(model.stack.items())), "meta": meta},
                       sort_keys=True, indent=1, ensure_ascii=False) + "\n").encode("utf-8")


def load(path: Path = SHIPPED) -> RelevanceModel:
    """The relevance model at ``path``; ``RelevanceError`` naming the file when it is missing or not one."""
    path = Path(path)
    fix = "reinstall listener or retrain with `listener train --relevance --data DIR`"
    try:
        data = path.read_bytes()
        doc = json.loads(data)
    except FileNotFoundError:
        raise RelevanceError(f"{path}: relevance model not found; {fix}") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise RelevanceError(f"{path}: not a relevance model ({exc}); {fix}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise RelevanceError(f"{path}: format {doc.get('format') if isinstance(doc, dict) else None!r}, "
                             f"this listener reads {FORMAT!r}; {fix}")
    if doc.get("feature_version") != FEATURE_VERSION:
        raise RelevanceError(f"{path}: made with features {doc.get('feature_version')!r}, this listener computes "
                             f"{FEATURE_VERSION!r}; {fix}")
    try:
        weights = {str(k): float(v) for k, v in doc["weights"].items()}
        intercept = float(doc["intercept"])
        post, pair = tuple(float(v) for v in doc.get("post", ())), tuple(float(v) for v in doc.get("pair", ()))
        stack = {str(k): float(v) for k, v in (doc.get("stack") or {}).items()}
        if stack and not {"mention", "product", "intercept"} <= stack.keys():
            raise KeyError("stack")
    except (KeyError, TypeError, ValueError, AttributeError):
        raise RelevanceError(f"{path}: weights missing or malformed; {fix}") from None
    if pair and len(pair) != len(post):
        raise RelevanceError(f"{path}: embedding weights of different sizes; {fix}")
    meta = dict(doc.get("meta") or {}, artifact_id=hashlib.sha256(data).hexdigest())
    return RelevanceModel(weights, intercept, meta, post, pair, stack)


# --- training data, measurement and per-product adaptation ---------------------------------------------

ENTITIES = Path(__file__).parent / "data" / "relevance" / "weps3_entities.tsv"
WEPS3_FILE = "training.tsv"


@dataclass(frozen=True)
class Labelled:
    """One labelled mention: the product (entity) it names, the post's text, whether it is about it."""
    product: str
    text: str
    about: bool


def read_products(path: Path = ENTITIES) -> dict[str, ProductInfo]:
    """The settings written for each WePS-3 entity (``entity``, ``aliases`` joined by ``|``, ``description``)."""
    out = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines()[1:]:
        if line.strip():
            name, aliases, description = line.split("\t")
            out[name] = ProductInfo(name, tuple(aliases.split("|")), description)
    return out


def load_weps3(folder: Path) -> list[Labelled]:
    """The WePS-3 task 2 training tweets in ``folder`` (``training.tsv``), UNKNOWN labels left out.
    ``RelevanceError`` naming the file when it is missing or not that file."""
    import csv

    path = Path(folder) / WEPS3_FILE
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
    except FileNotFoundError:
        raise RelevanceError(f"{path}: not found (give the folder holding the WePS-3 {WEPS3_FILE} with --data)") from None
    except UnicodeDecodeError as exc:
        raise RelevanceError(f"{path}: not UTF-8 text ({exc})") from None
    if not rows or not {"entity", "text", "label"} <= set(rows[0]):
        raise RelevanceError(f"{path}: expected the columns entity, text and label")
    return [Labelled(r["entity"], r["text"], r["label"] == "TRUE") for r in rows if r["label"] in ("TRUE", "FALSE")]


def checksum(items: Sequence[Labelled]) -> str:
    """SHA-256 of the labelled mentions, in order (the training data's identity in the artifact)."""
    h = hashlib.sha256()
    for it in items:
        h.update(f"{it.product}\t{it.text}\t{int(it.about)}\n".encode("utf-8"))
    return h.hexdigest()


def mention_spans(text: str, product: ProductInfo) -> tuple[tuple[int, int], ...]:
    """Where the product's aliases match in ``text`` (``models.products``' whole-word rule)."""
    from models.products import compile_terms

    pattern = compile_terms(product.aliases or (product.name,))
    return tuple(m.span() for m in pattern.finditer(text)) if pattern is not None else ()


def unit(vectors: "np.ndarray") -> "np.ndarray":
    """Rows scaled to unit length (zero rows stay zero)."""
    import numpy as np

    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1.0, norms)


@dataclass
class Prepared:
    """Labelled mentions turned into what ``fit`` reads: features, labels, products, embeddings."""
    rows: list[dict[str, float]]
    labels: "np.ndarray"
    products: "np.ndarray"
    posts: "np.ndarray | None"
    descriptions: "np.ndarray | None"


def prepare(items: Sequence[Labelled], products: dict[str, ProductInfo], embed=None) -> Prepared:
    """Features of each labelled mention; with ``embed`` (texts -> (n, d) array), the unit-length
    embeddings of the posts and of each product's description too."""
    import numpy as np

    posts = descriptions = None
    if embed is not None:
        names = sorted({it.product for it in items})
        posts = unit(embed([it.text for it in items]))
        desc = dict(zip(names, unit(embed([products[n].description or n for n in names]))))
        descriptions = np.array([desc[it.product] for it in items])
    rows = [features(it.text, mention_spans(it.text, products[it.product]), products[it.product],
                     similarity=None if posts is None else float(posts[i] @ descriptions[i]))
            for i, it in enumerate(items)]
    return Prepared(rows, np.array([it.about for it in items]), np.array([it.product for it in items]),
                    posts, descriptions)


def _subset(p: Prepared, mask: "np.ndarray") -> Prepared:
    idx = [i for i, m in enumerate(mask) if m]
    return Prepared([p.rows[i] for i in idx], p.labels[mask], p.products[mask],
                    None if p.posts is None else p.posts[mask],
                    None if p.descriptions is None else p.descriptions[mask])


def fit_prepared(p: Prepared, config: TrainConfig) -> RelevanceModel:
    return fit(p.rows, p.labels, config, p.posts if config.encoder else None,
               p.descriptions if config.encoder else None)


def logits(model: RelevanceModel, p: Prepared) -> "np.ndarray":
    """The model's log-odds for every prepared mention."""
    import numpy as np

    use = model.uses_encoder and p.posts is not None
    return np.array([model.logit(r, p.posts[i] if use else None, p.descriptions[i] if use else None)
                     for i, r in enumerate(p.rows)])


def entity_folds(products: Sequence[str], folds: int, seed: int = 0) -> list[set[str]]:
    """The products split into ``folds`` groups at random (fixed seed): entity-held-out folds."""
    import numpy as np

    names = sorted(set(products))
    order = np.random.RandomState(seed).permutation(len(names))
    return [{names[j] for j in order[i::folds]} for i in range(folds)]


def cross_validate(p: Prepared, config: TrainConfig, folds: int = 5) -> tuple["np.ndarray", list[set[str]]]:
    """Out-of-fold log-odds of every mention, each scored by a model trained on the other products only."""
    import numpy as np

    out = np.zeros(len(p.labels))
    groups = entity_folds(p.products, folds, config.seed)
    for held in groups:
        test = np.array([e in held for e in p.products])
        model = fit_prepared(_subset(p, ~test), config)
        out[test] = logits(model, _subset(p, test))
    return out, groups


STACK_SHRINK = 5.0   # a product's mean is pulled towards the prior as if this many mentions scored the prior


def product_means(logits: "np.ndarray", products: "np.ndarray", prior: float, shrink: float) -> "np.ndarray":
    """Each mention's product mean base log-odds (over all the product's mentions, pulled towards ``prior``)."""
    import numpy as np

    out = np.zeros(len(logits))
    for name in set(products):
        m = products == name
        out[m] = (logits[m].sum() + shrink * prior) / (m.sum() + shrink)
    return out


def fit_stack(logits: "np.ndarray", products: "np.ndarray", labels: "np.ndarray",
              shrink: float = STACK_SHRINK) -> dict[str, float]:
    """The product-level stage, fitted on entity-held-out base log-odds: how much a mention's own score and
    its product's mean score each count. The prior is the mean over products of their mean."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    prior = float(np.mean([logits[products == n].mean() for n in set(products)]))
    x = np.column_stack([logits, product_means(logits, products, prior, shrink)])
    with _single_thread():
        clf = LogisticRegression(max_iter=1000).fit(x, labels.astype(int))
    return {"mention": float(clf.coef_[0][0]), "product": float(clf.coef_[0][1]),
            "intercept": float(clf.intercept_[0]), "prior": prior, "shrink": shrink}


def stacked_logits(logits: "np.ndarray", products: "np.ndarray", labels: "np.ndarray",
                   groups: list[set[str]]) -> "np.ndarray":
    """Entity-held-out log-odds after the product-level stage: each fold's stage fitted on the other folds."""
    import numpy as np

    out = np.zeros(len(logits))
    for held in groups:
        test = np.array([e in held for e in products])
        st = fit_stack(logits[~test], products[~test], labels[~test])
        model = RelevanceModel({}, 0.0, stack=st)
        means = product_means(logits[test], products[test], st["prior"], st["shrink"])
        out[test] = [model.stacked(z, m) for z, m in zip(logits[test], means)]
    return out


def precision_at_recall(scores: Sequence[float], labels: Sequence[bool], recall: float = 0.85) -> tuple[float, float]:
    """The best precision on the TRUE class at a threshold keeping at least ``recall`` of it, and that
    threshold (the lowest score kept)."""
    import numpy as np

    s, y = np.asarray(scores, float), np.asarray(labels, bool)
    if not y.any():
        return float("nan"), float("nan")
    order = np.argsort(-s, kind="stable")
    tp = np.cumsum(y[order])
    rec, prec = tp / y.sum(), tp / np.arange(1, len(y) + 1)
    ok = np.flatnonzero(rec >= recall)
    best = ok[np.argmax(prec[ok])]
    return float(prec[best]), float(s[order][best])


def figures(scores: Sequence[float], labels: Sequence[bool], threshold: float) -> dict[str, float]:
    """Accuracy, precision and recall (TRUE class) when mentions scoring at or above ``threshold`` are kept,
    and the precision at recall >= 0.85 (threshold-free)."""
    import numpy as np

    s, y = np.asarray(scores, float), np.asarray(labels, bool)
    kept = s >= threshold
    tp = int((kept & y).sum())
    p85, t85 = precision_at_recall(s, y, 0.85)
    return {"accuracy": float((kept == y).mean()), "precision": tp / max(1, int(kept.sum())),
            "recall": tp / max(1, int(y.sum())), "precision_at_recall_85": p85, "threshold_at_recall_85": t85,
            "n": int(len(y))}


@dataclass
class Adaptation:
    """A product's correction from its own marks: logit = scale * base logit + intercept + word weights."""
    product: str
    scale: float
    intercept: float
    weights: dict[str, float]
    labels: int

    def logit(self, base: float, f: dict[str, float]) -> float:
        return self.scale * base + self.intercept + sum(self.weights.get(k, 0.0) * v for k, v in f.items())

    def to_dict(self) -> dict:
        return {"scale": self.scale, "intercept": self.intercept, "weights": dict(sorted(self.weights.items())),
                "labels": self.labels}

    @classmethod
    def from_dict(cls, product: str, d: dict) -> "Adaptation":
        return cls(product, float(d["scale"]), float(d["intercept"]),
                   {str(k): float(v) for k, v in d.get("weights", {}).items()}, int(d.get("labels", 0)))


ADAPT_C = 0.5   # regularisation of a product's correction (small: few labels must not undo the base model)


def adapt(product: str, base_logits: Sequence[float], rows: Sequence[dict[str, float]], labels: Sequence[bool],
          C: float = ADAPT_C) -> Adaptation:
    """Fit a product's correction on its own marks: the base model's log-odds and the mention's words.
    With marks of one kind only, the base model is shifted towards it (more marks, more shift)."""
    import numpy as np
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LogisticRegression

    y = np.asarray(labels, dtype=int)
    n = len(y)
    if n == 0 or y.min() == y.max():
        shift = math.log1p(n) * (1 if n and y[0] else -1) if n else 0.0
        return Adaptation(product, 1.0, shift, {}, n)
    words = [{k: v for k, v in r.items() if k[:2] in ("w:", "t:")} for r in rows]
    vec = DictVectorizer()
    x = vec.fit_transform(words).toarray()
    x = np.column_stack([np.asarray(base_logits, float), x])
    with _single_thread():
        clf = LogisticRegression(C=C, max_iter=2000).fit(x, y)
    coef = clf.coef_[0]
    weights = {k: round(float(w), 6) for k, w in zip(vec.feature_names_, coef[1:]) if abs(w) > 1e-6}
    return Adaptation(product, float(coef[0]), float(clf.intercept_[0]), weights, n)


def serialize_adaptations(found: dict[str, Adaptation], base_id: str) -> bytes:
    """The adaptations file (JSON): the base model's id and each product's correction."""
    return (json.dumps({"format": FORMAT + "-adaptations", "base": base_id,
                        "products": {k: v.to_dict() for k, v in sorted(found.items())}},
                       sort_keys=True, indent=1, ensure_ascii=False) + "\n").encode("utf-8")


def load_adaptations(path: Path, base_id: str) -> dict[str, Adaptation]:
    """The per-product corrections at ``path`` (none when the file does not exist); ``RelevanceError``
    naming it when it is not one, or was fitted over another base model."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (UnicodeDecodeError, ValueError) as exc:
        raise RelevanceError(f"{path}: not a relevance adaptations file ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT + "-adaptations":
        raise RelevanceError(f"{path}: not a relevance adaptations file")
    if doc.get("base") != base_id:
        raise RelevanceError(f"{path}: fitted over another relevance model; run `listener train --with-labels` again")
    try:
        return {str(k): Adaptation.from_dict(str(k), v) for k, v in doc["products"].items()}
    except (KeyError, TypeError, ValueError, AttributeError):
        raise RelevanceError(f"{path}: malformed product corrections") from None


def adaptation_curve(p: Prepared, oof: "np.ndarray", groups: list[set[str]], sizes: Sequence[int] = (0, 20, 50, 200),
                     pool: int = 200, seed: int = 0) -> dict[int, dict[str, float]]:
    """Figures with 0, 20, 50 and 200 of a held-out product's own marks: per product, ``pool`` random
    mentions are the marks to learn from (the first n of them), the rest the test set (the same for every
    n); the base log-odds are the entity-held-out ones (``oof``). Pooled over products."""
    import numpy as np

    rng = np.random.RandomState(seed)
    scores: dict[int, list[float]] = {n: [] for n in sizes}
    gold: list[bool] = []
    for name in sorted(set(p.products)):
        idx = np.flatnonzero(p.products == name)
        if len(idx) <= pool:
            continue
        idx = idx[rng.permutation(len(idx))]
        train, test = idx[:pool], idx[pool:]
        gold += list(p.labels[test])
        for n in sizes:
            a = adapt(name, oof[train[:n]], [p.rows[i] for i in train[:n]], p.labels[train[:n]])
            scores[n] += [a.logit(oof[i], p.rows[i]) for i in test]
    return {n: {**figures(s, gold, 0.0), "labels": n} for n, s in scores.items()}


# --- judging mentions at classify time --------------------------------------------------------------------

@dataclass(frozen=True)
class Verdict:
    """The relevance of one product's mention in a post: the score, the threshold it was held to, whether
    it counts, and why (one sentence)."""
    product: str
    score: float | None
    threshold: float
    relevant: bool
    reason: str
    logit: float | None = None   # the base model's log-odds (before the product-level stage and correction)
    model: str = ""              # the relevance model's name


def pushes_text(pushes: Sequence[tuple[str, float]]) -> str:
    """The strongest features of a score, as a reader sees them ("w:pie -0.81")."""
    return ", ".join(f"{k} {v:+.2f}" for k, v in pushes)


def mention_logit(text: str, spans: Sequence[tuple[int, int]], product: ProductInfo, model: RelevanceModel, *,
                  others: Sequence[str] = (), post: Sequence[float] | None = None,
                  description: Sequence[float] | None = None) -> tuple[dict[str, float], float]:
    """The features of one mention and the base model's log-odds of them (no product correction)."""
    sim = None if post is None or description is None or not model.uses_encoder else \
        float(sum(a * b for a, b in zip(post, description)))
    f = features(text, spans, product, others=others, similarity=sim)
    return f, model.logit(f, post, description)


def verdict(product: ProductInfo, threshold: float, model: RelevanceModel, f: dict[str, float], base: float, *,
            product_mean: float | None = None, post: Sequence[float] | None = None,
            description: Sequence[float] | None = None, adaptation: Adaptation | None = None) -> Verdict:
    """The verdict on one mention from its features and base log-odds (``mention_logit``), the product's mean
    base log-odds (``RelevanceModel.product_mean``) and the product's correction."""
    z = model.stacked(base, product_mean)
    if adaptation is not None:
        z = adaptation.logit(z, f)
    score = sigmoid(z)
    top = pushes_text(model.contributions(f, 3, post, description))
    by = f"{model.name}" + (f" with {adaptation.labels} of its own marks" if adaptation is not None else "")
    if product_mean is not None and model.stack:
        by += f"; the product's mentions score {sigmoid(product_mean):.2f} on average"
    if score >= threshold:
        return Verdict(product.name, score, threshold, True,
                       f"relevance {score:.3f} is at or above the product's threshold {threshold:g} ({by}; {top})", base, model.name)
    return Verdict(product.name, score, threshold, False,
                   f"relevance {score:.3f} is below the product's threshold {threshold:g} ({by}; {top})", base, model.name)
