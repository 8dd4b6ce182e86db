"""Benchmark: PostGIS at a year of incidents, plain ``features`` against ``?partitions=month``.

For each layout, in its own schema of the PostGIS at ``--url`` (default
``$CITYAWARE_TEST_DATABASE_URL``): bulk load ``--rows`` incidents, 12 months a year
(4.4M rows a year) of the demo city (in import batches of ``--batch``, in time order;
COPY), re-assign all of them to a new generation (batches by fid, each committed on its
own), then a district's statistics (counts by street, one month) and a bbox + time items
page (100 items), p50/p95 over ``--repeat`` runs, after the load and again after the
re-assignment. Baselines of the same run: a bare-table COPY of the first import's rows
into the same database (no validation, assignment or index:
``bench_store.baseline_bulk``), and the plain layout for the partitioned one
(``--layouts partitioned`` leaves it out: at years of rows the plain layout takes hours).

    .venv/bin/python -m benchmarks.bench_store_scale --rows 4400000   # one year
    .venv/bin/python -m benchmarks.bench_store_scale --rows 22000000 --layouts partitioned
    .venv/bin/python -m benchmarks.bench_store_scale --rows 200000 --batch 100000
"""

from __future__ import annotations

import argparse
import os
import sys
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
from benchmarks.bench_store import baseline_bulk
from cityaware.geo.boundaries.generations import BoundaryRegistry
from cityaware.geo.engine.locator import GridLocator
from cityaware.geo.store import FeatureFilter, open_store
from cityaware.geo.store.taxonomy import DEFAULT_CATEGORIES

YEAR_START = pd.Timestamp("2025-01-01T00:00:00Z")
BOX = (113.60, 34.72, 113.70, 34.80)
YEAR_ROWS = 4_400_000  # a year of incidents


def incidents(
    units, rows: int, seed: int, part: tuple[int, int] = (0, 1), years: int = 1
) -> pd.DataFrame:
    """``rows`` incidents of the ``part[0]``-th of ``part[1]`` equal spans of ``years``
    years (history loaded in time order: each import covers about a month)."""
    lon, lat = make_points(units, rows, seed=seed)
    rng = np.random.default_rng(seed)
    span = years * 365 * 24 * 60 // part[1]
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


def _note(text: str) -> None:
    print(f"  [{time.strftime('%H:%M:%S')} load {os.getloadavg()[0]:.1f}] {text}", file=sys.stderr)


def _queries(store, repeat: int) -> tuple[list[float], list[float]]:
    """Seconds of a district's statistics and of a bbox + month items page, ``repeat`` each
    (after an ANALYZE: what autovacuum does after a while)."""
    with store.backend.engine.begin() as conn:
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
    return stats, page


def _summary(times: tuple[list[float], list[float]]) -> str:
    return f"statistics {percentiles(times[0])}; items page {percentiles(times[1])}"


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
        started, rows, bare = time.perf_counter(), 0, 0.0
        for number, frame in enumerate(frames()):
            if not number:
                bare = baseline_bulk(store, frame.drop(columns="id"))
                _note(f"{layout}: bare-table COPY {bare:,.0f} rows/s")
                started = time.perf_counter()
            rows += store.bulk_import("incidents", frame).accepted
            rate = rows / (time.perf_counter() - started)
            _note(f"{layout}: import {number + 1}: {rows:,} rows, {rate:,.0f} rows/s")
        load = rows / (time.perf_counter() - started)
        loaded = _queries(store, repeat)  # a loaded year, before any release
        _note(f"{layout}: after the load: {_summary(loaded)}")
        started, shown = time.perf_counter(), [0]

        def reassigned(done: int) -> None:
            if done - shown[0] >= 500_000:
                shown[0] = done
                rate = done / (time.perf_counter() - started)
                _note(f"{layout}: re-assigned {done:,} rows, {rate:,.0f} rows/s")

        moved = store.reassign(new, on_batch=reassigned)
        reassign = moved / (time.perf_counter() - started)
        stats, page = _queries(store, repeat)
        return {
            "load": load,
            "reassign": reassign,
            "stats": stats,
            "page": page,
            "rows": rows,
            "bare": bare,
            "loaded": loaded,
        }
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
    parser.add_argument("--layouts", default="plain,partitioned", help="comma-separated")
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
    years = max(1, round(args.rows / YEAR_ROWS))  # 4.4M a year: 22M is five years

    def frames():  # one import's frame at a time (five years do not fit in memory at once)
        for k, n in enumerate(counts):
            yield incidents(all_units, n, k, (k, len(counts)), years)

    print(f"{args.rows:,} incidents over {12 * years} months, bulk imports of {args.batch:,}")

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for layout in args.layouts.split(","):
            results[layout] = run(layout, base, Path(tmp), old, new, frames, args.repeat)
    plain = results.get("plain")
    for layout, r in results.items():
        print(f"{layout}:")
        print(f"  bare-table COPY (baseline): {r['bare']:,.0f} rows/s")
        for key, label in (("load", "bulk load"), ("reassign", "re-assignment")):
            ratios = [f"to bare COPY {r[key] / r['bare']:.3f}"] if key == "load" else []
            if plain is not None and layout != "plain":
                ratios.append(f"to plain {r[key] / plain[key]:.2f}")
            suffix = f" (ratio {', '.join(ratios)})" if ratios else ""
            print(f"  {label}: {r[key]:,.0f} rows/s{suffix}")
        print(f"  after the load: {_summary(r['loaded'])}")
        print(f"  district statistics by street, one month: {percentiles(r['stats'])}")
        print(f"  bbox + month items page of 100: {percentiles(r['page'])}")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (a shared machine)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
