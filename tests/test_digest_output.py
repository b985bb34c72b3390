"""What the digest files say in degenerate cases, and the JSON digest against its documented schema."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import jsonschema
import pytest

from listener import pipeline
from reports.digest import build_digest
from reports.pdf import render_pdf
from reports.render import digest_charts, render_html, render_markdown
from tests.helpers import NOW
from tests.helpers.posts import DAY

SCHEMA = json.loads((Path(__file__).resolve().parent.parent / "reports" / "schemas" / "digest.schema.json")
                    .read_text())
GOLDEN = Path(__file__).parent / "golden" / "digest-2026-11-22.json"


def _numbers(value):
    if isinstance(value, float):
        yield value
    elif isinstance(value, list):
        for v in value:
            yield from _numbers(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _numbers(v)


def _assert_rounded(data: dict) -> None:
    for x in _numbers(data):
        assert x == (round(x, 2) if abs(x) >= 1 else float(f"{x:.4g}")), x


def test_the_json_digest_follows_its_schema(fixture_db, tmp_path):
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    db, settings = fixture_db
    json_path = pipeline.digest(db, settings, day=DAY, now=NOW, out_dir=tmp_path, send=False).paths[2]
    data = json.loads(json_path.read_text())
    jsonschema.validate(data, SCHEMA)
    _assert_rounded(data)
    assert data["products"][0]["share_of_voice"] == 0.6667   # 4 of 6, not 0.6666666666666666
    golden = json.loads(GOLDEN.read_text())
    jsonschema.validate({**golden, "generated_at": NOW.strftime("%Y-%m-%dT%H:%M:%SZ"), "settings_sha256": "0" * 64,
                         "classifiers": []}, SCHEMA)
    broken = {**data, "products": [{**data["products"][0], "mentions": -1}]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, SCHEMA)


def test_an_empty_period_says_so_and_stays_short(fixture_db):
    db, settings = fixture_db
    d = build_digest(db, settings, day=date(2026, 12, 10), now=NOW)
    assert d.total_posts == 0 and digest_charts(d) == []
    html, md = render_html(d), render_markdown(d)
    assert "No posts were collected for this period (collected data starts 2026-11-14): nothing to report." in html
    assert md.count("no mentions in this period") == 2 and "Most negative" not in md
    assert "<li>none" not in html and 'class="meta">none' not in html and "1. none" not in md
    assert len(html) < 6000 and len(md.splitlines()) < 30
    assert render_pdf(d, []).startswith(b"%PDF")


def test_a_product_without_mentions_is_one_line(fixture_db):
    db, settings = fixture_db
    # the 23rd holds only "Acme tomorrow"; Bolt had 2 mentions a day in the week before
    d = build_digest(db, settings, day=date(2026, 11, 23), now=NOW)
    acme, bolt = d.products
    assert (acme.mentions, bolt.mentions) == (1, 0)
    assert [c.name for c in digest_charts(d)] == ["share-of-voice", "volume-1"]
    md = render_markdown(d)
    assert "**Bolt** (competitor): no mentions in this period; previous 7 days' average: 2.0, same weekday" in md
    assert "## Bolt" not in md
    assert '<p id="product-2"><strong>Bolt</strong>' in render_html(d)


def test_neutral_scores_are_not_most_negative_and_sections_stay_apart(fixture_db):
    db, settings = fixture_db
    d2 = db.execute("SELECT id FROM posts WHERE guid = 'd2'").fetchone()[0]
    db.execute("UPDATE mentions SET sentiment = -0.004 WHERE post_id = ?", [d2])  # labelled negative, scored ~0
    db.conn.commit()
    d = build_digest(db, settings, day=DAY, now=NOW)
    acme = d.products[0]
    assert acme.negative == 1 and acme.top_negative == []
    md = render_markdown(d)
    assert "-0.00" not in md and "+0.00" not in md
    # Markdown keeps each heading its own paragraph
    assert "**Top sources**: fixture (4)\n\n**Top authors**: ann (4)\n" in md


def test_the_pdf_carries_every_section_with_formatted_numbers(fixture_db, monkeypatch):
    from fpdf import FPDF

    db, settings = fixture_db
    d = build_digest(db, settings, day=date(2026, 11, 23), now=NOW)  # Acme: 1 mention; Bolt: none
    written: list[str] = []
    real = FPDF.multi_cell

    def record(self, w, h=None, text="", *args, **kwargs):  # the real drawing, with its text kept
        written.append(str(text))
        return real(self, w, h, text, *args, **kwargs)

    monkeypatch.setattr(FPDF, "multi_cell", record)
    pdf = render_pdf(d, digest_charts(d))
    assert pdf.startswith(b"%PDF-")
    text = "\n".join(written)
    for section in ("What changed", "Most engaged", "Most positive", "Most negative", "May need a response",
                    "Top sources", "Top authors", "Posts by source", "Definitions", "share of voice"):
        assert section in text, section
    assert "1 mention;" in text or "1 mention," in text
    assert "1 mentions" not in text and "0.6666" not in text
    assert "Bolt (competitor): no mentions in this period" in text
    assert "What it was about" not in text and "Why: sources fixture (1)" in text
