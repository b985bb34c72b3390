"""Alert rules on a real database: spikes with drivers, cooldown, quiet hours, new mentions, thresholds."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from listener import pipeline, store
from listener.config import load_settings
from reports.alerts import check_alerts, in_quiet_hours
from tests.receivers import HookServer

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
PRODUCTS = '[[products]]\nname = "Acme"\nours = true\n'
CALM = ["Acme release notes", "Using Acme at work today", "Acme update is out", "A note about Acme",
        "Acme docs were helpful"]


def post(guid, text, when: datetime, fetched: datetime | None = None, source="forum", author="ann"):
    return {"source": source, "guid": guid, "url": f"https://example.org/{guid}", "author": author,
            "title": None, "text": text, "published_at": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "language": "en", "score": 3, "comments": 0, "likes": None, "shares": None}


def history(db, days=60, per_day=5):
    posts = []
    for d in range(1, days + 1):
        day = NOW - timedelta(days=d)
        for i in range(per_day):
            posts.append(post(f"h{d}-{i}", CALM[i % len(CALM)], day + timedelta(minutes=7 * i)))
    store.upsert_posts(db, posts, now="2026-11-01T00:00:00Z")


def settings_with(write_settings, rules: str, hook_url: str):
    path = write_settings(products=PRODUCTS, extra=f'''
[[channels]]
name = "hook"
type = "webhook"
url = "{hook_url}"
backoff = 0.01

[alerts]
sensitivity = "medium"
cooldown = "12h"
{rules}''')
    return load_settings(path)


SPIKE_RULE = '''
[[alerts.rules]]
name = "acme-volume"
product = "Acme"
condition = "spike"
metric = "volume"
channels = ["hook"]
'''


def test_spike_alert_says_why_once_per_episode(write_settings):
    with HookServer() as hook:
        settings = settings_with(write_settings, SPIKE_RULE, hook.url())
        db = store.open_db(settings.db_path)
        history(db)
        # today: 40 angry posts about battery drain, mostly from one source
        store.upsert_posts(db, [post(f"s{i}", f"Acme battery drain is terrible, the update broke charging #{i}",
                                     NOW - timedelta(minutes=20 * i + 1), source="reddit" if i % 4 else "forum",
                                     author=f"user{i % 3}") for i in range(40)], now="2026-11-23T11:59:00Z")
        pipeline.classify(db, settings, now=NOW)
        [out] = check_alerts(db, settings, now=NOW)
        # the window is the last 24 h: the 40 new posts and yesterday's 5 from after 12:00
        assert out.fired and out.reason.startswith("volume spike: 45 mentions vs about 5.0 expected")
        terms = [t for t, _ in out.drivers.terms]
        assert {"battery", "drain", "charging"} <= set(terms)
        assert out.drivers.sources[0] == ("reddit", 30)
        assert len(out.drivers.examples) == 3
        assert [d.ok for d in out.deliveries] == [True]
        body = json.loads(hook.received[0].body)
        assert body["event"] == "alert" and body["rule"] == "acme-volume" and len(body["examples"]) == 3
        # one hour later the episode continues: cooldown, nothing sent
        [again] = check_alerts(db, settings, now=NOW + timedelta(hours=1))
        assert not again.fired and again.reason.startswith("cooldown")
        assert len(hook.received) == 1
        assert db.execute("SELECT count(*) FROM alerts").fetchone()[0] == 1


def test_no_alert_on_a_normal_day(write_settings):
    settings = settings_with(write_settings, SPIKE_RULE, "http://127.0.0.1:9/")
    db = store.open_db(settings.db_path)
    history(db)
    store.upsert_posts(db, [post(f"n{i}", CALM[i], NOW - timedelta(hours=2 * i)) for i in range(5)], now="x")
    pipeline.classify(db, settings, now=NOW)
    [out] = check_alerts(db, settings, now=NOW)
    assert not out.fired and out.reason.startswith("volume normal")


def test_quiet_hours_hold_the_alert_until_they_end(write_settings):
    rule = SPIKE_RULE + 'quiet_hours = "11:00-12:30"\n'
    with HookServer() as hook:
        settings = settings_with(write_settings, rule, hook.url())
        db = store.open_db(settings.db_path)
        history(db)
        store.upsert_posts(db, [post(f"q{i}", "Acme is down again, awful", NOW - timedelta(minutes=10 * i + 1))
                                for i in range(30)], now="x")
        pipeline.classify(db, settings, now=NOW)
        [held] = check_alerts(db, settings, now=NOW)
        assert not held.fired and held.reason.startswith("quiet hours (11:00-12:30)")
        assert hook.received == []
        [sent] = check_alerts(db, settings, now=NOW + timedelta(minutes=45))
        assert sent.fired and len(hook.received) == 1
    assert in_quiet_hours(datetime(2026, 1, 1, 23, 30, tzinfo=timezone.utc), "22:00-07:00", "UTC")
    assert not in_quiet_hours(datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc), "22:00-07:00", "UTC")
    # 23:30 UTC is 00:30 in Berlin (winter): inside 00:00-06:00 there
    assert in_quiet_hours(datetime(2026, 1, 1, 23, 30, tzinfo=timezone.utc), "00:00-06:00", "Europe/Berlin")


def test_new_mention_rule_fires_once_per_new_post(write_settings):
    rule = '''
[[alerts.rules]]
name = "acme-new"
product = "Acme"
condition = "new_mention"
channels = ["hook"]
'''
    with HookServer() as hook:
        settings = settings_with(write_settings, rule, hook.url())
        db = store.open_db(settings.db_path)
        history(db, days=3)
        pipeline.classify(db, settings, now=NOW)
        [first] = check_alerts(db, settings, now=NOW)
        assert not first.fired and "watching from now on" in first.reason
        store.upsert_posts(db, [post("new1", "Has anyone tried Acme on Linux?", NOW)], now="2026-11-23T12:05:00Z")
        pipeline.classify(db, settings, now=NOW)
        [second] = check_alerts(db, settings, now=NOW + timedelta(minutes=10))
        assert second.fired and second.reason.startswith("1 new mention(s) of Acme")
        assert second.drivers.examples[0]["url"] == "https://example.org/new1"
        [third] = check_alerts(db, settings, now=NOW + timedelta(minutes=20))
        assert not third.fired
        assert len(hook.received) == 1


def test_threshold_on_negative_share(write_settings):
    rule = '''
[[alerts.rules]]
name = "acme-negative"
product = "Acme"
condition = "threshold"
metric = "negative_share"
threshold = 0.5
'''
    settings = settings_with(write_settings, rule, "http://127.0.0.1:9/")
    db = store.open_db(settings.db_path)
    store.upsert_posts(db, [post(f"t{i}", "Acme is awful and broken" if i < 6 else "Acme is fine",
                                 NOW - timedelta(hours=i, minutes=1)) for i in range(8)], now="x")
    pipeline.classify(db, settings, now=NOW)
    [out] = check_alerts(db, settings, now=NOW)
    assert out.fired and out.reason == "negative share 75% of 8 mentions (threshold 50%)"
    assert out.deliveries == []  # the rule names no channel: recorded only
    row = db.execute("SELECT rule, value, detail FROM alerts").fetchone()
    assert row[0] == "acme-negative" and row[1] == 0.75 and "drivers" in json.loads(row[2])
