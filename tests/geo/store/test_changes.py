"""The change feed: one row per write in commit order, read back exactly once by a follower,
bulk imports and re-assignments in it with their old and new grid, retention and its 410."""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from cityaware.geo.errors import ChangesPruned, InvalidInput
from cityaware.geo.store import changes as changes_module
from cityaware.geo.store import open_store
from cityaware.geo.store.times import to_ms
from tests.geo.store import sample, synthetic

WRITES_PER_WORKER = 15
# west-south corner grid and its east neighbour (0.01° cells from 113.60, 34.70)
HERE, THERE = (113.605, 34.705), (113.615, 34.705)


def follow(store, after: int, writing: Callable[[], bool], limit: int = 7) -> list[dict]:
    """Every change after ``after`` until the writers are done, read in small pages."""
    seen: list[dict] = []
    while True:
        finished = not writing()  # before the page: an empty page then means all is read
        page = store.changes(after, limit=limit)
        seen += page.changes
        after = page.next
        if finished and not page.changes:
            return seen


def write_cameras(store, prefix: str) -> list[str]:
    """Create then update ``WRITES_PER_WORKER`` cameras; returns their ids (``prefix``: a
    letter and the worker's number)."""
    ids = []
    for k in range(WRITES_PER_WORKER):
        lon, lat = 113.601 + k * 0.002, 34.701 + int(prefix[1:]) * 0.005
        ids.append(store.add("cameras", {"id": f"{prefix}-{k}", "lon": lon, "lat": lat})["id"])
        store.update("cameras", ids[-1], {"online": False})
    return ids


def assert_seen_once_in_order(store, seen: list[dict], start: int, ids: list[str]) -> None:
    seqs = [c["seq"] for c in seen]
    assert seqs == list(range(start + 1, store.data_version() + 1))  # every seq, once, in order
    assert Counter((c["id"], c["op"]) for c in seen) == Counter(
        {(i, op): 1 for i in ids for op in ("create", "update")}
    )
    position = {(c["id"], c["op"]): c["seq"] for c in seen}
    assert all(position[(i, "create")] < position[(i, "update")] for i in ids)
    assert store.changes(start, limit=len(seen)).changes == seen  # what a later reader sees


def test_every_write_appends_its_change(store, locator):
    start = store.data_version()
    record = {"id": "a1", "lon": HERE[0], "lat": HERE[1], "category": "noise"}
    added = store.add("incidents", record)
    moved = store.update("incidents", "a1", {"lon": THERE[0], "lat": THERE[1]})
    store.delete("incidents", "a1")
    page = store.changes(start)
    assert [(c["op"], c["id"], c["kind"]) for c in page.changes] == [
        ("create", "a1", "incidents"),
        ("update", "a1", "incidents"),
        ("delete", "a1", "incidents"),
    ]
    grids = [locator.locate(*HERE).grid_code, locator.locate(*THERE).grid_code]
    assert grids[0] != grids[1] and [added["grid_code"], moved["grid_code"]] == grids
    assert [(c["old_grid"], c["new_grid"]) for c in page.changes] == [
        (None, grids[0]),
        (grids[0], grids[1]),
        (grids[1], None),
    ]
    assert {c["generation"] for c in page.changes} == {"g1"}
    assert not any(c["bulk"] for c in page.changes)
    assert page.next == page.changes[-1]["seq"] == store.data_version()
    assert store.changes(page.next) == changes_module.ChangePage([], page.next)


def test_a_refused_write_appends_nothing(store):
    store.add("incidents", {"id": "a1", "lon": HERE[0], "lat": HERE[1], "category": "noise"})
    latest = store.data_version()
    with pytest.raises(Exception, match="illegal status transition"):
        store.update("incidents", "a1", {"status": "closed"})
    assert store.changes(latest).changes == [] and store.data_version() == latest


def test_bulk_import_and_reassignment_appear_with_old_and_new_grid(store):
    frame = sample.incidents(200)
    start = store.data_version()
    store.bulk_import("incidents", frame)
    imported = store.changes(start, limit=1000)
    before = {i["id"]: i for b in store.iter_features("incidents") for i in b}
    assert [c["id"] for c in imported.changes] == list(frame.id)  # one each, input order
    assert {(c["op"], c["bulk"], c["old_grid"]) for c in imported.changes} == {
        ("create", True, None)
    }
    assert [c["new_grid"] for c in imported.changes] == [before[i]["grid_code"] for i in frame.id]

    moved = synthetic.locator("g2", shift=0.003)
    assert store.reassign(moved) == 200
    reassigned = store.changes(imported.next, limit=1000).changes
    after = {i["id"]: i for b in store.iter_features("incidents") for i in b}
    assert sorted(c["id"] for c in reassigned) == sorted(frame.id)
    assert all(c["op"] == "reassign" and c["generation"] == "g2" for c in reassigned)
    assert {c["id"]: (c["old_grid"], c["new_grid"]) for c in reassigned} == {
        i: (before[i]["grid_code"], after[i]["grid_code"]) for i in frame.id
    }
    assert sum(c["old_grid"] != c["new_grid"] for c in reassigned) > 10  # edges moved
    assert [c["seq"] for c in reassigned] == list(range(imported.next + 1, imported.next + 201))


def test_readers_following_seq_see_every_row_once_under_writer_threads(store):
    start = store.data_version()
    workers = [f"t{n}" for n in range(4)]
    results: dict[str, list[str]] = {}
    threads = [
        threading.Thread(target=lambda w=w: results.__setitem__(w, write_cameras(store, w)))
        for w in workers
    ]
    for thread in threads:
        thread.start()
    seen = follow(store, start, lambda: any(t.is_alive() for t in threads))
    ids = [i for w in workers for i in results[w]]
    assert len(ids) == len(workers) * WRITES_PER_WORKER
    assert_seen_once_in_order(store, seen, start, ids)


def _write_in_process(data_dir: str, prefix: str) -> None:
    store = open_store("", Path(data_dir), synthetic.locator("g1"))
    try:
        write_cameras(store, prefix)
    finally:
        store.close()


def test_readers_following_seq_see_every_row_once_under_writer_processes(tmp_path, locator):
    store = open_store("", tmp_path, locator)
    start = store.data_version()
    spawn = multiprocessing.get_context("spawn")
    workers = [f"p{n}" for n in range(3)]
    processes = [spawn.Process(target=_write_in_process, args=(str(tmp_path), w)) for w in workers]
    for process in processes:
        process.start()
    try:
        seen = follow(store, start, lambda: any(p.is_alive() for p in processes))
    finally:
        for process in processes:
            process.join(60)
    assert [p.exitcode for p in processes] == [0, 0, 0]
    ids = [f"{w}-{k}" for w in workers for k in range(WRITES_PER_WORKER)]
    assert_seen_once_in_order(store, seen, start, ids)
    store.close()


def test_pruning_keeps_a_prefix_and_an_older_seq_is_gone(store):
    store.add("cameras", {"id": "c1", "lon": HERE[0], "lat": HERE[1]})
    time.sleep(0.01)
    store.add("cameras", {"id": "c2", "lon": HERE[0], "lat": HERE[1]})
    first, second = store.changes(0).changes
    retention = store.changelog.retention_ms
    assert retention == 7 * 86_400_000  # the default
    assert store.prune_changes(now=to_ms(first["at"]) + retention) == 0  # not older yet
    assert store.prune_changes(now=to_ms(second["at"]) + retention) == 1
    with pytest.raises(ChangesPruned, match="after seq 0 are no longer kept"):
        store.changes(0)
    assert store.changes(first["seq"]).changes == [second]  # right after the pruned one: fine
    assert store.prune_changes(now=to_ms(second["at"]) + retention + 1) == 1
    assert store.changes(second["seq"]).changes == []  # nothing left, the newest seq is known
    with pytest.raises(ChangesPruned):
        store.changes(first["seq"])
    store.add("cameras", {"id": "c3", "lon": HERE[0], "lat": HERE[1]})
    assert [c["id"] for c in store.changes(second["seq"]).changes] == ["c3"]


def test_writes_prune_every_so_often(store, monkeypatch):
    monkeypatch.setattr(changes_module, "PRUNE_EVERY", 4)
    store.changelog.retention_ms = 1500  # generous: four adds on a loaded machine stay inside it
    store.add("cameras", {"id": "old", "lon": HERE[0], "lat": HERE[1]})
    time.sleep(1.6)
    for k in range(4):  # crosses a multiple of 4
        store.add("cameras", {"id": f"new{k}", "lon": HERE[0], "lat": HERE[1]})
    with pytest.raises(ChangesPruned):
        store.changes(0)
    oldest = store.changes(store.data_version() - 4).changes
    assert [c["id"] for c in oldest] == [f"new{k}" for k in range(4)]


@pytest.mark.parametrize("after, limit", [(-1, 10), (0, 0), (0, 10_001)])
def test_bad_page_parameters_are_invalid_input(store, after, limit):
    with pytest.raises(InvalidInput):
        store.changes(after, limit)


def test_add_or_replay_says_whether_it_created(store):
    record = {"lon": HERE[0], "lat": HERE[1], "category": "noise"}
    first, created = store.add_or_replay("incidents", record, idempotency_key="k1")
    again, created_again = store.add_or_replay("incidents", record, idempotency_key="k1")
    assert (created, created_again) == (True, False) and again == first
    assert [c["op"] for c in store.changes(0).changes] == ["create"]  # a replay writes nothing


def test_a_given_location_is_stored_as_computed(store, locator):
    moved = synthetic.locator("g2", shift=0.003)
    point = (113.6115, 34.705)  # the shifted edge moves it to another grid
    location = moved.locate(*point)
    assert location.grid_code != locator.locate(*point).grid_code
    stored = store.add("cameras", {"id": "c1", "lon": 0.0, "lat": 0.0}, location=location)
    assert (stored["lon"], stored["lat"]) == point
    assert (stored["grid_code"], stored["generation"]) == (location.grid_code, "g2")
    (change,) = store.changes(0).changes
    assert (change["new_grid"], change["generation"]) == (location.grid_code, "g2")


def test_live_writes_during_a_bulk_import_are_logged_once(store):
    start = store.data_version()
    frame = sample.incidents(5000)
    importing = threading.Thread(target=store.bulk_import, args=("incidents", frame))
    importing.start()
    live = []
    while importing.is_alive() or len(live) < 5:
        record = {"id": f"live{len(live)}", "lon": HERE[0], "lat": HERE[1], "category": "noise"}
        live.append(store.add("incidents", record)["id"])
    importing.join()
    logged = Counter(c["id"] for c in store.changes(start, limit=10_000).changes)
    assert logged == Counter([*frame.id, *live])  # under READ COMMITTED too: once each
