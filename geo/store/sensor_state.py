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
import sqlalchemy as sa

from cityaware.geo.errors import InvalidInput
from cityaware.geo.live.screen import NO_TIME, Bools, Bounds, Floats, Previous
from cityaware.geo.store.columns import fetch_columns
from cityaware.geo.store.live_tables import in_values


@dataclass(frozen=True)
class Screening:
    """Per sensor of a batch (by code, ids sorted): see :func:`screening_state`."""

    previous: Previous
    bounds: Bounds
    alarm: Bools
    online: Bools
    has_open: Bools


def refuse_unknown(ids: Sequence[str], found: Container[str]) -> None:
    """InvalidInput naming the ``ids`` not ``found`` (nothing is written)."""
    unknown = [i for i in ids if i not in found]
    shown = ", ".join(repr(i) for i in unknown[:5])
    more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
    raise InvalidInput(f"unknown sensor {shown}{more}; nothing was written")


def screening_state(
    conn: sa.Connection, f: sa.Table, tables: Mapping[str, sa.Table], ids: Sequence[str]
) -> Screening:
    """What the array screening needs of the sensors ``ids`` (sorted), in one query:
    last reading, flags, value bounds of the threshold that applies, and whether an
    alarm is open. InvalidInput names unknown sensors (nothing is written)."""
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
    stmt = (
        sa.select(
            f.c.id,
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
        .where(f.c.kind == "sensors", in_values(conn, f.c.id, list(ids)))
    )
    if conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update(of=f)
    column = fetch_columns(conn, stmt)
    if len(column["id"]) != len(ids):
        refuse_unknown(ids, set(column["id"]))
    code_of = {s: i for i, s in enumerate(ids)}
    codes = np.fromiter(map(code_of.__getitem__, column["id"]), np.int64, len(ids))

    def aligned(name: str) -> Floats:
        out: Floats = np.empty(len(ids))
        out[codes] = np.array(column[name], dtype=np.float64)  # None -> NaN
        return out

    def flags(name: str) -> Bools:
        return np.asarray(aligned(name) == 1, dtype=bool)  # NULL (NaN) -> False

    return Screening(
        previous=Previous(
            at=np.nan_to_num(aligned("at"), nan=NO_TIME).astype(np.int64),
            value=aligned("value"),
        ),
        bounds=Bounds(low=aligned("min"), high=aligned("max"), rate=aligned("rate")),
        alarm=flags("alarm"),
        online=flags("online"),
        has_open=flags("has_open"),
    )
