"""Polygon layers for :mod:`layers.mvt`: the command streams of every ring at once.

Encoded as ``mapbox_vector_tile`` encodes a polygon, so both decode alike: coordinates
rounded to the pixel grid (half to even), each polygon oriented as
:func:`shapely.orient_polygons` orients it (exterior counter-clockwise in pixel
coordinates, holes the other way; :mod:`layers.ring_orientation`), each ring without
its closing point and without points that repeat the one before; a ring left without a
segment is dropped, and with its exterior the whole polygon; a feature left without a
ring is dropped. The cursor runs on from ring to ring and polygon to polygon within a
feature. All of it with numpy over the coordinates (:func:`_ragged`), no Python loop
per ring or coordinate.

>>> import mapbox_vector_tile, shapely
>>> layer = PolygonColumns(np.array([shapely.box(0, 0, 10, 10)]), {"code": np.array(["a"])})
>>> feature = mapbox_vector_tile.decode(encode_layers({"grids": layer}),
...     default_options={"y_coord_down": True})["grids"]["features"][0]
>>> feature["geometry"]["coordinates"], feature["properties"]
([[[10, 0], [10, 10], [0, 10], [0, 0], [10, 0]]], {'code': 'a'})
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import mapbox_vector_tile
import numpy as np
import pandas as pd
import shapely

from cityaware.layers.mvt import (
    EXTENT,
    Column,
    Encoded,
    Geometry,
    encode_layer,
    encode_layers,
    runs,
    take,
    zigzag,
)
from cityaware.layers.ring_orientation import oriented

__all__ = ["POLYGON", "PolygonColumns", "encode_layers", "polygonal"]
POLYGON = 3
MOVE_TO_ONE, CLOSE_PATH, LINE_TO = 9, 15, 2
_U64 = np.uint64


Pixels = Callable[[np.ndarray], np.ndarray]  # (n, 2) coordinates -> tile pixels


@dataclass
class PolygonColumns:
    """Polygons and multipolygons of one layer with attribute columns aligned with them;
    ``to_pixels`` maps their coordinates to tile pixels (None: they are pixels already)."""

    geoms: np.ndarray
    columns: Mapping[str, Column] = field(default_factory=dict)
    to_pixels: Pixels | None = None

    def __len__(self) -> int:
        return len(self.geoms)

    def geometry(self) -> Geometry:
        return polygon_geometry(self.geoms, self.to_pixels)

    def encode(self, name: str, extent: int = EXTENT) -> bytes:
        """This layer as a tile of its own; feature by feature with ``mapbox_vector_tile``
        when clipping left something that is not polygonal (lines, points: rare)."""
        if polygonal(self.geoms):
            return encode_layer(name, self, extent)
        pixels = (
            self.geoms if self.to_pixels is None else shapely.transform(self.geoms, self.to_pixels)
        )
        features = [
            {"geometry": geom, "properties": _properties(self.columns, i)}
            for i, geom in enumerate(pixels)
        ]
        options = {"y_coord_down": True, "extents": extent}
        tile: bytes = mapbox_vector_tile.encode(
            [{"name": name, "features": features}], default_options=options
        )
        return tile


def _properties(columns: Mapping[str, Column], i: int) -> dict[str, Any]:
    out = {}
    for key, column in columns.items():
        value = take(column, np.array([i]))
        value = (value.to_numpy() if isinstance(value, Encoded) else value)[0]
        if not pd.isna(value):
            out[key] = value.item() if isinstance(value, np.generic) else value
    return out


def polygonal(geoms: np.ndarray) -> bool:
    """Whether every geometry is a Polygon or a MultiPolygon (what this module encodes).

    >>> polygonal(np.array([shapely.box(0, 0, 1, 1), shapely.LineString([(0, 0), (1, 1)])]))
    False
    """
    kinds = shapely.get_type_id(geoms)
    return bool(np.isin(kinds, (3, 6)).all())


def polygon_geometry(geoms: np.ndarray, to_pixels: Pixels | None = None) -> Geometry:
    """The command streams of ``geoms`` (see the module doc); ``kept`` marks the
    features that still have a ring."""
    count = len(geoms)
    if not count:
        return Geometry(np.zeros(0, dtype=_U64), np.zeros(0, dtype=np.int64), POLYGON)
    coords, ring_offsets, polygon_rings, feature_polygons = _ragged(geoms)
    pixels = coords if to_pixels is None else to_pixels(coords)
    q = oriented(np.round(pixels).astype(np.int64), ring_offsets, polygon_rings)
    rings = len(ring_offsets) - 1
    ring_start = ring_offsets[:-1].astype(np.int64)
    ring_len = np.maximum(np.diff(ring_offsets).astype(np.int64) - 1, 0)  # no closing point
    ring_of = np.repeat(np.arange(rings), ring_len)
    at = runs(ring_start, ring_len)
    first = at == ring_start[ring_of]
    repeated = ~first & (q[at] == q[np.maximum(at - 1, 0)]).all(axis=1)
    kept = ~repeated
    pairs = np.bincount(ring_of, weights=kept, minlength=rings).astype(np.int64) - 1
    polygon_of = np.repeat(np.arange(len(polygon_rings) - 1), np.diff(polygon_rings))
    exterior_ok = (pairs > 0)[polygon_rings[:-1]]
    encoded = (pairs > 0) & exterior_ok[polygon_of]
    feature_of_polygon = np.repeat(np.arange(count), np.diff(feature_polygons))
    feature_of = feature_of_polygon[polygon_of]

    chosen = kept & encoded[ring_of]
    points, point_ring = q[at[chosen]], ring_of[chosen]
    point_feature = feature_of[point_ring]
    ring_first, new_feature = _firsts(point_ring), _firsts(point_feature)
    previous = np.zeros_like(points)
    previous[1:] = points[:-1]
    previous[new_feature] = 0  # the cursor starts at 0, 0 in every feature
    delta = points - previous

    width = np.where(encoded, 5 + 2 * pairs, 0)
    ring_token = np.cumsum(width) - width
    out = np.empty(int(width.sum()), dtype=_U64)
    starts = ring_token[encoded]
    out[starts] = MOVE_TO_ONE
    out[starts + 3] = (pairs[encoded].astype(_U64) << _U64(3)) | _U64(LINE_TO)
    out[starts + width[encoded] - 1] = CLOSE_PATH
    rank = np.arange(len(points)) - np.flatnonzero(ring_first).repeat(pairs[encoded] + 1)
    base = ring_token[point_ring]
    x_at = np.where(rank == 0, base + 1, base + 4 + 2 * (rank - 1))
    out[x_at] = zigzag(delta[:, 0])
    out[x_at + 1] = zigzag(delta[:, 1])
    lengths = np.bincount(feature_of, weights=width, minlength=count).astype(np.int64)
    keep = lengths > 0
    return Geometry(out, lengths[keep], POLYGON, kept=None if keep.all() else keep)


def _firsts(group: np.ndarray) -> np.ndarray:
    """True where a run of equal values in ``group`` begins."""
    first = np.ones(len(group), dtype=bool)
    first[1:] = group[1:] != group[:-1]
    return first


def _ragged(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Coordinates and the offsets of rings (into coordinates), polygons (into rings) and
    features (into polygons), as :func:`shapely.to_ragged_array` for multipolygons.

    Simple polygons (one ring, most of a tile) are read with ``get_coordinates``, which
    makes no Python object per ring (``to_ragged_array`` makes one per ring, and the
    garbage collector then walks the heap); only the others go through it.
    """
    count = len(geoms)
    simple = (shapely.get_type_id(geoms) == 3) & (shapely.get_num_interior_rings(geoms) == 0)
    if simple.all():
        sizes = shapely.get_num_coordinates(geoms)
        every = np.arange(count + 1)
        return shapely.get_coordinates(geoms), np.r_[0, np.cumsum(sizes)], every, every
    plain = np.flatnonzero(simple)
    other = np.flatnonzero(~simple)
    kind, coords_o, offsets = shapely.to_ragged_array(geoms[other])
    parts: list[np.ndarray] = list(offsets)
    if kind == shapely.GeometryType.POLYGON:
        parts.append(np.arange(len(other) + 1))
    ring_o, polygon_o, feature_o = (np.asarray(o, dtype=np.int64) for o in parts)
    sizes_p = shapely.get_num_coordinates(geoms[plain]).astype(np.int64)
    polygons_o = np.diff(feature_o)  # per complex feature
    # each sequence (polygons, rings, coordinates) laid out feature by feature
    polygon_feature = np.r_[plain, np.repeat(other, polygons_o)]
    order_polygons = np.argsort(polygon_feature, kind="stable")
    rings_per_polygon = np.r_[np.ones(len(plain), dtype=np.int64), np.diff(polygon_o)]
    ring_feature = np.repeat(polygon_feature, rings_per_polygon)
    ring_sizes = np.r_[sizes_p, np.diff(ring_o)]
    order_rings = np.argsort(ring_feature, kind="stable")
    coord_feature = np.repeat(ring_feature, ring_sizes)
    coords = np.vstack([shapely.get_coordinates(geoms[plain]), coords_o])
    coords = coords[np.argsort(coord_feature, kind="stable")]
    polygons = np.zeros(count, dtype=np.int64)
    polygons[plain], polygons[other] = 1, polygons_o
    rings = rings_per_polygon[order_polygons]
    return (
        coords,
        np.r_[0, np.cumsum(ring_sizes[order_rings])],
        np.r_[0, np.cumsum(rings)],
        np.r_[0, np.cumsum(polygons)],
    )
