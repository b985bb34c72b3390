"""What the digest files say in degenerate cases, the JSON digest against its documented schema, times in
the schedule's time zone and the links every post carries."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import jsonschema
import pytest

from listener import pipeline
from reports.digest import build_digest
from reports.pdf import render_pdf
from reports.look import Look
from reports.render import digest_charts, render_html, render_markdown
from tests.helpers import NOW
from tests.helpers.digests import pdf_text
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
    db, settings = fixture_db
    d = build_digest(db, settings, day=date(2026, 11, 23), now=NOW)  # Acme: 1 mention; Bolt: none
    text = pdf_text(monkeypatch, d, digest_charts(d))
    for section in ("What changed", "Most engaged", "Most positive", "Most negative", "May need a response",
                    "Top sources", "Top authors", "Posts by source", "Definitions", "share of voice"):
        assert section in text, section
    assert "1 mention;" in text or "1 mention," in text
    assert "1 mentions" not in text and "0.6666" not in text
    assert "Bolt (competitor): no mentions in this period" in text
    assert "What it was about" not in text and "Why: sources fixture (1)" in text


def _local(settings, timezone: str = "Europe/Berlin", base_url: str = ""):
    from dataclasses import replace

    return replace(settings, schedule=replace(settings.schedule, timezone=timezone),
                   serve=replace(settings.serve, base_url=base_url))


def _posts(d) -> list:
    """Every post a digest shows: notable mentions and the drivers' examples."""
    out = []
    for p in d.products:
        out += p.most_engaged + p.top_positive + p.top_negative + p.needs_response
        for dr in [p.drivers] + [a.drivers for a in p.alarms]:
            out += [SimpleNamespace(**e) for e in (dr.examples if dr else [])]
    return out


def test_a_time_in_words():
    assert Look("Europe/Berlin").time("2026-12-02T07:15:00Z") == "2 Dec 2026, 08:15 CET"
    assert Look("Europe/Berlin").time("2026-07-01T06:15:00+00:00") == "1 Jul 2026, 08:15 CEST"
    assert Look().time("2026-11-22T23:59:59Z") == "22 Nov 2026, 23:59 UTC"
    assert Look("America/Sao_Paulo").time("2026-11-22T12:00:00Z") == "22 Nov 2026, 09:00 UTC-03"
    assert Look().time("yesterday") == "yesterday" and Look().time(None) == ""


def test_digest_times_are_in_the_schedule_time_zone_and_the_json_keeps_iso(fixture_db, monkeypatch):
    db, settings = fixture_db
    d, look = build_digest(db, settings, day=DAY, now=NOW), Look.of(_local(settings))
    assert look == Look("Europe/Berlin", None)
    for text in (render_html(d, [], look=look), render_markdown(d, look=look)):
        assert "Generated 23 Nov 2026, 07:00 CET by listener" in text
        assert "data cut-off 23 Nov 2026, 07:00 CET" in text
        assert "22 Nov 2026, 09:00 CET" in text                      # d2, posted 08:00 UTC
        assert "2026-11-22T" not in text                             # no raw post time anywhere
        assert text.count("2026-11-23T06:00:00Z") == 1               # only the --cutoff value to re-run with
    data = d.to_json()
    assert data["generated_at"] == "2026-11-23T06:00:00Z" and data["cutoff"] == "2026-11-23T06:00:00Z"
    assert {m["posted_at"] for m in data["products"][0]["top_negative"]} == {"2026-11-22T09:00:00Z"}
    pdf = pdf_text(monkeypatch, d, [], look)
    assert "Generated 23 Nov 2026, 07:00 CET by listener" in pdf and "22 Nov 2026, 09:00 CET" in pdf
    assert "2026-11-22T" not in pdf


def test_every_post_links_to_its_original_and_with_a_base_url_to_its_page_in_listener(fixture_db, monkeypatch):
    from fastapi.testclient import TestClient

    from listener.app.web import create_app

    db, settings = fixture_db
    d = build_digest(db, settings, day=DAY, now=NOW)
    plain = Look.of(settings)
    assert "/posts/" not in render_html(d, [], look=plain) and "in listener" not in render_markdown(d, look=plain)
    settings = _local(settings, "UTC", "https://listener.example.org/sub/")
    look = Look.of(settings)
    html, md = render_html(d, [], look=look), render_markdown(d, look=look)
    posts = _posts(d)
    assert len({m.post_id for m in posts}) >= 4
    for m in posts:
        assert f'href="{m.url}"' in html and f"]({m.url})" in md
        own = f"https://listener.example.org/sub/posts/{m.post_id}"
        assert f'href="{own}"' in html and f"]({own})" in md
    pdf = pdf_text(monkeypatch, d, [], look)
    for m in posts:
        assert f"{m.url} (in listener: https://listener.example.org/sub/posts/{m.post_id})" in pdf
    # the link is the web app's own page of that post (the router's path under base_url)
    client = TestClient(create_app(settings))
    page = client.get(f"/posts/{posts[0].post_id}")
    assert page.status_code == 200 and posts[0].title in page.text
