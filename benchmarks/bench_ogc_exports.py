"""OGC export benchmark: streamed exports must not hold every row in memory.

    .venv/bin/python -m benchmarks.bench_ogc_exports              # 1M incidents
    .venv/bin/python -m benchmarks.bench_ogc_exports --rows 200000

Fills a store (demo city grids) with N incidents, starts the real server
(uvicorn subprocess) and downloads ``/collections/incidents/export`` in each
format. For each it prints rows/s and the server's peak-RSS growth, against a
baseline measured in the same run: the growth of a process that loads the
same rows into one GeoDataFrame (what a non-streaming export would hold).
Both sides first read every row once, so the store's bounded SQLite page cache
is warm and not counted. Target: every format's growth below 25% of the baseline.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from benchmarks.bench_store import incidents
from cityaware.api.context import AppContext
from cityaware.api.settings import Settings
from cityaware.api.testing import server_process
from cityaware.geo.boundaries.generations import BoundaryRegistry
from cityaware.geo.boundaries.io import read_hierarchy_gpkg
from cityaware.geo.resources import demo_boundaries

DEMO = demo_boundaries()
FORMATS = ("geojson", "csv", "gpkg", "parquet")
NAIVE = """
import geopandas as gpd, pandas as pd
from cityaware.api.context import AppContext
from cityaware.api.settings import Settings
ctx = AppContext(Settings(data_dir=__import__("pathlib").Path({data_dir!r})))
def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1])
for _ in ctx.store.iter_features("incidents"):  # warm the page cache, as the server is
    pass
before = status("VmRSS:")
rows = [r for batch in ctx.store.iter_features("incidents") for r in batch]
frame = gpd.GeoDataFrame(pd.DataFrame(rows), geometry=gpd.points_from_xy(
    [r["lon"] for r in rows], [r["lat"] for r in rows]), crs="EPSG:4326")
print(status("VmHWM:") - before, len(frame))
"""


def rss_kb(pid: int, key: str = "VmRSS:") -> int:
    """Resident set size (``VmRSS:``) or its peak (``VmHWM:``) of a process, in kB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1])
    raise RuntimeError(f"no {key}")


def populate(data_dir: Path, rows: int) -> None:
    """Activate the demo boundaries in ``data_dir`` and bulk-import ``rows`` incidents."""
    units = read_hierarchy_gpkg(DEMO)
    registry = BoundaryRegistry(data_dir / "boundaries")
    registry.activate(registry.stage(units, source=DEMO.name))
    ctx = AppContext(Settings(data_dir=data_dir))
    bounds = units[units.level == "district"].total_bounds
    print(ctx.store.bulk_import("incidents", incidents(rows, bounds)).summary())
    ctx.store.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        populate(data_dir, args.rows)
        naive = subprocess.run(
            [sys.executable, "-c", NAIVE.format(data_dir=str(data_dir))],
            cwd=data_dir, capture_output=True, text=True, check=True,
        ).stdout.split()  # fmt: skip
        baseline_kb = int(naive[0])
        mb = baseline_kb / 1024
        print(f"baseline: one GeoDataFrame of {naive[1]} rows grows RSS by {mb:.0f} MB")
        worst = 0.0
        with server_process(data_dir) as (server, url):
            pid = server.pid
            warm_up = httpx.get(url + "/collections/incidents/export?f=csv", timeout=3600)
            warm_up.raise_for_status()  # fills the store's page cache (bounded, 128 MiB)
            for fmt in FORMATS:
                before = rss_kb(pid)
                start, size = time.perf_counter(), 0
                with httpx.stream("GET", f"{url}/collections/incidents/export?f={fmt}",
                                  timeout=3600) as response:  # fmt: skip
                    response.raise_for_status()
                    for chunk in response.iter_bytes():
                        size += len(chunk)
                seconds = time.perf_counter() - start
                growth = max(0, rss_kb(pid, "VmHWM:") - before)
                ratio = growth / baseline_kb
                worst = max(worst, ratio)
                print(
                    f"{fmt:8s} {args.rows / seconds:10,.0f} rows/s  {size / 1e6:8.1f} MB  "
                    f"peak RSS +{growth / 1024:6.0f} MB  = {ratio:.2f} x baseline"
                )
        verdict = "OK" if worst < 0.25 else "OVER TARGET"
        print(f"worst memory ratio {worst:.2f} (target < 0.25): {verdict}")
        return 0 if worst < 0.25 else 1


if __name__ == "__main__":
    raise SystemExit(main())
