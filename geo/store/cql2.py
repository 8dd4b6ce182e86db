"""CQL2 filters compiled to SQL over the store's own columns (bound parameters only).

A caller passes the parsed CQL2 JSON tree as ``FeatureFilter(cql2=...)``;
:func:`cql2_clause` turns it into one SQLAlchemy clause over the
``features`` table of one kind. Only :func:`queryables` may be named, time
columns (epoch milliseconds) compare with ``TIMESTAMP``/``DATE`` literals,
and the geometry takes ``s_intersects``, ``s_within`` and ``s_disjoint``.

>>> from cityaware.geo.store.schema import build_metadata
>>> backend, features = Backend(sa.create_engine("sqlite://")), build_metadata()[1]["features"]
>>> tree = {"op": "=", "args": [{"property": "status"}, "received"]}
>>> print(cql2_clause(backend, features, "incidents", tree))
features.status = :status_1
"""

from __future__ import annotations

import functools
from typing import Any

import pandas as pd
import shapely
import sqlalchemy as sa

from cityaware.geo.errors import InvalidInput
from cityaware.geo.predicates import CqlTree, compile_filter, unknown_queryable
from cityaware.geo.store.dialect import Backend
from cityaware.geo.store.schema import (
    ASSIGNMENT_COLUMNS,
    DERIVED_FIELDS,
    KIND_FIELDS,
    TIME_COLUMNS,
    build_metadata,
)

GEOMETRY = "geometry"
_HIDDEN = ("candidates", "nearest_grid")


def queryables(kind: str) -> tuple[str, ...]:
    """The properties of ``kind`` a filter may name (besides ``geometry``), in schema order.

    >>> queryables("cameras")[:5]
    ('name', 'device_kind', 'online', 'reported_at', 'created_at')
    """
    return (
        *KIND_FIELDS[kind],
        *DERIVED_FIELDS[kind],
        "reported_at",
        "created_at",
        "updated_at",
        *(c for c in ASSIGNMENT_COLUMNS if c not in _HIDDEN),
        "attributes",
    )


@functools.cache
def property_schema(kind: str) -> dict[str, dict[str, str]]:
    """JSON Schema type of each of ``kind``'s :func:`queryables`, read from the store's column
    types: floats are numbers, booleans booleans, time columns (epoch ms) date-time strings.

    >>> property_schema("sensors")["reading_value"], property_schema("incidents")["distance_m"]
    ({'type': 'number'}, {'type': 'number'})
    >>> property_schema("cameras")["online"], property_schema("cameras")["reported_at"]
    ({'type': 'boolean'}, {'type': 'string', 'format': 'date-time'})
    """
    columns = build_metadata()[1]["features"].c
    return {name: _json_type(name, columns[name].type) for name in queryables(kind)}


def _json_type(name: str, column_type: sa.types.TypeEngine[Any]) -> dict[str, str]:
    if name in TIME_COLUMNS:
        return {"type": "string", "format": "date-time"}
    if isinstance(column_type, sa.Boolean):
        return {"type": "boolean"}
    if isinstance(column_type, sa.Float):
        return {"type": "number"}
    if isinstance(column_type, sa.Integer):
        return {"type": "integer"}
    return {"type": "string"}


def cql2_clause(
    backend: Backend, features: sa.Table, kind: str, tree: CqlTree
) -> sa.ColumnElement[bool]:
    """One clause selecting the ``kind`` rows of ``features`` that match the CQL2 ``tree``.

    >>> from cityaware.geo.store.schema import build_metadata
    >>> features = build_metadata()[1]["features"]
    >>> day = {"timestamp": "1970-01-02T00:00:00Z"}
    >>> tree = {"op": ">=", "args": [{"property": "reported_at"}, day]}
    >>> clause = cql2_clause(Backend(sa.create_engine("sqlite://")), features, "incidents", tree)
    >>> clause.right.value
    86400000
    """
    clause: sa.ColumnElement[bool] = compile_filter(tree, SqlTarget(backend, features, kind))
    return clause


class SqlTarget:
    """The :class:`geo.predicates.Target` for one kind of the store's ``features`` table."""

    def __init__(self, backend: Backend, features: sa.Table, kind: str) -> None:
        self.backend = backend
        self.features = features
        self.names = set(queryables(kind))

    def column(self, name: str) -> Any:
        if name == GEOMETRY:
            return None  # only spatial operators use it (see :meth:`spatial`)
        if name not in self.names:
            raise unknown_queryable(name)
        return self.features.c[name]

    def like(self, column: Any, pattern: str) -> Any:
        return column.like(pattern, escape="\\")

    def isin(self, column: Any, values: list[Any]) -> Any:
        return column.in_(values)

    def is_null(self, column: Any) -> Any:
        return column.is_(None)

    def literal(self, prop: str | None, value: Any) -> Any:
        is_time = isinstance(value, pd.Timestamp)
        if prop in TIME_COLUMNS and is_time:
            return int(value.value // 1_000_000)
        if prop in TIME_COLUMNS and isinstance(value, str):
            raise InvalidInput(f"filter: compare {prop!r} with TIMESTAMP('...') or DATE('...')")
        if is_time:
            raise InvalidInput(f"filter: {prop!r} is not a time; compare it with a text or number")
        if isinstance(value, dict | list):
            raise InvalidInput(f"filter: {value!r} cannot be compared with {prop!r}")
        return value

    def constant(self, value: bool) -> Any:
        return sa.true() if value else sa.false()

    def spatial(self, op: str, geometry: shapely.Geometry) -> Any:
        inside = sa.and_(
            self.backend.index_prefilter(self.features, *shapely.bounds(geometry).tolist()),
            self.backend.intersects(self.features, geometry),
        )
        if op in ("s_intersects", "s_within"):
            return inside
        if op == "s_disjoint":
            return sa.not_(inside)
        raise InvalidInput(f"filter: {op} is not supported on point collections")
