"""Address points: roads with house numbers, compounds and landmarks.

Two frames, both EPSG:4326:

``roads``   name, number_from, number_to, geometry (LineString). Odd numbers
            run along the left side, even along the right, evenly spaced.
``places``  kind ('compound' | 'landmark'), name, category (小区, 医院, ...),
            geometry (Point).

For a real city, :func:`read_address_points` imports them from a GeoPackage
(layers ``roads`` and ``places`` with those columns) or from CSV files
(``roads.csv`` with a ``wkt`` column instead of geometry, ``places.csv``
with ``lon`` and ``lat``). For the demo city,
:func:`geo.demo.addresses.demo_address_points` generates them inside its units.

>>> numbered_points(LineString([(0, 0), (100, 0)]), 1, 4, offset_m=10.0)[1]
(2, 25.0, -10.0)
"""

from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import LineString

from cityaware.geo.arrays import ObjectArray
from cityaware.geo.boundaries.schema import STORAGE_CRS
from cityaware.geo.errors import InvalidInput

ROAD_COLUMNS = ("name", "number_from", "number_to")
PLACE_COLUMNS = ("kind", "name", "category")
NUMBER_SPACING_M = 30.0
SIDE_OFFSET_M = 12.0


def numbered_points(
    line: LineString, number_from: int, number_to: int, offset_m: float = SIDE_OFFSET_M
) -> list[tuple[int, float, float]]:
    """House numbers along a metric ``line``: (number, x, y), odd left, even right."""
    numbers = np.arange(number_from, number_to + 1)
    count = max(1, math.ceil(len(numbers) / 2))
    step = line.length / count
    along = np.minimum(line.length, ((numbers - number_from) // 2 + 0.5) * step)
    here = shapely.get_coordinates(shapely.line_interpolate_point(line, along))
    ahead = shapely.get_coordinates(
        shapely.line_interpolate_point(line, np.minimum(line.length, along + 1.0))
    )
    behind = shapely.get_coordinates(
        shapely.line_interpolate_point(line, np.maximum(0.0, along - 1.0))
    )
    direction = ahead - behind
    norm = np.hypot(direction[:, 0], direction[:, 1])
    norm[norm == 0] = 1.0
    side = np.where(numbers % 2 == 1, 1.0, -1.0) * offset_m / norm
    x = here[:, 0] - side * direction[:, 1]
    y = here[:, 1] + side * direction[:, 0]
    return list(zip(numbers.tolist(), x.tolist(), y.tolist(), strict=True))


def road_crossings(lines: ObjectArray) -> list[tuple[int, int, float, float]]:
    """Where two metric roads cross once: (road i, road j, x, y) with i < j."""
    tree = shapely.STRtree(lines)
    left, right = tree.query(lines, predicate="intersects")
    crossings = []
    for i, j in zip(left.tolist(), right.tolist(), strict=True):
        if i < j:
            where = lines[i].intersection(lines[j])
            if where.geom_type == "Point":
                crossings.append((i, j, where.x, where.y))
    return crossings


def empty_address_points() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """No roads, no places (a gazetteer of the units only)."""
    roads = gpd.GeoDataFrame({c: [] for c in ROAD_COLUMNS}, geometry=[], crs=STORAGE_CRS)
    places = gpd.GeoDataFrame({c: [] for c in PLACE_COLUMNS}, geometry=[], crs=STORAGE_CRS)
    return roads, places


def read_address_points(path: Path) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Import ``roads`` and ``places`` from a GeoPackage or a folder of two CSV files."""
    path = Path(path)
    if path.is_dir():
        roads_csv, places_csv = pd.read_csv(path / "roads.csv"), pd.read_csv(path / "places.csv")
        roads = gpd.GeoDataFrame(
            roads_csv, geometry=shapely.from_wkt(roads_csv["wkt"]), crs=STORAGE_CRS
        )
        places = gpd.GeoDataFrame(
            places_csv,
            geometry=shapely.points(places_csv["lon"], places_csv["lat"]),
            crs=STORAGE_CRS,
        )
    elif path.suffix.lower() == ".gpkg":
        roads = gpd.read_file(path, layer="roads").to_crs(STORAGE_CRS)
        places = gpd.read_file(path, layer="places").to_crs(STORAGE_CRS)
    else:
        raise InvalidInput(f"{path}: expected a .gpkg file or a folder with roads.csv/places.csv")
    for frame, columns, label in (
        (roads, ROAD_COLUMNS, "roads"),
        (places, PLACE_COLUMNS, "places"),
    ):
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise InvalidInput(f"{path}: {label} lacks column(s) {', '.join(missing)}")
    return roads, places
