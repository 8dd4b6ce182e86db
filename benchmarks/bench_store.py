"""Feature-store benchmark: bulk import with grid assignment, and single-write latency.

    .venv/bin/python -m benchmarks.bench_store                 # 1M incidents into SQLite
    .venv/bin/python -m benchmarks.bench_store --rows 200000 \\
        --postgis-url postgresql://postgres@127.0.0.1:5432/cityaware_test

Grids: the committed demo city (data/boundaries/zhengzhou-demo.gpkg, 4,744
grids). Each backend is measured against a baseline in the same run on the
same database: the backend's raw bulk path (driver ``executemany`` on SQLite,
``COPY`` on PostGIS) of the same rows into a plain table (no validation, no
grid assignment, no index) in one transaction, and single-row INSERT + COMMIT
for latency (and single writes while the import runs: how long the import's steps keep
a live write waiting); and a second baseline, the same raw bulk path into a copy of the
``features`` table with all its indexes (the floor set by index maintenance).
PostGIS runs twice: the plain ``features`` table and ``?partitions=month``
(``postgis-month``: imports COPY into bare month tables, indexed and attached at
publish). Targets (issue 19): >= 100,000 rows/s into the embedded store, >= 200,000
rows/s into PostGIS. The load average is printed beside the figures (shared machines).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

from cityaware.geo.boundaries.io import read_hierarchy_gpkg
from cityaware.geo.engine.locator import GridLocator
from cityaware.geo.resources import demo_boundaries
from cityaware.geo.store import open_store
from cityaware.geo.store.dialect import Backend
from cityaware.geo.store.taxonomy import DEFAULT_CATEGORIES, DEFAULT_CHANNELS

DEMO = demo_boundaries()


def incidents(n: int, bounds, seed: int = 1) -> pd.DataFrame:
    """n incidents scattered over the city's bounding box."""
    rng = np.random.default_rng(seed)
    west, south, east, north = bounds
    start = np.datetime64("2026-10-01T00:00:00", "s")
    return pd.DataFrame(
        {
            "lon": rng.uniform(west, east, n).round(6),
            "lat": rng.uniform(south, north, n).round(6),
            "category": rng.choice(DEFAULT_CATEGORIES, n),
            "channel": rng.choice(DEFAULT_CHANNELS, n),
            "title": "case",
            "reported_at": (start + rng.integers(0, 60 * 86400, n)).astype(str),
        }
    )


def baseline_bulk(store, frame: pd.DataFrame) -> float:
    """Rows/s of the backend's raw bulk path (driver executemany on SQLite, COPY on
    PostGIS) into a plain table: same rows, no validation, no assignment, no index."""
    table = sa.Table(
        f"baseline_{uuid.uuid4().hex[:8]}",
        sa.MetaData(),
        sa.Column("id", sa.String(64)),
        *(sa.Column(c, sa.Float if c in ("lon", "lat") else sa.Text) for c in frame.columns),
    )
    table.create(store.backend.engine)
    columns = {"id": [uuid.uuid4().hex[:16] for _ in range(len(frame))]}
    columns.update({c: frame[c].tolist() for c in frame.columns})
    load = Backend.bulk_load if store.backend_name == "sqlite" else type(store.backend).bulk_load
    started = time.perf_counter()
    with store.backend.write() as conn:
        load(store.backend, conn, table, columns, 20_000, None)
    seconds = time.perf_counter() - started
    table.drop(store.backend.engine)
    return len(frame) / seconds


def indexed_bulk(store, frame: pd.DataFrame) -> float:
    """Rows/s of the raw bulk path into an empty copy of ``features`` with all its indexes
    (and, on SQLite, the R*Tree filled in the same statement): prepared rows, one
    transaction, no assignment, no change feed or counts."""
    prepared = store_rows(store, frame)
    metadata = sa.MetaData()
    copy = store.features.to_metadata(metadata, name=f"indexed_{uuid.uuid4().hex[:8]}")
    copy.dialect_options["postgresql"]["partition_by"] = None  # one plain indexed table
    for index in list(copy.indexes):  # index names are per schema: give the copy its own
        index.name = f"{copy.name}_{index.name}"
    copy.create(store.backend.engine)
    load = Backend.bulk_load if store.backend_name == "sqlite" else type(store.backend).bulk_load
    rtree = f"{copy.name}_rtree"
    started = time.perf_counter()
    with store.backend.write() as conn:
        if store.backend_name == "sqlite":
            conn.exec_driver_sql(f"CREATE VIRTUAL TABLE {rtree} USING rtree(id, a, b, c, d)")
            conn.exec_driver_sql(
                f"CREATE TEMP TRIGGER {rtree}_t AFTER INSERT ON {copy.name} BEGIN INSERT INTO"
                f" {rtree} VALUES (new.fid, new.lon, new.lon, new.lat, new.lat); END"
            )
        load(store.backend, conn, copy, prepared, 20_000, None)
    seconds = time.perf_counter() - started
    with store.backend.write() as conn:
        if store.backend_name == "sqlite":
            conn.exec_driver_sql(f"DROP TABLE {rtree}")
    copy.drop(store.backend.engine)
    return len(frame) / seconds


def store_rows(store, frame: pd.DataFrame) -> dict[str, list]:
    """The rows the store would write for ``frame`` (validated and assigned)."""
    from cityaware.geo.store.records import prepare_rows

    return prepare_rows(
        "incidents", frame, locator=store.locator, crs="EPSG:4326",
        taxonomy=store.taxonomy, now=0,
    ).columns  # fmt: skip


def baseline_latency(engine: sa.Engine, count: int) -> np.ndarray:
    """Seconds of single-row INSERT + COMMIT (durable, like the store's writes)."""
    table = sa.Table(
        f"latency_{uuid.uuid4().hex[:8]}",
        sa.MetaData(),
        sa.Column("id", sa.String(64)),
        sa.Column("lon", sa.Float),
        sa.Column("lat", sa.Float),
    )
    table.create(engine)
    times = []
    for i in range(count):
        started = time.perf_counter()
        with engine.begin() as conn:
            conn.execute(table.insert().values(id=str(i), lon=113.6, lat=34.7))
        times.append(time.perf_counter() - started)
    table.drop(engine)
    return np.array(times)


def store_latency(store, bounds, count: int) -> np.ndarray:
    frame = incidents(count, bounds, seed=2)
    times = []
    for record in frame.to_dict("records"):
        started = time.perf_counter()
        store.add("incidents", record)
        times.append(time.perf_counter() - started)
    return np.array(times)


@contextlib.contextmanager
def writes_meanwhile(store, bounds) -> Iterator[list[float]]:
    """Seconds of single writes (``store.add``, one each 50 ms in a thread) while the
    block runs: how long a live write waits for an import's steps."""
    seconds: list[float] = []
    stop = threading.Event()

    def write() -> None:
        records = incidents(100_000, bounds, seed=3).to_dict("records")
        store.add("incidents", records.pop())  # untimed: the first write's set-up
        for record in records:
            if stop.wait(0.05):
                return
            started = time.perf_counter()
            store.add("incidents", record)
            seconds.append(time.perf_counter() - started)

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    try:
        yield seconds
    finally:
        stop.set()
        thread.join()


def run(
    name: str, url: str, data_dir: Path, locator, frame: pd.DataFrame, writes: int, bounds
) -> None:
    store = open_store(url, data_dir, locator)
    engine = store.backend.engine
    base_rate = baseline_bulk(store, frame)
    floor = indexed_bulk(store, frame)
    cpu = time.process_time()
    with writes_meanwhile(store, bounds) as during:
        report = store.bulk_import("incidents", frame)
    cpu = time.process_time() - cpu
    rate = report.accepted / report.seconds
    target = 100_000 if name == "sqlite" else 200_000
    verdict = f"; target {target:,} rows/s {'met' if rate >= target else 'MISSED'}"
    print(
        f"[{name}] bulk import with assignment: {report.accepted:,} rows in {report.seconds:.1f} s"
        f" = {rate:,.0f} rows/s (this process's CPU: {cpu:.1f} s = "
        f"{report.accepted / cpu:,.0f} rows per CPU-second); baseline raw bulk insert "
        f"{base_rate:,.0f} rows/s; ratio {rate / base_rate:.2f}; baseline raw bulk insert into"
        f" an indexed copy of features {floor:,.0f} rows/s; ratio {rate / floor:.2f}{verdict}"
        f" (load average {os.getloadavg()[0]:.1f})"
    )
    waits = np.array(during) * 1000
    print(
        f"[{name}] single writes during the import (one each 50 ms): {len(waits)}, p50"
        f" {np.percentile(waits, 50):.1f} ms, p99 {np.percentile(waits, 99):.1f} ms, max"
        f" {waits.max():.1f} ms (the import's steps hold the write lock; target ~100 ms)"
    )
    base = baseline_latency(engine, writes) * 1000
    single = store_latency(store, bounds, writes) * 1000
    p50, p99 = np.percentile(single, 50), np.percentile(single, 99)
    b50, b99 = np.percentile(base, 50), np.percentile(base, 99)
    print(
        f"[{name}] single write (add + assign + commit), {writes} writes: p50 {p50:.2f} ms,"
        f" p99 {p99:.2f} ms; baseline single INSERT+COMMIT p50 {b50:.2f} ms, p99 {b99:.2f} ms;"
        f" p50 ratio {p50 / b50:.1f}x"
    )
    store.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--writes", type=int, default=500, help="single writes for latency")
    parser.add_argument("--postgis-url", help="also measure PostGIS (a fresh schema is used)")
    parser.add_argument("--skip-sqlite", action="store_true", help="measure PostGIS only")
    args = parser.parse_args(argv)

    units = read_hierarchy_gpkg(DEMO)
    locator = GridLocator.build(units, "bench", cache_dir=Path(tempfile.gettempdir()))
    bounds = tuple(units[units["level"] == "grid"].total_bounds)
    frame = incidents(args.rows, bounds)
    print(f"{len(units[units['level'] == 'grid']):,} grids; {args.rows:,} incidents")
    if not args.skip_sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            run("sqlite", "", Path(tmp), locator, frame, args.writes, bounds)
    if args.postgis_url:
        base = args.postgis_url.replace("postgresql://", "postgresql+psycopg://", 1)
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(base)
        with admin.begin() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
        try:
            sep = "&" if "?" in base else "?"
            url = f"{base}{sep}options=-csearch_path%3D{schema},public"
            with tempfile.TemporaryDirectory() as tmp:
                run("postgis", url, Path(tmp), locator, frame, args.writes, bounds)
        finally:
            with admin.begin() as conn:
                conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        with admin.begin() as conn:  # the month-partitioned layout (bare tables attached)
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
        try:
            with tempfile.TemporaryDirectory() as tmp:
                month = f"{url}&partitions=month"
                run("postgis-month", month, Path(tmp), locator, frame, args.writes, bounds)
        finally:
            with admin.begin() as conn:
                conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    return 0


if __name__ == "__main__":
    sys.exit(main())
