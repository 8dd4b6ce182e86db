"""Single writes: grid assignment, lifecycle, idempotency, moves, versions."""

from __future__ import annotations

import numpy as np
import pytest

from cityaware.geo.errors import Conflict, InvalidInput, NotFound
from tests.geo.store import sample, synthetic


def test_add_assigns_the_engine_answer(store, locator):
    edge = synthetic.grid_cells()[0]["geometry"].bounds[2]  # east edge of the first grid
    points = [(113.605, 34.705), (edge, 34.705), (113.6395, 34.7399), (113.643, 34.705)]
    added = [store.add("incidents", {"lon": x, "lat": y, "category": "noise"}) for x, y in points]
    expected = locator.locate_many([p[0] for p in points], [p[1] for p in points])
    for k, feature in enumerate(added):
        stored = store.get("incidents", feature["id"])
        assert stored == feature
        assert stored["assign_status"] == expected.status[k]
        for name in ("grid_code", "community_code", "street_code", "district_code", "nearest_grid"):
            assert stored[name] == getattr(expected, name)[k]
        assert stored["generation"] == "g1"
    assert added[1]["assign_status"] == "on_boundary"
    assert added[1]["candidates"] == list(expected.candidates[1])
    assert added[2]["grid_code"] == sample.oracle_grid([113.6395], [34.7399])[0]
    assert added[2]["managing_zone"] == "410171"
    assert added[3]["assign_status"] == "outside" and added[3]["grid_code"] is None
    assert added[3]["nearest_grid"] == "410102001002001"
    assert added[3]["distance_m"] == pytest.approx(expected.distance_m[3])


def test_add_in_gcj02_stores_wgs84(store, locator):
    from cityaware.geo.crs import from_lonlat

    x, y = from_lonlat(113.615, 34.725, "GCJ02")
    feature = store.add("cameras", {"id": "cam-1", "lon": float(x), "lat": float(y)}, crs="GCJ02")
    assert feature["lon"] == pytest.approx(113.615, abs=1e-6)
    assert feature["lat"] == pytest.approx(34.725, abs=1e-6)
    assert feature["grid_code"] == locator.locate(113.615, 34.725).grid_code
    assert feature["online"] is True


def test_kind_fields_and_sensor_alarm(store):
    sensor = store.add(
        "sensors",
        {
            "id": "s1",
            "lon": 113.61,
            "lat": 34.71,
            "device_kind": "water_meter",
            "reading_value": 12.5,
            "reading_unit": "m3",
            "reading_at": "2026-11-26T01:00:00+08:00",
            "alarm_low": 0,
            "alarm_high": 10,
            "online": "false",
            "vendor": "acme",
        },
    )
    assert sensor["alarm"] is True and sensor["online"] is False
    assert sensor["reading_at"] == "2026-11-25T17:00:00Z"
    assert sensor["attributes"] == {"vendor": "acme"}
    quiet = store.update("sensors", "s1", {"reading_value": 5})
    assert quiet["alarm"] is False
    assert store.get("sensors", "s1")["device_kind"] == "water_meter"


def test_lifecycle_legal_path_and_reopen(store):
    inc = store.add("incidents", {"lon": 113.61, "lat": 34.71, "category": "noise"})
    path = [
        "dispatched",
        "in_progress",
        "resolved",
        "closed",
        "in_progress",
        "resolved",
        "received",
    ]
    for status in path:
        assert store.update("incidents", inc["id"], {"status": status})["status"] == status
    history = store.history("incidents", inc["id"])["status"]
    assert [h["to_status"] for h in history] == ["received", *path]
    assert [h["from_status"] for h in history] == [None, "received", *path[:-1]]
    assert all(h["at"] for h in history)


@pytest.mark.parametrize(
    ("steps", "illegal"),
    [
        ([], "closed"),
        ([], "resolved"),
        (["dispatched"], "received"),
        (["dispatched", "in_progress"], "closed"),
    ],
)
def test_lifecycle_refuses_illegal_transitions(store, steps, illegal):
    inc = store.add("incidents", {"lon": 113.61, "lat": 34.71, "category": "noise"})
    for status in steps:
        store.update("incidents", inc["id"], {"status": status})
    before = store.data_version()
    with pytest.raises(Conflict, match=f"illegal status transition .* -> {illegal}"):
        store.update("incidents", inc["id"], {"status": illegal})
    assert store.get("incidents", inc["id"])["status"] == (steps or ["received"])[-1]
    assert store.data_version() == before


def test_delivery_state_is_apart_from_status(store):
    inc = store.add("incidents", {"lon": 113.61, "lat": 34.71, "category": "noise"})
    assert inc["delivery_state"] == "pending"
    sent = store.update("incidents", inc["id"], {"delivery_state": "acknowledged"})
    assert sent["delivery_state"] == "acknowledged" and sent["status"] == "received"
    with pytest.raises(InvalidInput, match="unknown delivery_state"):
        store.update("incidents", inc["id"], {"delivery_state": "lost"})


def test_idempotency_key_returns_the_first_feature(store):
    record = {"lon": 113.61, "lat": 34.71, "category": "noise"}
    first = store.add("incidents", record, idempotency_key="req-1")
    again = store.add("incidents", dict(record, title="retry"), idempotency_key="req-1")
    other = store.add("incidents", record, idempotency_key="req-2")
    assert again == first and other["id"] != first["id"]
    assert store.count("incidents") == 2


def test_duplicate_id_is_a_conflict(store):
    store.add("cameras", {"id": "c1", "lon": 113.61, "lat": 34.71})
    with pytest.raises(Conflict, match="already exists"):
        store.add("cameras", {"id": "c1", "lon": 113.62, "lat": 34.72})
    assert store.count("cameras") == 1


def test_move_reassigns_and_keeps_the_old_assignment(store, locator):
    cam = store.add("cameras", {"id": "c1", "lon": 113.605, "lat": 34.705})
    moved = store.update("cameras", "c1", {"lon": 113.635, "lat": 34.735})
    assert moved["grid_code"] == locator.locate(113.635, 34.735).grid_code != cam["grid_code"]
    old = store.history("cameras", "c1")["assignments"]
    assert len(old) == 1 and old[0]["grid_code"] == cam["grid_code"]
    assert (old[0]["lon"], old[0]["lat"]) == (113.605, 34.705)


def test_update_refuses_assignment_fields(store):
    store.add("cameras", {"id": "c1", "lon": 113.605, "lat": 34.705})
    with pytest.raises(InvalidInput, match="cannot change grid_code"):
        store.update("cameras", "c1", {"grid_code": "x"})


def test_delete_and_not_found(store):
    store.add("cameras", {"id": "c1", "lon": 113.605, "lat": 34.705})
    store.delete("cameras", "c1")
    with pytest.raises(NotFound):
        store.get("cameras", "c1")
    with pytest.raises(NotFound):
        store.delete("cameras", "c1")
    with pytest.raises(NotFound):
        store.update("cameras", "c1", {"name": "x"})


def test_data_version_bumps_on_every_write(store):
    versions = [store.data_version()]
    store.add("cameras", {"id": "c1", "lon": 113.605, "lat": 34.705})
    versions.append(store.data_version())
    store.update("cameras", "c1", {"online": False})
    versions.append(store.data_version())
    store.bulk_import("incidents", sample.incidents(5))
    versions.append(store.data_version())
    store.delete("cameras", "c1")
    versions.append(store.data_version())
    assert np.all(np.diff(versions) > 0)


def test_persists_across_reopen(store, tmp_path, locator):
    from cityaware.geo.store import open_store

    store.add("cameras", {"id": "c1", "lon": 113.605, "lat": 34.705, "name": "gate"})
    url = str(store.backend.engine.url.render_as_string(hide_password=False))
    url = "" if store.backend_name == "sqlite" else url
    again = open_store(url, tmp_path, locator)
    try:
        assert again.get("cameras", "c1")["name"] == "gate"
    finally:
        again.close()


def test_concurrent_writers_lose_nothing(store):
    from concurrent.futures import ThreadPoolExecutor

    version = store.data_version()

    def write(worker: int) -> list[str]:
        ids = []
        for k in range(8):
            record = {"lon": 113.601 + k * 0.002, "lat": 34.701 + worker * 0.005}
            ids.append(store.add("cameras", dict(record, id=f"w{worker}-{k}"))["id"])
            store.update("cameras", ids[-1], {"online": k % 2 == 0})
        return ids

    with ThreadPoolExecutor(4) as pool:
        written = [i for ids in pool.map(write, range(4)) for i in ids]
    stored = {i["id"]: i for b in store.iter_features("cameras") for i in b}
    assert set(stored) == set(written) and len(written) == 32
    assert all(stored[i]["online"] is (int(i.split("-")[1]) % 2 == 0) for i in written)
    assert store.data_version() == version + 64
