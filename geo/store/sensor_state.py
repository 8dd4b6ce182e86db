"""What the columnar reading write needs of a batch's sensors, in one query.

:func:`screening_state` reads, for the sensors of a batch, their last reading, alarm and
online flags, the value bounds of the threshold that applies (the sensor's own, else its
device kind's, else its ``alarm_low``/``alarm_high`` columns, as
:meth:`geo.store.readings.ReadingStore._thresholds_for` resolves them) and whether an
alarm of theirs is open, as arrays aligned to the sorted ids (:mod:`geo.live.screen`).

>>> refuse_unknown(["a", "b"], {"a"})
Traceback (most recent call last):
cityaware.geo.errors.InvalidInput: unknown sensor 'b'; nothing was written
"""

from __future__ import annotations

from collections.abc import Container, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import sqlalchemy as sa

from cityaware.geo.errors import InvalidInput
from cityaware.geo.live.screen import NO_TIME, Bools, Bounds, Floats, Ints, Previous
from cityaware.geo.store.prepared import Prepared


@dataclass(frozen=True)
class Screening:
    """Per sensor of a batch (by code, ids sorted): see :func:`screening_state`."""

    previous: Previous
    bounds: Bounds
    alarm: Bools
    online: Bools
    has_open: Bools
    fid: Ints  # the feature row's key


def refuse_unknown(ids: Sequence[str], found: Container[str]) -> None:
    """InvalidInput naming the ``ids`` not ``found`` (nothing is written)."""
    unknown = [i for i in ids if i not in found]
    shown = ", ".join(repr(i) for i in unknown[:5])
    more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
    raise InvalidInput(f"unknown sensor {shown}{more}; nothing was written")


class ScreeningQuery:
    """:func:`screening_state`'s query over a store's tables, compiled once per dialect."""

    def __init__(self, f: sa.Table, tables: Mapping[str, sa.Table]) -> None:
        self.f, self.tables = f, tables
        self._prepared: dict[str, Prepared] = {}

    def run(self, conn: sa.Connection, ids: Sequence[str]) -> Screening:
        """:func:`screening_state` of the sensors ``ids`` (sorted)."""
        dialect = conn.dialect.name
        statement = self._prepared.get(dialect)
        if statement is None:
            select = _screening_select(dialect, self.f, self.tables)
            statement = self._prepared[dialect] = Prepared(select, "ids")
        return screening_state(conn, statement, ids)


def screening_state(conn: sa.Connection, statement: Prepared, ids: Sequence[str]) -> Screening:
    """What the array screening needs of the sensors ``ids`` (sorted), in one query
    (``statement``, see :class:`ScreeningQuery`): last reading, flags, value bounds of the
    threshold that applies, whether an alarm is open, and the row's ``fid`` (the write
    updates by it). InvalidInput names unknown sensors (nothing is written)."""
    dialect = conn.dialect.name
    listed: Any = list(ids) if dialect == "postgresql" else orjson.dumps(list(ids)).decode()
    rows = statement.run(conn, ids=listed).all()
    if len(rows) != len(ids):
        refuse_unknown(ids, {r[0] for r in rows})
    columns = zip(*rows, strict=True) if rows else [()] * len(_NAMES)  # no sensors: none
    column = dict(zip(_NAMES, columns, strict=True))
    code_of = {s: i for i, s in enumerate(ids)}
    codes = np.fromiter(map(code_of.__getitem__, column["id"]), np.int64, len(ids))

    def aligned(name: str) -> Floats:
        out: Floats = np.empty(len(ids))
        out[codes] = np.array(column[name], dtype=np.float64)  # None -> NaN
        return out

    def flags(name: str) -> Bools:
        return np.asarray(aligned(name) == 1, dtype=bool)  # NULL (NaN) -> False

    fid: Ints = np.empty(len(ids), dtype=np.int64)
    fid[codes] = np.array(column["fid"], dtype=np.int64)
    return Screening(
        previous=Previous(
            at=np.nan_to_num(aligned("at"), nan=NO_TIME).astype(np.int64),
            value=aligned("value"),
        ),
        bounds=Bounds(low=aligned("min"), high=aligned("max"), rate=aligned("rate")),
        alarm=flags("alarm"),
        online=flags("online"),
        has_open=flags("has_open"),
        fid=fid,
    )


_NAMES = ("id", "fid", "at", "value", "alarm", "online", "min", "max", "rate", "has_open")


def _screening_select(dialect: str, f: sa.Table, tables: Mapping[str, sa.Table]) -> sa.Select[Any]:
    """The query of :func:`screening_state` (columns :data:`_NAMES`), the sensor ids bound
    as ``ids``: a JSON array text on SQLite, a text array on PostgreSQL."""
    alarms = tables["alarms"]
    own = tables["thresholds"].alias("own")
    kind = tables["thresholds"].alias("by_kind")

    def bound(name: str, column: sa.ColumnElement[Any] | None) -> sa.ColumnElement[Any]:
        cases: list[tuple[sa.ColumnElement[bool], sa.ColumnElement[Any]]] = [
            (own.c.target.isnot(None), own.c[name]),
            (kind.c.target.isnot(None), kind.c[name]),
        ]
        return sa.case(*cases, else_=column).label(name)

    kind_key = sa.func.coalesce(f.c.device_kind, "")
    has_open = sa.exists().where(alarms.c.sensor_id == f.c.id, alarms.c.state == "open")
    ids: sa.BindParameter[Any] = sa.bindparam("ids", None)
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY

        listed = f.c.id == sa.any_(sa.cast(ids, ARRAY(sa.Text)))
    else:
        each: sa.Select[Any] = sa.select(sa.column("value")).select_from(sa.func.json_each(ids))
        listed = f.c.id.in_(each.scalar_subquery())
    stmt = (
        sa.select(
            f.c.id,
            f.c.fid,
            f.c.reading_at.label("at"),
            f.c.reading_value.label("value"),
            f.c.alarm,
            f.c.online,
            bound("min", f.c.alarm_low),  # the threshold that applies (see _thresholds_for)
            bound("max", f.c.alarm_high),
            bound("rate", None),
            has_open.label("has_open"),
        )
        .select_from(
            f.outerjoin(own, sa.and_(own.c.scope == "sensor", own.c.target == f.c.id)).outerjoin(
                kind, sa.and_(kind.c.scope == "kind", kind.c.target == kind_key)
            )
        )
        .where(f.c.kind == "sensors", listed)
    )
    return stmt.with_for_update(of=f) if dialect == "postgresql" else stmt
