"""Boundary segments near each lookup cell: the fast exact answer close to grid edges.

Every ring of every grid is cut into straight segments; the segment table
keeps, per segment, its grid index and its endpoints projected to the metric
CRS. For every raster cell that some segment comes near, a CSR list names the
segments within ``reach`` of the cell centre, where ``reach`` is ``near_m``
(+1 % + 1 m) plus half the cell diagonal, measured in a lon/lat plane scaled
by *lower bounds* of the metres per degree (so it never underestimates who is
near). Hence, for any point of such a cell:

* every grid within ``near_m`` of the point has its nearest segments listed,
  so the minimum over listed segments is the exact distance to that grid;
* the grid containing the point either has a listed segment or contains the
  whole cell, i.e. is the grid holding the cell centre.

:func:`resolve` then answers with numpy (point-segment distances in metres,
parity of the segments crossed by the path from the cell centre) and, where
a crossing is unsure, GEOS ``contains_xy`` on prepared lon/lat polygons (no
shapely objects per point). Points within ``EDGE_EPS_M`` of an edge, or inside two grids, are
handed back for the ``covers`` path: lon/lat and metric straight lines differ
by millimetres, so only ``covers`` in lon/lat decides points on an edge.

>>> from shapely import box
>>> segments = Segments.of(np.array([box(0.0, 0.0, 1.0, 1.0)]), lambda x, y: (x, y))
>>> segments.grid.tolist(), segments.x0.tolist()
([0, 0, 0, 0], [1.0, 1.0, 0.0, 0.0])
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import shapely

from cityaware.geo.arrays import BoolArray, FloatArray, Int32Array, IntArray, ObjectArray

Index = IntArray | Int32Array  # cell rows, columns and keys (int32 when the raster allows)

EDGE_EPS_M = 0.05
_PAIRS_PER_BATCH = 4_000_000
PIECE_CELLS = 3  # long segments are walked in pieces about this many cells long
# lon/lat -> metric x/y (e.g. ExactLocator.to_metric).
ToMetric = Callable[[FloatArray, FloatArray], tuple[FloatArray, FloatArray]]


@dataclass
class Segments:
    """Straight boundary pieces, sorted by grid index: grid and metric endpoints."""

    grid: Int32Array
    x0: FloatArray
    y0: FloatArray
    x1: FloatArray
    y1: FloatArray
    lon0: FloatArray
    lat0: FloatArray
    lon1: FloatArray
    lat1: FloatArray

    @classmethod
    def of(
        cls,
        geometries: ObjectArray,
        to_metric: ToMetric,
    ) -> Segments:
        """Cut the rings of ``geometries`` (index = grid) into segments."""
        parts, part_grid = shapely.get_parts(geometries, return_index=True)
        rings, ring_part = shapely.get_rings(parts, return_index=True)
        coords, ring_of = shapely.get_coordinates(rings, return_index=True)
        same_ring = ring_of[1:] == ring_of[:-1]
        start = np.flatnonzero(same_ring)
        lon0, lat0 = coords[start, 0], coords[start, 1]
        lon1, lat1 = coords[start + 1, 0], coords[start + 1, 1]
        grid = part_grid[ring_part[ring_of[start]]]
        order = np.argsort(grid, kind="stable")
        lon0, lat0, lon1, lat1 = (a[order] for a in (lon0, lat0, lon1, lat1))
        grid = grid[order]
        x0, y0 = to_metric(lon0, lat0)
        x1, y1 = to_metric(lon1, lat1)
        return cls(grid.astype(np.int32), x0, y0, x1, y1, lon0, lat0, lon1, lat1)

    def __len__(self) -> int:
        return len(self.grid)

    def distances(self, seg: IntArray, x: FloatArray, y: FloatArray) -> FloatArray:
        """Metric distance from points (x, y) to segments ``seg``, elementwise: the
        :func:`segment_distance` sum with each segment's direction and inverse squared
        length computed once (memoised)."""
        if "_directions" not in self.__dict__:
            dx, dy = self.x1 - self.x0, self.y1 - self.y0
            length2 = dx * dx + dy * dy
            inverse = np.divide(1.0, length2, out=np.zeros_like(length2), where=length2 > 0)
            self.__dict__["_directions"] = dx, dy, inverse  # zero-length: t = 0, end x0
        dx, dy, inverse = (a[seg] for a in self.__dict__["_directions"])
        rx, ry = x - self.x0[seg], y - self.y0[seg]
        t = rx * dx
        t += ry * dy
        t *= inverse
        np.clip(t, 0.0, 1.0, out=t)
        dx *= t
        dy *= t
        rx -= dx
        ry -= dy
        distance: FloatArray = np.hypot(rx, ry, out=rx)
        return distance

    def lines(self, scale: tuple[float, float]) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Unit normal (nx, ny) and offset of each segment's line in lon/lat scaled by
        ``scale``: a point's signed distance from the line is ``x*nx + y*ny - offset``.
        NaN for zero-length segments. Memoised per scale."""
        memo = self.__dict__.setdefault("_lines", {})
        if scale not in memo:
            sx, sy = scale
            ex, ey = (self.lon1 - self.lon0) * sx, (self.lat1 - self.lat0) * sy
            with np.errstate(invalid="ignore", divide="ignore"):
                length = np.hypot(ex, ey)
                nx, ny = -ey / length, ex / length
            memo[scale] = nx, ny, self.lon0 * sx * nx + self.lat0 * sy * ny
        lines: tuple[FloatArray, FloatArray, FloatArray] = memo[scale]
        return lines

    def arrays(self) -> dict[str, np.ndarray]:
        return {f"seg_{name}": getattr(self, name) for name in self.__dataclass_fields__}

    @classmethod
    def from_arrays(cls, saved: Mapping[str, np.ndarray]) -> Segments:
        return cls(**{name: saved[f"seg_{name}"] for name in cls.__dataclass_fields__})


BLOCK_SHIFT = 3  # cells are grouped in blocks of 8 x 8 (64 cells: one bit each in a uint64)


def block_key(row: Index, col: Index, cols: int) -> Index:
    """Cell key ordering cells block by block: block index * 64 + bit within the block.

    >>> block_key(np.array([0, 0, 9]), np.array([0, 9, 0]), cols=16).tolist()
    [0, 65, 136]
    """
    block_cols = -(-cols // (1 << BLOCK_SHIFT))
    block = (row >> BLOCK_SHIFT) * block_cols + (col >> BLOCK_SHIFT)
    mask = (1 << BLOCK_SHIFT) - 1
    key: Index = (block << (2 * BLOCK_SHIFT)) + ((row & mask) << BLOCK_SHIFT) + (col & mask)
    return key


def key_cell(key: IntArray, cols: int) -> tuple[IntArray, IntArray]:
    """(row, col) of cell keys (inverse of :func:`block_key`)."""
    block_cols = -(-cols // (1 << BLOCK_SHIFT))
    block, bit = key >> (2 * BLOCK_SHIFT), key & ((1 << (2 * BLOCK_SHIFT)) - 1)
    mask = (1 << BLOCK_SHIFT) - 1
    row = (block // block_cols << BLOCK_SHIFT) + (bit >> BLOCK_SHIFT)
    col = (block % block_cols << BLOCK_SHIFT) + (bit & mask)
    return row, col


def segment_distance(
    px: FloatArray, py: FloatArray, x0: FloatArray, y0: FloatArray, x1: FloatArray, y1: FloatArray
) -> FloatArray:
    """Euclidean distance from points to segments, elementwise."""
    t = np.clip(_projection(px, py, x0, y0, x1, y1), 0.0, 1.0)
    distance: FloatArray = np.hypot(px - (x0 + t * (x1 - x0)), py - (y0 + t * (y1 - y0)))
    return distance


def cells_near_segments(
    segments: Segments,
    shape: tuple[int, int],
    west: float,
    north: float,
    dlon: float,
    dlat: float,
    reach_m: float,
    m_per_deg: tuple[float, float],
) -> tuple[IntArray, IntArray]:
    """(cell key, segment index) pairs with the cell centre within reach of the segment.

    ``m_per_deg`` = (lon, lat) lower bounds of metres per degree over the raster.
    Long segments are walked in pieces of about ``PIECE_CELLS`` cells, so only
    cells along them are tested. Sorted by cell, then segment (hence by grid within a cell).
    """
    rows, cols = shape
    sx, sy = m_per_deg
    piece_m = PIECE_CELLS * min(dlon * sx, dlat * sy)
    ax, ay = segments.lon0 * sx, segments.lat0 * sy
    bx, by = segments.lon1 * sx, segments.lat1 * sy
    pieces = np.maximum(1, np.ceil(np.hypot(bx - ax, by - ay) / piece_m)).astype(np.int64)
    seg_of_piece = np.repeat(np.arange(len(segments)), pieces)
    k = np.arange(pieces.sum()) - np.repeat(np.cumsum(pieces) - pieces, pieces)
    n_pieces = pieces[seg_of_piece]
    t0, t1 = k / n_pieces, (k + 1) / n_pieces
    lon0, lat0 = segments.lon0[seg_of_piece], segments.lat0[seg_of_piece]
    d_lon = (segments.lon1 - segments.lon0)[seg_of_piece]
    d_lat = (segments.lat1 - segments.lat0)[seg_of_piece]
    p_lon0, p_lon1 = lon0 + t0 * d_lon, lon0 + t1 * d_lon
    p_lat0, p_lat1 = lat0 + t0 * d_lat, lat0 + t1 * d_lat
    # A piece owns the cells whose centre projects onto its share of the segment
    # (the end pieces also own what projects beyond the ends): no pair twice.
    own_lo = np.where(k == 0, -np.inf, t0)
    own_hi = np.where(k == n_pieces - 1, np.inf, t1)
    reach_lon, reach_lat = reach_m / sx, reach_m / sy
    c0 = np.floor((np.minimum(p_lon0, p_lon1) - reach_lon - west) / dlon)
    c1 = np.floor((np.maximum(p_lon0, p_lon1) + reach_lon - west) / dlon)
    r0 = np.floor((north - np.maximum(p_lat0, p_lat1) - reach_lat) / dlat)
    r1 = np.floor((north - np.minimum(p_lat0, p_lat1) + reach_lat) / dlat)
    c0, c1 = (np.clip(c, 0, cols - 1).astype(np.int64) for c in (c0, c1))
    r0, r1 = (np.clip(r, 0, rows - 1).astype(np.int64) for r in (r0, r1))
    ncols = c1 - c0 + 1
    per_piece = ncols * (r1 - r0 + 1)
    keys = []
    first = 0
    while first < len(per_piece):
        # Batches of pieces bound the temporary pair arrays.
        cumulative = np.cumsum(per_piece[first:])
        last = first + max(1, int(np.searchsorted(cumulative, _PAIRS_PER_BATCH)))
        piece = np.arange(first, last)
        counts = per_piece[piece]
        piece_of = np.repeat(piece, counts)
        j = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        row = r0[piece_of] + j // ncols[piece_of]
        col = c0[piece_of] + j % ncols[piece_of]
        seg = seg_of_piece[piece_of]
        px = (west + (col + 0.5) * dlon) * sx
        py = (north - (row + 0.5) * dlat) * sy
        t = _projection(px, py, ax[seg], ay[seg], bx[seg], by[seg])
        owned = (t >= own_lo[piece_of]) & (t < own_hi[piece_of])
        row, col, seg, px, py = row[owned], col[owned], seg[owned], px[owned], py[owned]
        near = segment_distance(px, py, ax[seg], ay[seg], bx[seg], by[seg]) <= reach_m
        keys.append(block_key(row[near], col[near], cols) * len(segments) + seg[near])
        first = last
    key = np.sort(np.concatenate(keys)) if keys else np.empty(0, dtype=np.int64)
    return key // len(segments), key % len(segments)


def _projection(
    px: FloatArray, py: FloatArray, x0: FloatArray, y0: FloatArray, x1: FloatArray, y1: FloatArray
) -> FloatArray:
    """Parameter t of the projection of points on the (infinite) line through a segment."""
    dx, dy = x1 - x0, y1 - y0
    length2 = dx * dx + dy * dy
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(length2 > 0, ((px - x0) * dx + (py - y0) * dy) / length2, 0.0)


@dataclass
class EdgeAnswer:
    """Per point of :func:`resolve`: decided or not; chosen grid (-1 outside); the
    (point, grid, metres) groups of grids with a listed segment."""

    decided: BoolArray
    chosen: IntArray
    group_point: IntArray
    group_grid: IntArray
    group_distance: FloatArray | None  # None when asked for containment only


def resolve(
    segments: Segments,
    offsets: IntArray,
    entries: Int32Array,
    centre: Int32Array,
    rows: IntArray,
    lon: FloatArray,
    lat: FloatArray,
    x: FloatArray | None,
    y: FloatArray | None,
    centre_lon: FloatArray,
    centre_lat: FloatArray,
    m_per_deg: tuple[float, float],
    geometries: ObjectArray,
    metric_error_m: float = 0.0,
    valid: BoolArray | None = None,
) -> EdgeAnswer:
    """Decide points in listed cells (CSR ``rows``) from their listed segments.

    Every boundary piece inside the cell is listed, so the straight path from the
    cell centre to a point crosses the boundary of a grid exactly where it crosses
    that grid's listed segments. When every crossing is clean (nothing within
    ``PATH_TOL_M`` of the path's ends or of the segments' ends), the point is in
    a grid iff the centre is XOR the crossings of its segments are odd; with no
    crossing at all, that is the centre's grid. ``valid`` (per grid) limits the
    parity rule to valid geometries (None: only paths with no crossing). The other
    points are tested with ``contains_xy`` against every listed grid and the
    centre grid. Undecided points (within
    ``EDGE_EPS_M`` of an edge, inside two grids, or outside every grid, which
    needs the nearest-grid search) go to the ``covers`` path. ``x``, ``y`` may be
    off by up to ``metric_error_m``, which widens the edge margin.

    ``x = y = None`` asks for containment only: no metric distances (no
    ``group_distance``), and "on an edge" means within ``PATH_TOL_M`` of a listed
    segment's line in lon/lat, which every point on an edge is (the segment it
    lies on is listed for its cell); ``contains_xy`` decides the rest exactly.
    """
    n = len(rows)
    starts = offsets[rows]
    counts = offsets[rows + 1] - starts
    pair_point = np.repeat(np.arange(n), counts)
    # entries of pair k: starts[p] + (k - first pair of p), p = pair_point[k]
    position = (starts - (np.cumsum(counts) - counts))[pair_point]
    position += np.arange(len(pair_point))
    seg = entries[position]
    grid = segments.grid[seg]
    new_group = np.r_[True, (pair_point[1:] != pair_point[:-1]) | (grid[1:] != grid[:-1])]
    group_start = np.flatnonzero(new_group)
    group_point, group_grid = pair_point[group_start], grid[group_start].astype(np.int64)
    centre_grid = centre[rows].astype(np.int64)
    paths = Paths(segments, lon, lat, centre_lon, centre_lat, m_per_deg)
    crossing, unsure, on_line = _path_crossings(paths, seg, pair_point)
    touching = np.zeros(n, dtype=bool)
    group_distance = None
    if x is None or y is None:
        touching[pair_point[on_line]] = True
    else:
        distance = segments.distances(seg, x[pair_point], y[pair_point])
        group_distance = (
            np.minimum.reduceat(distance, group_start) if group_start.size else distance
        )
        touching[group_point[group_distance < EDGE_EPS_M + metric_error_m]] = True
    needs_test = np.zeros(n, dtype=bool)
    needs_test[pair_point[unsure]] = True
    parity = np.zeros(n, dtype=bool)
    parity[pair_point[crossing]] = True
    if valid is None:
        needs_test |= parity
    else:  # ring crossings decide containment only for valid geometries
        invalid = (centre_grid >= 0) & ~valid[centre_grid]
        invalid[group_point[~valid[group_grid]]] = True
        needs_test |= parity & invalid
    parity &= ~needs_test
    plain = ~needs_test & ~parity
    chosen = np.where(plain, centre_grid, -1)
    hits = (plain & (centre_grid >= 0)).astype(np.int64)

    # Clean crossings only: the point is in grid G iff the centre is (G is the centre
    # grid) XOR the path crosses G's boundary an odd number of times.
    odd = np.logical_xor.reduceat(crossing, group_start) if group_start.size else crossing
    is_centre = group_grid == centre_grid[group_point]
    in_group = parity[group_point] & (odd != is_centre)
    centre_listed = np.zeros(n, dtype=bool)
    centre_listed[group_point[is_centre]] = True
    keeps_centre = parity & (centre_grid >= 0) & ~centre_listed  # no segment of it: still in
    chosen[keeps_centre] = centre_grid[keeps_centre]
    hits += keeps_centre
    chosen[group_point[in_group]] = group_grid[in_group]
    hits += np.bincount(group_point[in_group], minlength=n)

    # The rest: every grid with a listed segment, plus the centre grid unless listed.
    tested = needs_test[group_point]
    t_point, t_grid = group_point[tested], group_grid[tested]
    listed_centre = np.zeros(n, dtype=bool)
    listed_centre[t_point[t_grid == centre_grid[t_point]]] = True
    extra = np.flatnonzero(needs_test & (centre_grid >= 0) & ~listed_centre)
    test_point = np.r_[t_point, extra]
    test_grid = np.r_[t_grid, centre_grid[extra]]
    inside = shapely.contains_xy(geometries[test_grid], lon[test_point], lat[test_point])
    hit_point, hit_grid = test_point[inside], test_grid[inside]
    chosen[hit_point] = hit_grid
    hits += np.bincount(hit_point, minlength=n)
    decided = (hits == 1) & ~touching
    return EdgeAnswer(decided, chosen, group_point, group_grid, group_distance)


PATH_TOL_M = 0.01


@dataclass(frozen=True)
class Paths:
    """The straight paths from each point's cell centre to the point, over the segments."""

    segments: Segments
    lon: FloatArray
    lat: FloatArray
    centre_lon: FloatArray
    centre_lat: FloatArray
    m_per_deg: tuple[float, float]  # lower bounds of metres per degree (lon, lat)


def _path_crossings(
    paths: Paths, seg: IntArray, pair_point: IntArray
) -> tuple[BoolArray, BoolArray, BoolArray]:
    """Per (point, segment) pair: (clean crossing, unsure, point within PATH_TOL_M of
    the segment's line) for the path centre → point.

    Works in lon/lat scaled to metres (lower bounds, so tolerances err large).
    First a cheap filter: when the centre and the point are both more than
    PATH_TOL_M from the segment's line and on the same side, the whole path is
    on that side and cannot meet the segment (rounding here is ~1e-8 m, far below
    the tolerance). The other pairs (a few %) get the full test of
    :func:`_path_crosses_near`.
    """
    sx, sy = paths.m_per_deg
    nx, ny, offset = (a[seg] for a in paths.segments.lines((sx, sy)))
    centre_x, centre_y = (paths.centre_lon * sx)[pair_point], (paths.centre_lat * sy)[pair_point]
    side_centre = centre_x * nx + centre_y * ny
    side_centre -= offset
    side_point = (paths.lon * sx)[pair_point] * nx + (paths.lat * sy)[pair_point] * ny
    side_point -= offset
    clear = (np.minimum(side_centre, side_point) > PATH_TOL_M) | (
        np.maximum(side_centre, side_point) < -PATH_TOL_M
    )  # False for NaN (zero-length segments)
    maybe = np.flatnonzero(~clear)
    crossing, unsure, on_line = (np.zeros(len(seg), dtype=bool) for _ in range(3))
    crossing[maybe], unsure[maybe], on_line[maybe] = _path_crosses_near(
        paths, seg[maybe], pair_point[maybe]
    )
    return crossing, unsure, on_line


def _path_crosses_near(
    paths: Paths, seg: IntArray, pair_point: IntArray
) -> tuple[BoolArray, BoolArray, BoolArray]:
    """The full test of :func:`_path_crossings`, relative to the cell centre:
    (a proper crossing with every end farther than PATH_TOL_M from the other's
    line, an end within PATH_TOL_M of the other's line, where signs could lie,
    the point within PATH_TOL_M of the segment's line)."""
    sx, sy = paths.m_per_deg
    segments = paths.segments
    c_lon, c_lat = paths.centre_lon[pair_point], paths.centre_lat[pair_point]
    px, py = (paths.lon[pair_point] - c_lon) * sx, (paths.lat[pair_point] - c_lat) * sy
    ax, ay = (segments.lon0[seg] - c_lon) * sx, (segments.lat0[seg] - c_lat) * sy
    bx, by = (segments.lon1[seg] - c_lon) * sx, (segments.lat1[seg] - c_lat) * sy
    ex, ey = bx - ax, by - ay
    side_centre = ex * (0 - ay) - ey * (0 - ax)  # |.| / |e| = distance centre - line ab
    side_point = ex * (py - ay) - ey * (px - ax)
    side_a = px * ay - py * ax  # |.| / |p| = distance a - line (centre, point)
    side_b = px * by - py * bx
    tol_ab = PATH_TOL_M * np.hypot(ex, ey)
    tol_path = PATH_TOL_M * np.hypot(px, py)
    on_line = np.abs(side_point) <= tol_ab
    near = (
        (np.abs(side_centre) <= tol_ab)
        | on_line
        | (np.abs(side_a) <= tol_path)
        | (np.abs(side_b) <= tol_path)
    )
    crossing = (side_centre * side_point < 0) & (side_a * side_b < 0)
    return crossing & ~near, near, on_line
