"""Re-assignment through dask (export, assign on a LocalCluster, load back in batches):
the same store state as the in-process path, and a killed run resumes without redoing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from cityaware.api.cli import main
from cityaware.geo.boundaries.generations import BoundaryRegistry
from cityaware.geo.engine.locator import GridLocator
from cityaware.geo.store import open_store
from cityaware.geo.store.schema import ASSIGNMENT_COLUMNS
from tests.geo.store import sample, synthetic

N = 2_400


def _fill(store, root) -> tuple[str, str]:
    registry = BoundaryRegistry(root / "boundaries")
    old = registry.stage(synthetic.units(), source="old")
    new = registry.stage(synthetic.units(shift=0.003), source="new")
    registry.activate(old)
    store.locator = GridLocator.build(registry.units(old), old)
    store.bulk_import("incidents", sample.incidents(N))
    store.add("cameras", {"id": "c1", "lon": 113.6115, "lat": 34.705})
    return old, new


def _state(store) -> dict[str, tuple]:
    rows = {}
    for kind in ("incidents", "cameras"):
        for batch in store.iter_features(kind):
            for f in batch:
                rows[f["id"]] = tuple(str(f[n]) for n in (*ASSIGNMENT_COLUMNS, "assign_status"))
    return rows


def _moves(store) -> list[tuple]:
    out, after = [], 0
    while page := store.changes(after=after, limit=1000).changes:
        out += [(c["id"], c["old_grid"], c["new_grid"]) for c in page if c["op"] == "reassign"]
        after = page[-1]["seq"]
    return sorted(out)


def _no_time(history: dict) -> dict:
    return {k: v for k, v in history.items() if k != "replaced_at"}


def _url(store) -> str:
    if store.backend_name == "sqlite":
        return ""
    return store.backend.engine.url.render_as_string(hide_password=False)


@pytest.mark.slow
def test_the_cluster_path_gives_the_in_process_answer(store, tmp_path, monkeypatch, capsys):
    old, new = _fill(store, tmp_path)
    (tmp_path / "single").mkdir()
    single = open_store("", tmp_path / "single")
    _fill(single, tmp_path / "single")
    assert single.reassign(GridLocator.build(synthetic.units(shift=0.003), new)) == N + 1

    monkeypatch.setenv("CITYAWARE_DATABASE_URL", _url(store))
    argv = ["boundaries", "activate", new, "--scheduler", "local:2", "--batch-size", "500"]
    assert main([*argv, "--data-dir", str(tmp_path)]) == 0
    assert f"re-assigned {N + 1:,} stored features" in capsys.readouterr().err
    assert BoundaryRegistry(tmp_path / "boundaries").active() == new

    assert _state(store) == _state(single)
    assert _moves(store) == _moves(single)
    assert len(_moves(store)) == N + 1
    for id in ("i0", "i7", "c1"):
        kind = "cameras" if id == "c1" else "incidents"
        ours, theirs = (s.history(kind, id)["assignments"] for s in (store, single))
        assert [_no_time(h) for h in ours] == [_no_time(h) for h in theirs]
    single.close()


@pytest.mark.slow
def test_a_killed_cluster_reassignment_resumes(store, tmp_path):
    old, new = _fill(store, tmp_path)
    before = _state(store)
    env = {**os.environ, "CITYAWARE_DATA_DIR": str(tmp_path), "CITYAWARE_DATABASE_URL": _url(store)}
    command = [sys.executable, "-m", "cityaware.api.cli", "boundaries", "activate", new]
    command += ["--scheduler", "sync", "--batch-size", "400"]
    hold = {**env, "CITYAWARE_REASSIGN_HOLD_AFTER": "2"}
    killed = subprocess.Popen(command, env=hold, stderr=subprocess.PIPE, text=True)
    try:
        for line in killed.stderr:
            if "batch 2 of 7 loaded" in line:
                break
    finally:
        os.kill(killed.pid, signal.SIGKILL)
        killed.wait()
    registry = BoundaryRegistry(tmp_path / "boundaries")
    assert registry.active() == old and registry.pending_activation() == new
    moved_early = sum(s[-2] == new for s in _state(store).values())
    assert moved_early == 800

    resumed = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    assert f"re-assigned {N + 1 - 800:,} stored features" in resumed.stderr
    assert "batch 1 of 7 loaded" not in resumed.stderr  # loaded batches are not redone
    assert registry.active() == new and registry.pending_activation() is None
    after = _state(store)
    assert set(after) == set(before) and {s[-2] for s in after.values()} == {new}
    moves = _moves(store)
    assert len(moves) == N + 1 == len({m[0] for m in moves})
    expected = GridLocator.build(synthetic.units(shift=0.003), new)
    for id, old_grid, new_grid in moves[::97]:
        assert str(old_grid) == before[id][0]
        feature = store.get("cameras" if id == "c1" else "incidents", id)
        assert new_grid == expected.locate(feature["lon"], feature["lat"]).grid_code


@pytest.mark.postgis
def test_the_export_of_a_partitioned_store_holds_every_pending_feature(tmp_path, locator):
    """The export walks each month's partitions, then the rest (the oracle: PostgreSQL's
    own list of the rows not on the generation), not only the rows of no month."""
    import pyarrow.parquet as pq

    from cityaware.geo.bulk.reassign import _export
    from tests.geo.store.conftest import backend_store
    from tests.geo.store.test_partition_load import _spread

    with backend_store("postgis", tmp_path, locator, partitioned=True) as store:
        store.bulk_import("incidents", _spread(120))
        old = {"lon": 113.625, "lat": 34.725, "reported_at": "2019-05-01T08:00:00Z"}
        store.add("incidents", {"id": "no-month", "category": "noise", **old})
        with store.backend.read() as conn:
            pending = conn.exec_driver_sql(
                "SELECT fid FROM features WHERE generation IS DISTINCT FROM 'g2'"
            ).scalars()
            expected = sorted(int(f) for f in pending)
        export = _export(store, "g2", tmp_path / "export", 25)
        files = sorted(export.glob("batch-*.parquet"))
        exported = sorted(f for p in files for f in pq.read_table(p)["fid"].to_pylist())
        assert exported == expected and len(expected) == 121
