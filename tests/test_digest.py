"""Digest numbers checked by hand on a small fixture set, and safe rendering of hostile text."""

from __future__ import annotations

import os
from datetime import date

import pytest

from listener import pipeline, store
from reports.digest import build_digest
from reports.render import md_escape, render_html, render_markdown
from tests.helpers import NOW
from tests.helpers.posts import DAY, PRODUCTS, post


def test_fixture_labels_are_what_the_hand_count_assumes(fixture_db):
    db, _ = fixture_db
    labels = dict(db.execute("SELECT guid, sentiment_label FROM posts WHERE guid LIKE 'd%'").fetchall())
    assert labels == {"d1": "positive", "d2": "negative", "d3": "positive", "d4": "negative",
                      "d5": "neutral", "d6": "neutral"}


def test_daily_numbers_by_hand(fixture_db):
    db, settings = fixture_db
    d = build_digest(db, settings, day=DAY, now=NOW)
    acme, bolt = d.products
    assert (acme.name, acme.ours, bolt.name, bolt.ours) == ("Acme", True, "Bolt", False)
    assert (acme.mentions, acme.positive, acme.neutral, acme.negative) == (4, 2, 1, 1)
    assert (bolt.mentions, bolt.positive, bolt.neutral, bolt.negative) == (2, 1, 0, 1)
    assert acme.net_sentiment == pytest.approx(25.0)      # (2 - 1) / 4 * 100
    assert bolt.net_sentiment == pytest.approx(0.0)       # (1 - 1) / 2 * 100
    assert acme.share_of_voice == pytest.approx(4 / 6)
    assert bolt.share_of_voice == pytest.approx(2 / 6)
    week, weekday = acme.changes
    assert (week.label, week.days, week.known_days) == ("previous 7 days' average", 7, 7)
    assert week.mean == pytest.approx(1.0) and week.delta == pytest.approx(3.0) and week.pct == pytest.approx(300.0)
    # the 28-day baseline of a daily digest: the same weekday (Sunday) over 4 weeks; only the 15th holds
    # posts (the 14th, the first collected day, is partly covered; nothing before it), not 3 zero Sundays
    assert weekday.label == "same weekday average (1 of the previous 4 weeks have data)"
    assert (weekday.days, weekday.known_days, weekday.mean, weekday.delta) == (28, 1, 1.0, 3.0)
    assert d.history_start == "2026-11-14"
    assert bolt.changes[0].mean == pytest.approx(2.0) and bolt.changes[0].delta == pytest.approx(0.0)
    assert d.total_posts == 6 and d.total_mentions == 6
    assert sorted(m.url for m in acme.top_positive) == ["https://example.org/d1", "https://example.org/d3"]
    assert acme.top_positive[0].sentiment >= acme.top_positive[1].sentiment
    assert [m.url for m in acme.top_negative] == ["https://example.org/d2"]
    assert [m.url for m in bolt.top_negative] == ["https://example.org/d4"]
    assert acme.top_positive[0].alias == "Acme"


def test_period_digest_and_rendered_numbers(fixture_db, tmp_path):
    db, settings = fixture_db
    d = build_digest(db, settings, day=DAY, days=8, now=NOW)   # 15th..22nd inclusive
    acme, bolt = d.products
    assert (acme.mentions, bolt.mentions) == (11, 16)
    assert d.start == date(2026, 11, 15)
    paths = pipeline.digest(db, settings, day=DAY, now=NOW, out_dir=tmp_path / "out").paths
    html_path, md_path, json_path, pdf_path = paths
    assert html_path.name == "digest-2026-11-22.html" and md_path.name == "digest-2026-11-22.md"
    assert json_path.name == "digest-2026-11-22.json"
    pdf = pdf_path.read_bytes()
    assert pdf.startswith(b"%PDF-") and pdf.count(b"/Type /Page\n") >= 3  # summary + a page or more per product
    umask = os.umask(0)
    os.umask(umask)
    assert pdf_path.stat().st_mode & 0o777 == 0o666 & ~umask  # the usual permissions, not mkstemp's 0600
    md = md_path.read_text()
    assert ("| Product | Side | Mentions | vs previous 7 days' average | vs same weekday average \\(1 of the "
            "previous 4 weeks have data\\) |") in md
    assert "| Acme | ours | 4 | +3.0 (+300%) | +3.0 (+300%) | 66.7% | +25 | 2 | 1 | 1 |" in md
    assert "| Bolt | competitor | 2 | 0.0 (0%) | 0.0 (0%) | 33.3% | 0 | 1 | 0 | 1 |" in md
    html = html_path.read_text()
    assert "<td>66.7%</td>" in html and "net sentiment" in html
    assert "http" not in html.replace("https://example.org/", "").split("<body>")[0]  # no external assets
    run = store.recent_runs(db, 1)[0]
    assert run["kind"] == "digest" and run["status"] == "ok"


def test_hostile_text_is_escaped_everywhere(settings_for, tmp_path):
    settings = settings_for(products=PRODUCTS)
    db = store.open_db(settings.db_path)
    evil = [
        post("x1", "Acme is <b>great</b> <script>alert(1)</script> I love it",
             "2026-11-22T08:00:00Z", title='<script>alert("t")</script> Acme rocks [x](javascript:alert(2))',
             url="javascript:alert(3)"),
        post("x2", "Acme is awful ](http://evil.example) <img src=x onerror=alert(4)>",
             "2026-11-22T09:00:00Z", title="Acme | broken | table", url='https://ok.example/"onmouseover="alert(5)'),
    ]
    store.upsert_posts(db, evil, now="2026-11-23T00:00:00Z")
    pipeline.classify(db, settings, now=NOW)
    d = build_digest(db, settings, day=DAY, now=NOW)
    html = render_html(d)
    assert "<script>alert" not in html and "<img src=x" not in html
    assert 'href="javascript:' not in html
    assert 'onmouseover="alert' not in html
    assert "&lt;script&gt;alert(&#34;t&#34;)&lt;/script&gt;" in html
    md = render_markdown(d)
    assert "<script>" not in md and "<img" not in md
    assert "](javascript:" not in md
    assert "Acme \\| broken \\| table" in md
    assert md_escape("[a](b)") == "\\[a\\]\\(b\\)"


def test_emerging_topics_stored_for_the_day_show_in_the_digest(fixture_db):
    from models.emerging import Cluster

    db, settings = fixture_db
    store.save_emerging(db, "Acme", "2026-11-16", "2026-11-22",
                        [Cluster(("battery", "drain", "charger"), 12, 0.01, 0.4, True, (1, 2)),
                         Cluster(("release", "notes"), 5, 0.3, 0.3, False, (3,))], now="2026-11-23T05:00:00Z")
    d = build_digest(db, settings, day=DAY, now=NOW)
    acme, bolt = d.products
    assert [(e.terms[:2], e.size, e.is_new) for e in acme.emerging] == [(["battery", "drain"], 12, True),
                                                                      (["release", "notes"], 5, False)]
    assert bolt.emerging == []
    assert "new topic (12 posts, 2026-11-16 to 2026-11-22): battery, drain, charger" in render_markdown(d)
    assert "new topic (12 posts, 2026-11-16 to 2026-11-22): battery, drain, charger" in render_html(d)


def test_digest_of_a_saved_search_counts_only_its_posts(fixture_db, tmp_path):
    """A saved search as a report filter: the hand count of the posts it matches, and the CLI flag."""
    from click.testing import CliRunner

    from listener import search
    from listener.app.cli import cli

    db, settings = fixture_db
    search.save(db, "Love and hate", "love OR hate OR wonderful* -bolt", owner=None, now="2026-11-22T00:00:00Z")
    d = build_digest(db, settings, day=DAY, now=NOW, search="Love and hate")
    acme, bolt = d.products
    # d1 (love, positive) and d2 (hate, negative) match; d3 has neither word; d4 is about Bolt.
    assert (acme.mentions, acme.positive, acme.negative, acme.neutral) == (2, 1, 1, 0)
    assert bolt.mentions == 0 and d.total_posts == 2 and d.total_mentions == 2
    assert acme.changes[0].mean == 0.0  # no trailing post says love or hate
    assert d.search == {"name": "Love and hate", "query": "love OR hate OR wonderful* -bolt"}
    assert "saved search" in d.title and d.slug == "digest-2026-11-22-love-and-hate"
    assert d.to_json()["search"]["name"] == "Love and hate"
    with pytest.raises(KeyError):
        build_digest(db, settings, day=DAY, now=NOW, search="nope")
    runner = CliRunner()
    args = ["--config", str(settings.path), "digest", "--date", "2026-11-22", "--no-send", "--out", str(tmp_path)]
    ok = runner.invoke(cli, args + ["--search", "Love and hate"])
    assert ok.exit_code == 0, ok.output
    assert (tmp_path / "digest-2026-11-22-love-and-hate.json").exists()
    bad = runner.invoke(cli, args + ["--search", "nope"])
    assert bad.exit_code == 2 and "no saved search named 'nope'" in bad.output


def test_web_overview_and_digest_agree_on_net_sentiment(fixture_db):
    """Both divide by scored mentions: an unscored (Dutch) mention counts as a mention, not as mood."""
    from reports.overview import overviews

    db, settings = fixture_db
    store.upsert_posts(db, [{**post("g1", "Acme is echt verschrikkelijk en kapot, helaas", "2026-11-22T13:00:00Z"),
                             "language": "nl"}], now="2026-11-23T05:00:00Z")
    pipeline.classify(db, settings, now=NOW)
    assert db.execute("SELECT sentiment_label FROM posts WHERE guid = 'g1'").fetchone()[0] == "unscored"
    acme = build_digest(db, settings, day=DAY, now=NOW).products[0]
    web = next(o for o in overviews(db, settings, end=DAY, days=1) if o.name == "Acme")
    assert acme.mentions == web.mentions == 5
    assert acme.net_sentiment == pytest.approx(25.0) and web.net_sentiment == pytest.approx(25.0)  # (2 - 1) / 4
    assert web.days[-1].net_sentiment == pytest.approx(25.0)
