"""A statement compiled once for a connection's dialect and then run through the driver:
a live write's fixed statements skip SQLAlchemy's work per execution (cache-key lookup,
processing every bound literal), which costs more than SQLite running them.

Only for statements whose parameters need no type conversion on the way to the driver
(text, numbers, booleans), and run as given: no RETURNING rows turned into objects beyond
the driver's.

>>> import sqlalchemy as sa
>>> meta = sa.MetaData()
>>> t = sa.Table("t", meta, sa.Column("k", sa.Text), sa.Column("n", sa.Integer))
>>> engine = sa.create_engine("sqlite://")
>>> meta.create_all(engine)
>>> by = sa.bindparam("by", None)
>>> add = Prepared(t.update().where(t.c.k.in_(["a", "b"])).values(n=t.c.n + by), "by")
>>> with engine.begin() as conn:
...     _ = conn.execute(t.insert(), [{"k": "a", "n": 1}, {"k": "c", "n": 1}])
...     _ = add.run(conn, by=41)
...     Prepared(t.insert().values(k=sa.bindparam("k", None), n=0), "k").run_many(
...         conn, [{"k": "d"}, {"k": "e"}])
...     conn.execute(sa.select(t.c.k, t.c.n).order_by(t.c.k)).all()
[('a', 42), ('c', 1), ('d', 0), ('e', 0)]
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.compiler import SQLCompiler


class Prepared:
    """``statement`` compiled per dialect on first use; :meth:`run` binds the values of its
    bound parameters ``names`` (the others keep the values they were built with). Build
    those with a value, ``sa.bindparam(name, None)``: IN lists are rendered at compile
    time, which needs every parameter to have one."""

    def __init__(self, statement: sa.ClauseElement, *names: str) -> None:
        self.statement = statement
        self.names = frozenset(names)
        self._compiled: dict[str, tuple[str, tuple[str, ...] | None, dict[str, Any]]] = {}

    def run(self, conn: sa.Connection, **values: Any) -> sa.CursorResult[Any]:
        """Execute with ``values`` for the statement's named bound parameters."""
        sql, order, defaults = self._for(conn.dialect)
        if values.keys() != self.names:
            raise TypeError(f"values needed for {sorted(self.names)}, got {sorted(values)}")
        params = {**defaults, **values}
        if order is None:
            return conn.exec_driver_sql(sql, params)
        return conn.exec_driver_sql(sql, tuple(params[key] for key in order))

    def run_many(self, conn: sa.Connection, rows: list[dict[str, Any]]) -> None:
        """Execute once per dict of ``rows`` (each with every name), in one ``executemany``."""
        sql, order, defaults = self._for(conn.dialect)
        if any(row.keys() != self.names for row in rows):
            raise TypeError(f"values needed for {sorted(self.names)} in every row")
        if order is None:
            conn.exec_driver_sql(sql, [{**defaults, **row} for row in rows])
        else:
            full = [{**defaults, **row} for row in rows]
            conn.exec_driver_sql(sql, [tuple(row[k] for k in order) for row in full])

    def _for(self, dialect: sa.Dialect) -> tuple[str, tuple[str, ...] | None, dict[str, Any]]:
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            compiled = self._compiled[dialect.name] = self._compile(dialect)
        return compiled

    def _compile(self, dialect: sa.Dialect) -> tuple[str, tuple[str, ...] | None, dict[str, Any]]:
        compiled = self.statement.compile(
            dialect=dialect, compile_kwargs={"render_postcompile": True}
        )
        assert isinstance(compiled, SQLCompiler)
        defaults = dict(compiled.construct_params())
        order = tuple(compiled.positiontup or ()) if compiled.positional else None
        return compiled.string, order, defaults
