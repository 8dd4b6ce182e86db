"""Benchmark: PostGIS at a year of incidents, plain ``features`` against ``?partitions=month``.

For each layout, in its own schema of the PostGIS at ``--url`` (default
``$CITYAWARE_TEST_DATABASE_URL``): bulk load ``--rows`` incidents spread over 12
months of the demo city (in import batches of ``--batch``, in time order; COPY), re-assign all of
them to a new generation (batches by fid, each committed on its own), then a
district's statistics (counts by street, one month) and a bbox + time items page
(100 items), p50/p95 over ``--repeat`` runs. The plain layout is the baseline of
the same run; the partitioned one is printed with its ratio.

    .venv/bin/python -m benchmarks.bench_store_scale --rows 4400000   # one year
    .venv/bin/python -m benchmarks.bench_store_scale --rows 200000 --batch 100000
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pandas as pd
import sqlalchemy as sa

from benchmarks.bench_dask import prepare
from benchmarks.bench_engine import make_points
from cityaware.geo.boundaries.generations import BoundaryRegistry
from cityaware.geo.engine.locator import GridLocator
from cityaware.geo.store import FeatureFilter, open_store
from cityaware.geo.store.taxonomy import DEFAULT_CATEGORIES

YEAR_START = pd.Timestamp("2025-01-01T00:00:00Z")
BOX = (113.60, 34.72, 113.70, 34.80)


def incidents(units, rows: int, seed: int, part: tuple[int, int] = (0, 1)) -> pd.DataFrame:
    """``rows`` incidents of the ``part[0]``-th of ``part[1]`` equal spans of the year (a
    year's history loaded in time order: each import covers about a month)."""
    lon, lat = make_points(units, rows, seed=seed)
    rng = np.random.default_rng(seed)
    span = 365 * 24 * 60 // part[1]
    minutes = part[0] * span + rng.integers(0, span, rows)
    reported = YEAR_START + pd.to_timedelta(minutes, unit="min")
    return pd.DataFrame(
        {
            "id": [f"s{seed}-{k}" for k in range(rows)],
            "lon": lon,
            "lat": lat,
            "category": rng.choice(DEFAULT_CATEGORIES, rows),
            "reported_at": reported.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
    )


def percentiles(times: list[float]) -> str:
    p50, p95 = np.percentile(np.array(times) * 1000, [50, 95])
    return f"p50 {p50:.0f} ms, p95 {p95:.0f} ms"


def run(layout: str, base: str, data_dir: Path, old, new, frames, repeat: int) -> dict:
    schema = f"bench_{layout}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in base else "?"
    url = f"{base}{separator}options={quote(f'-csearch_path={schema},public')}"
    if layout == "partitioned":
        url += "&partitions=month"
    store = open_store(url, data_dir, old)
    try:
        started = time.perf_counter()
        rows = sum(store.bulk_import("incidents", frame).accepted for frame in frames)
        load = rows / (time.perf_counter() - started)
        started = time.perf_counter()
        moved = store.reassign(new)
        reassign = moved / (time.perf_counter() - started)
        with store.backend.engine.begin() as conn:  # what autovacuum does after a while
            conn.exec_driver_sql("ANALYZE")
        since, until = "2025-06-01T00:00:00Z", "2025-06-30T23:59:59Z"
        district = FeatureFilter(region="410105", since=since, until=until)
        window = FeatureFilter(bbox=BOX, since=since, until=until)
        stats, page = [], []
        for _ in range(repeat):
            t = time.perf_counter()
            store.aggregate("incidents", ["street"], district)
            stats.append(time.perf_counter() - t)
            t = time.perf_counter()
            store.query("incidents", window, limit=100)
            page.append(time.perf_counter() - t)
        return {"load": load, "reassign": reassign, "stats": stats, "page": page, "rows": rows}
    finally:
        store.close()
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=4_400_000)
    parser.add_argument("--batch", type=int, default=370_000, help="rows per bulk import")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--url", default=os.environ.get("CITYAWARE_TEST_DATABASE_URL", ""))
    parser.add_argument("--dir", type=Path, default=Path("/tmp/cityaware-bench-dask"))
    args = parser.parse_args(argv)
    if not args.url:
        parser.error("give --url postgresql://... (or set CITYAWARE_TEST_DATABASE_URL)")
    base = args.url.replace("postgresql://", "postgresql+psycopg://", 1)

    source, _ = prepare(args.dir, 1, 1)
    all_units = BoundaryRegistry(Path(source.boundaries)).units(source.generation)
    old = GridLocator.build(all_units, source.generation, cache_dir=Path(source.cache_dir))
    new = GridLocator.build(all_units, "next", cache_dir=Path(source.cache_dir))
    counts = [min(args.batch, args.rows - s) for s in range(0, args.rows, args.batch)]
    frames = [incidents(all_units, n, k, (k, len(counts))) for k, n in enumerate(counts)]
    print(f"{args.rows:,} incidents over 12 months, bulk imports of {args.batch:,}")

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for layout in ("plain", "partitioned"):
            results[layout] = run(layout, base, Path(tmp), old, new, frames, args.repeat)
    plain = results["plain"]
    for layout, r in results.items():
        ratio = "" if layout == "plain" else " (ratio to plain: "
        print(f"{layout}:")
        for key, label in (("load", "bulk load"), ("reassign", "re-assignment")):
            suffix = f"{ratio}{r[key] / plain[key]:.2f})" if ratio else ""
            print(f"  {label}: {r[key]:,.0f} rows/s{suffix}")
        print(f"  district statistics by street, one month: {percentiles(r['stats'])}")
        print(f"  bbox + month items page of 100: {percentiles(r['page'])}")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (a shared machine)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
