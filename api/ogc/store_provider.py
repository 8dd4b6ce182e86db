"""The feature store (incidents, cameras, sensors) as an OGC API provider.

Filters become one :class:`geo.store.FeatureFilter`: ``bbox``, ``datetime``
(on ``reported_at``) and ``region`` map to its fields, and the parsed CQL2
tree goes down as its ``cql2``: the store compiles it to its own columns
(:mod:`geo.store.cql2`), bound parameters only, never SQL text from the request.

>>> kind_fields("cameras")["online"]
{'type': 'boolean', 'title': 'online'}
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import geopandas as gpd
import orjson
import pandas as pd

from cityaware.api.ogc.providers import Bbox, ItemQuery, Page, Provider
from cityaware.geo.store import FeatureFilter, FeatureStore
from cityaware.geo.store.cql2 import property_schema
from cityaware.geo.store.schema import TIME_COLUMNS
from cityaware.geo.store.times import from_ms


def kind_fields(kind: str) -> dict[str, dict[str, Any]]:
    """JSON Schema of each property of ``kind`` (its own fields, times, assignment).

    >>> list(kind_fields("cameras"))[:3]
    ['name', 'device_kind', 'online']
    """
    return {name: {**spec, "title": name} for name, spec in property_schema(kind).items()}


class StoreProvider(Provider):
    """One kind of the feature store."""

    temporal_field = "reported_at"

    def __init__(self, store: FeatureStore, kind: str) -> None:
        self.store = store
        self.kind = kind
        self.fields = kind_fields(kind)
        self._numbers = {n for n, spec in self.fields.items() if spec["type"] == "number"}
        self._extent: tuple[int, tuple[Bbox | None, list[str | None]]] | None = None

    # -- filters -----------------------------------------------------------
    def feature_filter(self, query: ItemQuery) -> FeatureFilter:
        """The store filter for ``query`` (its CQL2 tree compiled by the store)."""
        since, until = query.datetime or (None, None)
        return FeatureFilter(
            bbox=query.bbox,
            region=query.region,
            since=None if since is None else int(since.value // 1_000_000),
            until=None if until is None else int(until.value // 1_000_000),
            cql2=query.filter,
        )

    # -- frames ------------------------------------------------------------
    def _frame(
        self, records: list[dict[str, Any]], properties: list[str] | None
    ) -> gpd.GeoDataFrame:
        keep = list(self.fields) if properties is None else properties
        table = pd.DataFrame.from_records(records, columns=["id", "lon", "lat", *self.fields])
        if "attributes" in keep:
            table["attributes"] = [orjson.dumps(a or {}).decode() for a in table["attributes"]]
        for name in TIME_COLUMNS:
            if name in keep:
                table[name] = pd.to_datetime(table[name], utc=True, format="ISO8601")
        for name in self._numbers.intersection(keep):  # JSON numbers (null when unset)
            table[name] = pd.to_numeric(table[name]).astype("float64")
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
            cursor=query.cursor,
            sortby=sortby,
        )
        return Page(self._frame(page.items, query.properties), page.number_matched, page.next)

    def version(self, generation: str | None = None) -> str | None:
        return f"{self.kind}@{self.store.data_version()}"

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
        extent = self.store.extent(self.kind)
        if extent.bbox is None:
            return None, [None, None]
        interval = [None if v is None else from_ms(v) for v in (extent.first_ms, extent.last_ms)]
        return extent.bbox, interval
