"""LiveDevices against the store it follows: an index built from the store's frames and
caught up through its change feed answers as a brute-force geodesic search over every
stored row (pyproj Geod, independent of the index), on SQLite and PostGIS."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pytest
from pyproj import Geod

from cityaware.geo.store.changes import FrameDelta
from cityaware.geo.store.live import DEVICE_KINDS, LiveDevices
from cityaware.geo.store.times import now_ms
from tests.geo.store.synthetic import CELL, SOUTH, WEST

GEOD = Geod(ellps="WGS84")
SPAN = 4 * CELL


class CountingFeed:
    """The store's read API, counting the frames asked for."""

    def __init__(self, store) -> None:
        self.store, self.frames = store, 0

    def data_version(self) -> int:
        return self.store.data_version()

    def changed_kinds(self, kinds: Sequence[str], after: int):
        return self.store.changed_kinds(kinds, after)

    def feature_frame(self, kind: str, columns: Sequence[str], after: int | None = None):
        self.frames += 1
        return self.store.feature_frame(kind, columns, after=after)


def add_devices(store, n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    for kind in DEVICE_KINDS:
        frame = pd.DataFrame(
            {
                "id": [f"{kind[0]}{seed}-{i}" for i in range(n)],
                "lon": rng.uniform(WEST, WEST + SPAN, n),
                "lat": rng.uniform(SOUTH, SOUTH + SPAN, n),
                "online": rng.random(n) < 0.6,
                "device_kind": rng.choice(["ptz", "dome", "meter"], n),
            }
        )
        store.bulk_import(kind, frame, crs="EPSG:4326")


def oracle(
    store, kind: str, lon: float, lat: float, keep=lambda r: True
) -> list[tuple[str, float]]:
    """(id, metres) of every stored ``kind`` row that ``keep`` accepts, nearest first."""
    rows = [r for batch in store.iter_features(kind) for r in batch if keep(r)]
    if not rows:
        return []
    _, _, metres = GEOD.inv(
        [lon] * len(rows), [lat] * len(rows), [r["lon"] for r in rows], [r["lat"] for r in rows]
    )
    return sorted(zip((r["id"] for r in rows), metres, strict=True), key=lambda p: (p[1], p[0]))


def assert_matches_store(devices: LiveDevices, store, seed: int) -> None:
    rng = np.random.default_rng(seed)
    index = devices.current()
    for _ in range(6):
        lon, lat = rng.uniform(WEST, WEST + SPAN), rng.uniform(SOUTH, SOUTH + SPAN)
        for kind in DEVICE_KINDS:
            assert index.count(kind) == store.count(kind)
            want = oracle(store, kind, lon, lat)[:7]
            got = index.nearest(lon, lat, 7, kind)
            assert [i for i, _ in got] == [i for i, _ in want]
            assert np.allclose([d for _, d in got], [d for _, d in want], atol=1e-6)
            online = oracle(store, kind, lon, lat, lambda r: r["online"] is True)
            assert [i for i, _ in index.within(lon, lat, 900, kind, lambda a: a["online"])] == [
                i for i, d in online if d <= 900
            ]
            ptz = oracle(store, kind, lon, lat, lambda r: r["device_kind"] == "ptz")[:3]
            hits = index.nearest(lon, lat, 3, kind, lambda a: a["device_kind"] == "ptz")
            assert [i for i, _ in hits] == [i for i, _ in ptz]
            for id, _ in got:  # the attrs are the stored record's values
                record = store.get(kind, id)
                _, _, attrs = index.get(kind, id)
                assert attrs["online"] == record["online"]
                assert attrs["grid_code"] == record["grid_code"]
                assert attrs.get("alarm") == record.get("alarm")


def test_the_index_follows_every_kind_of_write(store):
    add_devices(store, 60, seed=1)
    feed = CountingFeed(store)
    devices = LiveDevices(feed)
    assert_matches_store(devices, store, seed=11)
    frames = feed.frames
    devices.current()
    assert feed.frames == frames  # nothing written: only the newest seq was read
    store.add("incidents", {"id": "x", "lon": WEST, "lat": SOUTH, "category": "noise"})
    devices.current()
    assert feed.frames == frames  # no device changed: no device frame read

    store.add("cameras", {"id": "new-cam", "lon": WEST + 0.001, "lat": SOUTH + 0.001})
    store.update("cameras", "c1-0", {"lon": WEST + 0.002, "lat": SOUTH + 0.002})
    store.update("sensors", "s1-1", {"online": False, "reading_value": 5, "alarm_high": 1})
    store.delete("sensors", "s1-2")
    add_devices(store, 20, seed=2)  # a bulk import
    assert_matches_store(devices, store, seed=12)
    assert devices.current().get("sensors", "s1-1")[2]["alarm"] is True
    with pytest.raises(Exception, match="no sensors"):
        devices.current().get("sensors", "s1-2")

    fresh = LiveDevices(store)  # a process starting now builds the same index
    for kind in DEVICE_KINDS:
        assert fresh.current().nearest(WEST, SOUTH, 10, kind) == devices.current().nearest(
            WEST, SOUTH, 10, kind
        )


def test_a_pruned_seq_reads_everything_again(store):
    add_devices(store, 10, seed=3)
    devices = LiveDevices(store)
    devices.current()
    store.delete("cameras", "c3-0")
    store.add("cameras", {"id": "late", "lon": WEST + 0.01, "lat": SOUTH + 0.01})
    later = now_ms() + 10 * store.changelog.retention_ms
    assert store.prune_changes(now=later) > 0
    assert_matches_store(devices, store, seed=13)


def test_an_empty_store_gives_an_empty_index(store):
    index = LiveDevices(store).current()
    assert len(index) == 0 and index.nearest(WEST, SOUTH, 3, "cameras") == []


def test_deltas_are_applied_as_removals_and_rows():
    class Feed:
        version = 1

        def data_version(self) -> int:
            return self.version

        def changed_kinds(self, kinds, after):
            return set(kinds), self.version

        def feature_frame(self, kind, columns, after=None) -> FrameDelta:
            if after is None:
                rows = pd.DataFrame({"id": ["a", "b"], "lon": [113.6, 113.7], "lat": [34.7, 34.8]})
                return FrameDelta(rows.assign(online=[1, 0]), [], 1)
            rows = pd.DataFrame({"id": ["b"], "lon": [113.61], "lat": [34.71], "online": [None]})
            return FrameDelta(rows, ["a"], 2)

    feed = Feed()
    devices = LiveDevices(feed, kinds=["cameras"])
    assert devices.current().get("cameras", "a")[2] == {"online": True}
    feed.version = 2
    index = devices.current()
    assert index.count("cameras") == 1
    assert index.get("cameras", "b") == (113.61, 34.71, {"online": None})
