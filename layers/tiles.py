"""Mapbox vector tiles from in-memory geometries: tile math, clipping, capping, binning.

The pipeline per tile is vectorized (no Python loop per coordinate):
``STRtree.query(tile box)`` → ``shapely.clip_by_rect`` → ``shapely.transform`` to
tile pixels → :func:`layers.mvt.encode_layers` (polygons through
:mod:`layers.mvt_polygons`). Point layers are selected with numpy masks; both stay
columnar (:class:`layers.mvt.PointColumns`, :class:`layers.mvt_polygons.PolygonColumns`:
geometry and attribute arrays) up to the encoder, which encodes all features at once.
When a tile holds more points than its cap, or is below the detail zoom, the points are
aggregated into square bins of ``BIN_PX`` pixels whose feature carries
``count`` (the browser then never holds more than a few thousand features).

Tile math comes from :mod:`mercantile` (Web Mercator, XYZ scheme).

>>> box = TileBox.of(0, 0, 0)
>>> round(box.maxx)
20037508
>>> import mapbox_vector_tile
>>> from cityaware.layers.mvt import encode_layers
>>> tile = encode_layers({"pts": point_features(box, np.array([0.0]), np.array([0.0]))})
>>> mapbox_vector_tile.decode(tile)["pts"]["features"][0]["geometry"]["coordinates"]
[2048, 2048]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import mercantile
import numpy as np
import shapely

from cityaware.geo.errors import InvalidInput
from cityaware.layers.mvt import EXTENT, Column, PointColumns, take
from cityaware.layers.mvt_polygons import PolygonColumns

BUFFER_PX = 64
BIN_PX = 512
MAX_ZOOM = 22
EARTH_RADIUS = 6378137.0


def lonlat_to_mercator(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Project WGS84 degrees to EPSG:3857 metres (vectorized ``mercantile.xy``).

    >>> x, y = lonlat_to_mercator(np.array([180.0]), np.array([0.0]))
    >>> round(float(x[0]))
    20037508
    """
    lon = np.asarray(lon, dtype="float64")
    lat = np.clip(np.asarray(lat, dtype="float64"), -85.0511287798, 85.0511287798)
    x = EARTH_RADIUS * np.radians(lon)
    y = EARTH_RADIUS * np.log(np.tan(np.pi / 4 + np.radians(lat) / 2))
    return x, y


def geometries_to_mercator(geoms: np.ndarray) -> np.ndarray:
    """Project an array of WGS84 shapely geometries to EPSG:3857.

    >>> round(geometries_to_mercator(np.array([shapely.Point(180, 0)]))[0].x)
    20037508
    """

    def project(coords: np.ndarray) -> np.ndarray:
        x, y = lonlat_to_mercator(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(np.asarray(geoms), project)


def check_tile(z: int, x: int, y: int) -> None:
    """Raise :class:`InvalidInput` unless ``z/x/y`` names a real XYZ tile.

    >>> check_tile(1, 2, 0)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    cityaware.geo.errors.InvalidInput: tile 1/2/0 does not exist: ... at zoom 1
    """
    if not 0 <= z <= MAX_ZOOM:
        raise InvalidInput(f"zoom {z} is out of range [0, {MAX_ZOOM}]")
    top = 2**z - 1
    if not (0 <= x <= top and 0 <= y <= top):
        raise InvalidInput(
            f"tile {z}/{x}/{y} does not exist: x and y must be in [0, {top}] at zoom {z}"
        )


@dataclass(frozen=True)
class TileBox:
    """One XYZ tile's bounds in EPSG:3857 and its transform to tile pixels (y down)."""

    z: int
    x: int
    y: int
    minx: float
    miny: float
    maxx: float
    maxy: float

    @classmethod
    def of(cls, z: int, x: int, y: int) -> TileBox:
        check_tile(z, x, y)
        b = mercantile.xy_bounds(x, y, z)
        return cls(z, x, y, b.left, b.bottom, b.right, b.top)

    @property
    def size(self) -> float:
        """Edge length in metres."""
        return self.maxx - self.minx

    @property
    def pixel(self) -> float:
        """Metres per tile pixel (1/EXTENT of the edge)."""
        return self.size / EXTENT

    def buffered(self, px: float = BUFFER_PX) -> tuple[float, float, float, float]:
        """Bounds grown by ``px`` tile pixels on every side."""
        d = px * self.pixel
        return self.minx - d, self.miny - d, self.maxx + d, self.maxy + d

    def to_pixels(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mercator metres → tile pixels, origin top-left."""
        return (x - self.minx) / self.pixel, (self.maxy - y) / self.pixel


def polygon_features(
    box: TileBox,
    tree: shapely.STRtree,
    geoms: np.ndarray,
    columns: Mapping[str, Column],
    cap: int,
) -> PolygonColumns:
    """Features of the EPSG:3857 ``geoms`` (indexed by ``tree``) that meet ``box``, with
    their rows of the attribute ``columns`` (arrays aligned with ``geoms``).

    Geometries are clipped to the buffered tile and moved to tile pixels; at most
    ``cap`` features are kept (the largest first, so the outline of the city stays).
    """
    bounds = box.buffered()
    area = shapely.box(*bounds)
    hits = tree.query(area)  # boxes that meet: what does not meet clips to nothing below
    if len(hits) > cap:
        hits = hits[shapely.intersects(geoms[hits], area)]
        hits = hits[np.argsort(-shapely.area(geoms[hits]), kind="stable")[:cap]]
    hits = np.sort(hits)
    clipped = geoms[hits]
    minx, miny, maxx, maxy = shapely.bounds(clipped).T
    crossing = ~((minx >= bounds[0]) & (miny >= bounds[1]) & (maxx <= bounds[2]))
    crossing |= maxy > bounds[3]  # only these change (GEOS returns the others as they are)
    clipped[crossing] = shapely.clip_by_rect(clipped[crossing], *bounds)
    keep = ~shapely.is_empty(clipped)
    rows = hits[keep]

    def project(coords: np.ndarray) -> np.ndarray:
        px, py = box.to_pixels(coords[:, 0], coords[:, 1])
        return np.column_stack([px, py])

    chosen = {k: take(v, rows) for k, v in columns.items()}
    return PolygonColumns(clipped[keep], chosen, to_pixels=project)


def points_in(
    box: TileBox, x: np.ndarray, y: np.ndarray, buffer_px: float = 0, x_sorted: bool = False
) -> np.ndarray:
    """Indices of the EPSG:3857 points inside the (optionally buffered) tile.

    With ``x_sorted`` (``x`` ascending) only the slab of the tile's columns is scanned.
    """
    minx, miny, maxx, maxy = box.buffered(buffer_px)
    lo, hi = np.searchsorted(x, [minx, maxx], side="left") if x_sorted else (0, len(x))
    xs, ys = x[lo:hi], y[lo:hi]
    return lo + np.flatnonzero((xs >= minx) & (xs < maxx) & (ys > miny) & (ys <= maxy))


def point_features(
    box: TileBox, x: np.ndarray, y: np.ndarray, columns: Mapping[str, np.ndarray] | None = None
) -> PointColumns:
    """The points (coordinates already selected for this tile) in tile pixels, with their
    attribute ``columns`` (arrays aligned with ``x``), for :func:`layers.mvt.encode_layers`.
    """
    px, py = box.to_pixels(np.asarray(x), np.asarray(y))
    return PointColumns(_grid(px), _grid(py), dict(columns or {}))


def binned_features(
    box: TileBox,
    x: np.ndarray,
    y: np.ndarray,
    sums: dict[str, np.ndarray] | None = None,
    bin_px: int = BIN_PX,
) -> PointColumns:
    """Aggregate points of one tile into ``bin_px`` square bins.

    Each bin becomes one point at the mean position of its members with
    ``count`` and, for each ``sums`` entry (a 0/1 or weight array aligned with
    ``x``), the sum over its members (e.g. ``open`` incidents, ``alarm`` sensors).

    >>> box = TileBox.of(0, 0, 0)
    >>> bins = binned_features(box, np.array([1.0, 2.0, 1e7]), np.array([1.0, 2.0, 1e7]))
    >>> sorted(bins.columns["count"].tolist())
    [1, 2]
    """
    px, py = box.to_pixels(np.asarray(x), np.asarray(y))
    cells_per_side = EXTENT // bin_px
    cx = np.clip((px // bin_px).astype("int64"), 0, cells_per_side - 1)
    cy = np.clip((py // bin_px).astype("int64"), 0, cells_per_side - 1)
    cells, inverse = np.unique(cy * cells_per_side + cx, return_inverse=True)
    counts = np.bincount(inverse, minlength=len(cells))
    mean_x = np.bincount(inverse, weights=px, minlength=len(cells)) / counts
    mean_y = np.bincount(inverse, weights=py, minlength=len(cells)) / counts
    columns = {"count": counts.astype("int64"), "cluster": np.ones(len(cells), dtype="int64")}
    for name, v in (sums or {}).items():
        total = np.bincount(inverse, weights=np.asarray(v, dtype="float64"), minlength=len(cells))
        columns[name] = total.astype("int64")
    return PointColumns(_grid(mean_x), _grid(mean_y), columns)


def _grid(pixels: np.ndarray) -> np.ndarray:
    """Tile pixels rounded to the integer grid (half to even, as Python's round)."""
    return np.round(pixels).astype("int64")
