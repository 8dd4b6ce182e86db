"""Benchmark: ``cityaware locate`` on whole files against geopandas read + sjoin + write.

Both run as fresh processes (process start and imports included) on the same
CSV and GeoParquet inputs of demo-city points (:func:`benchmarks.bench_engine.make_points`),
best of ``--repeats``; wall clock and the child's CPU time (user + system) are
printed with the ratio. The geopandas script reads the file (pandas / geopandas),
joins the grids with ``sjoin(predicate="within")`` and writes the same format.
Before timing, one run builds the locator's snapshot (cached like a server's),
and the answers are checked: every point's grid equals the geopandas answer away
from shared edges and the ``covers`` oracle everywhere (exit 1 otherwise).
cityaware's modules are compiled to bytecode first, as an installed wheel's are
(geopandas' already are): an editable checkout run under PYTHONDONTWRITEBYTECODE
would otherwise compile every module again at each start (~0.3 s).

    .venv/bin/python -m benchmarks.bench_files [--points 300000 10000000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import compileall
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import shapely

import cityaware.api
import cityaware.geo
from benchmarks.bench_engine import exact_oracle, make_points
from cityaware.api.context import AppContext
from cityaware.api.settings import Settings
from cityaware.geo.boundaries.io import read_hierarchy_gpkg
from cityaware.geo.resources import demo_boundaries

GEOPANDAS = """
import sys
import geopandas as gpd, pandas as pd
src, dst, units = sys.argv[1:4]
grids = gpd.read_parquet(units)
grids = grids[grids["level"] == "grid"][["code", "geometry"]]
if src.endswith(".csv"):
    frame = pd.read_csv(src)
    points = gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(frame.lon, frame.lat), crs=4326)
else:
    points = gpd.read_parquet(src)
joined = gpd.sjoin(points, grids, how="left", predicate="within")
joined = joined[~joined.index.duplicated()].drop(columns="index_right")
if dst.endswith(".csv"):
    joined.to_wkt().to_csv(dst, index=False)
else:
    joined.to_parquet(dst)
"""


def write_inputs(folder: Path, n: int, units: gpd.GeoDataFrame) -> dict[str, Path]:
    """A CSV (id, lon, lat, kind) and a GeoParquet (the same plus point geometry) of n points."""
    lon, lat = make_points(units, n)
    kinds = np.array(["noise", "road", "waste"])[np.arange(n) % 3]
    table = pa.table({"id": np.arange(n), "lon": lon.round(7), "lat": lat.round(7), "kind": kinds})
    paths = {"csv": folder / f"points-{n}.csv", "parquet": folder / f"points-{n}.parquet"}
    pa_csv.write_csv(table, paths["csv"])
    frame = gpd.GeoDataFrame(
        table.to_pandas(), geometry=gpd.points_from_xy(table["lon"], table["lat"]), crs=4326
    )
    frame.to_parquet(paths["parquet"])
    return paths


def timed(command: list[str]) -> tuple[float, float]:
    """(wall seconds, child CPU seconds) of one process run to completion."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def best(repeats: int, command: list[str]) -> tuple[float, float]:
    runs = [timed(command) for _ in range(repeats)]
    return min(r[0] for r in runs), min(r[1] for r in runs)


def check(output: Path, grids: gpd.GeoDataFrame, tree: shapely.STRtree) -> int:
    """Points whose located grid differs from the covers oracle, plus points in exactly
    one grid whose grid differs from sjoin's."""
    table = pq.read_table(output) if output.suffix == ".parquet" else pa_csv.read_csv(output)
    got = np.array(table["grid_code"].cast(pa.string()).to_pylist(), dtype=object)
    lon, lat = table["lon"].to_numpy(), table["lat"].to_numpy()
    oracle = exact_oracle(tree, grids["code"].to_numpy(dtype=object), lon, lat)
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs=4326)
    joined = gpd.sjoin(points, grids, how="left", predicate="within")
    once = ~joined.index.duplicated(keep=False) & joined["code"].notna().to_numpy()
    by_sjoin = joined["code"].to_numpy(dtype=object)[once]
    return int((got != oracle).sum() + (got[joined.index[once]] != by_sjoin).sum())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, nargs="+", default=[300_000, 10_000_000])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    units = read_hierarchy_gpkg(demo_boundaries())
    for package in (cityaware.api, cityaware.geo):
        compileall.compile_dir(package.__path__[0], quiet=1)
    bad = 0
    with tempfile.TemporaryDirectory(prefix="bench-files-") as tmp:
        folder = Path(tmp)
        ctx = AppContext(Settings(data_dir=folder / "data"))
        ctx.registry.activate(ctx.registry.stage(units, source="demo"))
        units_file = folder / "data" / "boundaries" / ctx.registry.active() / "units.parquet"
        grids = units[units["level"] == "grid"].sort_values("code")[["code", "geometry"]]
        tree = shapely.STRtree(grids.geometry.to_numpy())
        cli = [sys.executable, "-m", "cityaware.api.cli", "locate"]
        script = folder / "geopandas_locate.py"
        script.write_text(GEOPANDAS)
        print(
            f"{'input':<24}{'geopandas s':>12}{'CPU s':>8}{'cityaware s':>12}{'CPU s':>8}"
            f"{'wall ratio':>11}{'CPU ratio':>10}"
        )
        for n in args.points:
            inputs = write_inputs(folder, n, units)
            repeats = args.repeats if n <= 1_000_000 else 1
            for kind, path in inputs.items():
                out = folder / f"located-{n}.{kind}"
                ours = [*cli, str(path), "--crs", "WGS84", "-o", str(out)]
                ours += ["--data-dir", str(folder / "data"), "--chunk-size", "500000"]
                subprocess.run(ours, check=True, stdout=subprocess.DEVNULL)  # snapshot + check
                if n <= 1_000_000:
                    bad += check(out, grids, tree)
                theirs = [sys.executable, str(script), str(path), str(out) + ".gp." + kind]
                theirs.append(str(units_file))
                gp_wall, gp_cpu = best(repeats, theirs)
                our_wall, our_cpu = best(repeats, ours)
                print(
                    f"{f'{n:,} points {kind}':<24}{gp_wall:>12.2f}{gp_cpu:>8.2f}"
                    f"{our_wall:>12.2f}{our_cpu:>8.2f}"
                    f"{gp_wall / our_wall:>10.1f}x{gp_cpu / our_cpu:>9.1f}x",
                    flush=True,
                )
                for stale in folder.glob(f"located-{n}.*"):
                    os.unlink(stale)
    print(f"mismatches against the covers oracle and sjoin (inputs up to 1M points): {bad}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
