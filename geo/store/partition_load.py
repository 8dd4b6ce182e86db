"""Bulk loads into a month-partitioned PostGIS store: bare tables, indexed, then attached.

Incremental index maintenance (a dozen B-trees and a GiST per row) caps COPY into
``features`` at a few tens of thousands of rows/s. So in the ``?partitions=month``
layout (:mod:`geo.store.partitions`) an import's rows of each month are COPYed into
a table of their own, ``features_i<import>_p<yyyymm>``, with no index and outside
the partition tree (no reader sees it; no trigger fires). Then each table gets the
indexes of its month (``CREATE INDEX``: one sort per index), the month's primary
key and a CHECK constraint that proves its partition bounds (so attaching does not
scan it). The import's id and idempotency keys go into the key tables in one
statement per table (a duplicate fails the import). Publishing attaches every table
(``ATTACH PARTITION``: the metadata only, in the publishing transaction), so
readers see all of the import or none of it; a failed or dead import's tables are
dropped with its keys (:func:`drop`). Its incident counts go the same way: a table
of their own, indexed, attached to ``incident_counts`` (partitioned by import) at
publish (:func:`stage_counts`); readers sum over the partitions.

>>> stage_name(12, 202603)
'features_i12_p202603'
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import sqlalchemy as sa

from cityaware.geo.store import partitions

_ON_ONLY = re.compile(r"^CREATE (UNIQUE )?INDEX \S+ ON ONLY \S+ ")


def stage_name(import_id: int, month: int) -> str:
    """The table holding an import's rows of one month."""
    return f"features_i{import_id}_p{month}"


def split_by_month(columns: Mapping[str, Sequence[Any]]) -> dict[int, np.ndarray]:
    """Row positions per UTC month of ``reported_at``, in row order.

    >>> split_by_month({"reported_at": [1793491200000, 0, 1793491200001]})
    {197001: array([1]), 202611: array([0, 2])}
    """
    times = np.asarray(columns["reported_at"], dtype=np.int64)
    days = times // 86_400_000
    months = {int(d): partitions.month_of(int(d) * 86_400_000) for d in np.unique(days)}
    month = np.array([months[int(d)] for d in days], dtype=np.int64) if len(days) else days
    return {int(m): np.flatnonzero(month == m) for m in np.unique(month)}


def prepare(conn: sa.Connection, months: list[int], insertable: list[str]) -> None:
    """Before staging: move DEFAULT's rows to their months and create the import's months."""
    partitions.split_default(conn, insertable)
    partitions.ensure_months(conn, months)
    plain = [
        m
        for m in months
        if conn.exec_driver_sql(
            "SELECT relkind FROM pg_class WHERE oid = to_regclass(%(n)s)",
            {"n": partitions.partition_name(m)},
        ).scalar_one_or_none()
        != "p"
    ]
    if plain:
        raise ValueError(
            f"month partition(s) {plain} have the layout of an earlier version (not "
            "partitioned by import); export the features and re-import them into a new database"
        )


def load(
    conn: sa.Connection, import_id: int, month: int, columns: Mapping[str, Sequence[Any]]
) -> None:
    """COPY rows of one month into its bare table (created by the first of its steps)."""
    name = stage_name(import_id, month)
    conn.exec_driver_sql(
        f"CREATE TABLE IF NOT EXISTS {name} (LIKE features INCLUDING DEFAULTS INCLUDING GENERATED)"
    )
    driver = conn.connection.driver_connection
    assert driver is not None, "a checked-out connection has a driver connection"
    with driver.cursor() as cursor:
        with cursor.copy(f"COPY {name} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in zip(*columns.values(), strict=True):
                copy.write_row(row)


def taken_ids(conn: sa.Connection, kind: str, ids: Sequence[Any]) -> set[str]:
    """Which of ``ids`` of ``kind`` are stored (PostgreSQL: one array parameter per
    statement; a month-partitioned store asks its key table, not every partition)."""
    partitioned = conn.exec_driver_sql(
        "SELECT relkind = 'p' FROM pg_class WHERE oid = to_regclass('features')"
    ).scalar_one()
    table = "feature_keys" if partitioned else "features"
    taken: set[str] = set()
    for start in range(0, len(ids), 100_000):
        rows = conn.exec_driver_sql(
            f"SELECT id FROM {table} WHERE kind = %(kind)s AND id = ANY(%(ids)s)",
            {"kind": kind, "ids": [str(v) for v in ids[start : start + 100_000]]},
        )
        taken.update(str(r[0]) for r in rows)
    return taken


def index(conn: sa.Connection, import_id: int, month: int) -> None:
    """Claim a staged table's keys (a duplicate fails), then give it its month's indexes,
    primary key and bounds (its own step, once all its rows are in)."""
    name, parent = stage_name(import_id, month), partitions.partition_name(month)
    conn.exec_driver_sql(  # in key order: the key index fills page by page
        f"INSERT INTO feature_keys (kind, id) SELECT kind, id FROM {name} ORDER BY kind, id"
    )
    conn.exec_driver_sql(
        f"INSERT INTO feature_idempotency (kind, key) SELECT kind, idempotency_key "
        f"FROM {name} WHERE idempotency_key IS NOT NULL"
    )
    rows = conn.exec_driver_sql(
        "SELECT pg_get_indexdef(indexrelid), indisprimary FROM pg_index "
        "WHERE indrelid = to_regclass(%(p)s) ORDER BY indexrelid",
        {"p": parent},
    ).all()
    for number, (definition, primary) in enumerate(rows):
        if primary:
            key = conn.exec_driver_sql(
                "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid = to_regclass(%(p)s) AND contype = 'p'",
                {"p": parent},
            ).scalar_one()
            conn.exec_driver_sql(f"ALTER TABLE {name} ADD {key}")
            continue
        unique = "UNIQUE " if definition.startswith("CREATE UNIQUE") else ""
        statement = _ON_ONLY.sub(f"CREATE {unique}INDEX {name}_x{number} ON {name} ", definition)
        conn.exec_driver_sql(statement)
    start, end = partitions.month_bounds(month)
    conn.exec_driver_sql(
        f"ALTER TABLE {name} ADD CONSTRAINT {name}_bounds CHECK (import_id IS NOT NULL AND "
        f"import_id = {import_id} AND reported_at IS NOT NULL AND reported_at >= {start} "
        f"AND reported_at < {end})"
    )
    conn.exec_driver_sql(f"ANALYZE {name}")  # planner statistics from the first read on


def stage_counts(conn: sa.Connection, import_id: int, rows: Mapping[str, Sequence[Any]]) -> None:
    """The import's incident counts (:func:`~geo.store.import_counts.count_rows`) in a
    table of their own, keyed as ``incident_counts``, to attach at publish (its own step)."""
    name = counts_name(import_id)
    conn.exec_driver_sql(f"CREATE TABLE {name} (LIKE incident_counts INCLUDING DEFAULTS)")
    names = list(rows)
    driver = conn.connection.driver_connection
    assert driver is not None, "a checked-out connection has a driver connection"
    with driver.cursor() as cursor:
        statement = f"COPY {name} ({', '.join(names)}, import_id) FROM STDIN"
        with cursor.copy(statement) as copy:
            for row in zip(*rows.values(), strict=True):
                copy.write_row((*row, import_id))
    key = conn.exec_driver_sql(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = to_regclass('incident_counts') AND contype = 'p'"
    ).scalar_one()
    conn.exec_driver_sql(f"ALTER TABLE {name} ADD {key}")
    conn.exec_driver_sql(
        f"ALTER TABLE {name} ADD CONSTRAINT {name}_bounds CHECK (import_id = {import_id})"
    )


def counts_name(import_id: int) -> str:
    """The table of an import's incident counts until it is attached."""
    return f"incident_counts_i{import_id}"


def attach(conn: sa.Connection, import_id: int, months: list[int], counts: bool) -> None:
    """Attach an import's tables to their months, and its counts (``counts``: staged) to
    ``incident_counts`` (inside the publishing transaction)."""
    for month in months:
        conn.exec_driver_sql(
            f"ALTER TABLE {partitions.partition_name(month)} ATTACH PARTITION "
            f"{stage_name(import_id, month)} FOR VALUES IN ({import_id})"
        )
    if counts:
        conn.exec_driver_sql(
            f"ALTER TABLE incident_counts ATTACH PARTITION {counts_name(import_id)} "
            f"FOR VALUES IN ({import_id})"
        )


def staged(conn: sa.Connection, import_id: int) -> list[str]:
    """The import's tables not attached yet (in month order)."""
    names = conn.exec_driver_sql(
        "SELECT relname FROM pg_class WHERE relnamespace = current_schema()::regnamespace "
        "AND relkind = 'r' AND NOT relispartition AND relname LIKE %(p)s ORDER BY relname",
        {"p": f"features\\_i{import_id}\\_p%"},
    ).scalars()
    return list(names)


def source(names: Sequence[str]) -> sa.Subquery:
    """The staged tables' rows as one selectable (what their change rows need)."""
    columns: list[sa.ColumnClause[Any]] = [
        sa.column(c) for c in ("fid", "kind", "id", "grid_code", "generation")
    ]
    parts = [sa.select(*columns).select_from(sa.table(n)) for n in names]
    return sa.union_all(*parts).subquery("staged")


def drop(conn: sa.Connection, import_id: int) -> int:
    """Drop an import's unattached tables and release their keys; returns their rows."""
    rows = 0
    for name in staged(conn, import_id):
        rows += int(conn.exec_driver_sql(f"SELECT count(*) FROM {name}").scalar_one())
        conn.exec_driver_sql(
            f"DELETE FROM feature_keys k USING {name} s WHERE k.kind = s.kind AND k.id = s.id"
        )
        conn.exec_driver_sql(
            f"DELETE FROM feature_idempotency k USING {name} s "
            "WHERE k.kind = s.kind AND k.key = s.idempotency_key"
        )
        conn.exec_driver_sql(f"DROP TABLE {name}")
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {counts_name(import_id)}")
    return rows
