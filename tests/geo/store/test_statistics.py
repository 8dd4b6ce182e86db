"""Extents, resolution times and column frames of the store, checked against its own records."""

from __future__ import annotations

import pandas as pd
import pytest

from cityaware.geo.errors import InvalidInput
from cityaware.geo.store import FeatureFilter
from cityaware.geo.store.times import to_ms
from tests.geo.store import sample

HOUR_MS = 3_600_000


def records(store, kind: str, f: FeatureFilter | None = None) -> pd.DataFrame:
    rows = [r for batch in store.iter_features(kind, f) for r in batch]
    return pd.DataFrame(rows)


def test_extent_is_the_span_of_the_matching_records(store):
    assert store.extent("incidents").bbox is None
    store.bulk_import("incidents", sample.incidents(200))
    for f in (None, FeatureFilter(region="410105"), FeatureFilter(category="sanitation")):
        rows = records(store, "incidents", f)
        extent = store.extent("incidents", f)
        expected = (rows.lon.min(), rows.lat.min(), rows.lon.max(), rows.lat.max())
        assert extent.bbox == pytest.approx(expected)
        times = rows.reported_at.map(to_ms)
        assert (extent.first_ms, extent.last_ms) == (times.min(), times.max())
    assert store.extent("cameras").bbox is None


def test_resolutions_count_the_first_move_to_resolved(store):
    now = pd.Timestamp.now(tz="UTC")
    reported = {"fresh": pd.Timedelta(hours=2), "stale": pd.Timedelta(days=10),
                "open": pd.Timedelta(hours=1), "web": pd.Timedelta(hours=3)}  # fmt: skip
    for name, age in reported.items():
        channel = "web" if name == "web" else "hotline_12345"
        record = {"id": name, "lon": 113.61, "lat": 34.71, "channel": channel, "category": "noise",
                  "reported_at": (now - age).isoformat()}  # fmt: skip
        store.add("incidents", record)
    for name in ("fresh", "stale", "web"):
        for status in ("dispatched", "in_progress", "resolved"):
            store.update("incidents", name, {"status": status})
    resolved_at = {
        name: min(to_ms(h["at"]) for h in store.history("incidents", name)["status"]
                  if h["to_status"] == "resolved")
        for name in ("fresh", "stale", "web")
    }  # fmt: skip
    limit = 72 * HOUR_MS
    on_time = {n for n, at in resolved_at.items() if at - to_ms(now - reported[n]) <= limit}
    assert on_time == {"fresh", "web"}
    everything = store.resolutions("incidents", None, limit)
    assert (everything.resolved, everything.within) == (3, len(on_time))
    assert everything.rate == pytest.approx(2 / 3)
    hotline = store.resolutions("incidents", FeatureFilter(channel="hotline_12345"), limit)
    assert (hotline.resolved, hotline.within, hotline.rate) == (2, 1, 0.5)
    none = store.resolutions("cameras", None, limit)
    assert (none.resolved, none.within, none.rate) == (0, 0, None)


def test_frame_holds_the_chosen_columns_of_the_matching_rows(store):
    store.bulk_import("incidents", sample.incidents(120))
    f = FeatureFilter(region="410105", status=["received", "closed"])
    frame = store.frame("incidents", ["id", "lon", "status", "reported_at"], f)
    rows = records(store, "incidents", f)
    assert list(frame.columns) == ["id", "lon", "status", "reported_at"]
    assert frame.id.tolist() == rows.id.tolist()  # both in insertion order
    assert frame.lon.tolist() == pytest.approx(rows.lon.tolist())
    assert frame.reported_at.tolist() == rows.reported_at.map(to_ms).tolist()
    with pytest.raises(InvalidInput, match="cannot read columns"):
        store.frame("incidents", ["id", "geom"])
    with pytest.raises(InvalidInput, match="cannot read columns"):
        store.frame("incidents", [])
