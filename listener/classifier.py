"""The classifier the settings describe: sentiment scorer, product matcher, topic rules, languages.

``Classifier.from_settings`` is the one way to build it: ``listener classify``, the daemon, the demo,
``listener sentiment``/``explain``/``eval --labels``, the web post page and the benchmarks all go
through it, so they all score with the same model and the same thresholds. The work itself is
done by the pure functions in ``models``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from listener.config import Settings
from listener.errors import ModelError, model_errors  # noqa: F401 (ModelError: what from_settings raises)
from models.classify import Classification, classifier_version, classify_batch, post_text, score_covered
from models import relevance
from models.products import ProductMatcher, compile_products
from models.sentiment import EncoderScorer, Scorer, TrainedScorer, canonical, load_scorer
from models.topics import TopicRules, compile_topics

if TYPE_CHECKING:  # numpy and scipy: loaded when a model is, not when a command starts
    from models.adapt import Base, DomainHead


def scorer_for(settings: Settings, model: str | None = None, *, head: bool = True) -> Scorer:
    """The sentiment scorer ``model`` (default ``sentiment.model``) with the thresholds, the settings'
    artifact when ``model`` is the configured one, and the domain head ``sentiment.adaptation`` when one
    is set (``head=False``: the base model alone). A head adapts the configured model, ``default`` or
    ``fast``; it is refused with one line when made for another model."""
    k, sn = settings.classify, settings.sentiment
    wanted = canonical(model or sn.model)
    with model_errors():
        scorer = load_scorer(wanted, sn.artifact if wanted == canonical(sn.model) else None,
                             positive_threshold=k.positive_threshold, negative_threshold=k.negative_threshold)
        if head and sn.adaptation is not None and wanted != "vader":
            base = adaptation_base(settings, scorer)
            found, digest = _load_head(Path(sn.adaptation), base)
            if found is None:
                pass   # the file adapts other languages only
            elif isinstance(scorer, TrainedScorer):
                scorer = TrainedScorer(scorer.model, found, digest)
            else:
                scorer = EncoderScorer(scorer.model, found, digest, base)
        return scorer


def adaptation_base(settings: Settings, scorer: Scorer | None = None) -> "Base":
    """What a domain head adapts for the configured model: the fast model itself, or for the default
    model the encoder with the shipped fast model's features (``models.adapt.EncoderBase``)."""
    from models.adapt import EncoderBase

    if scorer is None:
        scorer = scorer_for(settings, head=False)
    if isinstance(scorer, TrainedScorer):
        return scorer.model
    if isinstance(scorer, EncoderScorer):
        fast = load_scorer("fast")
        assert isinstance(fast, TrainedScorer)
        return EncoderBase(scorer.model, fast.model)
    from models.trained import ArtifactError

    raise ArtifactError('a domain head adapts the default or the fast model, not VADER: set sentiment.model '
                        '= "default" or "fast"')


_HEADS: dict[tuple[Path, float, str, str], tuple["DomainHead | None", str]] = {}


def _load_head(path: Path, base: "Base", key: str = "") -> tuple["DomainHead | None", str]:
    """The domain head ``key`` (the configured model's, else a language code's) at ``path`` checked against
    ``base``, or None when the file holds none for it, and the file's SHA-256 (cached per file version,
    key and base). Raises ``ArtifactError`` naming the file when it is missing, altered or for another base."""
    from models import adapt
    from models.trained import ArtifactError

    try:
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        raise ArtifactError(f"{path}: domain head not found (sentiment.adaptation; "
                            "write it with `listener train --with-labels`)") from None
    cache = (path.resolve(), mtime, key, str(base.meta.get("artifact_id")))
    if cache not in _HEADS:
        if len(_HEADS) >= 16:
            _HEADS.clear()
        head = adapt.load(path, base, key) if key in adapt.keys(path) else None
        _HEADS[cache] = (head, hashlib.sha256(path.read_bytes()).hexdigest())
    return _HEADS[cache]


def with_language_heads(path: Path, others: dict[str, Scorer]) -> dict[str, Scorer]:
    """``others`` (each language's scorer) with the domain head the file at ``path`` holds for its language."""
    from models.multilingual import LanguageScorer

    out: dict[str, Scorer] = {}
    for lang, scorer in others.items():
        if isinstance(scorer, LanguageScorer):
            head, digest = _load_head(path, scorer.base, lang)
            if head is not None:
                scorer = replace(scorer, head=head, head_sha256=digest)
        out[lang] = scorer
    return out


def adaptations_path(settings: Settings) -> Path:
    """Where ``listener train --relevance --with-labels`` writes the products' relevance corrections:
    beside the database (``listener.db`` -> ``listener.relevance.json``)."""
    db = Path(settings.db_path)
    return db.with_name(db.stem + ".relevance.json")


def query_matches(node: Any, text: str) -> bool:
    """Whether ``text`` matches a parsed query's text terms (a product's ``query``): words whole and any case,
    ``word*`` prefixes, phrases as consecutive words, ``NEAR`` as all its words present, AND/OR/NOT."""
    from listener.search import query as q

    if node is None:
        return True
    if isinstance(node, q.Term):
        tail = r"\w*" if node.prefix else ""
        return re.search(rf"(?<!\w){re.escape(node.text)}{tail}(?!\w)", text, re.IGNORECASE) is not None
    if isinstance(node, q.Phrase):
        words = r"\W+".join(re.escape(w) for w in node.text.split())
        return re.search(rf"(?<!\w){words}(?!\w)", text, re.IGNORECASE) is not None
    if isinstance(node, q.Near):
        return all(query_matches(o, text) for o in node.operands)
    if isinstance(node, q.Column):
        return query_matches(node.child, text)
    if isinstance(node, q.Not):
        return not query_matches(node.child, text)
    if isinstance(node, q.And):
        return all(query_matches(c, text) for c in node.children)
    if isinstance(node, q.Or):
        return any(query_matches(c, text) for c in node.children)
    return True


@dataclass
class RelevanceJudge:
    """The relevance model and what the settings say about each product it judges (a description or context
    terms), their thresholds, queries and corrections (``listener train --relevance --with-labels``)."""
    model: relevance.RelevanceModel
    products: dict[str, relevance.ProductInfo]
    thresholds: dict[str, float]
    queries: dict[str, Any]
    adaptations: dict[str, relevance.Adaptation]
    encoder: Any = None                       # models.encoder.EncoderModel, loaded when first needed
    # per product: how many of its mentions were scored and the sum of their base log-odds (the store's, see
    # ``store.relevance_history``, then each batch judged): the product-level stage reads their mean
    history: dict[str, tuple[int, float]] = field(default_factory=dict)
    _descriptions: dict[str, Any] = field(default_factory=dict)

    @property
    def version(self) -> str:
        digest = hashlib.sha256(repr(sorted((k, v.to_dict()) for k, v in self.adaptations.items())).encode())
        return self.model.name + (f"+{digest.hexdigest()[:8]}" if self.adaptations else "")

    def _embed(self, texts: Sequence[str]) -> Any:
        """Unit-length embeddings of ``texts``; those the sentiment scorer just read come from its memo."""
        import numpy as np

        from models import encoder

        if self.encoder is None:
            self.encoder = encoder.load()
        memo = getattr(self.encoder, "memo", {})
        missing = list(dict.fromkeys(t for t in texts if t not in memo))
        found = dict(zip(missing, self.encoder.run(missing)[1])) if missing else {}
        return relevance.unit(np.array([memo[t] if t in memo else found[t] for t in texts]))

    def vectors(self, bodies: Sequence[str], mentions: Sequence[Sequence[Any]]) -> dict[int, Any]:
        """The posts' embeddings (by index) where a judged product is mentioned, when the model reads them;
        the descriptions' are computed once."""
        judged = [i for i, ms in enumerate(mentions) if any(m.product in self.products for m in ms)]
        if not judged or not self.model.uses_encoder:
            return {}
        wanted = sorted({m.product for i in judged for m in mentions[i] if m.product in self.products}
                        - self._descriptions.keys())
        if wanted:
            self._descriptions.update(zip(wanted, self._embed(
                [self.products[n].description or " ".join(self.products[n].context) for n in wanted])))
        return dict(zip(judged, self._embed([bodies[i] for i in judged])))

    def base_logits(self, bodies: Sequence[str], mentions: Sequence[Sequence[Any]], products: Sequence[str]) \
            -> list[tuple[dict[str, float], float] | None]:
        """Per post, the features and log-odds (with the product-level stage over ``history``, without a
        correction) of its mention of ``products[i]`` (None: not mentioned or not judged): what a product's
        correction is fitted over."""
        vectors = self.vectors(bodies, mentions)
        out: list[tuple[dict[str, float], float] | None] = []
        for i, (body, ms, name) in enumerate(zip(bodies, mentions, products)):
            m = next((m for m in ms if m.product == name), None)
            info = self.products.get(name)
            if m is None or info is None:
                out.append(None)
                continue
            f, z = relevance.mention_logit(body, m.spans, info, self.model,
                                           others=[o.product for o in ms if o.product != name],
                                           post=vectors.get(i), description=self._descriptions.get(name))
            n, total = self.history.get(name, (0, 0.0))
            out.append((f, self.model.stacked(z, self.model.product_mean(n, total))))
        return out

    def judge(self, bodies: Sequence[str], mentions: Sequence[Sequence[Any]]) -> list[list[relevance.Verdict | None]]:
        """Per post, per mention: the verdict (None: not judged, it counts). Each product's mean base score
        (over ``history`` and this batch) feeds the product-level stage; the batch is then added to ``history``."""
        vectors = self.vectors(bodies, mentions)
        base: dict[tuple[int, int], tuple[dict[str, float], float]] = {}
        for i, (body, ms) in enumerate(zip(bodies, mentions)):
            for k, m in enumerate(ms):
                info = self.products.get(m.product)
                if info is None or any(body[a:b].startswith("@") for a, b in m.spans):
                    continue   # no description or context, or named by its handle: it counts
                if m.product in self.queries and not query_matches(self.queries[m.product], body):
                    continue
                base[(i, k)] = relevance.mention_logit(
                    body, m.spans, info, self.model, others=[o.product for o in ms if o.product != m.product],
                    post=vectors.get(i), description=self._descriptions.get(m.product))
        for (i, k), (_, z) in base.items():
            n, total = self.history.get(mentions[i][k].product, (0, 0.0))
            self.history[mentions[i][k].product] = (n + 1, total + z)
        means = {name: self.model.product_mean(n, total) for name, (n, total) in self.history.items()}
        out: list[list[relevance.Verdict | None]] = []
        for i, (body, ms) in enumerate(zip(bodies, mentions)):
            row: list[relevance.Verdict | None] = []
            for k, m in enumerate(ms):
                if (i, k) in base:
                    f, z = base[(i, k)]
                    row.append(relevance.verdict(self.products[m.product], self.thresholds[m.product], self.model,
                                                 f, z, product_mean=means.get(m.product), post=vectors.get(i),
                                                 description=self._descriptions.get(m.product),
                                                 adaptation=self.adaptations.get(m.product)))
                elif m.product in self.queries and not query_matches(self.queries[m.product], body):
                    row.append(relevance.Verdict(m.product, None, self.thresholds[m.product], False,
                                                 "the post does not match the product's query"))
                else:
                    row.append(None)
            out.append(row)
        return out


MEMO_SIZE = 8192   # texts whose embeddings the sentiment model keeps for the relevance model


def remembering(model: Any) -> Any:
    """The encoder ``model`` remembering the embeddings of the last texts it ran (up to ``MEMO_SIZE``), so the
    relevance model reads the post embeddings the sentiment model computed instead of running it again."""
    from models.encoder import EncoderModel

    class Remembering(EncoderModel):
        memo: dict

        def run(self, texts: Sequence[str]) -> Any:
            probs, emb = super().run(texts)
            if len(self.memo) + len(texts) > MEMO_SIZE:
                self.memo.clear()
            self.memo.update(zip(texts, emb))
            return probs, emb

    out = Remembering(model.meta, model.session, model.tokenizer)
    out.memo = {}
    return out


def relevance_judge(settings: Settings, scorer: Scorer | None = None) -> RelevanceJudge | None:
    """The relevance judge of ``settings`` (None when no product has a description, context terms or a query:
    every mention counts). Raises ``ModelError`` when the model or the corrections file cannot be used."""
    from listener.search.query import parse

    wanted = [p for p in settings.products if p.description or p.context or p.query]
    if not wanted:
        return None
    with model_errors():
        model = relevance.load()
        found = relevance.load_adaptations(adaptations_path(settings), model.meta["artifact_id"])
    infos = {p.name: relevance.ProductInfo(p.name, tuple(p.aliases), p.description, tuple(p.context))
             for p in wanted if p.description or p.context}
    encoder = getattr(scorer, "model", None) if isinstance(scorer, EncoderScorer) else None
    return RelevanceJudge(model, infos, {p.name: p.relevance for p in wanted},
                          {p.name: parse(p.query) for p in wanted if p.query},
                          {k: v for k, v in found.items() if k in infos}, encoder)


@dataclass(frozen=True)
class Classifier:
    """Sentiment, products, topics and language for posts, as the settings configure them; with a relevance
    judge, the mentions not about their product are set apart (``Classification.rejected``)."""
    scorer: Scorer
    products: ProductMatcher
    topics: TopicRules
    languages: tuple[str, ...]
    relevance: RelevanceJudge | None = None
    # the languages of ``languages`` scored by their own model (models.multilingual), by language code
    others: dict[str, Scorer] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings, *, relevance: bool = True) -> "Classifier":
        """The classifier of ``settings`` (``sentiment``, ``classify`` thresholds, ``products``, ``topics``);
        ``relevance=False``: every mention counts, whatever the products' descriptions.

        English (and any language without a model of its own) is scored by the configured model; each
        other language of ``sentiment.languages`` that the multilingual artifact covers, by its own.
        Raises ``ModelError`` when the configured model artifact cannot be used.
        """
        others: dict[str, Scorer] = {}
        if any(lang != "en" for lang in settings.sentiment.languages):
            from models.multilingual import load_language_scorers   # numpy and scipy: only when needed

            with model_errors():
                others = load_language_scorers(settings.sentiment.languages,
                                               encoder=canonical(settings.sentiment.model) == "default")
                if settings.sentiment.adaptation is not None:
                    others = with_language_heads(Path(settings.sentiment.adaptation), others)
        scorer = scorer_for(settings)
        judge = relevance_judge(settings, scorer) if relevance else None
        if judge is not None and judge.model.uses_encoder and isinstance(scorer, EncoderScorer) and scorer.head is None:
            judge.encoder = remembering(scorer.model)
            scorer = replace(scorer, model=judge.encoder)
        return cls(scorer, compile_products(settings.products), compile_topics(settings.topics),
                   tuple(settings.sentiment.languages), judge, others)

    @property
    def model(self) -> str:
        """The sentiment model's name (``vader-3.3.2``, ``encoder-<artifact id>``, ``trained-<artifact id>``)."""
        return self.scorer.name

    @property
    def version(self) -> str:
        """What the ``classifier`` column records (a digest names the versions behind its figures)."""
        base = classifier_version(self.scorer, self.others)
        return base if self.relevance is None else f"{base}/{self.relevance.version}"

    def scorer_of(self, language: str | None) -> Scorer:
        """The scorer that judges a post in ``language`` (its own model, else the configured one)."""
        return self.others.get((language or "en").lower().replace("_", "-").split("-")[0], self.scorer)

    def classify(self, rows: Iterable[dict]) -> list[Classification]:
        """Classify rows with ``id``, ``title``, ``text`` and optional ``language`` keys (one batch)."""
        rows = list(rows)
        found = classify_batch(rows, products=self.products, scorer=self.scorer, topics=self.topics,
                               languages=self.languages, others=self.others)
        if self.relevance is None:
            return found
        bodies = [post_text(r.get("title"), r.get("text")) for r in rows]
        verdicts = self.relevance.judge(bodies, [c.mentions for c in found])
        out = []
        for c, vs in zip(found, verdicts):
            c = replace(c, verdicts=tuple(v for v in vs if v is not None))
            if all(v is None or v.relevant for v in vs):
                out.append(c)
                continue
            judged = tuple(c.mention_sentiment) or (None,) * len(c.mentions)
            keep = [k for k, v in enumerate(vs) if v is None or v.relevant]
            out.append(replace(c, mentions=tuple(c.mentions[k] for k in keep),
                               mention_sentiment=tuple(judged[k] for k in keep) if c.mention_sentiment else (),
                               rejected=tuple((c.mentions[k], judged[k], v) for k, v in enumerate(vs)
                                              if v is not None and not v.relevant)))
        return out

    def score(self, texts: Sequence[str]) -> tuple[list[str | None], dict[int, Any]]:
        """Each text's detected language, and (by index) the sentiment of the texts in a covered language."""
        return score_covered(texts, self.scorer, self.languages, others=self.others)
