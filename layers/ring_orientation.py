"""Ring orientation as GEOS decides it (``Orientation::isCCW``), for every ring at once.

:func:`shapely.orient_polygons` (what the per-feature MVT encoder uses, through
``orient``) turns each exterior ring counter-clockwise and each hole clockwise, judging
a ring by its highest point, not by its area: a flat ring counts as clockwise, and a
self-touching one by the cap at its top. Pixel coordinates are whole numbers, so the
orientation test is exact in int64. :func:`oriented` does the same over ragged arrays
(:func:`shapely.to_ragged_array`), without building a geometry per polygon.

>>> square = np.array([[0, 0], [0, 4], [4, 4], [4, 0], [0, 0]])  # clockwise
>>> oriented(square, np.array([0, 5]), np.array([0, 1])).tolist()
[[0, 0], [4, 0], [4, 4], [0, 4], [0, 0]]
"""

from __future__ import annotations

import numpy as np

LOWEST = np.iinfo(np.int64).min


def is_ccw(q: np.ndarray, ring_offsets: np.ndarray) -> np.ndarray:
    """For each ring (``q[ring_offsets[r]:ring_offsets[r + 1]]``, closed), whether GEOS
    calls it counter-clockwise."""
    starts = ring_offsets[:-1].astype(np.int64)
    sizes = np.diff(ring_offsets).astype(np.int64)
    n_pts = sizes - 1
    rings = len(starts)
    ring_of = np.repeat(np.arange(rings), sizes)
    index = np.arange(len(q))
    y = q[:, 1]
    first = index == starts[ring_of]
    rising = ~first & (y > np.roll(y, 1))
    value = np.where(rising, y, LOWEST)
    value[first] = y[first]
    top = np.maximum.reduceat(value, starts) if rings else value[:0]
    candidate = rising & (y == top[ring_of])
    up_hi = np.maximum.reduceat(np.where(candidate, index, -1), starts) if rings else top
    flat = (up_hi < 0) | (n_pts < 3)
    up_hi = np.where(flat, starts, up_hi)
    k_up = (up_hi - starts) % np.maximum(n_pts, 1)
    # the first point after the top, going round, that is lower than the top
    relative = index - starts[ring_of]
    lower = (relative < n_pts[ring_of]) & (y != y[up_hi][ring_of])
    distance = (relative - k_up[ring_of] - 1) % np.maximum(n_pts, 1)[ring_of]
    distance = np.where(lower, distance, np.iinfo(np.int64).max)
    nearest = np.minimum.reduceat(distance, starts) if rings else top
    down_low_rel = (k_up + 1 + np.where(flat, 0, nearest)) % np.maximum(n_pts, 1)
    down_hi_rel = np.where(down_low_rel > 0, down_low_rel - 1, n_pts - 1)
    up_hi_pt, up_low_pt = q[up_hi], q[np.maximum(up_hi - 1, 0)]
    down_low_pt, down_hi_pt = q[starts + down_low_rel], q[starts + np.maximum(down_hi_rel, 0)]

    def same(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.asarray((a == b).all(axis=1))

    cap = same(up_hi_pt, down_hi_pt)
    degenerate = same(up_low_pt, up_hi_pt) | same(down_low_pt, up_hi_pt)
    degenerate |= same(up_low_pt, down_low_pt)
    turn = (up_hi_pt[:, 0] - up_low_pt[:, 0]) * (down_low_pt[:, 1] - up_low_pt[:, 1]) - (
        up_hi_pt[:, 1] - up_low_pt[:, 1]
    ) * (down_low_pt[:, 0] - up_low_pt[:, 0])
    pointed = ~degenerate & (turn > 0)
    flat_top = (down_hi_pt[:, 0] - up_hi_pt[:, 0]) < 0
    ccw: np.ndarray = ~flat & np.where(cap, pointed, flat_top)
    return ccw


def oriented(q: np.ndarray, ring_offsets: np.ndarray, polygon_rings: np.ndarray) -> np.ndarray:
    """``q`` with each polygon's exterior ring (the first of ``polygon_rings``) made
    counter-clockwise and its holes clockwise, by reversing rings as GEOS would."""
    ccw = is_ccw(q, ring_offsets)
    exterior = np.zeros(len(ccw), dtype=bool)
    exterior[polygon_rings[:-1][np.diff(polygon_rings) > 0]] = True
    flip = np.where(exterior, ~ccw, ccw)
    if not flip.any():
        return q
    starts = ring_offsets[:-1].astype(np.int64)
    ends = ring_offsets[1:].astype(np.int64) - 1
    ring_of = np.repeat(np.arange(len(starts)), np.diff(ring_offsets))
    index = np.arange(len(q))
    source = np.where(flip[ring_of], starts[ring_of] + ends[ring_of] - index, index)
    return q[source]
