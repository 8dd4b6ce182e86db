"""The path-crossing test of the edge lists against shapely's own intersection test."""

from __future__ import annotations

import numpy as np
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from cityaware.geo.engine.edges import PATH_TOL_M, Paths, Segments, _path_crossings


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([1e-3, 0.02, 5.0]))
def test_clean_crossings_and_clear_pairs_agree_with_shapely(seed, spread):
    """A clean crossing really crosses; a pair that is neither crossing nor unsure
    really misses (paths and segments within ``spread`` metres of each other)."""
    rng = np.random.default_rng(seed)
    n = 2_000
    ends = rng.uniform(-10, 10, (n, 4))
    ends[: n // 2, 2:] = ends[: n // 2, :2] + rng.normal(0, spread, (n // 2, 2))  # short ones
    centre = rng.uniform(-10, 10, (n, 2))
    point = centre + rng.normal(0, 10, (n, 2))
    point[n // 4 : n // 2] = ends[n // 4 : n // 2, :2] + rng.normal(0, spread, (n // 4, 2))
    scale = 1e-5  # "degrees" scaled by 1e5 metres per degree
    lon0, lat0, lon1, lat1 = (ends[:, k] * scale for k in range(4))
    zeros = np.zeros(n)
    segments = Segments(np.zeros(n, np.int32), zeros, zeros, zeros, zeros, lon0, lat0, lon1, lat1)
    index = np.arange(n)
    crossing, unsure, on_line = _path_crossings(
        Paths(
            segments,
            point[:, 0] * scale,
            point[:, 1] * scale,
            centre[:, 0] * scale,
            centre[:, 1] * scale,
            (1 / scale, 1 / scale),
        ),
        index,
        index,
    )
    paths = shapely.linestrings(np.stack([centre, point], axis=1))
    pieces = shapely.linestrings(ends.reshape(n, 2, 2))
    meets = shapely.intersects(paths, pieces)
    assert not (crossing & unsure).any()
    # A point within PATH_TOL_M / 2 of its segment is always flagged on the line.
    points = shapely.points(point)
    close = shapely.distance(points, pieces) <= PATH_TOL_M / 2
    assert on_line[close].all() and not (on_line & ~unsure).any()
    assert meets[crossing].all()
    assert not meets[~crossing & ~unsure].any()
    assert crossing.any() and (~crossing & ~unsure).any()
