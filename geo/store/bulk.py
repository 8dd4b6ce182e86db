"""Bulk import: many features in one transaction, with a report of rejected rows.

Sources: a DataFrame (``lon_col``/``lat_col`` columns), a GeoDataFrame (point
geometry), or a file: CSV (lon/lat columns), GeoJSON, GeoPackage, or any
other vector format GDAL reads. Rows that cannot be used are listed with
their reason and skipped (``strict=True``: nothing is written if any row is
rejected). The accepted rows are validated and located without any lock, then
written in short transactions, hidden from readers until the last one appends
one ``create`` change per imported feature (one INSERT ... SELECT, ``bulk``
set) and publishes them all at once (:mod:`geo.store.imports`): live writes
wait at most one step, readers never see part of an import, and a failure (or
a killed process, at the next open) leaves nothing half-imported.

The importer needs only an :class:`ImportTarget` (the store is one; this module
does not import :mod:`geo.store.store`).

>>> report = store.bulk_import("incidents", "calls.csv", crs="GCJ02")  # doctest: +SKIP
>>> report.summary()                                                    # doctest: +SKIP
'imported 9998 incidents, rejected 2 in 0.4s (24,995 rows/s, generation 2024-01)'
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa

from cityaware.geo.engine.protocol import Locator
from cityaware.geo.errors import InvalidInput
from cityaware.geo.store import imports, partition_load, summary
from cityaware.geo.store.changes import ChangeLog
from cityaware.geo.store.dialect import Backend, any_set
from cityaware.geo.store.import_counts import add_counts, count_rows
from cityaware.geo.store.records import prepare_rows
from cityaware.geo.store.taxonomy import Taxonomy, check_kind
from cityaware.geo.store.times import now_ms

INSERT_BATCH = imports.STEP_ROWS  # rows of the first short write transaction (then sized)
CSV_SUFFIXES = (".csv", ".txt", ".tsv")
_X, _Y = "__x", "__y"
# What an import reads: a (Geo)DataFrame or a file path.
Source = pd.DataFrame | str | Path


class ImportTarget(Protocol):
    """What a bulk import writes through: the backend, the ``features`` table, the
    locator and taxonomy rows are prepared with, and the change log."""

    backend: Backend
    tables: dict[str, sa.Table]
    features: sa.Table
    taxonomy: Taxonomy
    changelog: ChangeLog
    day_offset_ms: int

    @property
    def locator(self) -> Locator | None: ...


@dataclass
class ImportReport:
    """The outcome of a bulk import.

    ``rejected`` lists ``(row_number, reason)``; row numbers count data rows
    from 1 (a CSV's header line is not counted).
    """

    kind: str
    accepted: int
    rejected: list[tuple[int, str]]
    generation: str | None
    seconds: float = 0.0

    def summary(self) -> str:
        """One line: counts, time, rate and generation."""
        rate = self.accepted / self.seconds if self.seconds else 0.0
        return (
            f"imported {self.accepted} {self.kind}, rejected {len(self.rejected)} "
            f"in {self.seconds:.1f}s ({rate:,.0f} rows/s, generation {self.generation})"
        )

    def write_rejected(self, path: Path) -> None:
        """Write the rejected rows as CSV (row, reason)."""
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["row", "reason"])
            writer.writerows(self.rejected)


def read_source(
    source: Source, crs: str | None, lon_col: str, lat_col: str
) -> tuple[pd.DataFrame, str]:
    """(frame with coordinate columns, CRS of those coordinates) from a frame or a file."""
    if isinstance(source, str | Path):
        source = _read_file(Path(source))
    if isinstance(source, gpd.GeoDataFrame):
        file_crs = source.crs.to_string() if source.crs is not None else "EPSG:4326"
        geometry = source.geometry.to_numpy()
        points = shapely.get_type_id(geometry) == 0  # Point; None gives -1
        frame = pd.DataFrame(source.drop(columns=source.geometry.name))
        kept = np.where(points, geometry, np.asarray(None, dtype=object))
        frame[_X] = np.where(points, shapely.get_x(kept), np.nan)
        frame[_Y] = np.where(points, shapely.get_y(kept), np.nan)
        return frame, crs or _short_crs(file_crs)
    if isinstance(source, pd.DataFrame):
        missing = [c for c in (lon_col, lat_col) if c not in source.columns]
        if missing:
            raise InvalidInput(
                f"missing coordinate column(s) {missing}; columns are {list(source.columns)}"
                " (use --lon-col/--lat-col)"
            )
        return source.rename(columns={lon_col: _X, lat_col: _Y}), crs or "EPSG:4326"
    raise InvalidInput(f"cannot import from {type(source).__name__}")


def bulk_import(
    store: ImportTarget,
    kind: str,
    source: Source,
    crs: str | None = None,
    lon_col: str = "lon",
    lat_col: str = "lat",
    strict: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import ``source`` into ``kind``; see the module doc. ``progress(n)`` is
    called with the number of rows written after each batch."""
    check_kind(kind)
    started = time.perf_counter()
    frame, crs = read_source(source, crs, lon_col, lat_col)
    now = now_ms()
    prepared = prepare_rows(
        kind,
        frame,
        locator=store.locator,
        crs=crs,
        taxonomy=store.taxonomy,
        now=now,
        x_col=_X,
        y_col=_Y,
        keep_updated_at=True,
    )
    rejected = list(prepared.rejected)
    with store.backend.read() as conn:  # a live write may still take an id: then it fails
        taken = _existing_ids(conn, store.features, kind, prepared.columns["id"], frame)
    if taken:
        keep = [i for i, v in enumerate(prepared.columns["id"]) if v not in taken]
        rejected += [
            (int(prepared.positions[i]), f"id {v!r} already exists")
            for i, v in enumerate(prepared.columns["id"])
            if v in taken
        ]
        prepared.columns = {k: [v[i] for i in keep] for k, v in prepared.columns.items()}
        prepared.positions = prepared.positions[keep]
    rejected = sorted((row + 1, reason) for row, reason in rejected)
    if strict and rejected:
        row, reason = rejected[0]
        raise InvalidInput(
            f"{len(rejected)} row(s) rejected, nothing imported; first: row {row}: {reason}"
        )
    if len(prepared):
        counts = count_rows(prepared.columns, store.day_offset_ms) if kind == summary.KIND else {}
        _publish(store, kind, prepared.columns, now, progress, counts)
    seconds = time.perf_counter() - started
    generation = store.locator.generation if store.locator is not None else None
    return ImportReport(kind, len(prepared), rejected, generation, seconds)


def _publish(
    store: ImportTarget,
    kind: str,
    columns: dict[str, list[Any]],
    at: int,
    progress: Callable[[int], None] | None,
    counts: dict[str, list[Any]],
) -> None:
    """Write the rows in short steps, hidden until the last step of their change rows
    publishes them and adds their ``counts`` (see :mod:`geo.store.imports`); a failure on
    the way discards all. Only the publishing commit is durable: a step lost to a power
    cut belongs to an import that never published, which the next open discards."""
    backend, tables = store.backend, store.tables
    features, log = store.features, tables["imports"]
    import_id = imports.begin(backend, log, kind)
    total = len(columns["id"])
    source: sa.FromClause
    ours: sa.ColumnElement[bool]
    try:
        if backend.partitioned:
            months = _stage_months(store, import_id, columns, progress)
            with backend.write(durable=False) as conn:
                if counts:
                    partition_load.stage_counts(conn, import_id, counts)
                source = partition_load.source(partition_load.staged(conn, import_id))
            ours, staged_counts, counts = sa.true(), bool(counts), {}  # counts: attached

            def before_publish(conn: sa.Connection) -> None:
                partition_load.attach(conn, import_id, months, staged_counts)
        else:
            _write_steps(store, import_id, columns, progress)
            source, ours = features, features.c.import_id == import_id

            def before_publish(conn: sa.Connection) -> None:
                pass

        _log_created(store, import_id, at, total, counts, (source, ours), before_publish)
    except BaseException:
        imports.discard(backend, tables, import_id)
        raise
    with backend.write() as conn:
        backend.after_bulk(conn)


def _write_steps(
    store: ImportTarget,
    import_id: int,
    columns: dict[str, list[Any]],
    progress: Callable[[int], None] | None,
) -> None:
    """Write the import's rows into ``features`` (hidden) in short steps."""
    backend, log = store.backend, store.tables["imports"]
    total, start = len(columns["id"]), 0
    steps = imports.Steps(INSERT_BATCH)
    while start < total:
        stop = min(start + steps.rows, total)
        step = {k: v[start:stop] for k, v in columns.items()}
        step["import_id"] = [import_id] * (stop - start)
        began = time.perf_counter()
        with backend.write(durable=False) as conn:
            backend.bulk_load(conn, store.features, step, stop - start, None)
            imports.heartbeat(conn, log, import_id)
        steps.took(stop - start, time.perf_counter() - began)
        if progress is not None:
            progress(stop)
        start = stop
        imports.pause()


def _stage_months(
    store: ImportTarget,
    import_id: int,
    columns: dict[str, list[Any]],
    progress: Callable[[int], None] | None,
) -> list[int]:
    """Load the rows of each month into a bare table of its own in steps, then index each
    table in a step of its own (:mod:`geo.store.partition_load`); returns the months."""
    backend, log = store.backend, store.tables["imports"]
    by_month = partition_load.split_by_month(columns)
    months = sorted(by_month)
    insertable = [c.name for c in store.features.c if c.name != "geom"]
    with backend.write(durable=False) as conn:
        partition_load.prepare(conn, months, insertable)
    arrays = {n: np.asarray(v, dtype=object) for n, v in columns.items() if any_set(v)}
    done, steps = 0, imports.Steps(INSERT_BATCH)
    for month in months:
        rows, start = by_month[month], 0
        while start < len(rows):
            chunk = rows[start : start + steps.rows]
            step = {n: v[chunk] for n, v in arrays.items()}
            step["import_id"] = np.full(len(chunk), import_id, dtype=object)
            began = time.perf_counter()
            with backend.write(durable=False) as conn:
                partition_load.load(conn, import_id, month, step)
                imports.heartbeat(conn, log, import_id)
            steps.took(len(chunk), time.perf_counter() - began)
            start, done = start + len(chunk), done + len(chunk)
            if progress is not None:
                progress(done)
    for month in months:
        with backend.write(durable=False) as conn:
            partition_load.index(conn, import_id, month)
            imports.heartbeat(conn, log, import_id)
    return months


def _log_created(
    store: ImportTarget,
    import_id: int,
    at: int,
    total: int,
    counts: dict[str, list[Any]],
    rows_of: tuple[sa.FromClause, sa.ColumnElement[bool]],
    before_publish: Callable[[sa.Connection], None],
) -> None:
    """One ``create`` change per row of the import (``total`` rows, those of ``rows_of``:
    a table and the condition picking the import's rows), in insertion order, in short
    transactions (:class:`~geo.store.imports.Steps`); the first holds the feed back, the
    last (durable) runs ``before_publish``, publishes the import and adds its rows to the
    incident counts (:mod:`geo.store.import_counts`)."""
    (f, ours), log = rows_of, store.tables["imports"]
    after, done = 0, 0
    steps = imports.Steps(INSERT_BATCH)
    while True:
        began = time.perf_counter()
        last_step = done + steps.rows >= total
        with store.backend.write(durable=last_step) as conn:
            step = sa.select(f.c.fid).where(ours, f.c.fid > after).order_by(f.c.fid)
            limit = steps.rows
            fids = conn.execute(step.limit(limit)).scalars().all()
            if fids:
                rows = sa.select(
                    f.c.kind,
                    f.c.id,
                    sa.literal("create"),
                    sa.null(),
                    f.c.grid_code,
                    f.c.generation,
                    sa.literal(at, sa.BigInteger),
                    sa.true(),
                ).where(ours, f.c.fid > after, f.c.fid <= fids[-1])
                last = store.changelog.append_select(conn, rows, order_by=f.c.fid)
                if not after:
                    imports.hold_feed(conn, log, import_id, last - len(fids) + 1)
                imports.heartbeat(conn, log, import_id)
                after, done = fids[-1], done + len(fids)
            if len(fids) < limit:
                before_publish(conn)
                imports.publish(conn, log, import_id)
                add_counts(conn, store.tables["incident_counts"], counts)  # now visible
                return
        steps.took(len(fids), time.perf_counter() - began)
        imports.pause()


def _existing_ids(
    conn: sa.Connection, features: sa.Table, kind: str, ids: list[Any], frame: pd.DataFrame
) -> set[str]:
    """Which of the given ids (only those the input named) are already stored."""
    if "id" not in frame.columns:
        return set()
    if conn.dialect.name == "postgresql":  # one array, not 5,000 bound values a statement
        return partition_load.taken_ids(conn, kind, ids)
    taken: set[str] = set()
    for start in range(0, len(ids), 5_000):
        chunk = ids[start : start + 5_000]
        rows = conn.execute(
            sa.select(features.c.id).where(features.c.kind == kind, features.c.id.in_(chunk))
        )
        taken.update(r[0] for r in rows)
    return taken


def _read_file(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise InvalidInput(f"{path}: no such file")
    try:
        if path.suffix.lower() in CSV_SUFFIXES:
            sep = "\t" if path.suffix.lower() == ".tsv" else ","
            return pd.read_csv(path, dtype=str, keep_default_na=False, sep=sep)
        if path.suffix.lower() == ".parquet":
            try:
                return gpd.read_parquet(path)
            except ValueError:
                return pd.read_parquet(path)
        return gpd.read_file(path)
    except InvalidInput:
        raise
    except Exception as error:  # every reader has its own error types; all mean "bad file"
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise InvalidInput(f"{path.name}: cannot read the file: {message}") from error


def _short_crs(crs: str) -> str:
    """'EPSG:4326' for OGC:CRS84-like names, else the CRS text as given."""
    return "EPSG:4326" if "CRS84" in crs.upper() else crs
