"""kill -9 during ``boundaries activate`` at several points; the restarted server finishes it.

After the restart every feature is on the new generation, the ACTIVE pointer
agrees, nothing is lost, and each feature has exactly one assignment-history row
and one ``reassign`` change for its move (old grid = before, new grid = after).
The oracle is shapely on the new generation's grid polygons.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import shapely

from cityaware.api.testing import server_process
from cityaware.geo.boundaries.generations import BoundaryRegistry
from cityaware.geo.engine.locator import GridLocator
from tests.geo.store import sample, synthetic

N, BATCH = 1_500, 200


def _url(store) -> str:
    if store.backend_name == "sqlite":
        return ""
    return store.backend.engine.url.render_as_string(hide_password=False)


@pytest.mark.slow
@pytest.mark.parametrize("moment", ["intent", "after-two-batches", "reassigned", "switched"])
def test_a_killed_activation_is_finished_at_restart(store, tmp_path, moment):
    registry = BoundaryRegistry(tmp_path / "boundaries")
    old = registry.stage(synthetic.units(), source="old")
    new = registry.stage(synthetic.units(shift=0.003), source="new")
    registry.activate(old)
    store.locator = GridLocator.build(registry.units(old), old)
    frame = sample.incidents(N)
    store.bulk_import("incidents", frame)
    before = {f["id"]: f for batch in store.iter_features("incidents") for f in batch}
    first_seq = store.data_version()
    url = _url(store)

    env = {**os.environ, "CITYAWARE_DATA_DIR": str(tmp_path), "CITYAWARE_DATABASE_URL": url}
    batches = 0
    if moment.startswith("after-"):
        batches = 2
        env["CITYAWARE_REASSIGN_HOLD_AFTER"] = str(batches)
    else:
        env["CITYAWARE_ACTIVATION_HOLD"] = moment
    command = [sys.executable, "-m", "cityaware.api.cli", "boundaries", "activate", new]
    command += ["--batch-size", str(BATCH)]
    run = subprocess.Popen(command, cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True)
    try:
        if batches:
            assert _wait_for(run, "batch committed", count=batches)
        else:
            assert _wait_for(run, f"activation: {moment}")
    finally:
        os.kill(run.pid, signal.SIGKILL)
        run.wait()
    assert registry.pending_activation() == new
    assert registry.active() == (new if moment == "switched" else old)

    server_env = {"CITYAWARE_DATABASE_URL": url}
    with server_process(tmp_path, server_env):
        deadline = time.monotonic() + 60
        while registry.pending_activation() is not None and time.monotonic() < deadline:
            time.sleep(0.2)
    assert registry.pending_activation() is None and registry.active() == new

    after = {f["id"]: f for batch in store.iter_features("incidents") for f in batch}
    assert set(after) == set(before) == set(frame.id)
    grids = synthetic.units(shift=0.003).set_index("code").geometry
    for feature in after.values():
        assert feature["generation"] == new
        point = shapely.Point(feature["lon"], feature["lat"])
        if feature["assign_status"] == "inside":
            assert grids[feature["grid_code"]].contains(point)
        elif feature["assign_status"] == "outside":
            assert not any(grids[c].covers(point) for c in grids.index if len(c) == 15)
    changes = [c for c in _all_changes(store, first_seq) if c["op"] == "reassign"]
    assert sorted(c["id"] for c in changes) == sorted(after)
    for change in changes:
        assert change["old_grid"] == before[change["id"]]["grid_code"]
        assert change["new_grid"] == after[change["id"]]["grid_code"]
        assert change["generation"] == new
    for id in list(after)[:: N // 50]:
        (moved,) = store.history("incidents", id)["assignments"]
        assert moved["generation"] == old and moved["grid_code"] == before[id]["grid_code"]


def _wait_for(run: subprocess.Popen, text: str, count: int = 1) -> bool:
    seen = 0
    for line in run.stderr:
        if text in line:
            seen += 1
            if seen == count:
                return True
    return False


def _all_changes(store, after: int) -> list[dict]:
    out = []
    while True:
        page = store.changes(after=after, limit=1000)
        if not page.changes:
            return out
        out += page.changes
        after = page.next
