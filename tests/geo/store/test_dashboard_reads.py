"""The wall's counts read in SQL (geo.store.dashboard: hourly intake, replies since a
time) equal pandas recounts of the stored rows, on SQLite and PostGIS."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cityaware.geo.store import FeatureFilter
from cityaware.geo.store.dashboard import HOUR_MS, hourly_counts, replied_since
from cityaware.geo.store.times import to_ms
from tests.geo.store import sample

RESOLVED = ("resolved", "closed")


@pytest.fixture(scope="module")
def loaded(shared_store):
    frame = sample.incidents(600, seed=17)
    rng = np.random.default_rng(5)
    start = to_ms(sample.START.isoformat())
    replies = start + rng.integers(0, 20 * 24 * HOUR_MS, len(frame))
    frame["hotline"] = [{"reply": {"at": int(v)}} if k % 5 else {} for k, v in enumerate(replies)]
    shared_store.bulk_import("incidents", frame, strict=True)
    items = shared_store.query("incidents", None, limit=10_000).items
    rows = pd.DataFrame(items)
    rows["reported_ms"] = [to_ms(v) for v in rows["reported_at"]]
    rows["reply_ms"] = [
        (a or {}).get("hotline", {}).get("reply", {}).get("at") for a in rows["attributes"]
    ]
    return shared_store, rows, start


@pytest.mark.parametrize("region", ["", "410105", "410102001"])
@pytest.mark.parametrize("day", [3, 11])
def test_hourly_counts_equal_the_recount(loaded, region, day):
    store, rows, start = loaded
    begin, until = start + day * 24 * HOUR_MS + 7 * 60_000, start + (day + 1) * 24 * HOUR_MS
    until -= 5 * HOUR_MS + 1  # a day not over yet: its last hours are empty
    shown = rows[(rows["reported_ms"] >= begin) & (rows["reported_ms"] <= until)]
    if region:
        shown = shown[shown["grid_code"].fillna("").str.startswith(region)]
    want = np.bincount((shown["reported_ms"] - begin) // HOUR_MS, minlength=24).tolist()
    got = hourly_counts(store, FeatureFilter(region=region or None), begin, until)
    assert got == want and sum(got) > 0


@pytest.mark.parametrize("region", ["", "410102"])
def test_replies_since_equal_the_recount(loaded, region):
    store, rows, start = loaded
    since = start + 9 * 24 * HOUR_MS
    replied = rows[rows["status"].isin(RESOLVED) & (rows["reply_ms"].fillna(-1) >= since)]
    if region:
        replied = replied[replied["district_code"] == region]
    got = replied_since(store, FeatureFilter(region=region or None), RESOLVED, since)
    assert got == len(replied) > 0
