"""The in-memory index of recent cases (matters' candidates) answers what the store holds:
the cases of a category within a radius and the window, from this process, another one
(a second store on the same file), an import, an update and a delete; distances as
pyproj's geodesic from the stored rows."""

from __future__ import annotations

import time

import pandas as pd
import pytest
from pyproj import Geod

from cityaware.api.service.recent_cases import RecentCases
from cityaware.geo.store import FeatureFilter, open_store
from cityaware.geo.store.times import now_ms, to_ms
from tests.geo.store import synthetic

GEOD = Geod(ellps="WGS84")
LON, LAT = 113.615, 34.715
DAY_MS = 86_400_000


def expected(store, category, radius_m, window_ms):
    """The oracle: every stored case of ``category`` within the radius and window."""
    since = now_ms() - window_ms
    found = store.query("incidents", FeatureFilter(category=category, since=since), limit=10_000)
    near = {}
    for record in found.items:
        metres = GEOD.inv(LON, LAT, record["lon"], record["lat"])[2]
        if metres <= radius_m:
            near[record["id"]] = metres
    return near


def answered(recent, category, radius_m):
    return {c["id"]: c["distance_m"] for c in recent.near(category, LON, LAT, radius_m)}


def at(east_m, north_m=0.0):
    lon, lat, _ = GEOD.fwd(LON, LAT, 90.0, east_m)
    lon, lat, _ = GEOD.fwd(lon, lat, 0.0, north_m)
    return lon, lat


@pytest.fixture
def stores(tmp_path):
    locator = synthetic.locator("g1")
    mine, other = open_store("", tmp_path, locator), open_store("", tmp_path, locator)
    yield mine, other
    mine.close()
    other.close()


def test_the_index_follows_writes_of_every_process_import_update_and_delete(stores):
    mine, other = stores
    window_ms = 7 * DAY_MS
    old = now_ms() - 8 * DAY_MS  # outside the window
    for i, (east, category) in enumerate([(10, "noise"), (60, "noise"), (300, "noise"),
                                          (20, "greenery")]):  # fmt: skip
        lon, lat = at(east)
        mine.add("incidents", {"id": f"a{i}", "lon": lon, "lat": lat, "category": category})
    lon, lat = at(5)
    mine.add("incidents", {"id": "old", "lon": lon, "lat": lat, "category": "noise",
                           "reported_at": old})  # fmt: skip
    recent = RecentCases(mine, window_days=7, follow_s=0.0)
    for category in ("noise", "greenery"):
        want = expected(mine, category, 100.0, window_ms)
        got = answered(recent, category, 100.0)
        assert got.keys() == want.keys() and got == pytest.approx(want, abs=0.01)
    assert set(answered(recent, "noise", 100.0)) == {"a0", "a1"}

    lon, lat = at(40, 30)  # another server process on the same database
    other.add("incidents", {"id": "b1", "lon": lon, "lat": lat, "category": "noise",
                            "attributes": {"hotline": {"matter": "a0"}}})  # fmt: skip
    frame = pd.DataFrame({"lon": [at(15)[0], at(500)[0]], "lat": [LAT, LAT],
                          "category": ["noise", "noise"], "id": ["i1", "i2"]})  # fmt: skip
    other.bulk_import("incidents", frame, strict=True)
    other.update("incidents", "a1", {"lon": at(200)[0], "lat": LAT})  # moved away
    other.delete("incidents", "a0")
    got = answered(recent, "noise", 100.0)
    want = expected(mine, "noise", 100.0, window_ms)
    assert got.keys() == want.keys() == {"b1", "i1"}
    assert got == pytest.approx(want, abs=0.01)
    matter = {c["id"]: c["matter"] for c in recent.near("noise", LON, LAT, 100.0)}
    assert matter == {"b1": "a0", "i1": None}


def test_a_case_added_here_is_found_at_once_and_another_process_s_within_follow_s(stores):
    mine, other = stores
    recent = RecentCases(mine, window_days=7, follow_s=0.3)
    assert answered(recent, "noise", 100.0) == {}  # loaded: the next read waits 0.3 s
    lon, lat = at(30)
    hotline = {"matter": "c1", "place": {"name": "中山路12号"}}  # as the intake stores it
    stored = mine.add("incidents", {"id": "c1", "lon": lon, "lat": lat, "category": "noise",
                                    "attributes": {"hotline": hotline}})  # fmt: skip
    recent.add("c1", "noise", lon, lat, to_ms(stored["reported_at"]), "c1", "中山路12号")
    assert [(c["id"], c["matter"], c["place"]) for c in recent.near("noise", LON, LAT, 100.0)] == [
        ("c1", "c1", "中山路")
    ]
    lon, lat = at(50)
    other.add("incidents", {"id": "d1", "lon": lon, "lat": lat, "category": "noise"})
    time.sleep(0.35)
    assert set(answered(recent, "noise", 100.0)) == {"c1", "d1"}
