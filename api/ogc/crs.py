"""Coordinate reference systems of the OGC API (Part 2): URIs, axis order, reprojection.

Storage is CRS84 (lon/lat). Output and ``bbox-crs`` input follow each CRS's
*authority* axis order, as OGC API Features Part 2 requires: EPSG:4326 and
EPSG:4490 are lat/lon, the Gauss-Krüger zones are northing/easting.

Offered: CRS84, WGS84, CGCS2000, every CGCS2000 3-degree Gauss-Krüger zone
(EPSG:4513-4533 with the zone number in the easting, 4534-4554 without, central
meridians 75°E-135°E) and the WGS84 UTM north zones over China (EPSG:32643-32653),
so any Chinese city is served in its own metric CRS.

>>> to_uri("EPSG:4326")
'http://www.opengis.net/def/crs/EPSG/0/4326'
>>> bbox_to_crs84((34.8, 114.3, 34.9, 114.4), "http://www.opengis.net/def/crs/EPSG/0/4326")
(114.3, 34.8, 114.4, 34.9)
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import shapely
from pyproj import CRS, Transformer

from cityaware.geo.errors import InvalidInput

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
_EPSG_PREFIX = "http://www.opengis.net/def/crs/EPSG/0/"
GAUSS_KRUGER_3_DEGREE = range(4513, 4555)  # CGCS2000 3-degree zones 25-45, then CM 75E-135E
UTM_NORTH_CHINA = range(32643, 32654)  # WGS84 / UTM zones 43N-53N
SUPPORTED_CRS: tuple[str, ...] = (
    CRS84,
    _EPSG_PREFIX + "4326",
    _EPSG_PREFIX + "4490",
    *(_EPSG_PREFIX + str(code) for code in (*GAUSS_KRUGER_3_DEGREE, *UTM_NORTH_CHINA)),
)


def to_uri(name: str) -> str:
    """Turn ``EPSG:4326``, ``CRS84`` or a URI into the OGC URI form."""
    text = name.strip()
    if text.upper() in ("CRS84", "OGC:CRS84"):
        return CRS84
    if text.upper().startswith("EPSG:"):
        return _EPSG_PREFIX + text.split(":", 1)[1]
    if text.startswith("[") and text.endswith("]"):  # safe CURIE, e.g. [EPSG:4326]
        return to_uri(text[1:-1])
    return text.replace("https://", "http://", 1)


def check_crs(value: str | None, param: str) -> str:
    """Validate a ``crs`` / ``bbox-crs`` parameter value; CRS84 when missing."""
    if value is None or value == "":
        return CRS84
    uri = to_uri(value)
    if uri not in SUPPORTED_CRS:
        raise InvalidInput(f"{param} {value!r} is not supported; use one of {list(SUPPORTED_CRS)}")
    return uri


@lru_cache(maxsize=16)
def _transformer(source: str, target: str) -> Transformer:
    return Transformer.from_crs(_pyproj_crs(source), _pyproj_crs(target))


def _pyproj_crs(uri: str) -> CRS:
    if uri == CRS84:
        return CRS.from_user_input("OGC:CRS84")
    return CRS.from_user_input("EPSG:" + uri.rsplit("/", 1)[1])


def bbox_to_crs84(bbox: tuple[float, ...], bbox_crs: str) -> tuple[float, float, float, float]:
    """Turn a 4-value ``bbox`` given in ``bbox_crs`` (authority axis order) into CRS84."""
    if bbox_crs == CRS84:
        return tuple(float(v) for v in bbox)  # type: ignore[return-value]
    transformer = _transformer(bbox_crs, CRS84)
    left, bottom, right, top = bbox
    lon0, lat0, lon1, lat1 = transformer.transform_bounds(left, bottom, right, top, densify_pts=21)
    return (lon0, lat0, lon1, lat1)


def reproject(geometries: np.ndarray, crs: str) -> np.ndarray:
    """Reproject CRS84 shapely geometries to ``crs`` in its authority axis order."""
    if crs == CRS84:
        return geometries
    transformer = _transformer(CRS84, crs)

    def _apply(coords: np.ndarray) -> np.ndarray:
        a, b = transformer.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([a, b])

    return shapely.transform(geometries, _apply)


def point_to_crs84(x: float, y: float, crs: str) -> tuple[float, float]:
    """Turn one point given in ``crs`` (a supported URI, authority axis order) into CRS84.

    >>> point_to_crs84(30.5, 101.5, _EPSG_PREFIX + "4326")
    (101.5, 30.5)
    """
    if crs == CRS84:
        return float(x), float(y)
    lon, lat = _transformer(crs, CRS84).transform(x, y)
    return float(lon), float(lat)
