"""Batch writes given as aligned columns: one INSERT executemany, one UPDATE per batch.

:func:`update_columns` sets many rows to different values in a single statement: the
rows travel as one JSON array read by ``json_each`` (SQLite) or as one array per column
read by ``unnest`` (PostgreSQL), joined to the table by its key (``UPDATE ... FROM``).

>>> import sqlalchemy as sa
>>> engine = sa.create_engine("sqlite://")
>>> t = sa.Table("t", sa.MetaData(), sa.Column("id", sa.Text, primary_key=True),
...     sa.Column("v", sa.Float))
>>> t.metadata.create_all(engine)
>>> with engine.begin() as conn:
...     insert_ignore_columns(conn, t, {"id": ["a", "b"], "v": [1.0, 2.0]})
...     update_columns(conn, t, "id", {"id": ["a", "b"], "v": [5.0, 6.0]})
...     conn.execute(sa.select(t.c.v).order_by(t.c.id)).scalars().all()
2
2
[5.0, 6.0]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson
import sqlalchemy as sa

from cityaware.geo.store.dialect import run_columns


def insert_ignore_columns(
    conn: sa.Connection, table: sa.Table, columns: Mapping[str, Sequence[Any]]
) -> int:
    """INSERT the rows of aligned ``columns`` (plain Python values) in one driver
    ``executemany``, skipping those whose primary key is already there (a replay);
    returns how many were new."""
    if not columns or not len(next(iter(columns.values()))):
        return 0
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        stmt: sa.Insert = pg_insert(table).on_conflict_do_nothing()
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        stmt = sqlite_insert(table).on_conflict_do_nothing()
    return run_columns(conn, stmt.values({n: sa.bindparam(n) for n in columns}), columns)


def update_columns(
    conn: sa.Connection,
    table: sa.Table,
    key: str,
    columns: Mapping[str, Sequence[Any]],
    where: sa.ColumnElement[bool] | None = None,
) -> int:
    """One UPDATE setting, for each row of the aligned ``columns`` (plain Python values,
    ``key`` among them, one row per key), the other columns of the table's row with that
    ``key`` (and ``where``); returns the driver's row count."""
    names = list(columns)
    if not names or not len(columns[key]):
        return 0
    source = _source(conn, table, columns)
    stmt = table.update().where(table.c[key] == source[key])
    if where is not None:
        stmt = stmt.where(where)
    result = conn.execute(stmt.values({n: source[n] for n in names if n != key}))
    return max(int(result.rowcount), 0)


def fetch_columns(conn: sa.Connection, stmt: sa.Select[Any]) -> dict[str, tuple[Any, ...]]:
    """The rows of ``stmt`` as columns (name -> values), fetched straight from the driver:
    no per-row result processing (the driver's own types: booleans may be 0/1 on SQLite).

    >>> with sa.create_engine("sqlite://").connect() as conn:
    ...     fetch_columns(conn, sa.select(sa.literal(1).label("a"), sa.literal("x").label("b")))
    {'a': (1,), 'b': ('x',)}
    """
    compiled = stmt.compile(dialect=conn.dialect)
    params = compiled.construct_params()
    args: Any = params
    if compiled.positional:
        args = tuple(params[n] for n in compiled.positiontup or [])
    result = conn.exec_driver_sql(str(compiled), args)
    names = [str(k) for k in result.keys()]
    rows = result.all()
    return dict(zip(names, zip(*rows, strict=True) if rows else [()] * len(names), strict=True))


def _source(
    conn: sa.Connection, table: sa.Table, columns: Mapping[str, Sequence[Any]]
) -> dict[str, sa.ColumnElement[Any]]:
    """The columns of a derived table holding the rows (see the module doc)."""
    names = list(columns)
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY

        arrays = [
            sa.cast(sa.literal(list(columns[n]), ARRAY(table.c[n].type)), ARRAY(table.c[n].type))
            for n in names
        ]
        derived = sa.func.unnest(*arrays).table_valued(*names).render_derived().alias("src")
        return {n: derived.c[n] for n in names}
    rows = orjson.dumps(list(zip(*(columns[n] for n in names), strict=True))).decode()
    each = sa.func.json_each(sa.literal(rows)).table_valued("value").alias("src")
    return {
        n: sa.type_coerce(sa.func.json_extract(each.c.value, f"$[{i}]"), table.c[n].type)
        for i, n in enumerate(names)
    }
