"""An independent oracle: which points the SOURCE rings of a polygon cover.

Structure semantics, counted by ray crossing (no GEOS): a point is covered
when it is inside a shell ring by the even-odd rule and inside none of that
polygon's hole rings; a multipolygon covers what any part covers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import shapely

DATA = Path(__file__).resolve().parents[2] / "data"


def inside_ring(ring: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Even-odd: an odd number of ring edges crossed by the ray to +x."""
    inside = np.zeros(len(x), dtype=bool)
    x0, y0 = ring[:-1, 0], ring[:-1, 1]
    x1, y1 = ring[1:, 0], ring[1:, 1]
    for ax, ay, bx, by in zip(x0, y0, x1, y1, strict=True):
        if ay == by:
            continue
        straddles = (ay > y) != (by > y)
        crossing_x = ax + (y - ay) * (bx - ax) / (by - ay)
        inside ^= straddles & (x < crossing_x)
    return inside


def source_covers(geom: shapely.Geometry, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Which points (x, y) the source rings of ``geom`` cover (structure semantics)."""
    covered = np.zeros(len(x), dtype=bool)
    for polygon in shapely.get_parts(geom):
        shell = inside_ring(np.asarray(polygon.exterior.coords), x, y)
        for hole in polygon.interiors:
            shell &= ~inside_ring(np.asarray(hole.coords), x, y)
        covered |= shell
    return covered


def away_from_rings(geoms: np.ndarray, x: np.ndarray, y: np.ndarray, margin: float) -> np.ndarray:
    """Points farther than ``margin`` from every ring (boundaries are measure zero, and
    reprojection may move a straight edge by a few metres)."""
    rings = shapely.union_all(shapely.boundary(geoms))
    return shapely.distance(shapely.points(x, y), rings) > margin
