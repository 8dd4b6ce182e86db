"""Bulk import: files, rejected rows, all-or-nothing; bad input never writes."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from cityaware.geo.errors import InvalidInput, NotFound
from cityaware.geo.store import bulk, imports
from tests.geo.store import sample

BAD_ROWS = {  # row number (1-based) -> (column overrides, reason pattern)
    2: ({"lon": np.nan}, "NaN"),
    4: ({"lat": 95.0}, "latitude is outside"),
    5: ({"lon": 34.71, "lat": 113.61}, "swapped"),
    7: ({"category": "alien_landing"}, "unknown category 'alien_landing'"),
    8: ({"reported_at": "last tuesday"}, "reported_at is not an ISO 8601 time"),
    9: ({"status": "lost"}, "unknown status"),
    10: ({"id": "i0"}, "duplicate id"),
}


def frame_with_bad_rows(n: int = 40) -> pd.DataFrame:
    frame = sample.incidents(n).astype(object)
    for row, (changes, _) in BAD_ROWS.items():
        for column, value in changes.items():
            frame.loc[row - 1, column] = value
    return frame


def assert_bad_rows_reported(report) -> None:
    assert [row for row, _ in report.rejected] == list(BAD_ROWS)
    for (row, reason), (_, pattern) in zip(report.rejected, BAD_ROWS.values(), strict=True):
        assert pd.Series([reason]).str.contains(pattern).all(), (row, reason)


def test_import_csv_with_rejected_rows(store, locator, tmp_path):
    frame = frame_with_bad_rows()
    path = tmp_path / "calls.csv"
    frame.rename(columns={"lon": "x", "lat": "y"}).to_csv(path, index=False)
    report = store.bulk_import("incidents", path, crs="EPSG:4326", lon_col="x", lat_col="y")
    assert_bad_rows_reported(report)
    assert report.accepted == len(frame) - len(BAD_ROWS) == store.count("incidents")
    good = frame.drop(index=[r - 1 for r in BAD_ROWS])
    stored = {i["id"]: i for batch in store.iter_features("incidents") for i in batch}
    assert set(stored) == set(good.id)
    expected = locator.locate_many(good.lon.astype(float), good.lat.astype(float))
    assert [stored[i]["grid_code"] for i in good.id] == list(expected.grid_code)
    report.write_rejected(tmp_path / "rejected.csv")
    written = pd.read_csv(tmp_path / "rejected.csv")
    assert list(written.row) == list(BAD_ROWS)


def test_strict_import_writes_nothing(store):
    version = store.data_version()
    with pytest.raises(InvalidInput, match="7 row\\(s\\) rejected, nothing imported"):
        store.bulk_import("incidents", frame_with_bad_rows(), strict=True)
    assert store.count("incidents") == 0 and store.data_version() == version


def test_failure_mid_import_rolls_everything_back(store, monkeypatch):
    monkeypatch.setattr(bulk, "INSERT_BATCH", 10)
    monkeypatch.setattr(imports, "STEP_SECONDS", 0.0)  # steps of exactly 10 rows
    written = []

    def fail_after_two_batches(n):
        written.append(n)
        if len(written) == 2:
            raise OSError("disk full (simulated)")

    with pytest.raises(OSError, match="disk full"):
        store.bulk_import("incidents", sample.incidents(50), progress=fail_after_two_batches)
    assert written == [10, 20]
    assert store.count("incidents") == 0
    assert store.history  # the store is still usable
    assert store.bulk_import("incidents", sample.incidents(50)).accepted == 50


def test_existing_ids_are_rejected(store):
    store.bulk_import("incidents", sample.incidents(5))
    report = store.bulk_import("incidents", sample.incidents(8))
    assert report.accepted == 3
    assert [r for r, _ in report.rejected] == [1, 2, 3, 4, 5]
    assert all("already exists" in reason for _, reason in report.rejected)


def test_import_geojson_and_gpkg_in_gcj02(store, locator, tmp_path):
    from cityaware.geo.crs import from_lonlat

    frame = sample.incidents(30)
    x, y = from_lonlat(frame.lon.to_numpy(), frame.lat.to_numpy(), "GCJ02")
    gdf = gpd.GeoDataFrame(
        frame.drop(columns=["lon", "lat"]), geometry=gpd.points_from_xy(x, y), crs="EPSG:4326"
    )
    gdf.to_file(tmp_path / "in.geojson", driver="GeoJSON")
    gdf.assign(id=gdf.id + "g").to_file(tmp_path / "in.gpkg", driver="GPKG")
    for name in ("in.geojson", "in.gpkg"):
        report = store.bulk_import("incidents", tmp_path / name, crs="GCJ02")
        assert report.accepted == 30 and not report.rejected
    item = store.get("incidents", "i3g")
    assert item["lon"] == pytest.approx(frame.lon[3], abs=1e-6)
    assert item["grid_code"] == locator.locate(frame.lon[3], frame.lat[3]).grid_code


def test_geometry_file_crs_is_used_when_none_is_given(store, tmp_path):
    frame = sample.incidents(10)
    gdf = gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(frame.lon, frame.lat), crs=4326)
    gdf.to_crs("EPSG:4547").to_file(tmp_path / "metric.gpkg", driver="GPKG")
    report = store.bulk_import("incidents", tmp_path / "metric.gpkg")
    assert report.accepted == 10
    assert store.get("incidents", "i4")["lon"] == pytest.approx(frame.lon[4], abs=1e-7)


@pytest.mark.parametrize(
    ("content", "suffix", "message"),
    [
        (b'{"type": "FeatureCollection", "features": [', ".geojson", "cannot read"),
        (b"\x00\x01garbage", ".gpkg", "cannot read"),
        (b"a,b\n1,2\n", ".csv", "missing coordinate column"),
    ],
)
def test_malformed_files_are_invalid_input(store, tmp_path, content, suffix, message):
    path = tmp_path / f"bad{suffix}"
    path.write_bytes(content)
    with pytest.raises(InvalidInput, match=message):
        store.bulk_import("incidents", path)
    assert store.count("incidents") == 0


@pytest.mark.parametrize(
    ("record", "crs", "message"),
    [
        ({"lon": float("nan"), "lat": 34.7}, "EPSG:4326", "NaN"),
        ({"lon": 113.6, "lat": 134.6}, "EPSG:4326", "latitude is outside"),
        ({"lon": 34.71, "lat": 113.61}, "EPSG:4326", "swapped"),
        ({"lon": 113.6, "lat": 34.7, "category": "ufo"}, "EPSG:4326", "unknown category 'ufo'"),
        ({"lon": 113.6, "lat": 34.7}, "EPSG:4326", "category is required"),
        ({"lon": 113.6, "lat": 34.7, "category": "noise"}, "EPSG:999999", "CRS"),
        ({"lon": "east", "lat": 34.7, "category": "noise"}, "EPSG:4326", "non-numeric"),
    ],
)
def test_bad_single_writes_are_refused(store, record, crs, message):
    version = store.data_version()
    with pytest.raises(InvalidInput, match=message):
        store.add("incidents", record, crs=crs)
    assert store.count("incidents") == 0 and store.data_version() == version


def test_unknown_kind(store):
    with pytest.raises(NotFound, match="unknown feature kind 'trees'"):
        store.add("trees", {"lon": 113.6, "lat": 34.7})
    with pytest.raises(NotFound):
        store.bulk_import("trees", sample.incidents(2))


def test_imports_keep_their_updated_at_but_live_writes_are_stamped_now(store):
    frame = sample.incidents(3)
    frame["updated_at"] = "2024-05-01T08:00:00Z"
    store.bulk_import("incidents", frame)
    assert {store.get("incidents", i)["updated_at"] for i in frame.id} == {"2024-05-01T08:00:00Z"}

    live = {"id": "live1", "lon": 113.61, "lat": 34.71, "category": "noise"}
    added = store.add("incidents", {**live, "updated_at": "2024-05-01T08:00:00Z"})
    assert added["updated_at"] > "2025"  # a live write is stamped now
