"""Digests built straight from the data model: a rich one (every section full, long names and URLs,
many products) and an empty one, for the layout tests. No store: the renderers are what is tested."""

from __future__ import annotations

from datetime import date, timedelta

from reports.digest import (DEFINITIONS, SCHEMA, Alarm, Change, DayPoint, Digest, EmergingTopic, MentionRef,
                            ProductStats, TopicMood)
from reports.drivers import Drivers

END = date(2026, 11, 22)
LONG_URL = ("https://forum.example.org/t/an-extremely-long-thread-slug-that-goes-on-and-on-without-any-break-"
            "whatsoever-firefox-keeps-crashing-on-startup-after-the-latest-update/1234567890?utm_source=x&page=12")
LONG_TOKEN = "Supercalifragilisticexpialidocious" * 4  # no break opportunity at all


def _ref(i: int, product: str, sentiment: float | None, url: str | None = LONG_URL) -> MentionRef:
    return MentionRef(
        post_id=1000 + i, title=f"{product} post {i}: {LONG_TOKEN}" if i % 2 else f"Why does {product} crash? #{i}",
        url=url, source="forum.example.org/very-long-source-name", author=f"author_with_a_long_handle_{i}",
        posted_at=f"2026-11-22T{7 + i % 12:02d}:15:00Z", sentiment=sentiment, alias=product,
        excerpt=f"See {LONG_URL} for the details; {LONG_TOKEN} and then some ordinary words about {product}.",
        engagement=40 - i, span=f"{product} keeps crashing")


def _drivers(product: str) -> Drivers:
    return Drivers(
        terms=[("startup crash", 12), (LONG_TOKEN.lower(), 9), ("update", 7)],
        sources=[("forum.example.org/very-long-source-name", 10), ("reddit", 4)],
        authors=[("author_with_a_long_handle_1", 3)], topics=[("stability and performance", 8)],
        examples=[{"post_id": 2000 + k, "title": f"{product} example {k} {LONG_TOKEN}", "url": LONG_URL,
                   "source": "reddit", "author": "someone", "posted_at": "2026-11-22T08:15:00Z",
                   "sentiment": -0.6, "excerpt": "..."} for k in range(3)])


def _product(n: int, name: str, ours: bool) -> ProductStats:
    series = [DayPoint((END - timedelta(days=29 - i)).isoformat(), None if i < 3 else 10 + (i * 7) % 13,
                       None if i < 3 else float((i * 37) % 200 - 100)) for i in range(30)]
    p = ProductStats(
        name=name, ours=ours, mentions=120 + n * 37, positive=40, neutral=50 + n, negative=30, unscored=3,
        not_computed=0, share_of_voice=(120 + n * 37) / 1500, net_sentiment=8.3 - n * 4,
        changes=[Change("previous 7 days' average", 7, 7, 100.0 + n, 20.0 + n, 20.0),
                 Change("same weekday average (3 of the previous 4 weeks have data)", 28, 3, 90.0, 30.0, 33.3)],
        drivers=_drivers(name), series=series,
        alarms=[Alarm("volume", "2026-11-22", "spike", 412, 97.5, 1e-9, _drivers(name)),
                Alarm("negative share", "2026-11-21", "spike", 0.4123, 0.1234, 1e-4, _drivers(name))],
        topics=[TopicMood(t, 10 + k, 5 + k, 20 + k) for k, t in enumerate(
            ["stability and performance", "privacy", "extensions and add-ons", "price", LONG_TOKEN[:60]])],
        emerging=[EmergingTopic(["startup crash", "profile lock", LONG_TOKEN], 14, True, "2026-11-16", "2026-11-22")],
        top_sources=[("forum.example.org/very-long-source-name", 50), (LONG_URL, 12)],
        top_authors=[("author_with_a_long_handle_1", 9), (LONG_TOKEN, 2)],
    )
    if n == 1:  # a big product: six-digit counts must fit as well
        p.mentions, p.positive, p.neutral, p.negative, p.unscored = 123_456, 45_678, 56_789, 20_989, 1_234
        p.changes = [Change("previous 7 days' average", 7, 7, 100_000.0, 23_456.0, 23.5),
                     Change("same weekday average (previous 4 weeks)", 28, 4, 99_000.5, 24_455.5, 24.7)]
    p.most_engaged = [_ref(k, name, 0.5) for k in range(3)]
    p.top_positive = [_ref(k + 3, name, 0.9, url=None if k == 0 else LONG_URL) for k in range(3)]
    p.top_negative = [_ref(k + 6, name, -0.8) for k in range(3)]
    p.needs_response = [_ref(k + 9, name, -0.2) for k in range(2)]
    return p


NAMES = ["Mozilla Firefox Developer Edition Nightly (all channels)", "Google Chrome", "Microsoft Edge",
         "Brave", "Vivaldi", LONG_TOKEN[:70]]


def rich_digest() -> Digest:
    """Six products with long names, every section full, two spikes each, long URLs and tokens."""
    products = [_product(n, name, n == 0) for n, name in enumerate(NAMES)]
    products.append(ProductStats(name="Opera GX Gaming Browser Limited Edition", ours=False,
                                 changes=[Change("previous 7 days' average", 7, 7, 2.0, -2.0, -100.0),
                                          Change("same weekday average (previous 4 weeks)", 28, 4, 0.0, 0.0, None)]))
    return Digest(
        schema=SCHEMA, start=END - timedelta(days=6), end=END, days=7, generated_at="2026-11-23T06:00:00Z",
        cutoff="2026-11-23T06:00:00Z", settings_sha256="0" * 64,
        query_versions={p.name: "abcdef012345" for p in products}, classifiers=["vader", "products@1"],
        products=products, total_posts=181_800, total_mentions=sum(p.mentions for p in products),
        posts_by_source={"forum.example.org/very-long-source-name": 900, LONG_URL: 300, "reddit": 600},
        definitions={k: v.format(days="7 days", model="VADER", first="2026-10-01", languages="en",
                                 preset="normal") for k, v in DEFINITIONS.items()},
        search={"name": "crash reports " + LONG_TOKEN[:40], "query": "crash*"},
        history_start="2026-10-01")


def empty_digest() -> Digest:
    """A day with nothing collected, two tracked products."""
    products = [ProductStats("Acme", True), ProductStats("Bolt", False)]
    return Digest(
        schema=SCHEMA, start=END, end=END, days=1, generated_at="2026-11-23T06:00:00Z",
        cutoff="2026-11-23T06:00:00Z", settings_sha256="0" * 64, query_versions={"Acme": "a" * 12, "Bolt": "b" * 12},
        classifiers=[], products=products, total_posts=0, total_mentions=0, posts_by_source={},
        definitions={k: v.format(days="1 day", model="VADER", first="none yet", languages="en", preset="normal")
                     for k, v in DEFINITIONS.items()})


def pdf_text(monkeypatch, *args) -> str:
    """The text ``render_pdf(*args)`` sets, kept as fpdf2 really draws it."""
    from fpdf import FPDF

    from reports.pdf import render_pdf

    written: list[str] = []
    real = FPDF.multi_cell

    def record(self, w, h=None, text="", *a, **k):
        written.append(str(text))
        return real(self, w, h, text, *a, **k)

    monkeypatch.setattr(FPDF, "multi_cell", record)
    assert render_pdf(*args).startswith(b"%PDF-")
    return "\n".join(written)
