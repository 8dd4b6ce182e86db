"""Re-assignment after a boundary release, in batches by ``fid`` each committed on its own.

A batch takes the next ``batch_size`` features (in ``fid`` order, after the last
one done) that are not on the target generation, and in one transaction writes
their earlier assignment to ``assignment_history`` (reason ``generation``), one
``reassign`` change each (old grid, new grid) to the feed, and the new
assignment. A batch skips rows already on the target generation, so running it
again after a crash (or loading the same precomputed batch twice) moves nothing
twice: the store itself is the resume point. It also skips rows whose position
changed (or that were deleted) since their assignment was computed; the next pass
re-assigns those. No transaction holds more than one
batch, so live writes and reads wait at most one batch.

The assignment of a batch comes either from a locator in this process
(:func:`reassign_in_batches`) or precomputed elsewhere, e.g. on a dask cluster
(:func:`pending_positions` to export, :func:`apply_assignments` to load back).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import sqlalchemy as sa

from cityaware.geo.store import partitions, summary
from cityaware.geo.store.lockorder import retrying
from cityaware.geo.store.records import LOCATION_FIELDS, assignment_columns
from cityaware.geo.store.schema import ASSIGNMENT_COLUMNS
from cityaware.geo.store.times import now_ms

if TYPE_CHECKING:
    from cityaware.geo.engine.protocol import LonLatLocator
    from cityaware.geo.store.store import FeatureStore

DEFAULT_BATCH = 50_000
Span = tuple[int, int] | None  # [start, end) of reported_at in epoch ms; None: all rows
# Test hook: stop (sleep) after this many committed batches, for a kill -9 at that moment.
HOLD_VARIABLE = "CITYAWARE_REASSIGN_HOLD_AFTER"


def pending_positions(
    store: FeatureStore,
    generation: str,
    after: int = 0,
    limit: int = DEFAULT_BATCH,
    span: Span = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fid, lon, lat) of the next ``limit`` features after ``after`` not on ``generation``
    (with ``reported_at`` in ``span``, ``[start, end)``, when given). On a month-partitioned
    store ``span=None`` reads the DEFAULT partition only: walk every one of :func:`spans`."""
    f: sa.TableClause = store.features
    if span is None and store.backend.partitioned:  # the rows outside every month are there
        names = ("fid", "lon", "lat", "generation", "reported_at")
        f = sa.table(partitions.DEFAULT_PARTITION, *(sa.column(n) for n in names))
    not_there = sa.or_(f.c.generation.is_(None), f.c.generation != generation)
    query = (
        sa.select(f.c.fid, f.c.lon, f.c.lat)
        .where(not_there, f.c.fid > after, in_span(f, span))
        .order_by(f.c.fid)
        .limit(limit)
    )
    with store.backend.read() as conn:
        rows = conn.execute(query).all()
    fid = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    lon = np.fromiter((r[1] for r in rows), dtype=float, count=len(rows))
    lat = np.fromiter((r[2] for r in rows), dtype=float, count=len(rows))
    return fid, lon, lat


def in_span(features: sa.TableClause, span: Span) -> sa.ColumnElement[bool]:
    """``reported_at`` in ``span`` (``[start, end)`` epoch ms; ``None``: every row). On a
    month-partitioned store a month's span reaches that month's partitions only.

    >>> print(in_span(sa.table("features", sa.column("reported_at")), (0, 10)))
    features.reported_at >= 0 AND features.reported_at < 10
    """
    if span is None:
        return sa.true()
    start, end = span  # literals, not parameters: partitions are pruned when planned
    return sa.and_(
        features.c.reported_at >= _literal(start), features.c.reported_at < _literal(end)
    )


def _literal(value: int) -> sa.ColumnElement[int]:
    return sa.literal_column(str(int(value)), sa.BigInteger)


def spans(store: FeatureStore) -> list[Span]:
    """The spans a re-assignment walks: each month of a month-partitioned store (so each
    batch reaches one month), then every row (there: the DEFAULT partition's, the rows of
    no month's partition or without a time)."""
    if not store.backend.partitioned:
        return [None]
    with store.backend.read() as conn:
        months = sorted(partitions.existing_months(conn))
    return [*(partitions.month_bounds(m) for m in months), None]


def apply_assignments(
    store: FeatureStore,
    fid: np.ndarray,
    located: dict[str, np.ndarray],
    generation: str,
    span: Span = None,
) -> int:
    """Store one batch of assignments (``located``: :data:`LOCATION_FIELDS` arrays aligned
    with ``fid``; ``span``: the ``reported_at`` range they were read from) in one
    transaction, with history and changes; returns the rows moved."""
    if not len(fid):
        return 0
    tmp = _batch_table()
    columns = assignment_columns(located, generation)
    columns["fid"] = [int(v) for v in fid]
    now = now_ms()
    return retrying(lambda: _apply_batch(store, tmp, columns, generation, now, span))


def _apply_batch(
    store: FeatureStore,
    tmp: sa.Table,
    columns: dict[str, Any],
    generation: str,
    now: int,
    span: Span,
) -> int:
    """One transaction of :func:`apply_assignments`; the counter row is its first lock
    (:mod:`geo.store.lockorder`), so no write commits between its check and its move."""
    f = store.features
    first, last = _literal(min(columns["fid"])), _literal(max(columns["fid"]))
    # The batch's month and fid range, as literals: each statement reads that range only.
    batch = sa.and_(in_span(f, span), f.c.fid >= first, f.c.fid <= last)
    with store.backend.write() as conn:
        store.changelog.lock(conn)
        tmp.create(conn)
        rows = len(columns["fid"])
        store.backend.bulk_load(conn, tmp, columns, rows, None)  # COPY on PostGIS
        store.backend.analyze(conn, tmp)
        # Keep only rows still waiting at the position that was assigned: a row moved by an
        # earlier run is skipped, a feature deleted or moved since is left to the next pass.
        waiting = sa.exists().where(
            batch,
            f.c.fid == tmp.c.fid,
            f.c.lon == tmp.c.lon,
            f.c.lat == tmp.c.lat,
            sa.or_(f.c.generation.is_(None), f.c.generation != generation),
        )
        conn.execute(tmp.delete().where(~waiting))
        moved = int(conn.execute(sa.select(sa.func.count()).select_from(tmp)).scalar_one())
        if moved:
            _record_and_move(store, conn, tmp, generation, now, batch)
        tmp.drop(conn)
    return moved


def reassign_in_batches(
    store: FeatureStore,
    locator: LonLatLocator,
    batch_size: int = DEFAULT_BATCH,
    on_batch: Callable[[int], None] | None = None,
) -> int:
    """Re-assign every feature not on ``locator.generation``, batch by batch; the count.

    ``on_batch(moved_so_far)`` is called after each committed batch.
    """
    moved, batches = 0, 0
    for span in spans(store):
        after = 0
        while True:
            fid, lon, lat = pending_positions(store, locator.generation, after, batch_size, span)
            if not len(fid):
                break
            batch = locator.locate_lonlat(lon, lat)
            located = {n: np.asarray(getattr(batch, n), dtype=object) for n in LOCATION_FIELDS}
            moved += apply_assignments(store, fid, located, locator.generation, span)
            after, batches = int(fid[-1]), batches + 1
            if on_batch is not None:
                on_batch(moved)
            hold_after_batch(batches)
    return moved


def hold_after_batch(batches: int) -> None:
    """The crash tests' hook: sleep for good after the batch named by :data:`HOLD_VARIABLE`."""
    if os.environ.get(HOLD_VARIABLE) == str(batches):
        while True:
            time.sleep(60)


def _record_and_move(
    store: FeatureStore,
    conn: sa.Connection,
    tmp: sa.Table,
    generation: str,
    now: int,
    spanned: sa.ColumnElement[bool],
) -> None:
    f = store.features
    history = store.tables["assignment_history"]
    names = ["lon", "lat", *ASSIGNMENT_COLUMNS]
    conn.execute(
        history.insert().from_select(
            ["kind", "feature_id", *names, "replaced_at", "reason"],
            sa.select(
                f.c.kind,
                f.c.id,
                *(f.c[n] for n in names),
                sa.literal(now, sa.BigInteger),
                sa.literal("generation"),
            ).where(spanned, f.c.fid.in_(sa.select(tmp.c.fid))),
        )
    )
    store.changelog.append_select(
        conn,
        sa.select(
            f.c.kind,
            f.c.id,
            sa.literal("reassign"),
            f.c.grid_code,
            tmp.c.grid_code,
            sa.literal(generation),
            sa.literal(now, sa.BigInteger),
            sa.true(),
        ).where(spanned, f.c.fid == tmp.c.fid),
        order_by=f.c.fid,
    )
    # Only rows whose units change count differently (the rest net to zero).
    crossing = sa.and_(
        spanned,
        f.c.fid == tmp.c.fid,
        sa.or_(*(f.c[n].is_distinct_from(tmp.c[n]) for n in summary.UNIT_COLUMNS)),
    )
    before = sa.select(*f.c).where(crossing)
    moved = [(tmp.c[n] if n in ASSIGNMENT_COLUMNS else c).label(n) for n, c in f.c.items()]
    after = sa.select(*moved).where(crossing)
    summary.move(conn, store.tables, before, after, store.day_offset_ms)
    conn.execute(
        f.update()
        .where(spanned, f.c.fid == tmp.c.fid)
        .values({n: tmp.c[n] for n in ASSIGNMENT_COLUMNS})
    )


def _batch_table() -> sa.Table:
    names = [n for n in ASSIGNMENT_COLUMNS if n != "distance_m"]
    columns: list[Any] = [sa.Column(n, sa.Text) for n in names]
    return sa.Table(
        "reassign_tmp",
        sa.MetaData(),
        sa.Column("fid", sa.BigInteger, primary_key=True),
        *columns,
        sa.Column("distance_m", sa.Float),
        sa.Column("lon", sa.Float),
        sa.Column("lat", sa.Float),
        prefixes=["TEMPORARY"],
    )
