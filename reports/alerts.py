"""Alert rules: check recent mentions against each rule, explain why, send once per episode.

A check looks at the rule's window (default the last 24 hours, ending ``now``):

- ``spike``: the window's mentions (or negative share) against the same-length
  windows before it, with the seasonality-aware test in ``reports/spikes.py``
  (hour-of-day for 1-hour windows, day-of-week for 1-day windows);
- ``threshold``: mentions in the window >= ``threshold`` (volume), or negative
  share >= ``threshold`` with at least 5 mentions (negative_share);

A rule's negative share is of its product's mentions that are negative about that product (each
mention's own sentiment, not the post's); without a product, of the matching posts. Mentions whose
sentiment is not computed yet are left out of the share, and the reason says so.
- ``new_mention``: any mention first fetched since the previous check.

An alert is sent at most once per ``cooldown`` per rule (one episode, one alert);
inside quiet hours nothing is sent and nothing is marked seen, so the alert goes
out at the first check after the quiet hours if the condition still holds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlite_utils

from listener import search, store
from listener.search.query import QueryError
from listener.search import Plan
from listener.config import AlertRule, Settings
from listener.text import iso_utc
from reports.deliver import Delivery, Message, deliver
from reports.drivers import Drivers, explain
from reports.digest import NOT_COMPUTED_NOTICE
from reports.spikes import PRESETS, judge

HISTORY_BUCKETS = {3600: 24 * 14, 86400: 56}
SEASONS = {3600: 24, 86400: 7}


@dataclass
class AlertOutcome:
    rule: str
    fired: bool
    reason: str                       # why it fired, or why not ("normal", "cooldown", "quiet hours")
    alert_id: int | None = None
    deliveries: list[Delivery] = field(default_factory=list)
    drivers: Drivers | None = None


def in_quiet_hours(now: datetime, quiet: str, tz: str) -> bool:
    """True when ``now`` falls in ``HH:MM-HH:MM`` (may wrap past midnight) in time zone ``tz``."""
    if not quiet:
        return False
    a, b = (time.fromisoformat(x) for x in quiet.split("-"))
    local = now.astimezone(ZoneInfo(tz)).time()
    return (a <= local < b) if a <= b else (local >= a or local < b)


@dataclass
class _Scope:
    """What a rule counts: a product's mentions, a search's matches, or a product's matching mentions."""

    product: str | None
    plan: Plan | None  # None: every mention of the product

    def buckets(self, db: sqlite_utils.Database, start: datetime, width: int, n: int
                ) -> list[tuple[int, int, int]]:
        return search.bucket_counts(db, self.plan, self.product, start, width, n)

    def posts(self, db: sqlite_utils.Database, start: str, end: str, *, by: str = "posted_at",
              limit: int = 500) -> list[dict]:
        return search.window_rows(db, self.plan, self.product, start, end, by=by, limit=limit)


def _scope(db: sqlite_utils.Database, rule: AlertRule) -> _Scope:
    text = search.saved_query(db, rule.saved) if rule.saved else rule.query
    return _Scope(rule.product, search.prepare(db, text) if text else None)


def drivers(db: sqlite_utils.Database, rule: AlertRule, start: datetime, end: datetime,
            baseline_start: datetime, scope: _Scope | None = None) -> Drivers:
    """What is behind a window: distinguishing terms, sources, authors, topics, and 3 example mentions."""
    scope = scope or _scope(db, rule)
    return explain(db, scope.product, scope.plan, rule.metric, iso_utc(start) or "", iso_utc(end) or "",
                   iso_utc(baseline_start) or "")


def _evaluate(db: sqlite_utils.Database, settings: Settings, rule: AlertRule, now: datetime, scope: _Scope
              ) -> tuple[bool, str, dict, datetime]:
    """Whether the rule's condition holds now; a sentence why; numbers; the window start."""
    width = rule.window
    start = now - timedelta(seconds=width)
    if rule.condition == "new_mention":
        since = store.checkpoint(db, rule.name)
        if since is None:  # first check: start from now, don't flood with history
            return False, "first check: watching from now on", {}, start
        new = scope.posts(db, since, iso_utc(now) or "", by="fetched_at", limit=50)
        numbers = {"value": float(len(new)), "expected": None, "p": None}
        return bool(new), f"{len(new)} new mention(s) of {rule.subject} since {since}", numbers, \
            datetime.fromisoformat(since.replace("Z", "+00:00"))
    n_hist = HISTORY_BUCKETS.get(width, 28)
    counted = scope.buckets(db, start - timedelta(seconds=width * n_hist), width, n_hist + 1)
    if rule.metric == "negative_share":  # a share of the mentions whose sentiment is known
        buckets = [(t - missing, neg) for t, neg, missing in counted]
        missing = counted[-1][2]
        note = f"; {NOT_COMPUTED_NOTICE} ({missing} of {counted[-1][0]} mentions)" if missing else ""
    else:
        buckets, note = [(t, neg) for t, neg, _ in counted], ""
    history, (total, negative) = buckets[:-1], buckets[-1]
    if rule.condition == "threshold":
        if rule.metric == "volume":
            ok = total >= rule.threshold
            return ok, f"{total} mentions in the window (threshold {rule.threshold:g})", \
                {"value": float(total), "expected": rule.threshold, "p": None}, start
        share = negative / total if total else 0.0
        ok = total >= 5 and share >= rule.threshold
        return ok, f"negative share {share:.0%} of {total} mentions (threshold {rule.threshold:.0%}){note}", \
            {"value": share, "expected": rule.threshold, "p": None}, start
    history = _known(db, history, start - timedelta(seconds=width * n_hist), width)
    preset = PRESETS[settings.alerts.sensitivity]
    season = SEASONS.get(width, 1)
    phase = (int(start.timestamp()) // width) % season if season > 1 else 0
    if season == 7:
        phase = start.weekday()
    volume, share = judge([t for t, _ in history], [n for _, n in history], total, negative, season=season,
                          phase=phase, preset=preset)
    if rule.metric == "volume":
        v = volume
        what = f"{total} mentions vs about {v.expected:.1f} expected"
    else:
        v = share
        what = f"negative share {v.value:.0%} vs about {v.expected:.0%} expected"
    numbers = {"value": float(v.value), "expected": None if math.isnan(v.expected) else float(v.expected),
               "p": v.p}
    return v.kind == "spike", f"{rule.metric.replace('_', ' ')} {v.kind}: {what} (p={v.p:.1e}){note}", numbers, start


def _known(db: sqlite_utils.Database, history: list[tuple[int, int]], start: datetime, width: int
           ) -> list[tuple[int | None, int | None]]:
    """The history with unknown buckets as ``None``: those without any collected post (before
    collection started, or a gap), and the bucket of the very first post (only partly covered)."""
    collected = store.collected_buckets(db, start, width, len(history))
    first = store.first_posted_at(db)
    first_bucket = None if first is None else \
        (int(datetime.fromisoformat(first.replace("Z", "+00:00")).timestamp()) - int(start.timestamp())) // width
    return [(None, None) if not known or i == first_bucket else pair
            for i, (pair, known) in enumerate(zip(history, collected))]


def alert_message(rule: AlertRule, reason: str, d: Drivers, window: tuple[str, str]) -> Message:
    subject = f"listener alert: {rule.subject}: {reason}"
    lines = [subject, f"Window: {window[0]} to {window[1]} (rule {rule.name})", ""]
    for label, items in (("Top terms", d.terms), ("Sources", d.sources), ("Authors", d.authors),
                         ("Topics", d.topics)):
        if items:
            lines.append(f"{label}: " + ", ".join(f"{k} ({n})" for k, n in items))
    lines.append("")
    lines.append("Example mentions:")
    for e in d.examples:
        lines.append(f"- {e['title']} ({e['source']}, {e['posted_at']}) {e['url'] or ''}".rstrip())
    text = "\n".join(lines)
    payload = {"event": "alert", "rule": rule.name, "product": rule.product, "query": rule.query,
               "saved": rule.saved, "condition": rule.condition,
               "metric": rule.metric, "reason": reason, "window": {"start": window[0], "end": window[1]},
               "drivers": {"terms": d.terms, "sources": d.sources, "authors": d.authors, "topics": d.topics},
               "examples": d.examples}
    return Message(subject=subject, text=text, payload=payload)


def check_alerts(db: sqlite_utils.Database, settings: Settings, *, now: datetime, send: bool = True
                 ) -> list[AlertOutcome]:
    """Evaluate every alert rule at ``now``; record and send the ones that fire."""
    stamp = iso_utc(now) or ""
    channels = {c.name: c for c in settings.channels}
    outcomes = []
    for rule in settings.alerts.rules:
        quiet = rule.quiet_hours if rule.quiet_hours is not None else settings.alerts.quiet_hours
        cooldown = rule.cooldown if rule.cooldown is not None else settings.alerts.cooldown
        try:
            scope = _scope(db, rule)
        except (KeyError, QueryError) as exc:  # a saved search deleted or broken since the settings were written
            outcomes.append(AlertOutcome(rule.name, False, f"error: {exc}"))
            continue
        holds, reason, numbers, start = _evaluate(db, settings, rule, now, scope)
        if not holds:
            if rule.condition == "new_mention":
                store.set_checkpoint(db, rule.name, stamp)
            outcomes.append(AlertOutcome(rule.name, False, reason))
            continue
        if in_quiet_hours(now, quiet, settings.alerts.timezone):
            outcomes.append(AlertOutcome(rule.name, False, f"quiet hours ({quiet}): {reason}"))
            continue
        last = store.last_alert(db, rule.name)
        if last and rule.condition != "new_mention" and \
                datetime.fromisoformat(last.replace("Z", "+00:00")) > now - timedelta(seconds=cooldown):
            outcomes.append(AlertOutcome(rule.name, False, f"cooldown (last alert {last}): {reason}"))
            continue
        baseline_start = start - timedelta(seconds=rule.window * 7)
        d = drivers(db, rule, start, now, baseline_start, scope)
        window = (iso_utc(start) or "", stamp)
        alert_id = store.record_alert(db, rule=rule.name, product=rule.subject, condition=rule.condition,
                                      metric=rule.metric, fired_at=stamp, window_start=window[0],
                                      window_end=window[1], value=numbers.get("value"),
                                      expected=numbers.get("expected"), p=numbers.get("p"),
                                      detail={"reason": reason, "drivers": d.__dict__})
        if rule.condition == "new_mention":
            store.set_checkpoint(db, rule.name, stamp)
        sent = []
        if send:
            message = alert_message(rule, reason, d, window)
            sent = [deliver(db, channels[name], message, kind="alert", ref=str(alert_id), now=stamp)
                    for name in rule.channels]
        outcomes.append(AlertOutcome(rule.name, True, reason, alert_id, sent, d))
    return outcomes
