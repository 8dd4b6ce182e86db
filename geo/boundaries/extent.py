"""The city's extent: the bounds of a boundary generation plus a margin, for writes.

A point far outside the city (a typo, swapped digits, a client defaulting to
another city) must not be stored: it would stretch every extent computed from
the data. Points inside the margin but outside every grid keep their usual
answer (stored as ``outside`` with the nearest grid).

>>> extent = CityExtent((101.4, 30.4, 101.5, 30.5), margin_m=5000)
>>> extent.contains(101.53, 30.45), extent.contains(116.4, 39.9)
(True, False)
>>> extent.check(116.4, 39.9)
Traceback (most recent call last):
cityaware.geo.boundaries.extent.OutsideCity: the point (116.400000, 39.900000) is outside \
the city's extent [101.4, 30.4, 101.5, 30.5] plus a 5000 m margin
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cityaware.geo.errors import Unprocessable

if TYPE_CHECKING:  # settings import this module: a file command must not load geopandas
    import geopandas as gpd

#: how far outside the city's bounds a written point may lie (metres)
DEFAULT_MARGIN_M = 5000.0
_M_PER_DEGREE = 111_320.0  # along a meridian, and along the equator

Bbox = tuple[float, float, float, float]


class OutsideCity(Unprocessable):
    """A point to be written lies outside the city's extent plus the margin."""

    code = "OutsideCityExtent"


@dataclass(frozen=True)
class CityExtent:
    """Lon/lat ``bbox`` of the city's units and the ``margin_m`` allowed around it."""

    bbox: Bbox
    margin_m: float = DEFAULT_MARGIN_M

    @classmethod
    def of_units(cls, units: gpd.GeoDataFrame, margin_m: float = DEFAULT_MARGIN_M) -> CityExtent:
        """The extent of a units frame (EPSG:4326).

        >>> import geopandas as gpd, shapely
        >>> units = gpd.GeoDataFrame(geometry=[shapely.box(1, 2, 3, 4)], crs=4326)
        >>> CityExtent.of_units(units, 10).bbox
        (1.0, 2.0, 3.0, 4.0)
        """
        west, south, east, north = (float(v) for v in units.total_bounds)
        return cls((west, south, east, north), float(margin_m))

    def padded(self) -> Bbox:
        """``bbox`` grown by the margin (longitudes at the latitude farthest from the equator,
        so the margin is at least ``margin_m`` everywhere).

        >>> [round(v, 4) for v in CityExtent((0.0, 0.0, 1.0, 1.0), 11_132).padded()]
        [-0.1, -0.1, 1.1, 1.1]
        """
        west, south, east, north = self.bbox
        dlat = self.margin_m / _M_PER_DEGREE
        widest = max(abs(south), abs(north))
        dlon = self.margin_m / (_M_PER_DEGREE * max(math.cos(math.radians(widest)), 1e-6))
        return west - dlon, max(south - dlat, -90.0), east + dlon, min(north + dlat, 90.0)

    def contains(self, lon: float, lat: float) -> bool:
        """Whether (``lon``, ``lat``) lies inside the padded extent."""
        west, south, east, north = self.padded()
        return west <= lon <= east and south <= lat <= north

    def check(self, lon: float, lat: float) -> None:
        """Raise :class:`OutsideCity` (422) when the point is outside the padded extent."""
        if not self.contains(lon, lat):
            bounds = [round(v, 6) for v in self.bbox]
            raise OutsideCity(
                f"the point ({lon:.6f}, {lat:.6f}) is outside the city's extent {bounds} "
                f"plus a {self.margin_m:.0f} m margin"
            )
