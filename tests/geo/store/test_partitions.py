"""PostGIS ``?partitions=month``: partitions appear as months do, rows land in their month,
indexes exist per partition, uniqueness holds across partitions and queries stay right."""

from __future__ import annotations

import pandas as pd
import pytest

from cityaware.geo.errors import Conflict
from cityaware.geo.store import FeatureFilter
from cityaware.geo.store.partitions import month_bounds, month_of
from tests.geo.store import sample
from tests.geo.store.conftest import backend_store

pytestmark = pytest.mark.postgis


@pytest.fixture
def partitioned(tmp_path, locator):
    with backend_store("postgis", tmp_path, locator, partitioned=True) as store:
        yield store


def _placement(store) -> pd.DataFrame:
    with store.backend.read() as conn:
        rows = conn.exec_driver_sql(
            "SELECT id, reported_at, tableoid::regclass::text AS part FROM features"
        ).all()
    return pd.DataFrame(rows, columns=["id", "reported_at", "part"])


def test_rows_land_in_the_partition_of_their_month(partitioned):
    store = partitioned
    frame = sample.incidents(600)
    # Spread over three months long past: none has a partition when the import starts.
    offsets = pd.to_timedelta((pd.RangeIndex(600) % 3) * 31, unit="D")
    reported = pd.Timestamp("2024-03-05T12:00:00Z") + offsets
    frame["reported_at"] = [t.isoformat() for t in reported]
    report = store.bulk_import("incidents", frame)
    assert report.accepted == 600

    placed = _placement(store)
    assert len(placed) == 600
    for row in placed.itertuples():
        month = month_of(int(row.reported_at))
        assert row.part.endswith(f"_p{month}")  # the import's table of its month
        start, end = month_bounds(month)
        assert start <= row.reported_at < end
    assert set(placed["part"].str[-6:]) == {"202403", "202404", "202405"}

    with store.backend.read() as conn:
        indexes = conn.exec_driver_sql(
            "SELECT count(*) FROM pg_indexes WHERE tablename = 'features_p202404' "
            "AND schemaname = current_schema()"
        ).scalar_one()
        parents = conn.exec_driver_sql(
            "SELECT count(*) FROM pg_indexes WHERE tablename = 'features' "
            "AND schemaname = current_schema()"
        ).scalar_one()
        parent, staged = conn.exec_driver_sql(
            "SELECT i.inhparent::regclass::text, count(x.indexrelid) FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_index x ON x.indrelid = c.oid "
            "WHERE c.relname LIKE 'features_i%%_p202404' "
            "AND c.relnamespace = current_schema()::regnamespace GROUP BY 1"
        ).one()
    assert indexes == parents == staged >= 10  # every index of the table, on the partition too
    assert parent.endswith("features_p202404")  # the bare-loaded table, attached

    # Queries across partitions: counts by time window agree with pandas on the input.
    start = pd.Timestamp("2024-04-01T00:00:00Z")
    end = pd.Timestamp("2024-05-01T00:00:00Z")
    expected = int(((reported >= start) & (reported < end)).sum())
    window = FeatureFilter(since=start.isoformat(), until=(end - pd.Timedelta("1ms")).isoformat())
    got = store.query("incidents", window, limit=1000)
    assert got.number_matched == expected == len(got.items) == store.count("incidents", window)
    assert {i["id"] for i in got.items} == set(frame.id[(reported >= start) & (reported < end)])
    assert store.count("incidents") == 600


def test_ids_stay_unique_across_partitions_and_single_writes_find_their_month(partitioned):
    store = partitioned
    first = store.add(
        "incidents",
        {
            "id": "a1",
            "lon": 113.61,
            "lat": 34.71,
            "category": "noise",
            "reported_at": "2023-01-10T00:00:00Z",
        },
    )
    with pytest.raises(Conflict):  # same id, another month (another partition)
        store.add(
            "incidents",
            {
                "id": "a1",
                "lon": 113.61,
                "lat": 34.71,
                "category": "noise",
                "reported_at": "2025-06-10T00:00:00Z",
            },
        )
    replay = store.add_or_replay(
        "incidents", {"lon": 113.62, "lat": 34.72, "category": "noise"}, idempotency_key="k1"
    )
    again = store.add_or_replay(
        "incidents",
        {"lon": 113.62, "lat": 34.72, "category": "noise", "reported_at": "2022-01-01T00:00:00Z"},
        idempotency_key="k1",
    )
    assert replay[1] and not again[1] and again[0]["id"] == replay[0]["id"]

    placed = _placement(store).set_index("id")
    assert placed.loc["a1", "part"].endswith("features_default")  # no partition for 2023-01
    store.bulk_import("incidents", sample.incidents(5))  # a bulk load splits DEFAULT
    placed = _placement(store).set_index("id")
    assert placed.loc["a1", "part"].endswith("features_p202301_live")
    assert store.get("incidents", "a1")["grid_code"] == first["grid_code"]

    store.update("incidents", "a1", {"reported_at": "2026-01-02T00:00:00Z"})  # moves partition
    store.delete("incidents", "a1")
    assert (
        store.add("incidents", {"id": "a1", "lon": 113.61, "lat": 34.71, "category": "noise"})["id"]
        == "a1"
    )
