"""Bulk loads into a month-partitioned PostGIS store (geo.store.partition_load): rows in
bare tables of their own, invisible until one publish attaches them, nothing left after a
failure or a kill -9, the feed and the counts exact."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pandas as pd
import pytest

from cityaware.geo.store import bulk, imports, open_store
from tests.geo.store import sample, synthetic
from tests.geo.store.conftest import backend_store

pytestmark = pytest.mark.postgis


@pytest.fixture
def partitioned(tmp_path, locator):
    with backend_store("postgis", tmp_path, locator, partitioned=True) as store:
        yield store


def _spread(n: int, seed: int = 7) -> pd.DataFrame:
    """Incidents over three months long past (none has a partition yet)."""
    frame = sample.incidents(n, seed=seed)
    offsets = pd.to_timedelta((pd.RangeIndex(n) % 3) * 31, unit="D")
    frame["reported_at"] = [(pd.Timestamp("2024-03-05T12:00:00Z") + o).isoformat() for o in offsets]
    return frame


def _leftovers(store) -> dict[str, int]:
    """Staged tables not attached, claimed keys, rows, change rows and imports."""
    with store.backend.read() as conn:
        sql = conn.exec_driver_sql
        return {
            "tables": sql(
                "SELECT count(*) FROM pg_class WHERE relnamespace = current_schema()::regnamespace"
                " AND relkind = 'r' AND NOT relispartition AND (relname LIKE 'features\\_i%%'"
                " OR relname LIKE 'incident\\_counts\\_i%%')"
            ).scalar_one(),
            "keys": sql("SELECT count(*) FROM feature_keys").scalar_one(),
            "rows": sql("SELECT count(*) FROM features").scalar_one(),
            "changes": sql("SELECT count(*) FROM changes").scalar_one(),
            "imports": sql("SELECT count(*) FROM imports").scalar_one(),
        }


def _counts_match_rows(store) -> None:
    """The kept counts (district x category) equal a pandas count of the stored rows."""
    with store.backend.read() as conn:
        rows = pd.read_sql("SELECT district_code, category FROM features", conn)
    expected = rows.dropna().groupby(["district_code", "category"]).size()
    table = store.count_table()
    kept = table[(table.level == "district") & (table.dim == "category")]
    got = kept.groupby(["unit", "value"])["n"].sum()
    assert got.to_dict() == {k: int(v) for k, v in expected.items()}


def test_staged_months_stay_hidden_until_one_publish(partitioned, monkeypatch):
    store = partitioned
    monkeypatch.setattr(bulk, "INSERT_BATCH", 10)
    monkeypatch.setattr(imports, "STEP_SECONDS", 0.0)
    before = store.data_version()
    seen = []

    def step_done(rows: int) -> None:  # another client, between the import's steps
        live = store.add("incidents", {"lon": 113.62, "lat": 34.75, "category": "noise"})
        seen.append((store.count("incidents"), store.data_version(), live["id"]))

    frame = _spread(45)
    report = store.bulk_import("incidents", frame, progress=step_done)
    assert report.accepted == 45 and len(seen) == 6  # 15 rows a month, steps of 10
    assert [count for count, _, _ in seen] == list(range(1, 7))
    assert [version for _, version, _ in seen] == [before + k for k in range(1, 7)]
    assert store.count("incidents") == 51
    page = store.changes(after=before, limit=100)
    assert [c["bulk"] for c in page.changes] == [False] * 6 + [True] * 45
    assert sorted(c["id"] for c in page.changes[6:]) == sorted(frame["id"])
    assert _leftovers(store)["tables"] == 0  # every staged table attached
    _counts_match_rows(store)
    store.reassign(synthetic.locator("g2"))  # moves subtract from the live counts
    _counts_match_rows(store)


def test_a_failed_import_drops_its_tables_and_releases_its_ids(partitioned, monkeypatch):
    store = partitioned
    monkeypatch.setattr(bulk, "INSERT_BATCH", 10)
    monkeypatch.setattr(imports, "STEP_SECONDS", 0.0)

    def fail(rows: int) -> None:
        if rows == 30:
            raise OSError("disk full (simulated)")

    with pytest.raises(OSError, match="disk full"):
        store.bulk_import("incidents", _spread(45), progress=fail)
    assert _leftovers(store) == {"tables": 0, "keys": 0, "rows": 0, "changes": 0, "imports": 0}
    assert store.bulk_import("incidents", _spread(45)).accepted == 45  # the same ids again
    _counts_match_rows(store)


IMPORTER = """
import sys, time
from pathlib import Path
import geopandas as gpd
import pandas as pd
from cityaware.geo.engine.locator import GridLocator
from cityaware.geo.store import bulk, imports, open_store

data_dir = Path(sys.argv[2])
locator = GridLocator.build(gpd.read_parquet(data_dir / "units.parquet"), "g1")
store = open_store(sys.argv[1], data_dir, locator)
bulk.INSERT_BATCH, imports.STEP_SECONDS = 10, 0.0

def step(rows):
    print(rows, flush=True)
    time.sleep(60)  # killed here

store.bulk_import("incidents", pd.read_parquet(data_dir / "frame.parquet"), progress=step)
"""


@pytest.mark.slow
def test_kill_9_mid_import_leaves_nothing_after_the_next_open(partitioned, tmp_path, locator):
    store = partitioned
    url = store.backend.engine.url.render_as_string(hide_password=False) + "&partitions=month"
    synthetic.units().to_parquet(tmp_path / "units.parquet")
    _spread(45).to_parquet(tmp_path / "frame.parquet")
    child = subprocess.Popen(
        [sys.executable, "-c", IMPORTER, url, str(tmp_path)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout.readline().strip() == "10"  # a step committed, then killed
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    assert _leftovers(store)["tables"] == 1 and store.count("incidents") == 0  # hidden
    reopened = open_store(url, tmp_path, locator)  # recovers: the owner is gone
    try:
        assert _leftovers(reopened) == {
            "tables": 0, "keys": 0, "rows": 0, "changes": 0, "imports": 0,
        }  # fmt: skip
        assert reopened.bulk_import("incidents", _spread(45)).accepted == 45
        _counts_match_rows(reopened)
    finally:
        reopened.close()
