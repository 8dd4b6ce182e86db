"""The feature store (incidents, cameras, sensors) as an OGC API provider.

Filters become one :class:`geo.store.FeatureFilter`: ``bbox``, ``datetime``
(on ``reported_at``) and ``region`` map to its fields, and CQL2 is compiled
by :class:`api.ogc.filters.SqlBackend` into its ``where`` clause over the
store's columns: bound parameters only, never SQL text from the request.

>>> StoreProvider.__name__
'StoreProvider'
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import geopandas as gpd
import orjson
import pandas as pd
import shapely
import sqlalchemy as sa

from cityaware.api.ogc.filters import SqlBackend, compile_filter
from cityaware.api.ogc.providers import Bbox, ItemQuery, Page, Provider
from cityaware.geo.errors import InvalidInput
from cityaware.geo.store import FeatureFilter
from cityaware.geo.store.schema import ASSIGNMENT_COLUMNS, KIND_FIELDS

_TIME = {"type": "string", "format": "date-time"}
_TYPES: dict[str, dict[str, Any]] = {
    "reported_at": _TIME,
    "created_at": _TIME,
    "updated_at": _TIME,
    "reading_at": _TIME,
    "online": {"type": "boolean"},
    "alarm": {"type": "boolean"},
    "reading_value": {"type": "number"},
    "alarm_low": {"type": "number"},
    "alarm_high": {"type": "number"},
    "distance_m": {"type": "number"},
}
_HIDDEN = ("candidates", "nearest_grid")
TIME_COLUMNS = ("reported_at", "created_at", "updated_at", "reading_at")


def kind_fields(kind: str) -> dict[str, dict[str, Any]]:
    """JSON Schema of each property of ``kind`` (its own fields, times, assignment)."""
    names = [
        *KIND_FIELDS[kind],
        *(("alarm",) if kind == "sensors" else ()),
        "reported_at",
        "created_at",
        "updated_at",
        *(c for c in ASSIGNMENT_COLUMNS if c not in _HIDDEN),
        "attributes",
    ]
    return {n: {**_TYPES.get(n, {"type": "string"}), "title": n} for n in names}


class StoreProvider(Provider):
    """One kind of the feature store; ``store`` is a :class:`geo.store.FeatureStore`."""

    temporal_field = "reported_at"

    def __init__(self, store: Any, kind: str) -> None:
        self.store = store
        self.kind = kind
        self.fields = kind_fields(kind)
        self._extent: tuple[int, tuple[Bbox | None, list[str | None]]] | None = None

    # -- filters -----------------------------------------------------------
    def feature_filter(self, query: ItemQuery) -> FeatureFilter:
        """The store filter for ``query`` (CQL2 compiled into its ``where``)."""
        where = None
        if query.filter is not None:
            columns = {name: self.store.columns[name] for name in self.fields}
            columns["geometry"] = None
            backend = SqlBackend(columns, TIME_COLUMNS, self._spatial)
            where = compile_filter(query.filter, backend)
        since, until = query.datetime or (None, None)
        return FeatureFilter(
            bbox=query.bbox,
            region=query.region,
            since=None if since is None else int(since.value // 1_000_000),
            until=None if until is None else int(until.value // 1_000_000),
            where=where,
        )

    def _spatial(self, op: str, geometry: shapely.Geometry) -> Any:
        backend, features = self.store.backend, self.store.features
        inside = sa.and_(
            backend.index_prefilter(features, *geometry.bounds),
            backend.intersects(features, geometry),
        )
        if op in ("s_intersects", "s_within"):
            return inside
        if op == "s_disjoint":
            return sa.not_(inside)
        raise InvalidInput(f"filter: {op} is not supported on point collections")

    # -- frames ------------------------------------------------------------
    def _frame(self, records: list[dict[str, Any]], properties: list[str] | None):
        keep = list(self.fields) if properties is None else properties
        table = pd.DataFrame.from_records(records, columns=["id", "lon", "lat", *self.fields])
        if "attributes" in keep:
            table["attributes"] = [orjson.dumps(a or {}).decode() for a in table["attributes"]]
        for name in TIME_COLUMNS:
            if name in keep:
                table[name] = pd.to_datetime(table[name], utc=True, format="ISO8601")
        geometry = gpd.points_from_xy(table["lon"], table["lat"])
        return gpd.GeoDataFrame(table[["id", *keep]], geometry=geometry)

    # -- Provider ----------------------------------------------------------
    def query(self, query: ItemQuery) -> Page:
        self.check_properties(query.properties)
        sortby = [("" if asc else "-") + name for name, asc in query.sortby]
        page = self.store.query(
            self.kind,
            self.feature_filter(query),
            limit=query.limit,
            offset=query.offset,
            sortby=sortby,
        )
        return Page(self._frame(page.items, query.properties), page.number_matched)

    def get(self, item_id: str, generation: str | None = None) -> gpd.GeoDataFrame:
        return self._frame([self.store.get(self.kind, item_id)], None)

    def iter_batches(self, query: ItemQuery, batch_size: int) -> Iterator[gpd.GeoDataFrame]:
        self.check_properties(query.properties)
        for batch in self.store.iter_features(self.kind, self.feature_filter(query), batch_size):
            yield self._frame(batch, query.properties)

    def extent(self, generation: str | None = None) -> tuple[Bbox | None, list[str | None]]:
        version = self.store.data_version()
        if self._extent is None or self._extent[0] != version:
            self._extent = (version, self._measure_extent())
        return self._extent[1]

    def _measure_extent(self) -> tuple[Bbox | None, list[str | None]]:
        c = self.store.columns
        stmt = sa.select(
            sa.func.min(c.lon), sa.func.min(c.lat), sa.func.max(c.lon), sa.func.max(c.lat),
            sa.func.min(c.reported_at), sa.func.max(c.reported_at),
        ).where(c.kind == self.kind)  # fmt: skip
        with self.store.backend.read() as conn:
            row = conn.execute(stmt).one()
        if row[0] is None:
            return None, [None, None]
        interval = [None if v is None else _iso(v) for v in row[4:]]
        return (row[0], row[1], row[2], row[3]), interval


def _iso(ms: int) -> str:
    return pd.Timestamp(int(ms), unit="ms", tz="UTC").isoformat().replace("+00:00", "Z")
