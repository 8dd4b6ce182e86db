"""Staged bulk imports: invisible until published, discarded on failure or death."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import sqlalchemy as sa

from cityaware.geo.store import bulk, imports
from tests.geo.store import sample


def test_steps_stay_hidden_until_the_flip_and_live_writes_interleave(store, monkeypatch):
    monkeypatch.setattr(bulk, "INSERT_BATCH", 10)
    monkeypatch.setattr(imports, "STEP_SECONDS", 0.0)  # steps of exactly 10 rows
    before = store.data_version()
    seen = []

    def step_done(rows: int) -> None:  # after each committed step, from another "client"
        live = store.add("incidents", {"lon": 113.62, "lat": 34.75, "category": "noise"})
        seen.append((store.count("incidents"), store.data_version(), live["id"]))

    report = store.bulk_import("incidents", sample.incidents(35), progress=step_done)
    assert report.accepted == 35 and len(seen) == 4
    # readers saw only the live writes while the import was staging ...
    assert [count for count, _, _ in seen] == [1, 2, 3, 4]
    assert [version for _, version, _ in seen] == [before + 1, before + 2, before + 3, before + 4]
    # ... then all 35 at once, with one create change each after the live ones, in order
    assert store.count("incidents") == 39
    page = store.changes(after=before, limit=100)
    assert [c["id"] for c in page.changes[:4]] == [live for _, _, live in seen]
    assert [c["bulk"] for c in page.changes] == [False] * 4 + [True] * 35
    assert [c["seq"] for c in page.changes] == list(range(before + 1, before + 40))


def test_a_failed_import_leaves_no_row_even_hidden(store, monkeypatch):
    monkeypatch.setattr(bulk, "INSERT_BATCH", 10)
    monkeypatch.setattr(imports, "STEP_SECONDS", 0.0)  # steps of exactly 10 rows

    def fail(rows: int) -> None:
        if rows == 20:
            raise OSError("disk full (simulated)")

    with pytest.raises(OSError):
        store.bulk_import("incidents", sample.incidents(50), progress=fail)
    f = store.features
    with store.backend.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(f)).scalar_one() == 0
        assert (
            conn.execute(
                sa.select(sa.func.count()).select_from(store.tables["imports"])
            ).scalar_one()
            == 0
        )


def _hand_staged(store) -> None:
    """These tests stage rows into ``features`` by hand; a month-partitioned store stages
    them in tables of their own (tests/geo/store/test_partition_load.py)."""
    if store.backend.partitioned:
        pytest.skip("hand-staged rows in features: not the partitioned layout")


def test_recover_discards_a_dead_owners_import_only(store):
    _hand_staged(store)
    log = store.tables["imports"]
    alive = imports.begin(store.backend, log, "incidents")
    dead = imports.begin(store.backend, log, "incidents")
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # a pid that is surely gone (and reaped)
    with store.backend.write() as conn:
        owner = f"{os.uname().nodename}:{child.pid}"
        conn.execute(log.update().where(log.c.id == dead).values(owner=owner))
    frame = sample.incidents(12)
    prepared = bulk.prepare_rows(
        "incidents", frame, locator=store.locator, crs="EPSG:4326", taxonomy=store.taxonomy, now=0
    )
    for import_id, rows in ((alive, slice(0, 5)), (dead, slice(5, 12))):
        columns = {k: v[rows] for k, v in prepared.columns.items()}
        columns["import_id"] = [import_id] * len(columns["id"])
        with store.backend.write() as conn:
            store.backend.insert_many(conn, store.features, columns)
    assert store.count("incidents") == 0  # both hidden
    assert imports.recover(store.backend, store.tables) == [dead]
    f = store.features
    with store.backend.read() as conn:
        left = conn.execute(sa.select(f.c.import_id, sa.func.count()).group_by(f.c.import_id))
        assert dict(left.all()) == {alive: 5}


def _stage(store, rows: int) -> tuple[int, list[str]]:
    """An import staged by hand: its rows written and its first change row appended."""
    _hand_staged(store)
    log = store.tables["imports"]
    import_id = imports.begin(store.backend, log, "incidents")
    frame = sample.incidents(rows)
    prepared = bulk.prepare_rows(
        "incidents", frame, locator=store.locator, crs="EPSG:4326", taxonomy=store.taxonomy, now=0
    )
    columns = {**prepared.columns, "import_id": [import_id] * rows}
    change = dict(
        kind="incidents", feature_id=columns["id"][0], op="create", old_grid=None,
        new_grid=None, generation=None, at=0, bulk=True,
    )  # fmt: skip
    with store.backend.write() as conn:
        store.backend.insert_many(conn, store.features, columns)
    with store.backend.write() as conn:
        last = store.changelog.append_rows(conn, [change])
        imports.hold_feed(conn, log, import_id, last)
    return import_id, list(columns["id"])


def test_the_feed_is_held_before_an_import_s_changes_until_it_publishes(store):
    before = store.data_version()
    import_id, ids = _stage(store, 3)
    live = store.add("incidents", {"lon": 113.62, "lat": 34.75, "category": "noise"})
    # a follower sees neither the hidden change nor the live one after it (it would pass it)
    assert store.data_version() == before and store.changes(after=before).changes == []
    assert store.changed_records(before, ["incidents"]).next == before
    assert store.get("incidents", live["id"])["id"] == live["id"]  # the live row is readable
    with store.backend.write() as conn:
        imports.publish(conn, store.tables["imports"], import_id)
    page = store.changes(after=before)
    assert [c["id"] for c in page.changes] == [ids[0], live["id"]]
    assert store.data_version() == page.next == before + 2


def test_discarding_an_import_removes_its_changes_and_releases_the_feed(store):
    before = store.data_version()
    import_id, _ = _stage(store, 3)
    live = store.add("incidents", {"lon": 113.62, "lat": 34.75, "category": "noise"})
    assert imports.discard(store.backend, store.tables, import_id) == 3
    page = store.changes(after=before)
    assert [c["id"] for c in page.changes] == [live["id"]]
    assert store.count("incidents") == 1
