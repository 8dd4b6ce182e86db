"""layers.ring_orientation turns rings exactly as shapely.orient_polygons (GEOS) does,
including flat, repeated-point and self-crossing rings on a small integer grid."""

from __future__ import annotations

import numpy as np
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from cityaware.layers.ring_orientation import oriented

point = st.tuples(st.integers(0, 4), st.integers(0, 4))
ring = st.lists(point, min_size=3, max_size=8).map(lambda pts: [*pts, pts[0]])


@settings(max_examples=400, deadline=None)
@given(ring, st.lists(ring, max_size=2))
def test_rings_turn_as_geos_turns_them(shell, holes):
    polygon = shapely.Polygon(shell, holes)
    want = shapely.orient_polygons(polygon, exterior_cw=False)
    rings = [want.exterior, *want.interiors]
    given_rings = [shell, *holes]
    q = np.array([p for r in given_rings for p in r], dtype=np.int64)
    offsets = np.r_[0, np.cumsum([len(r) for r in given_rings])]
    got = oriented(q, offsets, np.array([0, len(given_rings)]))
    assert got.tolist() == [list(map(int, c)) for r in rings for c in r.coords]
