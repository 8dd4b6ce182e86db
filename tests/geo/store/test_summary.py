"""The incident counts (geo.store.summary) equal pandas counts of the raw rows after every
kind of write, and aggregates answered from them equal aggregates of the raw rows."""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd
import pytest

from cityaware.geo.store import FeatureFilter
from cityaware.geo.store.taxonomy import OPEN_STATUSES
from cityaware.geo.store.times import to_ms
from tests.geo.store import sample, synthetic

DAY_MS = 86_400_000
RAW = ["district_code", "street_code", "community_code", "grid_code", "managing_zone"]
RAW += ["category", "status", "channel", "reported_at"]
KEY = ["level", "unit", "district", "street", "community", "zone", "day", "dim", "value"]


def expected_counts(store) -> pd.DataFrame:
    """What the counts must hold, recomputed with pandas from the stored rows."""
    rows = store.frame("incidents", RAW).astype(object)
    rows = rows.where(rows.notna(), "")
    rows["day"] = (rows["reported_at"].astype("int64") + store.day_offset_ms) // DAY_MS
    parts = []
    units = {"all": None, "district": "district_code", "street": "street_code"}
    units |= {"zone": "managing_zone", "grid": "grid_code"}
    for level, column in units.items():
        for dim in ("category", "status", "channel"):
            part = rows
            if level == "grid" and dim == "channel":
                continue
            if level == "grid" and dim == "status":
                part = part[part["status"].isin(OPEN_STATUSES)]
            if level in ("district", "street"):
                part = part[part[column] != ""]
            if level == "zone":
                part = part[(part[column] != "") & (part[column] != part["district_code"])]
            frame = pd.DataFrame({"level": level, "dim": dim, "day": part["day"]})
            frame["unit"] = "" if column is None else part[column]
            names = ("district", "street", "community", "zone")
            chain = zip(names, [*RAW[:3], RAW[4]], strict=True)
            for name, raw in chain:
                frame[name] = part[raw] if level == "grid" else ""
            frame["value"] = part[dim]
            parts.append(frame)
    every = pd.concat(parts, ignore_index=True)
    return every.groupby(KEY).size().rename("n").reset_index()


def assert_counts_exact(store) -> None:
    got = store.count_table()[[*KEY, "n"]].astype({"day": "int64", "n": "int64"})
    want = expected_counts(store).astype({"day": "int64", "n": "int64"})
    got = got.sort_values(KEY).reset_index(drop=True)
    want = want.sort_values(KEY).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)


def raw_aggregate(store, by, filters):
    rows = store._raw_aggregate("incidents", by, filters)
    return {tuple(r[k] for k in by): r["count"] for r in rows}


def rolled(store, by, filters):
    return {tuple(r[k] for k in by): r["count"] for r in store.aggregate("incidents", by, filters)}


def test_counts_follow_imports_writes_status_moves_and_deletes(store):
    store.bulk_import("incidents", sample.incidents(400))
    assert_counts_exact(store)
    store.add("incidents", {"id": "live", "lon": 113.615, "lat": 34.705, "category": "noise"})
    outside = {"id": "far", "lon": 113.0, "lat": 34.0, "category": "noise"}
    store.add("incidents", outside)
    store.add("cameras", {"id": "c1", "lon": 113.615, "lat": 34.705})
    assert_counts_exact(store)
    store.update("incidents", "live", {"status": "dispatched"})
    store.update("incidents", "i3", {"category": "sanitation", "channel": "web"})
    store.update("incidents", "i4", {"lon": 113.635, "lat": 34.725})  # another grid
    store.update("incidents", "i5", {"reported_at": "2026-10-02T23:30:00Z"})  # another day
    assert_counts_exact(store)
    store.delete("incidents", "i6")
    store.delete("incidents", "far")
    assert_counts_exact(store)


def test_counts_follow_a_reassignment_and_concurrent_writes(store):
    """On PostGIS a re-assignment batch and the live writes used to lock count rows in
    different orders (a deadlock); every writer now takes the feed counter first."""
    store.bulk_import("incidents", sample.incidents(300))
    moved = synthetic.locator("g2", shift=0.003)
    errors: list[BaseException] = []

    def write(k: int) -> None:
        try:
            record = {"id": f"w{k}", "lon": 113.601 + k * 0.0007, "lat": 34.71, "category": "noise"}
            store.add("incidents", record)
            store.update("incidents", f"w{k}", {"status": "dispatched"})
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(k,)) for k in range(40)]
    for thread in threads:
        thread.start()
    store.reassign(moved, batch_size=64)
    for thread in threads:
        thread.join()
    assert not errors
    store.follow_active()
    store.reassign(moved)
    assert_counts_exact(store)


def test_rebuilt_for_another_day_offset(store):
    store.bulk_import("incidents", sample.incidents(120))
    from cityaware.geo.store import summary

    with store.backend.write() as conn:
        assert summary.ensure(conn, store.tables, store.day_offset_ms + 3_600_000)
        assert not summary.ensure(conn, store.tables, store.day_offset_ms + 3_600_000)
        assert summary.ensure(conn, store.tables, store.day_offset_ms)
    assert_counts_exact(store)


@pytest.mark.parametrize(
    "by",
    [
        [],
        ["category"],
        ["status"],
        ["channel"],
        ["day"],
        ["grid"],
        ["grid", "category"],
        ["grid", "category", "day"],
        ["category", "day"],
    ],  # fmt: skip
)
def test_aggregates_from_the_counts_equal_the_raw_rows(shared_store, by):
    store = shared_store
    if not store.count("incidents"):
        store.bulk_import("incidents", sample.incidents(600, seed=3))
    start = to_ms(sample.START)
    since, until = start + 5 * DAY_MS + 3_600_123, start + 12 * DAY_MS + 77_777
    regions = [None, "410100", "410105", "410171", "410102002", "410105001001", "410105001001002"]
    for region in regions:
        for times in ({}, {"since": since}, {"until": until}, {"since": since, "until": until}):
            choices = ({}, {"category": ["noise", "sanitation"]}, {"status": list(OPEN_STATUSES)})
            for extra in choices:
                filters = FeatureFilter(region=region, **times, **extra)
                if by:
                    want = raw_aggregate(store, by, filters)
                    assert rolled(store, by, filters) == want
                    frame = store.aggregate_frame("incidents", by, filters)
                    assert dict(zip(map(tuple, frame[by].to_numpy().tolist()), frame["count"],
                                    strict=True)) == want  # fmt: skip
                else:
                    raw = store._raw_count("incidents", filters)
                    assert store.count("incidents", filters) == raw


def test_plan_left_to_raw_rows_for_what_counts_do_not_hold(shared_store):
    from cityaware.geo.store import rollup

    assert rollup.plan(["channel"], FeatureFilter(category="noise"), 0) is None
    assert rollup.plan(["grid"], FeatureFilter(status="resolved"), 0) is None
    assert rollup.plan(["category"], FeatureFilter(time_field="updated_at"), 0) is None
    assert rollup.plan(["zone"], None, 0) is None
    stamp = int(np.int64(to_ms(sample.START)))
    assert rollup.plan(["category"], FeatureFilter(since=stamp, until=stamp + 10), 0) is None
