"""Incident counts per region, local day and value, kept exact by every write.

``incident_counts`` holds one row per (``level``, ``unit``, ``day``, ``dim``, ``value``)
with the number ``n`` of visible incidents there: ``level`` is ``all`` (the whole
store), ``district``, ``street``, ``zone`` (a managing zone other than the district)
or ``grid``; ``dim`` is ``category``, ``status`` or ``channel`` (see :data:`ARMS`:
grids keep categories, and statuses only while open). Grid rows also carry the
grid's chain (``district``, ``street``, ``community``, ``zone``) so a region narrows
them. ``day`` is the local day of ``reported_at``; missing text is stored as ``''``.

Every write changes the counts **in its own transaction**, from the rows themselves:
:func:`apply` subtracts what a row counted before (update, delete, re-assignment)
and adds what it counts after (create, update, re-assignment, an import's publish).
So the counts commit with the write or not at all, follow group commit (each job's
savepoint), and never see a staged import before its publish, on both backends
(``INSERT ... ON CONFLICT DO UPDATE SET n = n + excluded.n`` is atomic in both).
Before it touches a count, :func:`apply` takes the change-feed counter row (the store's
one lock order, see :mod:`geo.store.lockorder`): on PostgreSQL two transactions would
otherwise lock count rows in different orders and one of them would be aborted.
A change-feed follower with a high-water mark was the alternative; it would need
every row's earlier values to subtract them, which the feed does not keep.

:mod:`geo.store.rollup` answers counts from this table.

>>> [(level, dim) for level, dim, _ in ARMS][-2:]
[('grid', 'category'), ('grid', 'status')]
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from cityaware.geo.store.imports import visible
from cityaware.geo.store.lockorder import lock_feed
from cityaware.geo.store.taxonomy import OPEN_STATUSES

DAY_MS = 86_400_000
KIND = "incidents"
DIMS = ("category", "status", "channel")
CHAIN = ("district", "street", "community", "zone")
KEY = ("level", "unit", *CHAIN, "day", "dim", "value")
# (level, dim, values kept or None for all) for every arm of the counts
ARMS: tuple[tuple[str, str, tuple[str, ...] | None], ...] = (
    *((level, dim, None) for level in ("all", "district", "street", "zone") for dim in DIMS),
    ("grid", "category", None),
    ("grid", "status", OPEN_STATUSES),
)
# The assignment columns the counts group by: a row keeping all of them counts the same.
UNIT_COLUMNS = ("grid_code", "community_code", "street_code", "district_code", "managing_zone")
LEVEL_COLUMNS = {"district": "district_code", "street": "street_code", "grid": "grid_code"}
OFFSET_KEY = "counts_day_offset_ms"  # store_meta: the day offset the counts were built with


def counts_table(metadata: sa.MetaData) -> sa.Table:
    """The ``incident_counts`` table (see the module doc)."""
    text = sa.Text
    return sa.Table(
        "incident_counts",
        metadata,
        sa.Column("level", sa.String(8), nullable=False),
        sa.Column("unit", text, nullable=False),
        *(sa.Column(name, text, nullable=False) for name in CHAIN),
        sa.Column("day", sa.Integer, nullable=False),
        sa.Column("dim", sa.String(8), nullable=False),
        sa.Column("value", text, nullable=False),
        sa.Column("n", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint(*KEY, name="incident_counts_key"),
        sqlite_with_rowid=False,
    )


def day_of(column: sa.ColumnElement[Any], offset_ms: int) -> sa.ColumnElement[Any]:
    """The local day number of an epoch-ms column (floor division on both backends)."""
    day: sa.ColumnElement[Any] = (column + offset_ms) // DAY_MS
    return day


def _text(column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    return sa.func.coalesce(column, "")


def _arm(
    features: sa.Table | sa.CTE,
    level: str,
    dim: str,
    values: tuple[str, ...] | None,
    offset_ms: int,
) -> sa.Select[Any]:
    """One level and dim of the counts of the selected rows (grouped, not yet signed)."""
    c = features.c
    blank = sa.literal("")
    clauses: list[sa.ColumnElement[bool]] = []
    if level == "all":
        unit: sa.ColumnElement[Any] = blank
    elif level == "zone":
        unit = c.managing_zone
        clauses.append(sa.and_(unit.isnot(None), unit != _text(c.district_code)))
    else:
        unit = c[LEVEL_COLUMNS[level]]
        if level != "grid":
            clauses.append(unit.isnot(None))
        unit = _text(unit)
    chain_columns = ("district_code", "street_code", "community_code", "managing_zone")
    chain = [_text(c[n]) if level == "grid" else blank for n in chain_columns]
    if values is not None:
        clauses.append(c[dim].in_(values))
    value, day = _text(c[dim]), sa.func.coalesce(day_of(c.reported_at, offset_ms), -1)
    groups = [e for e in (unit, *chain) if e is not blank] + [day, value]
    return (
        sa.select(
            sa.literal(level).label("level"),
            unit.label("unit"),
            *(column.label(name) for column, name in zip(chain, CHAIN, strict=True)),
            day.label("day"),
            sa.literal(dim).label("dim"),
            value.label("value"),
            sa.func.count().label("n"),
        )
        .where(*clauses)
        .group_by(*groups)
    )


def apply(
    conn: sa.Connection,
    tables: dict[str, sa.Table],
    where: sa.ColumnElement[bool],
    sign: int,
    offset_ms: int,
) -> None:
    """Add (``sign`` 1) or subtract (-1) the counts of the visible incident rows ``where``
    selects, in ``conn``'s transaction."""
    lock_feed(conn, tables["store_meta"])  # the first lock of every writer (lock order)
    conn.execute(upsert(conn.dialect.name, tables, where, sign, offset_ms))


def upsert(
    dialect: str,
    tables: dict[str, sa.Table],
    where: sa.ColumnElement[bool],
    sign: int,
    offset_ms: int,
) -> sa.Insert:
    """The statement :func:`apply` runs. Building it costs far more than running it for
    one row: a live write builds it once, with a bound parameter in ``where``."""
    features = tables["features"]
    selected = sa.and_(features.c.kind == KIND, visible(features), where)
    arms = [
        _arm(features, level, dim, values, offset_ms).where(selected) for level, dim, values in ARMS
    ]
    union = sa.union_all(*arms).subquery()
    rows = sa.select(*(union.c[n] for n in KEY), (union.c.n * sign).label("n")).where(sa.true())
    return _upsert(dialect, tables["incident_counts"], rows)


def move(
    conn: sa.Connection,
    tables: dict[str, sa.Table],
    before: sa.Select[Any],
    after: sa.Select[Any],
    offset_ms: int,
) -> None:
    """Subtract the counts of the rows ``before`` selects and add those of ``after`` (the
    same rows as they will be, e.g. re-assigned; both select ``features``' columns by
    name) in one statement: each key's net change, keys that net to zero (a row that
    stays in its district, street and grid) not written at all."""
    lock_feed(conn, tables["store_meta"])
    arms = []
    for rows, sign in ((before, -1), (after, 1)):
        source = rows.cte(f"counted_{'before' if sign < 0 else 'after'}")
        selected = sa.and_(source.c.kind == KIND, visible(source))
        for level, dim, values in ARMS:
            arm = _arm(source, level, dim, values, offset_ms).where(selected).subquery()
            arms.append(sa.select(*(arm.c[n] for n in KEY), (arm.c.n * sign).label("n")))
    union = sa.union_all(*arms).subquery()
    net = sa.func.sum(union.c.n)
    keys = [union.c[n] for n in KEY]
    netted = sa.select(*keys, net.label("n")).where(sa.true()).group_by(*keys).having(net != 0)
    conn.execute(_upsert(conn.dialect.name, tables["incident_counts"], netted))


def _upsert(dialect: str, counts: sa.Table, rows: sa.Select[Any]) -> sa.Insert:
    """Add ``rows`` (the counts' key columns and ``n``) to the counts."""
    insert = (sqlite.insert if dialect == "sqlite" else postgresql.insert)(counts)
    stmt = insert.from_select([*KEY, "n"], rows)
    return stmt.on_conflict_do_update(
        index_elements=list(counts.primary_key.columns), set_={"n": counts.c.n + stmt.excluded.n}
    )


def ensure(conn: sa.Connection, tables: dict[str, sa.Table], offset_ms: int) -> bool:
    """Build the counts from every visible row unless built with this day offset (a store
    from before the counts, or one opened with another offset); True when rebuilt."""
    meta = tables["store_meta"]
    known = conn.execute(
        sa.select(meta.c.value).where(meta.c.key == OFFSET_KEY)
    ).scalar_one_or_none()
    if known is not None and int(known) == offset_ms:
        return False
    conn.execute(tables["incident_counts"].delete())
    apply(conn, tables, sa.true(), 1, offset_ms)
    if known is None:
        conn.execute(meta.insert().values(key=OFFSET_KEY, value=offset_ms))
    else:
        conn.execute(meta.update().where(meta.c.key == OFFSET_KEY).values(value=offset_ms))
    return True
