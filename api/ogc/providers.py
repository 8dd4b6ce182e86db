"""Providers: the one interface between the OGC routes and where features live.

In the style of pygeoapi's ``BaseProvider``: a provider answers
:meth:`Provider.query` with a :class:`Page` (a GeoDataFrame of items in CRS84
plus ``number_matched``), :meth:`Provider.get` for one item and
:meth:`Provider.iter_batches` for exports that must not hold every row.

:class:`BoundaryProvider` serves one level of the boundary registry (districts,
streets, communities, grids) from memory; the store-backed provider lives in
:mod:`api.ogc.store_provider`.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from cityaware.geo.boundaries.schema import CORE_COLUMNS
from cityaware.geo.errors import InvalidInput, NotFound
from cityaware.geo.predicates import CqlTree, FrameTarget, compile_filter

Bbox = tuple[float, float, float, float]


@dataclass
class ItemQuery:
    """Everything an items request can ask for, already validated; geometry in CRS84."""

    bbox: Bbox | None = None
    datetime: tuple[pd.Timestamp | None, pd.Timestamp | None] | None = None
    filter: CqlTree | None = None
    region: str | None = None
    properties: list[str] | None = None
    sortby: list[tuple[str, bool]] = field(default_factory=list)
    limit: int = 10
    offset: int = 0
    generation: str | None = None
    #: an opaque position from an earlier page's ``next_cursor`` (wins over ``offset``)
    cursor: str | None = None


@dataclass
class Page:
    """One page of items: a GeoDataFrame with ``id``, properties and CRS84 geometry."""

    items: gpd.GeoDataFrame
    number_matched: int
    #: where the next page starts (keyset: as cheap at any depth), or ``None`` for offsets
    next_cursor: str | None = None


class Provider(ABC):
    """Where one collection's features come from."""

    #: JSON Schema of each queryable property (without ``geometry``)
    fields: dict[str, dict[str, Any]]
    #: property that ``datetime`` filters on, or ``None``
    temporal_field: str | None = None
    #: the one GeoJSON geometry type of every item (clients type a layer from it)
    geometry_type: str = "Point"

    @abstractmethod
    def query(self, query: ItemQuery) -> Page:
        """One page of matching items and the total number matched."""

    @abstractmethod
    def get(self, item_id: str, generation: str | None = None) -> gpd.GeoDataFrame:
        """A one-row frame for ``item_id``; :class:`NotFound` when absent."""

    @abstractmethod
    def iter_batches(self, query: ItemQuery, batch_size: int) -> Iterator[gpd.GeoDataFrame]:
        """Every matching item (ignoring limit/offset), a bounded batch at a time."""

    @abstractmethod
    def extent(self, generation: str | None = None) -> tuple[Bbox | None, list[str | None]]:
        """Spatial bbox in CRS84 and temporal interval (ISO strings or ``None``)."""

    def version(self, generation: str | None = None) -> str | None:
        """A tag of what the items are now (it changes with every write); ``None``: unknown."""
        return None

    def check_properties(self, names: list[str] | None) -> None:
        """Raise :class:`InvalidInput` for property names the collection lacks."""
        unknown = sorted(set(names or ()) - set(self.fields))
        if unknown:
            raise InvalidInput(f"unknown properties {unknown}; known: {sorted(self.fields)}")


def as_multipolygons(geometries: Any) -> Any:
    """Polygons promoted to one-part MultiPolygons (others unchanged; same area, same shape).

    >>> [g.geom_type for g in as_multipolygons([shapely.box(0, 0, 1, 1), None])[:1]]
    ['MultiPolygon']
    """
    values = np.array(geometries, dtype=object)
    polygons = shapely.get_type_id(values) == shapely.GeometryType.POLYGON
    values[polygons] = shapely.multipolygons(values[polygons], indices=np.arange(polygons.sum()))
    return values


class BoundaryProvider(Provider):
    """One level (``district`` … ``grid``) of the boundary registry, served from memory.

    The frame of a generation is read once and cached until another generation
    becomes active.
    """

    fields = {name: {"type": "string", "title": name} for name in CORE_COLUMNS}
    geometry_type = "MultiPolygon"  # units mix Polygon and MultiPolygon: one type for clients

    def __init__(self, registry: Any, level: str) -> None:
        self.registry = registry
        self.level = level
        self._cache: dict[str, gpd.GeoDataFrame] = {}
        self._lock = threading.Lock()

    def frame(self, generation: str | None = None) -> gpd.GeoDataFrame:
        """The level's units of ``generation`` (active when ``None``), sorted by code."""
        key = generation or self.registry.active()
        if key is None:
            raise NotFound("no boundary generation is active; import boundaries first")
        with self._lock:
            if key not in self._cache:
                units = self.registry.units(generation=key, level=self.level)
                units = units.sort_values("code", kind="stable").reset_index(drop=True)
                units.insert(0, "id", units["code"].astype(str))
                if generation is None:
                    self._cache.clear()
                self._cache[key] = units
            return self._cache[key]

    def version(self, generation: str | None = None) -> str | None:
        return generation or self.registry.active()  # a generation's units never change

    def _matching(self, query: ItemQuery) -> gpd.GeoDataFrame:
        frame = self.frame(query.generation)
        mask = pd.Series(True, index=frame.index)
        if query.bbox is not None:
            hits = frame.sindex.query(shapely.box(*query.bbox), predicate="intersects")
            mask &= frame.index.isin(hits)
        if query.region:
            mask &= frame["code"].str.startswith(query.region) | (
                frame["managing_zone"] == query.region
            )
        if query.filter is not None:
            target = FrameTarget(frame, [*self.fields, "geometry"])
            mask &= compile_filter(query.filter, target)
        selected = frame[mask]
        if query.sortby:
            names, ascending = zip(*query.sortby, strict=True)
            self.check_properties(list(names))
            selected = selected.sort_values(list(names), ascending=list(ascending), kind="stable")
        return selected

    def _shape(self, frame: gpd.GeoDataFrame, properties: list[str] | None) -> gpd.GeoDataFrame:
        keep = list(self.fields) if properties is None else properties
        shaped = frame[["id", *keep, "geometry"]].reset_index(drop=True)
        promoted = as_multipolygons(shaped.geometry.values)
        shaped["geometry"] = gpd.GeoSeries(promoted, index=shaped.index, crs=frame.crs)
        return shaped

    def query(self, query: ItemQuery) -> Page:
        self.check_properties(query.properties)
        selected = self._matching(query)
        page = selected.iloc[query.offset : query.offset + query.limit]
        return Page(self._shape(page, query.properties), len(selected))

    def get(self, item_id: str, generation: str | None = None) -> gpd.GeoDataFrame:
        frame = self.frame(generation)
        row = frame[frame["id"] == item_id]
        if row.empty:
            raise NotFound(f"no {self.level} with code {item_id!r}")
        return self._shape(row, None)

    def iter_batches(self, query: ItemQuery, batch_size: int) -> Iterator[gpd.GeoDataFrame]:
        self.check_properties(query.properties)
        selected = self._matching(query)
        for start in range(0, len(selected), batch_size):
            yield self._shape(selected.iloc[start : start + batch_size], query.properties)

    def extent(self, generation: str | None = None) -> tuple[Bbox | None, list[str | None]]:
        if generation is None and self.registry.active() is None:
            return None, [None, None]
        frame = self.frame(generation)
        if frame.empty:
            return None, [None, None]
        return tuple(float(v) for v in frame.total_bounds), [None, None]  # type: ignore[return-value]
