"""Small boundary fixtures built in metres (EPSG:4547) around Zhengzhou, stored in lon/lat."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from pyproj import Transformer

from tests.units import unit_record

METRIC = "EPSG:4547"
ORIGIN = (468_000.0, 3_846_000.0)  # about 113.65°E 34.75°N in CGCS2000 / GK CM 114E
_TO_LONLAT = Transformer.from_crs(METRIC, "EPSG:4326", always_xy=True)
_TO_METRIC = Transformer.from_crs("EPSG:4326", METRIC, always_xy=True)


def box_m(x0: float, y0: float, x1: float, y1: float) -> shapely.Polygon:
    """A rectangle given in metres relative to ORIGIN, in EPSG:4547."""
    return shapely.box(ORIGIN[0] + x0, ORIGIN[1] + y0, ORIGIN[0] + x1, ORIGIN[1] + y1)


def to_lonlat(geom: shapely.Geometry) -> shapely.Geometry:
    return shapely.transform(geom, lambda xy: np.column_stack(_TO_LONLAT.transform(*xy.T)))


def to_metric(geom: shapely.Geometry) -> shapely.Geometry:
    return shapely.transform(geom, lambda xy: np.column_stack(_TO_METRIC.transform(*xy.T)))


def units_frame(rows: list[tuple]) -> gpd.GeoDataFrame:
    """rows: (code, level, parent_code, metric geometry[, name[, attributes dict]])."""
    records = []
    for row in rows:
        code, level, parent, geom, *rest = row
        name = rest[0] if rest else f"unit {code}"
        attributes = rest[1] if len(rest) > 1 else {}
        if level == "grid" and len(rest) < 2:
            attributes = {"worker": "王芳", "phone": "13800000000", "office": "网格办"}
        records.append(
            unit_record(code, name, level, parent, to_lonlat(geom), attributes=attributes)
        )
    return gpd.GeoDataFrame(records, geometry="geometry", crs="EPSG:4326")
