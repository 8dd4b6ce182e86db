"""LiveIndex against brute force: geodesic distances to every point (pyproj Geod, independent
of the index) and plain coordinate comparisons for boxes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod

from cityaware.geo.engine.live_index import LiveIndex
from cityaware.geo.errors import InvalidInput, NotFound

GEOD = Geod(ellps="WGS84")


def brute_force(points: dict, lon: float, lat: float) -> list[tuple[str, float]]:
    ids = list(points)
    lons = np.array([points[i][0] for i in ids])
    lats = np.array([points[i][1] for i in ids])
    dist = GEOD.inv(np.full(len(ids), lon), np.full(len(ids), lat), lons, lats)[2]
    return sorted(zip(ids, dist, strict=True), key=lambda pair: pair[1])


def assert_same_ranking(got, expected, k):
    """Same distances; ids equal up to exact ties at the k-th place."""
    assert len(got) == min(k, len(expected))
    assert [d for _, d in got] == pytest.approx([d for _, d in expected[:k]], abs=1e-6)
    cutoff = expected[min(k, len(expected)) - 1][1] if expected else 0
    allowed = {i for i, d in expected if d <= cutoff + 1e-6}
    assert {i for i, _ in got} <= allowed


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 25), st.sampled_from([34.75, 60.0, -45.0]))
def test_nearest_is_the_true_metric_k_nearest(seed, k, base_lat):
    """Points spread wider in longitude than latitude: a degree ranking would get it wrong."""
    rng = np.random.default_rng(seed)
    index = LiveIndex()
    points = {}
    for i in range(300):
        lon, lat = 113.6 + rng.uniform(-0.05, 0.05), base_lat + rng.uniform(-0.02, 0.02)
        points[f"f{i}"] = (lon, lat)
        index.insert("cameras", f"f{i}", lon, lat)
    qlon, qlat = 113.6 + rng.uniform(-0.05, 0.05), base_lat + rng.uniform(-0.02, 0.02)
    assert_same_ranking(index.nearest(qlon, qlat, k=k), brute_force(points, qlon, qlat), k)
    radius = float(rng.uniform(10, 3000))
    within = index.within(qlon, qlat, radius)
    expected = [(i, d) for i, d in brute_force(points, qlon, qlat) if d <= radius]
    assert [d for _, d in within] == pytest.approx([d for _, d in expected], abs=1e-6)
    assert {i for i, _ in within} == {i for i, _ in expected}


def test_moves_deletes_kinds_and_filters_without_rebuild():
    rng = np.random.default_rng(4)
    index = LiveIndex()
    cams = {f"c{i}": (113.6 + rng.uniform(0, 0.1), 34.7 + rng.uniform(0, 0.1)) for i in range(200)}
    loaded = index.bulk_load("cameras", list(cams), *np.array(list(cams.values())).T)
    assert loaded == 200 and index.count("cameras") == 200
    sensors = {
        f"s{i}": (113.6 + rng.uniform(0, 0.1), 34.7 + rng.uniform(0, 0.1)) for i in range(50)
    }
    for i, (lon, lat) in sensors.items():
        index.insert("sensors", i, lon, lat, {"type": "noise" if i < "s3" else "air"})
    for i in list(cams)[:60]:
        cams[i] = (113.6 + rng.uniform(0, 0.1), 34.7 + rng.uniform(0, 0.1))
        index.move("cameras", i, *cams[i])
    for i in list(cams)[60:90]:
        assert index.delete("cameras", i)
        del cams[i]
    assert not index.delete("cameras", "c70")
    q = (113.65, 34.75)
    assert_same_ranking(index.nearest(*q, k=7, kind="cameras"), brute_force(cams, *q), 7)
    noise = {i: p for i, p in sensors.items() if i < "s3"}
    got = index.nearest(*q, k=3, kind="sensors", where=lambda a: a["type"] == "noise")
    assert_same_ranking(got, brute_force(noise, *q), 3)
    everything = {**cams, **sensors}
    assert_same_ranking(index.nearest(*q, k=10), brute_force(everything, *q), 10)
    box = (113.62, 34.71, 113.68, 34.77)
    expected = {
        i for i, (lon, lat) in cams.items() if 113.62 <= lon <= 113.68 and 34.71 <= lat <= 34.77
    }
    assert set(index.bbox(*box, kind="cameras")) == expected
    assert index.get("cameras", "c0")[:2] == cams["c0"]


def test_insert_replaces_and_errors_are_clear():
    index = LiveIndex()
    index.insert("incidents", 1, 113.6, 34.7)
    index.insert("incidents", 1, 113.7, 34.8)
    assert len(index) == 1 and index.get("incidents", 1)[:2] == (113.7, 34.8)
    assert index.bbox(113.5, 34.6, 113.65, 34.75) == []
    with pytest.raises(InvalidInput, match="swapped"):
        index.insert("incidents", 2, 34.7, 113.6)
    with pytest.raises(NotFound):
        index.move("incidents", 99, 113.6, 34.7)
    with pytest.raises(InvalidInput, match="row 1"):
        index.bulk_load("cameras", ["a", "b"], [113.6, float("nan")], [34.7, 34.7])
    assert index.count("cameras") == 0
    assert index.nearest(113.6, 34.7, k=3, kind="cameras") == []


def test_insert_at_the_same_place_updates_attributes_and_keeps_the_point_findable():
    index = LiveIndex()
    index.bulk_load("sensors", ["s1", "s2"], [113.6, 113.7], [34.7, 34.8], [{"online": False}, {}])
    index.insert("sensors", "s1", 113.6, 34.7, {"online": True})
    assert index.get("sensors", "s1") == (113.6, 34.7, {"online": True})
    assert index.bbox(113.55, 34.65, 113.65, 34.75, kind="sensors") == ["s1"]
    assert index.nearest(113.6, 34.7, k=1, kind="sensors")[0][0] == "s1"
    index.insert("sensors", "s1", 113.65, 34.75, {"online": True})  # a real move
    assert index.bbox(113.55, 34.65, 113.62, 34.72, kind="sensors") == []
