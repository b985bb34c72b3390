"""Alert rules on a real database: spikes with drivers, cooldown, quiet hours, new mentions, thresholds."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from listener import pipeline, store
from listener.config import load_settings
from reports.alerts import check_alerts, in_quiet_hours
from tests.helpers.receivers import HookServer

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
        # today: 40 angry posts about battery drain, mostly from one source, each in its own words
        # (copies of one text would count once)
        devices = ("phone", "tablet", "laptop", "watch", "earbuds")
        store.upsert_posts(db, [post(f"s{i}", f"Acme battery drain is terrible, my {devices[i % 5]} went from "
                                              f"{100 - i}% to {i % 9 + 1}% in {i % 7 + 2} hours after the update "
                                              f"broke charging",
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


def test_rules_on_a_query_and_on_a_saved_search(write_settings):
    from listener import search

    rules = '''
[[alerts.rules]]
name = "battery-new"
saved = "battery talk"
condition = "new_mention"
channels = ["hook"]

[[alerts.rules]]
name = "acme-battery-spike"
product = "Acme"
query = "battery AND (drain OR dies)"
condition = "spike"
'''
    with HookServer() as hook:
        settings = settings_with(write_settings, rules, hook.url())
        db = store.open_db(settings.db_path)
        history(db)
        search.save(db, "battery talk", 'battery NOT "battery life"', owner="ops", now="2026-11-01T00:00:00Z")
        pipeline.classify(db, settings, now=NOW)
        first = check_alerts(db, settings, now=NOW)
        assert [o.fired for o in first] == [False, False]
        assert first[1].reason.startswith("volume normal")  # no battery talk in the calm history at all
        store.upsert_posts(db, [post(f"b{i}", f"my Acme battery drain is awful #{i}", NOW - timedelta(minutes=5 * i + 1))
                                for i in range(12)] +
                           [post("life", "Acme battery life is fine", NOW - timedelta(minutes=3))],
                           now="2026-11-23T12:01:00Z")
        pipeline.classify(db, settings, now=NOW)
        new, spike = check_alerts(db, settings, now=NOW + timedelta(minutes=5))
        assert new.fired and new.reason.startswith("12 new mention(s) of saved search 'battery talk'")
        assert spike.fired and spike.reason.startswith("volume spike: 12 mentions vs about 0.5 expected")
        assert {e["url"] for e in spike.drivers.examples} <= {f"https://example.org/b{i}" for i in range(12)}
        body = json.loads(hook.received[0].body)
        assert body["saved"] == "battery talk" and body["rule"] == "battery-new"


def test_rule_with_an_invalid_query_is_a_settings_error(write_settings):
    from listener.config import ConfigError

    import pytest

    with pytest.raises(ConfigError, match=r"alerts.rules\[0\].query: invalid query: .*position"):
        settings_with(write_settings, '[[alerts.rules]]\nname = "x"\nquery = "(battery"\n', "http://127.0.0.1:9/")
    with pytest.raises(ConfigError, match=r"alerts.rules\[0\].product: a rule needs a product, a query"):
        settings_with(write_settings, '[[alerts.rules]]\nname = "x"\n', "http://127.0.0.1:9/")
