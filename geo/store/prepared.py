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
...     conn.execute(sa.select(t.c.k, t.c.n).order_by(t.c.k)).all()
[('a', 42), ('c', 1)]
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
        name = conn.dialect.name
        compiled = self._compiled.get(name)
        if compiled is None:
            compiled = self._compiled[name] = self._compile(conn.dialect)
        sql, order, defaults = compiled
        if values.keys() != self.names:
            raise TypeError(f"values needed for {sorted(self.names)}, got {sorted(values)}")
        params = {**defaults, **values}
        if order is None:
            return conn.exec_driver_sql(sql, params)
        return conn.exec_driver_sql(sql, tuple(params[key] for key in order))

    def _compile(self, dialect: sa.Dialect) -> tuple[str, tuple[str, ...] | None, dict[str, Any]]:
        compiled = self.statement.compile(
            dialect=dialect, compile_kwargs={"render_postcompile": True}
        )
        assert isinstance(compiled, SQLCompiler)
        defaults = dict(compiled.construct_params())
        order = tuple(compiled.positiontup or ()) if compiled.positional else None
        return compiled.string, order, defaults
