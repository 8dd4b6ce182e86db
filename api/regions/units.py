"""Boundary units by code: the record, the geometry (optionally simplified) and the children.

A functional-zone code (named in the city profile) has no outline of its own: it is
answered as a ``zone`` whose children are the streets it manages and whose
geometry is their union.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import geopandas as gpd
import shapely

from cityaware.api.ogc.providers import BoundaryProvider
from cityaware.geo.boundaries.schema import LEVELS
from cityaware.geo.crs import metric_crs_of_bounds
from cityaware.geo.errors import InvalidInput, NotFound

CHILD_LEVEL = dict(zip(LEVELS, (*LEVELS[1:], None), strict=True))


class Units:
    """Look units up across the four boundary providers of one catalog; ``zone_names``
    gives a generation's functional zone names (from its city profile)."""

    def __init__(
        self,
        providers: dict[str, BoundaryProvider],
        zone_names: Callable[[str | None], Mapping[str, str]] = lambda generation: {},
    ) -> None:
        self.providers = providers  # by level
        self.zone_names = zone_names

    def _all(self, generation: str | None) -> list[gpd.GeoDataFrame]:
        return [self.providers[level].frame(generation) for level in LEVELS]

    def unit(self, code: str, generation: str | None = None) -> gpd.GeoDataFrame:
        """A one-row frame for ``code`` (a unit, or a functional zone); NotFound otherwise."""
        for frame in self._all(generation):
            row = frame[frame["code"] == code]
            if not row.empty:
                return row
        streets = self.providers["street"].frame(generation)
        managed = streets[streets["managing_zone"] == code]
        if managed.empty:
            raise NotFound(f"no unit or functional zone with code {code!r}")
        zone = {
            "id": code,
            "code": code,
            "name": self.zone_names(generation).get(code, f"functional zone {code}"),
            "level": "zone",
            "parent_code": "",
            "code_system": managed["code_system"].iloc[0],
            "code_version": managed["code_version"].iloc[0],
            "managing_zone": code,
            "attributes": "{}",
        }
        geometry = shapely.union_all(managed.geometry.values)
        return gpd.GeoDataFrame([zone], geometry=[geometry], crs=streets.crs)

    def children(self, code: str, generation: str | None = None) -> gpd.GeoDataFrame:
        """The units one level below ``code`` (streets managed by a zone)."""
        unit = self.unit(code, generation).iloc[0]
        if unit["level"] == "zone":
            streets = self.providers["street"].frame(generation)
            return streets[streets["managing_zone"] == code]
        child = CHILD_LEVEL[unit["level"]]
        if child is None:
            return self.providers["grid"].frame(generation).iloc[0:0]
        frame = self.providers[child].frame(generation)
        return frame[frame["parent_code"] == code]


def record(unit: gpd.GeoDataFrame, child_count: int) -> dict[str, Any]:
    """The JSON record of a one-row unit frame: fields, parsed attributes, bbox, area."""
    row = unit.iloc[0]
    area_km2 = float(unit.to_crs(_metric_crs(unit)).area.iloc[0]) / 1e6
    out = {name: row[name] for name in BoundaryProvider.fields if name != "attributes"}
    out["attributes"] = json.loads(row["attributes"] or "{}")
    out["bbox"] = [float(v) for v in unit.total_bounds]
    out["area_km2"] = round(area_km2, 4)
    out["child_count"] = int(child_count)
    return out


def simplified(unit: gpd.GeoDataFrame, metres: float | None) -> gpd.GeoDataFrame:
    """The unit with its outline simplified to ``metres`` tolerance (in the metric CRS).

    >>> import shapely, geopandas as gpd
    >>> wiggly = shapely.Polygon([(114.3, 34.8), (114.35, 34.80001), (114.4, 34.8), (114.4, 34.9)])
    >>> frame = gpd.GeoDataFrame(geometry=[wiggly], crs="EPSG:4326")
    >>> len(simplified(frame, 50).geometry.iloc[0].exterior.coords)
    4
    """
    if metres is None or metres == 0:
        return unit
    if metres < 0:
        raise InvalidInput(f"simplify must be a tolerance in metres >= 0, got {metres}")
    if unit.crs is None:
        raise InvalidInput("simplify needs units with a CRS")
    metric = unit.to_crs(_metric_crs(unit))
    metric = metric.set_geometry(metric.geometry.simplify(metres, preserve_topology=True))
    return metric.to_crs(unit.crs)


def _metric_crs(unit: gpd.GeoDataFrame) -> str:
    """The Gauss-Krüger zone of the unit's longitude (areas and tolerances in metres)."""
    return metric_crs_of_bounds(unit.to_crs("EPSG:4326").total_bounds)
