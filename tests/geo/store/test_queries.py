"""Queries, paging and aggregates against independent oracles (pandas, shapely, pyproj)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Geod

from cityaware.geo.errors import InvalidInput
from cityaware.geo.store import FeatureFilter
from tests.geo.store import sample

N = 600


def load(store):
    frame = sample.incidents(N)
    report = store.bulk_import("incidents", frame)
    assert report.accepted == N and not report.rejected
    frame["grid"] = sample.oracle_grid(frame["lon"], frame["lat"])
    frame["ms"] = pd.to_datetime(frame["reported_at"], utc=True)
    return store, frame


@pytest.fixture(scope="module")
def shared(shared_store):
    """One loaded store per backend for the tests that only read."""
    return load(shared_store)


@pytest.fixture
def loaded(store):
    """A loaded store of its own, for tests that write."""
    return load(store)


def ids(store, f: FeatureFilter) -> set[str]:
    found = [item["id"] for batch in store.iter_features("incidents", f, 97) for item in batch]
    assert len(found) == len(set(found)) == store.count("incidents", f)
    return set(found)


def test_bbox(shared):
    store, frame = shared
    box = (113.607, 34.705, 113.6255, 34.731)
    inside = frame.lon.between(box[0], box[2]) & frame.lat.between(box[1], box[3])
    assert 0 < inside.sum() < N
    assert ids(store, FeatureFilter(bbox=box)) == set(frame.id[inside])


def test_bbox_edges_are_included(store):
    store.add("cameras", {"id": "edge", "lon": 113.61, "lat": 34.72})
    assert ids_of(store, "cameras", FeatureFilter(bbox=(113.61, 34.70, 113.62, 34.72))) == {"edge"}


def ids_of(store, kind, f):
    return {item["id"] for batch in store.iter_features(kind, f) for item in batch}


@pytest.mark.parametrize("form", ["shapely", "wkt", "geojson"])
def test_polygon(shared, form):
    store, frame = shared
    polygon = shapely.Polygon([(113.601, 34.701), (113.635, 34.712), (113.62, 34.738)])
    value = {"shapely": polygon, "wkt": polygon.wkt, "geojson": shapely.to_geojson(polygon)}[form]
    expected = shapely.intersects_xy(polygon, frame.lon.to_numpy(), frame.lat.to_numpy())
    assert 0 < expected.sum() < N
    assert ids(store, FeatureFilter(polygon=value)) == set(frame.id[expected])


def test_radius_is_geodesic_metres(shared):
    store, frame = shared
    centre = (113.62, 34.72)
    _, _, distance = Geod(ellps="WGS84").inv(
        np.full(N, centre[0]), np.full(N, centre[1]), frame.lon.to_numpy(), frame.lat.to_numpy()
    )
    expected = distance <= 1200.0
    assert 0 < expected.sum() < N
    assert ids(store, FeatureFilter(radius=(*centre, 1200.0))) == set(frame.id[expected])


@pytest.mark.parametrize(
    ("code", "length"),
    [
        *[("410105", 6), ("410102001", 9), ("410105002001", 12), ("410102002002001", 15)],
        *[("410171", 6), ("410100", 6)],
    ],
)
def test_region_at_every_level(shared, code, length):
    store, frame = shared
    grids = frame.grid.fillna("")
    if code == "410171":  # the functional zone manages street 410102002
        expected = grids.str.startswith("410102002")
    else:
        expected = grids.str.startswith(code.removesuffix("00"))  # a city: its districts
    assert len(code) == length and 0 < expected.sum() <= N
    assert ids(store, FeatureFilter(region=code)) == set(frame.id[expected])


def test_time_category_status_channel(shared):
    store, frame = shared
    f = FeatureFilter(
        since="2026-11-05T00:00:00Z",
        until="2026-11-12T12:00:00+08:00",
        category=["noise", "road_damage"],
        status="received",
        channel=["web", "photo_app"],
    )
    expected = (
        frame.ms.between(pd.Timestamp("2026-11-05T00:00:00Z"), pd.Timestamp("2026-11-12T04:00Z"))
        & frame.category.isin(["noise", "road_damage"])
        & (frame.status == "received")
        & frame.channel.isin(["web", "photo_app"])
    )
    assert 0 < expected.sum()
    assert ids(store, f) == set(frame.id[expected])


def test_filters_combine_with_extra_where_clause(shared):
    store, frame = shared
    c = store.columns
    f = FeatureFilter(region="410105", where=c.title.like("case 1%"))
    expected = frame.grid.fillna("").str.startswith("410105") & frame.title.str.startswith("case 1")
    assert ids(store, f) == set(frame.id[expected])


def test_device_filters(store):
    store.add("cameras", {"id": "a", "lon": 113.61, "lat": 34.71, "device_kind": "dome"})
    store.add("cameras", {"id": "b", "lon": 113.61, "lat": 34.71, "online": False})
    store.add("sensors", {"id": "a", "lon": 113.61, "lat": 34.71, "device_kind": "dome"})
    assert ids_of(store, "cameras", FeatureFilter(online=False)) == {"b"}
    assert ids_of(store, "cameras", FeatureFilter(device_kind="dome")) == {"a"}
    assert ids_of(store, "sensors", None) == {"a"}


def test_paging_is_stable_and_complete(loaded):
    store, frame = loaded
    f = FeatureFilter(region="410105")
    seen, added, cursor = [], [], None
    while True:
        page = store.query("incidents", f, limit=37, cursor=cursor)
        seen += [item["id"] for item in page.items]
        if page.next is None:
            break
        # writes between pages neither shift nor repeat rows; new rows come last
        added.append(store.add("incidents", {"lon": 113.605, "lat": 34.705, "category": "noise"}))
        cursor = page.next
    expected = list(frame.id[frame.grid.fillna("").str.startswith("410105")])
    assert seen == expected + [a["id"] for a in added]
    assert page.number_matched == len(seen)


def test_sortby_and_offset_paging(shared):
    store, frame = shared
    pages, cursor = [], None
    while True:
        page = store.query(
            "incidents", None, limit=250, cursor=cursor, sortby=["-reported_at", "id"]
        )
        pages += [item["id"] for item in page.items]
        cursor = page.next
        if cursor is None:
            break
    expected = frame.assign(n=frame.index).sort_values(["ms", "id"], ascending=[False, True])
    assert pages == list(expected.id)
    offset = store.query("incidents", None, limit=10, offset=20, sortby="id")
    assert [i["id"] for i in offset.items] == sorted(frame.id)[20:30]


@pytest.mark.parametrize(
    "by",
    [
        ["district"],
        ["grid"],
        ["street", "category"],
        ["community", "status"],
        ["day"],
        ["channel", "day"],
    ],
)
def test_aggregate_matches_pandas_groupby(shared, by):
    store, frame = shared
    f = FeatureFilter(status=["received", "dispatched", "in_progress"])
    local_day = (frame.ms + pd.Timedelta(hours=8)).dt.strftime("%Y-%m-%d")
    data = frame.assign(
        district=frame.grid.str[:6],
        street=frame.grid.str[:9],
        community=frame.grid.str[:12],
        day=local_day,
    )
    data = data[data.status.isin(["received", "dispatched", "in_progress"])]
    expected = {
        tuple(None if pd.isna(v) else v for v in (key if isinstance(key, tuple) else (key,))): n
        for key, n in data.groupby(by, dropna=False).size().items()
    }
    rows = store.aggregate("incidents", by, f)
    got = {tuple(row[k] for k in by): row["count"] for row in rows}
    assert got == expected
    counts = [row["count"] for row in rows]
    assert counts == sorted(counts, reverse=True)


@pytest.mark.parametrize(
    ("f", "message"),
    [
        (FeatureFilter(bbox=(1, 2, 3)), "bbox"),
        (FeatureFilter(bbox=(5, 0, 1, 1)), "min above"),
        (FeatureFilter(radius=(113.6, 34.7, -1)), "negative"),
        (FeatureFilter(polygon="POLYGON ((0 0, 1"), "neither valid"),
        (FeatureFilter(since="yesterday-ish"), "ISO 8601"),
    ],
)
def test_bad_filters_are_invalid_input(shared_store, f, message):
    with pytest.raises(InvalidInput, match=message):
        shared_store.query("incidents", f)


def test_bad_paging_arguments(shared_store):
    store = shared_store
    with pytest.raises(InvalidInput, match="invalid cursor"):
        store.query("incidents", None, cursor="bogus!")
    with pytest.raises(InvalidInput, match="cannot sort by"):
        store.query("incidents", None, sortby="password")
    with pytest.raises(InvalidInput, match="cannot aggregate"):
        store.aggregate("incidents", ["planet"])


def test_spatial_index_follows_writes_after_a_bulk_import(loaded):
    store, _ = loaded
    box = (113.6001, 34.7001, 113.6002, 34.7002)
    assert ids_of(store, "incidents", FeatureFilter(bbox=box)) == set()
    added = store.add("incidents", {"lon": 113.60015, "lat": 34.70015, "category": "noise"})
    assert ids_of(store, "incidents", FeatureFilter(bbox=box)) == {added["id"]}
    store.update("incidents", added["id"], {"lon": 113.63, "lat": 34.73})
    assert ids_of(store, "incidents", FeatureFilter(bbox=box)) == set()
    store.bulk_import(
        "incidents", sample.incidents(3).assign(id=["x1", "x2", "x3"], lon=113.60012, lat=34.70012)
    )
    assert ids_of(store, "incidents", FeatureFilter(bbox=box)) == {"x1", "x2", "x3"}
    store.delete("incidents", "x2")
    assert ids_of(store, "incidents", FeatureFilter(bbox=box)) == {"x1", "x3"}


def test_ids_and_updated_at_filters(store):
    store.bulk_import("incidents", sample.incidents(20))
    assert ids_of(store, "incidents", FeatureFilter(ids=["i3", "i7", "nope"])) == {"i3", "i7"}
    cutoff = store.get("incidents", "i0")["updated_at"]
    store.update("incidents", "i5", {"title": "edited later"})
    later = FeatureFilter(since=cutoff, time_field="updated_at")
    assert "i5" in ids_of(store, "incidents", later)
    edited = store.get("incidents", "i5")["updated_at"]
    assert ids_of(store, "incidents", FeatureFilter(since=edited, time_field="updated_at")) == {
        "i5"
    }
    history = store.history("incidents", "i5")["status"]
    assert history == [
        {"kind": "incidents", "feature_id": "i5", "from_status": None,
         "to_status": sample.incidents(20).status[5], "at": cutoff, "note": None}
    ]  # fmt: skip
