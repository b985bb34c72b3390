"""Streaming exports of search results: CSV and JSON, written in chunks.

Each post carries what it says about each product it mentions (the mention's own sentiment, not
the post's): in JSON ``products`` is a list of {product, sentiment, sentiment_label, confidence};
in CSV ``products`` names them ("Firefox;Chrome") and ``product_sentiment`` gives each one's label
("Firefox:negative;Chrome:positive", ``not computed`` for a mention not judged yet).
"""

from __future__ import annotations

import csv
import io
import json
from typing import Iterator

from listener.search.run import Hit

EXPORT_FIELDS = ("id", "posted_at", "source", "author", "title", "url", "sentiment_label", "sentiment",
                 "language", "engagement", "products", "product_sentiment", "topics", "text")
JSON_FIELDS = tuple(f for f in EXPORT_FIELDS if f != "product_sentiment")
NOT_JUDGED = "not computed"


def export_row(h: Hit) -> dict:
    """A hit as one flat record (a CSV row): products and their sentiment as ``;``-joined text."""
    return {"id": h.id, "posted_at": h.posted_at, "source": h.source, "author": h.author, "title": h.title,
            "url": h.url, "sentiment_label": h.sentiment_label, "sentiment": h.sentiment,
            "language": h.language, "engagement": h.engagement,
            "products": ";".join(m["product"] for m in h.products),
            "product_sentiment": ";".join(f"{m['product']}:{m.get('sentiment_label') or NOT_JUDGED}"
                                          for m in h.products),
            "topics": ";".join(h.topics), "text": h.text}


def export_object(h: Hit) -> dict:
    """A hit as one JSON object: ``products`` a list of each product with its own sentiment."""
    row = export_row(h)
    row["products"] = [{"product": m["product"], "sentiment": m.get("sentiment"),
                        "sentiment_label": m.get("sentiment_label"), "confidence": m.get("confidence")}
                       for m in h.products]
    return {k: row[k] for k in JSON_FIELDS}


def csv_chunks(hits: Iterator[Hit], every: int = 200) -> Iterator[str]:
    """CSV text in chunks: a header, then rows; spreadsheet formula prefixes neutralized."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=EXPORT_FIELDS, lineterminator="\n")
    writer.writeheader()
    for i, h in enumerate(hits, 1):
        writer.writerow({k: _cell(v) for k, v in export_row(h).items()})
        if i % every == 0:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()


def _cell(value: object) -> object:
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def json_chunks(hits: Iterator[Hit]) -> Iterator[str]:
    """A JSON array written one object at a time."""
    yield "["
    first = True
    for h in hits:
        yield ("\n" if first else ",\n") + json.dumps(export_object(h), ensure_ascii=False)
        first = False
    yield "\n]\n"
