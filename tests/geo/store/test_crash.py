"""kill -9 during a stream of single writes: every acknowledged write survives.

The writer is a separate interpreter that sees only the installed package: it
runs in the data directory and reads the synthetic city's grids from a file.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from cityaware.geo.store import open_store
from tests.geo.store import synthetic

WRITER = """
import sys
from pathlib import Path
import geopandas as gpd
from cityaware.geo.engine.locator import GridLocator
from cityaware.geo.store import open_store

data_dir = Path(sys.argv[2])
locator = GridLocator.build(gpd.read_parquet(data_dir / "units.parquet"), "g1")
store = open_store(sys.argv[1], data_dir, locator)
print("ready", flush=True)
i = 0
while True:
    lon, lat = 113.601 + (i % 37) * 0.001, 34.701 + (i % 29) * 0.001
    feature = store.add("incidents", {"id": f"k{i}", "lon": lon, "lat": lat, "category": "noise"})
    print(feature["id"], flush=True)
    i += 1
"""


def test_acknowledged_writes_survive_kill_9(store, tmp_path, locator):
    url = (
        ""
        if store.backend_name == "sqlite"
        else store.backend.engine.url.render_as_string(hide_password=False)
    )
    store.close()
    synthetic.units().to_parquet(tmp_path / "units.parquet")
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, url, str(tmp_path)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        text=True,
    )
    acknowledged = []
    try:
        assert writer.stdout.readline().strip() == "ready"
        while len(acknowledged) < 150:
            acknowledged.append(writer.stdout.readline().strip())
        os.kill(writer.pid, signal.SIGKILL)
        acknowledged += [line.strip() for line in writer.stdout if line.strip()]
    finally:
        writer.kill()
        writer.wait()
    assert writer.returncode == -signal.SIGKILL
    reopened = open_store(url, tmp_path, locator)
    try:
        stored = {i["id"] for batch in reopened.iter_features("incidents") for i in batch}
        assert set(acknowledged) <= stored
        assert len(stored) - len(acknowledged) <= 1  # at most one committed, not yet printed
    finally:
        reopened.close()
