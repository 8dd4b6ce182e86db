"""A new boundary generation: every feature re-assigned in bulk, the old answer kept."""

from __future__ import annotations

from tests.geo.store import sample, synthetic


def test_reassign_to_a_new_generation_keeps_history(store):
    frame = sample.incidents(300)
    store.bulk_import("incidents", frame)
    original = store.add("cameras", {"id": "c1", "lon": 113.6115, "lat": 34.705})
    before = {i["id"]: i for b in store.iter_features("incidents") for i in b}
    version = store.data_version()

    moved_edges = synthetic.locator("g2", shift=0.003)
    assert store.reassign(moved_edges) == 301
    assert store.data_version() > version

    after = {i["id"]: i for b in store.iter_features("incidents") for i in b}
    expected = moved_edges.locate_many(frame.lon, frame.lat)
    for k, fid in enumerate(frame.id):
        assert after[fid]["generation"] == "g2"
        assert after[fid]["grid_code"] == expected.grid_code[k]
        assert after[fid]["assign_status"] == expected.status[k]
    changed = [f for f in frame.id if after[f]["grid_code"] != before[f]["grid_code"]]
    assert len(changed) > 10  # the edges moved 0.003° of 0.01° cells
    for fid in changed[:20]:
        (old,) = store.history("incidents", fid)["assignments"]
        assert old["generation"] == "g1" and old["reason"] == "generation"
        assert old["grid_code"] == before[fid]["grid_code"]
    camera = store.get("cameras", "c1")
    assert camera["grid_code"] == moved_edges.locate(113.6115, 34.705).grid_code
    assert camera["grid_code"] != original["grid_code"]
    assert store.history("cameras", "c1")["assignments"][0]["grid_code"] == original["grid_code"]

    assert store.reassign(moved_edges) == 0  # nothing left on an older generation
    added = store.add("incidents", {"lon": 113.6115, "lat": 34.705, "category": "noise"})
    assert added["generation"] == "g2" and added["grid_code"] == camera["grid_code"]


def test_follow_active_uses_a_callable_locator(store):
    current = {"locator": synthetic.locator("g1")}
    store.locator = lambda: current["locator"]
    store.add("cameras", {"id": "c1", "lon": 113.6115, "lat": 34.705})
    assert store.follow_active() == 0
    current["locator"] = synthetic.locator("g2", shift=0.003)
    assert store.follow_active() == 1
    assert store.get("cameras", "c1")["generation"] == "g2"
    assert store.add("cameras", {"id": "c2", "lon": 113.61, "lat": 34.71})["generation"] == "g2"
