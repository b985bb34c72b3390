"""Spikes, baselines and charts from the first collected day, through the real digest and alert rules
on a real SQLite file: nothing before the first post counts as a zero-mention day."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from listener import pipeline, store
from listener.config import load_settings
from reports.alerts import check_alerts
from reports.digest import build_digest
from reports.render import render_html, render_markdown
from tests.helpers.posts import own_words

INSTALL = date(2026, 10, 1)       # the first collection: it backfilled only the evening of this day
BURST = date(2026, 11, 5)         # 4.3x the usual mentions of Acme, about a battery recall
LAST = date(2026, 11, 14)
CALM = ["Acme update is out", "Using Acme at work", "Acme docs were helpful", "A note about Acme",
        "Acme release notes", "Trying Acme today"]
SETTINGS = '''
[store]
path = "h.db"

[digest]
output_dir = "out"

[sentiment]
model = "vader"

[[products]]
name = "Acme"
ours = true

[[products]]
name = "Bolt"

[[alerts.rules]]
name = "acme-volume"
product = "Acme"
condition = "spike"
metric = "volume"
window = "1d"
'''


def _post(guid: str, text: str, when: datetime) -> dict:
    return {"source": "forum" if int(guid.split("-")[1]) % 3 else "news", "guid": guid,
            "url": f"https://example.org/{guid}", "author": f"u{guid[-1]}", "title": None, "text": text,
            "published_at": when.strftime("%Y-%m-%dT%H:%M:%SZ"), "language": "en", "score": 1,
            "comments": 1, "likes": None, "shares": None}


def _weekday_count(day: date) -> int:
    return 10 if day.weekday() >= 5 else 15 + day.day % 3


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    folder = tmp_path_factory.mktemp("history")
    (folder / "settings.toml").write_text(SETTINGS, encoding="utf-8")
    settings = load_settings(folder / "settings.toml")
    db = store.open_db(settings.db_path)
    posts, day = [], INSTALL
    while day <= LAST:
        midnight = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
        n = 3 if day == INSTALL else _weekday_count(day)
        for i in range(n):  # the first day: 3 posts in its last hours (a partly covered day)
            at = midnight + (timedelta(hours=21, minutes=20 * i) if day == INSTALL else timedelta(minutes=50 * i))
            posts.append(_post(f"{day}-{i}", CALM[i % len(CALM)], at))
        if day == BURST:
            posts += [_post(f"{day}-{100 + i}", f"Acme battery recall: is my unit affected? {own_words(i)}",
                            midnight + timedelta(hours=12, minutes=i)) for i in range(52)]
        if day.day % 2:
            posts.append(_post(f"{day}-b", "Bolt is fine", midnight + timedelta(hours=20)))
        day += timedelta(days=1)
    store.upsert_posts(db, posts, now="2026-11-15T00:00:00Z")
    pipeline.classify(db, settings, now=datetime(2026, 11, 15, tzinfo=timezone.utc))
    yield db, settings
    db.close()


NOW = datetime(2026, 11, 15, 6, tzinfo=timezone.utc)


def test_no_spike_in_the_first_weeks_and_the_burst_is_a_volume_spike_with_drivers(history):
    db, settings = history
    d = build_digest(db, settings, day=LAST, days=45, now=NOW)
    acme = d.products[0]
    assert d.history_start == INSTALL.isoformat()
    volume = [a for a in acme.alarms if a.metric == "volume"]
    assert [(a.day, a.kind) for a in volume] == [(BURST.isoformat(), "spike")]
    burst = volume[0]
    assert burst.value == _weekday_count(BURST) + 52 and 14 <= burst.expected <= 18
    assert burst.drivers is not None and ("battery", 52) in burst.drivers.terms
    assert {"recall", "affected"} <= {t for t, _ in burst.drivers.terms}
    assert len(burst.drivers.examples) == 3
    md = render_markdown(d)
    assert f"- {BURST.isoformat()}: volume spike: {burst.value} mentions, expected about" in md
    assert 'Why: terms "' in md and "battery" in md.split("volume spike")[1]
    assert "battery" in render_html(d).split("volume spike")[1]


def test_days_before_the_first_post_are_unknown_not_zero(history):
    db, settings = history
    early = INSTALL + timedelta(days=3)
    d = build_digest(db, settings, day=early, now=NOW)
    acme = d.products[0]
    # the chart's 30 days: 26 before collection started (no data, no bar), then the partial day and 3 full days
    assert [p.mentions for p in acme.series[:26]] == [None] * 26
    assert [p.mentions for p in acme.series[26:]] == [3] + [_weekday_count(INSTALL + timedelta(days=i))
                                                           for i in (1, 2, 3)]
    week, weekday = acme.changes
    # 2 known full days before the 4th (the 1st is partly covered): their average, not 7 days with 5 zeros
    assert week.known_days == 2 and week.label == "average of the 2 days with data among the previous 7"
    assert week.mean == pytest.approx((_weekday_count(date(2026, 10, 2)) + _weekday_count(date(2026, 10, 3))) / 2)
    # no same weekday known yet: the shorter honest baseline, named
    assert weekday.known_days == 2 and weekday.label == "average of the 2 days with data among the previous 28"
    assert acme.alarms == []  # nothing judged on 2 known days
    first = build_digest(db, settings, day=INSTALL, now=NOW).products[0]
    assert first.changes[0].mean is None and "no data before" in first.changes[0].label
    assert "no earlier data" in render_markdown(build_digest(db, settings, day=INSTALL, now=NOW))


def test_a_30_day_digest_compares_with_the_previous_30_days(history):
    db, settings = history
    d = build_digest(db, settings, day=LAST, days=30, now=NOW)
    acme = d.products[0]
    [change] = acme.changes  # 7 and 28 are both shorter than the period: the previous 30 days
    # the 30 days before the period (not seven 30-day periods): Oct 2-15 have data, Oct 1 is partly covered
    assert (change.days, change.known_days) == (30, 14)
    assert change.label == "daily average of the 14 days with data among the previous 30, x 30"
    assert change.mean == pytest.approx(sum(_weekday_count(date(2026, 10, 2) + timedelta(days=i))
                                            for i in range(14)) / 14 * 30)
    assert "vs daily average of the 14 days with data among the previous 30, x 30 |" in render_markdown(d)
    full = build_digest(db, settings, day=LAST, days=14, now=NOW).products[0].changes
    assert [c.label for c in full] == ["previous 14 days", "previous 28 days' average per 14 days"]


def test_the_alert_rule_sees_the_same_spike(history):
    db, settings = history
    at = datetime(BURST.year, BURST.month, BURST.day, tzinfo=timezone.utc) + timedelta(days=1)
    [out] = check_alerts(db, settings, now=at, send=False)
    assert out.fired and out.reason.startswith(f"volume spike: {_weekday_count(BURST) + 52} mentions vs about")
    [early] = check_alerts(db, settings, now=datetime(2026, 10, 9, tzinfo=timezone.utc), send=False)
    assert not early.fired


def test_the_web_overview_marks_days_without_collected_posts(history):
    from listener.app.web.render import chart
    from reports.overview import overviews

    db, settings = history
    acme = overviews(db, settings, end=INSTALL + timedelta(days=3), days=10)[0]
    assert [d.known for d in acme.days] == [False] * 6 + [True] * 4
    labels = [b["label"] for b in chart(acme, "mentions")["bars"]]
    assert labels[0] == f"{INSTALL - timedelta(days=6)}: no data collected" and labels[6] == f"{INSTALL}: 3 mention(s)"


def test_the_overview_charts_share_of_voice_per_day_and_marks_the_burst(history):
    from fastapi.testclient import TestClient

    from listener.app.web import create_app
    from reports.overview import overviews

    db, settings = history
    items = {o.name: o for o in overviews(db, settings, end=LAST, days=30)}
    assert [a["day"] for a in items["Acme"].alarms if a["metric"] == "volume"] == [BURST.isoformat()]
    client = TestClient(create_app(settings, today=lambda: LAST))
    page = client.get(f"/products?from={LAST - timedelta(days=29)}&to={LAST}").text
    chart = page.split("<figcaption>Share of voice per day")[1].split("</figure>")[0]
    assert chart.count('class="alarm"') == 1 and f"{BURST}: Acme: volume spike" in chart
    # a day with mentions of both (Bolt is mentioned on odd days) is one bar in two parts, by share
    day = BURST.isoformat()
    assert f"{day}: Acme 69 of 70 mention(s), 99%" in chart and f"{day}: Bolt 1 of 70 mention(s), 1%" in chart
    api = client.get(f"/api/products/Acme?from={LAST - timedelta(days=29)}&to={LAST}").json()
    assert [a["day"] for a in api["alarms"] if a["kind"] == "spike" and a["metric"] == "volume"] == [BURST.isoformat()]
