"""A golden digest for a fixed fixture database, and reproducible re-runs with the recorded cut-off.

Regenerate the golden file after an intended change with
``LISTENER_UPDATE_GOLDEN=1 python -m pytest tests/test_golden.py`` and review the diff;
its headline numbers are the ones checked by hand in tests/test_digest.py.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from listener import pipeline, store
from reports.digest import build_digest
from tests.helpers import NOW
from tests.helpers.posts import DAY, post

GOLDEN = Path(__file__).parent / "golden" / "digest-2026-11-22.json"
VOLATILE = ("generated_at", "settings_sha256", "classifiers")  # environment, not numbers


def stable(digest) -> dict:
    data = digest.to_json()
    for key in VOLATILE:
        data.pop(key)
    return data


def test_golden_digest(fixture_db):
    db, settings = fixture_db
    got = stable(build_digest(db, settings, day=DAY, now=NOW))
    if os.environ.get("LISTENER_UPDATE_GOLDEN"):
        GOLDEN.write_text(json.dumps(got, indent=2, sort_keys=True) + "\n")
    assert got == json.loads(GOLDEN.read_text())
    acme = got["products"][0]
    assert (acme["mentions"], acme["positive"], acme["neutral"], acme["negative"]) == (4, 2, 1, 1)
    assert acme["share_of_voice"] == 0.6667 and acme["net_sentiment"] == 25.0  # rounded: 4 significant digits


def test_rerun_with_recorded_cutoff_gives_the_same_numbers(fixture_db):
    db, settings = fixture_db
    first = build_digest(db, settings, day=DAY, now=NOW)
    assert first.cutoff == "2026-11-23T06:00:00Z"
    # a day later, more posts about the 22nd arrived (fetched after the cut-off)
    store.upsert_posts(db, [post("late1", "Acme is awful", "2026-11-22T15:00:00Z"),
                            post("late2", "Bolt is wonderful", "2026-11-22T16:00:00Z")],
                       now="2026-11-24T06:00:00Z")
    pipeline.classify(db, settings, now=NOW)
    later = NOW.replace(day=24)
    again = build_digest(db, settings, day=DAY, now=later, cutoff=first.cutoff)
    assert stable(again) == stable(first)
    fresh = build_digest(db, settings, day=DAY, now=later)
    assert fresh.products[0].mentions == 5 and fresh.cutoff == "2026-11-24T06:00:00Z"


def test_query_versions_change_only_with_the_product_definition(fixture_db):
    from dataclasses import replace

    from reports.digest import query_version
    from reports.render import render_markdown

    db, settings = fixture_db
    d = build_digest(db, settings, day=DAY, now=NOW)
    acme = settings.products[0]
    assert d.query_versions == {"Acme": query_version(acme), "Bolt": query_version(settings.products[1])}
    assert query_version(replace(acme, ours=False)) == query_version(acme)  # not part of the query
    assert query_version(replace(acme, aliases=("Acme", "ACME Corp"))) != query_version(acme)
    assert query_version(replace(acme, exclude=("acme anvil",))) != query_version(acme)
    assert f"queries Acme {query_version(acme)}, Bolt" in render_markdown(d)
