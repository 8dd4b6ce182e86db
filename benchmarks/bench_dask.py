"""Benchmark: ``locate`` on dask.distributed over partitioned files, and a projection to 1.2e9.

Generates ``--points`` points (default 50 million; see
:func:`benchmarks.bench_engine.make_points`) over the demo city (4,744 grids) as
Parquet files of ``--per-file`` points under ``--dir`` (default
``/tmp/cityaware-bench-dask``, never in the repository; kept for reruns), then
measures in one run:

* the baseline: :func:`geo.engine.assign.assign_frame` on one in-memory partition
  in this process (points per CPU-second on one core, no I/O, no dask);
* the dask path end to end (read Parquet, assign, write GeoParquet) on a
  LocalCluster of ``--workers`` single-threaded processes: points/s (wall clock),
  and points per CPU-second of the workers (per core, with I/O; on a shared
  machine the wall clock says more about the neighbours than about the code),
  with its ratio to the baseline (the cost of I/O and scheduling);

and projects from those figures the time to re-assign 1.2 billion records on N
workers (assumptions printed: same per-core rate on the cluster's cores, shared
storage keeps up, no stragglers).

    .venv/bin/python -m benchmarks.bench_dask [--points 50000000] [--workers 2]
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.bench_engine import make_points
from cityaware.geo.boundaries.generations import BoundaryRegistry
from cityaware.geo.boundaries.io import read_hierarchy_gpkg
from cityaware.geo.bulk.cluster import LocatorSource, open_client
from cityaware.geo.bulk.locate import locate_dataset
from cityaware.geo.engine.assign import assign_frame
from cityaware.geo.resources import demo_boundaries

TARGET = 1_200_000_000


def prepare(root: Path, points: int, per_file: int) -> tuple[LocatorSource, Path]:
    """The demo generation and the point files (made once, reused by later runs)."""
    registry = BoundaryRegistry(root / "boundaries")
    generation = registry.active()
    if generation is None:
        generation = registry.stage(read_hierarchy_gpkg(demo_boundaries()), source="demo")
        registry.activate(generation)
    source = LocatorSource(str(root / "boundaries"), generation, str(root / "cache"))
    folder = root / f"points-{points}-{per_file}"
    if not (folder / "_complete").exists():
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        units = registry.units(generation)
        files = -(-points // per_file)
        started = time.perf_counter()
        for k in range(files):
            n = min(per_file, points - k * per_file)
            lon, lat = make_points(units, n, seed=k)
            frame = pd.DataFrame({"rid": np.arange(n) + k * per_file, "lon": lon, "lat": lat})
            frame.to_parquet(folder / f"part-{k:05d}.parquet", index=False)
        (folder / "_complete").touch()
        seconds = time.perf_counter() - started
        print(f"generated {points:,} points in {files} files in {seconds:.0f} s")
    return source, folder


def baseline(source: LocatorSource, folder: Path) -> float:
    """Points/s of assign_frame on one partition in memory, this process, one core."""
    frame = pd.read_parquet(next(iter(sorted(folder.glob("part-*.parquet")))))
    locator = source.load()
    import cityaware.geo.engine.locator as locator_module

    threads, locator_module.WORKERS = locator_module.WORKERS, 1  # one core, like a worker
    try:
        assign_frame(frame.iloc[:1000], locator)
        started = time.process_time()  # CPU time: the machine may be shared
        assign_frame(frame, locator)
        return len(frame) / (time.process_time() - started)
    finally:
        locator_module.WORKERS = threads


def _cpu_seconds() -> float:
    """User + system CPU seconds of this (worker) process so far."""
    import psutil

    times = psutil.Process().cpu_times()
    return float(times.user + times.system)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, default=50_000_000)
    parser.add_argument("--per-file", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/cityaware-bench-dask"))
    args = parser.parse_args(argv)

    source, folder = prepare(args.dir, args.points, args.per_file)
    source.load()  # builds the lookup raster cache the workers load
    single = baseline(source, folder)
    print(f"baseline: assign_frame in one process, in memory: {single:,.0f} points/s (1 core)")

    out = args.dir / "located"
    shutil.rmtree(out, ignore_errors=True)
    started = time.perf_counter()
    with open_client(f"local:{args.workers}") as client:
        ready = time.perf_counter()
        before = client.run(_cpu_seconds)
        summary = locate_dataset(folder, out, source, "WGS84", "lon", "lat", client=client)
        after = client.run(_cpu_seconds)
    total = time.perf_counter() - started
    cpu = sum(after[w] - before[w] for w in after)
    if summary.failed:
        print(f"FAILED partitions: {summary.failed}")
        return 1
    rate = summary.located_now / summary.seconds
    per_core = summary.located_now / cpu  # points per CPU-second of the workers
    print(
        f"dask LocalCluster {summary.cores} workers: {summary.located_now:,} points in "
        f"{summary.partitions} partitions, {summary.seconds:.1f} s (read + assign + write; "
        f"cluster start {ready - started:.1f} s, total {total:.1f} s)"
    )
    print(
        f"  {rate:,.0f} points/s end to end with I/O (wall clock; {summary.per_core:,.0f} per "
        f"worker core; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)"
    )
    print(
        f"  workers used {cpu:.1f} CPU-s: {per_core:,.0f} points per CPU-second per core "
        f"with I/O; ratio to the in-memory baseline {per_core / single:.2f}"
    )
    size = sum(p.stat().st_size for p in out.glob("part-*.parquet"))
    print(f"  output {size / 2**30:.2f} GiB GeoParquet ({size / summary.located_now:.0f} B/point)")
    print(f"projection for {TARGET:,} records at {per_core:,.0f} points/s per dedicated core:")
    for workers in (1, 2, 4, 8, 16, 64):
        hours = TARGET / (per_core * workers) / 3600
        print(f"  {workers:4d} worker cores: {hours:6.2f} h")
    cores_for_1h = math.ceil(TARGET / per_core / 3600)
    print(
        f"  one hour needs {cores_for_1h:,.0f} worker cores; assumptions: the measured per-core "
        "rate holds on the cluster's cores, storage serves "
        f"{TARGET * size / summary.located_now / 2**40:.2f} TiB written plus the input, "
        "partitions are even (no stragglers); the store's load-back is separate "
        "(benchmarks/bench_store_scale.py)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
