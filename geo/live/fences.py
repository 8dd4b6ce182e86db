"""Geofences: which fences a moving object is in, and when that counts as a change.

Vocabulary and event shape follow Tile38's fences (``detect``: ``enter``, ``exit``,
``inside``, ``outside``, ``cross``). Hysteresis follows GeoEvent's: a position on the
other side of a fence's edge confirms the change only when it is at least
``min_distance_m`` metres from the edge, or when the object has stayed on that side for
``dwell_s`` seconds; otherwise it is GPS jitter and nothing happens. So a worker walking
along a grid's edge does not flap in and out.

>>> import shapely
>>> box = shapely.box(101.50, 30.54, 101.51, 30.56)
>>> spec = FenceSpec("f1", box, frozenset({"enter", "exit"}), None, min_distance_m=20.0)
>>> index = FenceIndex([spec])
>>> [index.fences[i].id for i in index.containing([101.505], [30.55])[1]]
['f1']
>>> decide(False, None, True, 3.0, 1000, spec)  # 3 m inside: jitter
(False, None, False)
>>> decide(False, None, True, 50.0, 1000, spec)  # 50 m inside: entered
(True, None, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import shapely
from numpy.typing import ArrayLike

from cityaware.geo.crs import WGS84_GEOD

DETECTS = ("enter", "exit", "inside", "outside", "cross")
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class FenceSpec:
    """A fence ready to test: its polygon (CRS84), what it detects, the object kinds it
    watches (None: every kind) and its hysteresis."""

    id: str
    geometry: shapely.Geometry
    detect: frozenset[str]
    kinds: frozenset[str] | None
    min_distance_m: float = 0.0
    dwell_ms: int = 0

    def watches(self, kind: str) -> bool:
        """True when this fence detects objects of ``kind``."""
        return self.kinds is None or kind in self.kinds


class FenceIndex:
    """An STRtree over fence polygons (rebuilt when the fences or the boundaries change)."""

    def __init__(self, fences: Sequence[FenceSpec]) -> None:
        self.fences = list(fences)
        geometries = np.array([f.geometry for f in self.fences], dtype=object)
        self.tree = shapely.STRtree(geometries)
        self.by_id = {f.id: i for i, f in enumerate(self.fences)}
        self.outside_watchers = [i for i, f in enumerate(self.fences) if "outside" in f.detect]
        self.crossers = [i for i, f in enumerate(self.fences) if "cross" in f.detect]
        for geometry in geometries:
            shapely.prepare(geometry)

    def __len__(self) -> int:
        return len(self.fences)

    def containing(self, lon: ArrayLike, lat: ArrayLike) -> IntArray:
        """``(2, n)`` pairs (position index, fence index) of positions in or on a fence."""
        points = shapely.points(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
        return np.asarray(self.tree.query(points, predicate="intersects"), dtype=np.int64)

    def crossed(self, segments: Sequence[shapely.Geometry]) -> IntArray:
        """``(2, n)`` pairs (segment index, fence index) of segments touching a fence."""
        lines = np.array(segments, dtype=object)
        return np.asarray(self.tree.query(lines, predicate="intersects"), dtype=np.int64)


def edge_distance_m(geometry: shapely.Geometry, lon: float, lat: float) -> float:
    """Geodesic metres from (lon, lat) to the nearest point of the fence's edge.

    >>> round(edge_distance_m(shapely.box(0, 0, 1, 1), 0.5, 0.001))
    111
    """
    line = shapely.shortest_line(shapely.boundary(geometry), shapely.Point(lon, lat))
    (x0, y0), (x1, y1) = shapely.get_coordinates(line)
    return float(WGS84_GEOD.inv(x0, y0, x1, y1)[2])


def crossing_m(geometry: shapely.Geometry, segment: shapely.Geometry) -> float:
    """Geodesic metres of ``segment`` that run inside the fence (0 when it only touches).

    >>> round(crossing_m(shapely.box(0, 0, 1, 1), shapely.LineString([(-1, 0.5), (2, 0.5)])))
    111315
    """
    inside = shapely.intersection(geometry, segment)
    return 0.0 if inside.is_empty else float(WGS84_GEOD.geometry_length(inside))


def decide(
    inside: bool,
    pending_since: int | None,
    raw_inside: bool,
    edge_m: float,
    at: int,
    spec: FenceSpec,
) -> tuple[bool, int | None, bool]:
    """The confirmed side after a position: ``(inside, pending_since, changed)``.

    ``inside``/``pending_since``: the state before (pending_since: when the object was
    first seen on the other side, None if it was not); ``raw_inside``: the side this
    position is on, ``edge_m`` its distance from the edge, ``at`` its time (epoch ms).
    """
    if raw_inside == inside:
        return inside, None, False
    if edge_m >= spec.min_distance_m:
        return raw_inside, None, True
    if spec.dwell_ms > 0:
        if pending_since is None:
            return inside, at, False
        if at - pending_since >= spec.dwell_ms:
            return raw_inside, None, True
        return inside, pending_since, False
    return inside, None, False
