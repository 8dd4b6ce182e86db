"""Benchmark: the grid locator against geopandas.sjoin and a plain shapely STRtree.

On the demo city (4,744 grids) and 340,000 points (random, denser in the
core), in one run: throughput of each method and the ratio to sjoin, the
engine's single-point latency, cold index build and cache load times, index
memory, and agreement. It exits non-zero when the methods disagree on any
point away from boundaries, or when the engine differs from the exact oracle
(``covers``, smallest code on ties) on any point at all.

    .venv/bin/python -m benchmarks.bench_engine [--points 340000] [--gpkg PATH]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from geo.boundaries.io import read_hierarchy_gpkg
from geo.engine.locator import GridLocator

DEMO = Path(__file__).resolve().parent.parent / "data" / "boundaries" / "zhengzhou-demo.gpkg"
CORE = (113.66, 34.76)  # Zhengzhou's old town, where complaints cluster


def make_points(units: gpd.GeoDataFrame, n: int, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """70 % normally spread around the core, 30 % uniform over the city's bbox."""
    rng = np.random.default_rng(seed)
    west, south, east, north = units.total_bounds
    n_core = int(n * 0.7)
    lon = np.r_[rng.normal(CORE[0], 0.08, n_core), rng.uniform(west, east, n - n_core)]
    lat = np.r_[rng.normal(CORE[1], 0.06, n_core), rng.uniform(south, north, n - n_core)]
    return lon, lat


def best_of(repeats: int, fn):
    """(fastest seconds, last result) over ``repeats`` runs."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def run_sjoin(grids: gpd.GeoDataFrame, lon, lat) -> np.ndarray:
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")
    joined = gpd.sjoin(points, grids[["code", "geometry"]], predicate="within", how="left")
    joined = joined[~joined.index.duplicated(keep="first")]
    return joined["code"].to_numpy(dtype=object)


def run_strtree(tree: shapely.STRtree, codes: np.ndarray, lon, lat) -> np.ndarray:
    point_idx, grid_idx = tree.query(shapely.points(lon, lat), predicate="within")
    found = np.full(len(lon), None, dtype=object)
    found[point_idx] = codes[grid_idx]
    return found


def exact_oracle(tree: shapely.STRtree, codes: np.ndarray, lon, lat) -> np.ndarray:
    """``covers`` with the documented tie rule (smallest code) — the definition of right."""
    point_idx, grid_idx = tree.query(shapely.points(lon, lat), predicate="covered_by")
    order = np.argsort(grid_idx)[::-1]
    found = np.full(len(lon), None, dtype=object)
    found[point_idx[order]] = codes[grid_idx[order]]
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, default=340_000)
    parser.add_argument("--gpkg", type=Path, default=DEMO)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    units = read_hierarchy_gpkg(args.gpkg)
    grids = units[units["level"] == "grid"].sort_values("code").reset_index(drop=True)
    lon, lat = make_points(units, args.points)
    n = len(lon)
    print(f"{len(grids)} grids, {n} points ({args.gpkg.name})")

    with tempfile.TemporaryDirectory() as cache:
        tracemalloc.start()
        start = time.perf_counter()
        locator = GridLocator.build(units, "bench", cache_dir=Path(cache))
        build_s = time.perf_counter() - start
        index_bytes, _ = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        start = time.perf_counter()
        cached = GridLocator.build(units, "bench", cache_dir=Path(cache))
        load_s = time.perf_counter() - start
        assert cached.from_cache and not locator.from_cache

    codes = grids["code"].to_numpy(dtype=object)
    tree = shapely.STRtree(grids.geometry.to_numpy())
    sjoin_s, by_sjoin = best_of(args.repeats, lambda: run_sjoin(grids, lon, lat))
    tree_s, by_tree = best_of(args.repeats, lambda: run_strtree(tree, codes, lon, lat))
    engine_s, batch = best_of(args.repeats, lambda: locator.locate_many(lon, lat))

    sample = np.random.default_rng(1).integers(0, n, 20_000)
    latencies = []
    for i in sample:
        x, y = float(lon[i]), float(lat[i])
        start = time.perf_counter_ns()
        locator.locate(x, y)
        latencies.append(time.perf_counter_ns() - start)

    print(f"{'method':<22}{'seconds':>10}{'points/s':>14}{'vs sjoin':>10}")
    for name, seconds in (
        ("geopandas.sjoin", sjoin_s),
        ("shapely.STRtree", tree_s),
        ("GridLocator", engine_s),
    ):
        print(f"{name:<22}{seconds:>10.3f}{n / seconds:>14,.0f}{sjoin_s / seconds:>9.1f}x")
    status, counts = np.unique(batch.status.astype(str), return_counts=True)
    print("statuses: " + ", ".join(f"{s}={c}" for s, c in zip(status, counts, strict=True)))
    fast = int((locator.table.lookup(lon, lat) >= 0).sum())
    print(f"answered by the lookup table: {fast / n:.1%}")
    print(f"single point: median {statistics.median(latencies) / 1000:.1f} µs, ")
    print(f"  p99 {np.percentile(latencies, 99) / 1000:.1f} µs over {len(latencies)} calls")
    print(f"index build (cold): {build_s:.2f} s; load from cache: {load_s:.2f} s")
    print(
        f"index memory: lookup table {locator.table.nbytes / 1e6:.1f} MB "
        f"{locator.table.cells.shape}, all build allocations still held "
        f"(tracemalloc) {index_bytes / 1e6:.1f} MB"
    )

    away = (batch.status == "inside") & np.array([c is None for c in batch.candidates])
    engine_codes = batch.grid_code
    disagree_sjoin = int((by_sjoin[away] != engine_codes[away]).sum())
    disagree_tree = int((by_tree[away] != engine_codes[away]).sum())
    oracle = exact_oracle(tree, codes, lon, lat)
    disagree_oracle = int((oracle != engine_codes).sum())
    print(
        f"mismatches away from boundaries ({int(away.sum())} points): "
        f"sjoin {disagree_sjoin}, STRtree {disagree_tree}; "
        f"vs exact covers oracle on all {n} points: {disagree_oracle}"
    )
    return 1 if disagree_sjoin or disagree_tree or disagree_oracle else 0


if __name__ == "__main__":
    sys.exit(main())
