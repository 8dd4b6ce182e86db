"""The fast path of the grid locator: a lon/lat raster of what is known about each cell.

Each cell (about ``cell_m`` metres square) holds one int32:

* ``>= 0`` — the index of the one grid containing the whole cell, with no
  boundary of any grid within ``near_m`` of it: the answer, no candidates;
* ``FAR`` (-2) — outside every grid and farther than the outside tolerance
  from all of them: ``outside``, no nearest grid;
* ``LISTED - row`` (-3 and below) — grid edges pass near: the cell's row in the
  CSR segment lists of :mod:`geo.engine.edges` decides (numpy, exact);
* ``EXACT`` (-1) — anything else (overlaps, outside within tolerance, off the
  raster): the shapely ``covers`` path.

A cell is "near" an edge when the edge passes within ``near_m`` (+1 % + 1 m)
plus half the cell diagonal of its centre (see :mod:`geo.engine.edges` for why
this makes every answer exact). The centre-in-grid test and the overlap count
come from rasterio (GDAL) on the centres.

Stored are a coarse table of 8 x 8 cell blocks (the blocks' common value, small
enough for the CPU cache) and the cells of the other blocks only, packed block
after block (``fine``): a lookup reads the coarse value and, for mixed blocks,
one packed cell; a listed cell holds its CSR row already.

The whole table is saved as one ``.npy`` per array in a folder under the cache
directory (see :mod:`geo.engine.snapshot`), keyed by generation and a hash of the
grid codes, geometries and parameters, and loaded memory-mapped.

>>> from shapely import box
>>> square = np.array([box(113.0, 34.0, 113.1, 34.1)])
>>> table = LookupTable.build(square, 10, 500, lambda x, y: (x * 1e5, y * 1e5), cell_m=50)
>>> [int(v) >= 0 for v in table.lookup(np.array([113.05, 113.0]), np.array([34.05, 34.05]))]
[True, False]
>>> int(table.lookup_one(120.0, 30.0))
-1
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from cityaware.geo.arrays import (
    BoolArray,
    FloatArray,
    Int32Array,
    IntArray,
    ObjectArray,
    SignedArray,
    StrArray,
)
from cityaware.geo.engine.edges import (
    BLOCK_SHIFT,
    Index,
    Segments,
    ToMetric,
    cells_near_segments,
    key_cell,
    segment_distance,
)

FORMAT_VERSION = "14"
DEFAULT_CELL_M = 20.0
EXACT = -1
FAR = -2
LISTED = -3
FINE = -4  # coarse table only: FINE - k is the k-th packed block of ``fine``
_M_PER_DEG_LAT_MIN = 110_574.0  # metres per degree of latitude at the equator (its minimum)
_M_PER_DEG_LON_EQUATOR = 111_319.0  # just under the WGS84 value, so distances come out short
_NEAR_FACTOR, _NEAR_SLACK_M = 1.01, 1.0  # GK scale error < 1e-4; lon/lat vs metric lines: mm


@dataclass
class LookupTable:
    """Cell raster in lon/lat (row 0 = north edge, column 0 = west edge) + segment lists."""

    fine: Int32Array  # the 64 cells of each mixed block (row-major within it), block by block
    west: float
    north: float
    dlon: float
    dlat: float
    m_per_deg: tuple[float, float]  # lower bounds of metres per degree (lon, lat)
    offsets: IntArray  # CSR: segments of listed row r are entries[offsets[r]:offsets[r+1]]
    entries: Int32Array
    centre: Int32Array  # per listed row: grid index holding the cell centre, or -1
    settled: Int32Array  # per listed row: the centre's grid if no edge crosses the cell
    # (see clear_cells()), else LISTED - row, as lookup() answers
    segments: Segments
    block_rank: Int32Array  # per block: its row in block_affine, or -1 (no listed cell)
    block_affine: FloatArray  # (6, blocks with listed cells): see block_affines()
    metric_error_m: float  # bound on the error of metric_near_edges()
    coarse: SignedArray  # per block: the common value, or FINE - k (see _coarse)

    @property
    def nbytes(self) -> int:
        arrays: list[np.ndarray] = [self.fine, self.coarse]
        arrays += [self.offsets, self.entries, self.centre, self.settled, self.block_rank]
        arrays.append(self.block_affine)
        arrays += self.segments.arrays().values()
        return sum(a.nbytes for a in arrays)

    @classmethod
    def build(
        cls,
        geometries: ObjectArray,
        near_m: float,
        outside_tolerance_m: float,
        to_metric: ToMetric,
        cell_m: float = DEFAULT_CELL_M,
    ) -> LookupTable:
        """Rasterize ``geometries`` (lon/lat polygons, index = grid index)."""
        from rasterio.enums import MergeAlg  # only building needs GDAL
        from rasterio.features import rasterize
        from rasterio.transform import Affine

        west, south, east, north = shapely.total_bounds(geometries)
        mid_lat = math.radians((south + north) / 2)
        dlat = cell_m / _M_PER_DEG_LAT_MIN
        dlon = cell_m / (_M_PER_DEG_LON_EQUATOR * math.cos(mid_lat))
        max_abs_lat = math.radians(min(89.0, max(abs(south), abs(north)) + 0.1))
        m_per_deg = (_M_PER_DEG_LON_EQUATOR * math.cos(max_abs_lat), _M_PER_DEG_LAT_MIN)
        half_diagonal = 0.5 * math.hypot(dlon * m_per_deg[0], dlat * m_per_deg[1])
        reach = near_m * _NEAR_FACTOR + _NEAR_SLACK_M + half_diagonal
        pad = 2 + math.ceil(reach / min(dlon * m_per_deg[0], dlat * m_per_deg[1]))
        west, north = west - pad * dlon, north + pad * dlat
        shape = (
            math.ceil((north - south) / dlat) + pad,
            math.ceil((east - west) / dlon) + pad,
        )
        transform = Affine(dlon, 0.0, west, 0.0, -dlat, north)
        present = [i for i in range(len(geometries)) if not shapely.is_empty(geometries[i])]

        def burn(shapes: Iterable[tuple[dict[str, Any], int]], **options: Any) -> np.ndarray:
            burned: np.ndarray = rasterize(shapes, out_shape=shape, transform=transform, **options)
            return burned

        shapes = dict(zip(present, _geojson(geometries[present]), strict=True))
        # Reversed, so the smallest index is burned last and wins where grids overlap.
        index = burn(((shapes[i], i) for i in reversed(present)), fill=-1, dtype="int32")
        count = burn(
            ((shapes[i], 1) for i in present), fill=0, dtype="uint8", merge_alg=MergeAlg.add
        )
        tolerance_deg = (outside_tolerance_m * _NEAR_FACTOR + reach) / min(m_per_deg)
        envelopes = shapely.buffer(
            shapely.envelope(geometries[present]), tolerance_deg, quad_segs=1
        )
        near_city = burn(((e, 1) for e in envelopes), fill=0, dtype="uint8", all_touched=True)

        cells = np.where(count == 1, index, EXACT).astype(np.int32)
        cells[(count == 0) & (near_city == 0)] = FAR
        segments = Segments.of(geometries, to_metric)
        cell_of, seg_of = cells_near_segments(
            segments, shape, west, north, dlon, dlat, reach, m_per_deg
        )
        keys, first = np.unique(cell_of, return_index=True)
        row, col = key_cell(keys, shape[1])
        # What lookup() answers: a listed cell its CSR row (its rank in keys).
        cells[row, col] = np.where(count[row, col] <= 1, LISTED - np.arange(len(keys)), EXACT)
        centre = np.where(count[row, col] == 1, index[row, col], -1).astype(np.int32)
        frame = (west, north, dlon, dlat)
        clear = clear_cells(segments, keys, cell_of, seg_of, shape[1], frame, m_per_deg)
        clear &= (centre >= 0) & shapely.is_valid(geometries)[np.maximum(centre, 0)]
        settled = np.where(clear, centre, LISTED - np.arange(len(keys))).astype(np.int32)
        coarse, fine = _coarse(_pad_to_blocks(cells))
        offsets = np.r_[first, len(cell_of)].astype(np.int64)
        entries = seg_of.astype(np.int32)
        block_cols = -(-shape[1] // (1 << BLOCK_SHIFT))
        listed_blocks = np.unique(keys >> (2 * BLOCK_SHIFT))
        block_rank = np.full(_block_count(shape), -1, dtype=np.int32)
        block_rank[listed_blocks] = np.arange(len(listed_blocks))
        block_affine, metric_error_m = block_affines(listed_blocks, block_cols, frame, to_metric)
        return cls(
            fine,
            west,
            north,
            dlon,
            dlat,
            m_per_deg,
            offsets,
            entries,
            centre,
            settled,
            segments,
            block_rank,
            block_affine,
            metric_error_m,
            coarse,
        )

    def lookup(self, lon: FloatArray, lat: FloatArray) -> IntArray:
        """Cell value per point (see the module doc); EXACT for NaN and off-raster points.

        The coarse table answers blocks with one common value; only the other points
        read their packed cell. The coarse table has a border of EXACT blocks, so
        off-raster and NaN points need no mask: their indices are clamped into that border.
        """
        size = 1 << BLOCK_SHIFT
        rows, cols = self.shape
        narrow = (rows + 2 * size) * (cols + 2 * size) < np.iinfo(np.int32).max
        index_type = np.int32 if narrow else np.int64  # half the memory traffic
        col = _padded_index(np.subtract(lon, self.west), 1.0 / self.dlon, cols, index_type)
        row = _padded_index(np.subtract(self.north, lat), 1.0 / self.dlat, rows, index_type)
        block = row >> BLOCK_SHIFT
        block *= self.coarse.shape[1]
        block += col >> BLOCK_SHIFT
        # mode="clip" only skips the bounds check: every index is in range by construction.
        found = self.coarse.ravel().take(block, mode="clip").astype(np.int64)
        mixed = np.flatnonzero(found <= FINE)  # always within the raster
        within, col = row.take(mixed), col.take(mixed)  # the border is whole blocks:
        within &= size - 1  # the bits within a block are those of the raster cell
        within <<= BLOCK_SHIFT
        col &= size - 1
        within |= col
        packed = FINE - found[mixed]
        packed <<= 2 * BLOCK_SHIFT
        packed += within
        found[mixed] = self.fine.take(packed, mode="clip")
        return found

    @property
    def shape(self) -> tuple[int, int]:
        """Rows and columns of the raster (whole blocks)."""
        size = 1 << BLOCK_SHIFT
        return (self.coarse.shape[0] - 2) * size, (self.coarse.shape[1] - 2) * size

    def metric_near_edges(self, lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Metric x, y of points in listed cells from their block's affine stand-in for
        the projection: within ``metric_error_m`` of ``to_metric`` (see
        :func:`block_affines`), about ten times faster."""
        size = 1 << BLOCK_SHIFT
        block_col = np.floor((lon - self.west) * (1.0 / self.dlon)).astype(np.intp) >> BLOCK_SHIFT
        block_row = np.floor((self.north - lat) * (1.0 / self.dlat)).astype(np.intp) >> BLOCK_SHIFT
        block = block_row * -(-self.shape[1] // size) + block_col
        rank = self.block_rank[block]
        x, y, x_lon, x_lat, y_lon, y_lat = (row.take(rank) for row in self.block_affine)
        # The block centre as in block_affines(): same arithmetic, same value.
        d_lon = lon - (self.west + (block_col * size + size / 2) * self.dlon)
        d_lat = lat - (self.north - (block_row * size + size / 2) * self.dlat)
        x_lon *= d_lon
        x_lat *= d_lat
        x += x_lon
        x += x_lat
        y_lon *= d_lon
        y_lat *= d_lat
        y += y_lon
        y += y_lat
        return x, y

    def cell_centres(self, lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Lon/lat of the centres of the cells holding (on-raster) points."""
        col = np.floor((lon - self.west) * (1.0 / self.dlon))
        row = np.floor((self.north - lat) * (1.0 / self.dlat))
        return self.west + (col + 0.5) * self.dlon, self.north - (row + 0.5) * self.dlat

    def lookup_one(self, lon: float, lat: float) -> int:
        """Scalar :meth:`lookup` without numpy array overhead."""
        col = math.floor((lon - self.west) * (1.0 / self.dlon))
        row = math.floor((self.north - lat) * (1.0 / self.dlat))
        rows, cols = self.shape
        if not (0 <= row < rows and 0 <= col < cols):
            return EXACT
        value = int(self.coarse[(row >> BLOCK_SHIFT) + 1, (col >> BLOCK_SHIFT) + 1])
        if value > FINE:
            return value
        mask = (1 << BLOCK_SHIFT) - 1
        within = ((row & mask) << BLOCK_SHIFT) | (col & mask)
        return int(self.fine[((FINE - value) << (2 * BLOCK_SHIFT)) + within])

    def arrays(self) -> dict[str, np.ndarray]:
        """Every array of the table by name (what :meth:`save` writes)."""
        return {
            "fine": self.fine,
            "frame": np.array([self.west, self.north, self.dlon, self.dlat, *self.m_per_deg]),
            "metric_error_m": np.array(self.metric_error_m),
            "block_rank": self.block_rank,
            "block_affine": self.block_affine,
            "offsets": self.offsets,
            "entries": self.entries,
            "centre": self.centre,
            "settled": self.settled,
            "coarse": self.coarse,
            **self.segments.arrays(),
        }

    def save(self, folder: Path) -> None:
        """One ``.npy`` per array into ``folder`` (the caller makes it appear atomically)."""
        folder.mkdir(parents=True, exist_ok=True)
        for name, array in self.arrays().items():
            np.save(folder / f"{name}.npy", array, allow_pickle=False)

    @classmethod
    def load(cls, folder: Path) -> LookupTable:
        """The table saved in ``folder``, memory-mapped: loading costs milliseconds and only
        the pages that lookups touch are read."""
        saved = {
            path.stem: np.asarray(np.load(path, mmap_mode="r", allow_pickle=False))
            for path in folder.glob("*.npy")
        }
        west, north, dlon, dlat, sx, sy = (float(v) for v in saved["frame"])
        return cls(
            saved["fine"],
            west,
            north,
            dlon,
            dlat,
            (sx, sy),
            saved["offsets"],
            saved["entries"],
            saved["centre"],
            saved["settled"],
            Segments.from_arrays(saved),
            saved["block_rank"],
            saved["block_affine"],
            float(saved["metric_error_m"]),
            saved["coarse"],
        )


def clear_cells(
    segments: Segments,
    keys: IntArray,
    cell_of: IntArray,
    seg_of: IntArray,
    cols: int,
    frame: tuple[float, float, float, float],
    m_per_deg: tuple[float, float],
) -> BoolArray:
    """Per listed cell (``keys``, sorted; pairs ``cell_of``, ``seg_of`` sorted by cell):
    True when none of its segments comes within half the cell diagonal (+ slack)
    of its centre, measured like :func:`geo.engine.edges.cells_near_segments`.

    Every segment nearer than the listing reach is listed, so no edge of any grid
    crosses such a cell: all its points are where its centre is. Callers that ask
    for containment only (no candidates) answer them from the centre's grid.

    >>> from shapely import box
    >>> from cityaware.geo.engine.edges import block_key
    >>> segs = Segments.of(np.array([box(0.0, 0.0, 10.0, 10.0)]), lambda x, y: (x, y))
    >>> keys = block_key(np.array([0, 4]), np.array([0, 4]), 8)  # centres (0.5, 9.5), (4.5, 5.5)
    >>> cell_of, seg_of = np.repeat(keys, 4), np.tile(np.arange(4), 2)
    >>> clear_cells(segs, keys, cell_of, seg_of, 8, (0.0, 10.0, 1.0, 1.0), (1.0, 1.0)).tolist()
    [False, True]
    """
    west, north, dlon, dlat = frame
    sx, sy = m_per_deg
    row, col = key_cell(cell_of, cols)
    px = np.asarray((west + (col + 0.5) * dlon) * sx, dtype=np.float64)
    py = np.asarray((north - (row + 0.5) * dlat) * sy, dtype=np.float64)
    distance = segment_distance(
        px,
        py,
        segments.lon0[seg_of] * sx,
        segments.lat0[seg_of] * sy,
        segments.lon1[seg_of] * sx,
        segments.lat1[seg_of] * sy,
    )
    starts = np.searchsorted(cell_of, keys)
    nearest = np.minimum.reduceat(distance, starts) if len(keys) else distance
    half_diagonal = 0.5 * math.hypot(dlon * sx, dlat * sy)
    clear: BoolArray = nearest > half_diagonal + _NEAR_SLACK_M
    return clear


def block_affines(
    blocks: IntArray, block_cols: int, frame: tuple[float, ...], to_metric: ToMetric
) -> tuple[FloatArray, float]:
    """Affine stand-ins for ``to_metric`` on ``blocks`` and a bound on their error (m).

    Column k of the (6, len(blocks)) result holds, for block k: x and y at the block
    centre, then dx/dlon, dx/dlat, dy/dlon, dy/dlat as secants through the
    midpoints of opposite block edges. The projection is smooth, so within a block
    (offset h from the centre, half-size a few cells) f(c + h) = f(c) + J h +
    Q(h) + O(|h|^3 / R^2), Q quadratic; the secants are exactly J for the
    quadratic part, so the error R(h) = Q(h) is homogeneous: R(t h) = t^2 R(h),
    and its largest value over the block lies on the block edges. Along an edge,
    R is a quadratic in s in [-1, 1], so |R(s)| <= |R0| + |R1| + |R2| <=
    2 |R(0)| + |R(-1)| + |R(1)|, computed here from the exact projection of the
    edge ends and midpoints. The bound is the largest over all blocks, plus 1 µm
    for the cubic terms (~1e-8 m) and rounding. For 20 m cells it is about 1 mm:
    distances within that of a decision threshold are handed to the exact path.
    """
    west, north, dlon, dlat = frame
    size = 1 << BLOCK_SHIFT
    half = size / 2
    lon_c = west + ((blocks % block_cols) * size + half) * dlon
    lat_c = north - ((blocks // block_cols) * size + half) * dlat
    step = np.array([-1.0, 0.0, 1.0])  # 3 x 3 samples: block corners, edge midpoints, centre
    lon = lon_c[:, None, None] + step[None, :, None] * (half * dlon)
    lat = lat_c[:, None, None] + step[None, None, :] * (half * dlat)
    lon, lat = np.broadcast_arrays(lon, lat)
    x, y = (a.reshape(lon.shape) for a in to_metric(lon.ravel(), lat.ravel()))
    x_lon = (x[:, 2, 1] - x[:, 0, 1]) / (2 * half * dlon)
    x_lat = (x[:, 1, 2] - x[:, 1, 0]) / (2 * half * dlat)
    y_lon = (y[:, 2, 1] - y[:, 0, 1]) / (2 * half * dlon)
    y_lat = (y[:, 1, 2] - y[:, 1, 0]) / (2 * half * dlat)
    x_c, y_c = x[:, 1, 1], y[:, 1, 1]
    affine = np.vstack([x_c, y_c, x_lon, x_lat, y_lon, y_lat])
    d_lon, d_lat = lon - lon_c[:, None, None], lat - lat_c[:, None, None]
    x_c, y_c, x_lon, x_lat, y_lon, y_lat = (a[:, None, None] for a in affine)  # over samples
    error = np.hypot(
        x - (x_c + x_lon * d_lon + x_lat * d_lat), y - (y_c + y_lon * d_lon + y_lat * d_lat)
    )
    edges = (error[:, :, 0], error[:, :, 2], error[:, 0, :], error[:, 2, :])
    bound = max((2 * e[:, 1] + e[:, 0] + e[:, 2]).max(initial=0.0) for e in edges)
    return affine, float(bound) + 1e-6


def _block_count(shape: tuple[int, int]) -> int:
    size = 1 << BLOCK_SHIFT
    return -(-shape[0] // size) * -(-shape[1] // size)


def _pad_to_blocks(cells: Int32Array) -> Int32Array:
    """Cells extended south and east with EXACT (off the raster) to whole blocks."""
    size = 1 << BLOCK_SHIFT
    rows, cols = cells.shape
    return np.pad(
        cells, ((0, -rows % size), (0, -cols % size)), mode="constant", constant_values=EXACT
    )


def _coarse(cells: Int32Array) -> tuple[SignedArray, Int32Array]:
    """The coarse table and the packed cells of ``cells`` (padded to whole blocks).

    A block whose cells all agree gets their value (never a listed cell: each has its
    own CSR row); the k-th other block, in row-major block order, gets FINE - k and its
    64 cells go to ``fine[64 k : 64 (k + 1)]``, row-major within the block. A border
    one block wide of EXACT goes all round, for points off the raster (see
    :func:`_padded_index`).

    >>> cells = np.zeros((8, 16), dtype=np.int32)
    >>> cells[0, 9] = EXACT
    >>> coarse, fine = _coarse(cells)
    >>> coarse[1, 1:3].tolist(), fine.reshape(-1, 64)[0, :2].tolist()
    ([0, -4], [0, -1])
    """
    rows, cols = cells.shape
    size = 1 << BLOCK_SHIFT
    blocks = cells.reshape(rows // size, size, cols // size, size).swapaxes(1, 2)
    low, high = blocks.min(axis=(2, 3)), blocks.max(axis=(2, 3))
    mixed = low != high
    fine = np.ascontiguousarray(blocks[mixed]).reshape(-1)
    coarse = low.astype(np.int64)
    coarse[mixed] = FINE - np.arange(np.count_nonzero(mixed))
    small = (
        np.iinfo(np.int16).min < coarse.min(initial=0)
        and coarse.max(initial=0) <= np.iinfo(np.int16).max
    )  # grid indices too: a city of more than 32,767 grids
    coarse_type: type[np.signedinteger[Any]] = np.int16 if small else np.int32
    padded = np.pad(coarse, 1, mode="constant", constant_values=EXACT).astype(coarse_type)
    return padded, fine


def _padded_index(
    offset: FloatArray, scale: float, count: int, dtype: type[np.signedinteger[Any]] = np.int64
) -> Index:
    """One block + ``floor(offset * scale)`` (the cell index), clamped into the border
    blocks of the coarse table: [0, count + 2 blocks). NaN lands in the first.
    ``offset`` (a fresh array of distances from the raster edge) is overwritten.

    The arithmetic is the same as :meth:`LookupTable.cell_centres`, so a point's cell
    and its cell centre always agree.

    >>> _padded_index(np.array([-5.0, 0.5, 3.2, 99.0, np.nan]), 1.0, 16).tolist()
    [3, 8, 11, 24, 0]
    """
    size = 1 << BLOCK_SHIFT
    index = offset
    index *= scale
    np.floor(index, out=index)
    np.fmax(index, -size, out=index)  # also NaN -> -size
    np.fmin(index, count, out=index)
    cells = index.astype(dtype)
    cells += size
    return cells


def _geojson(geometries: ObjectArray) -> list[dict[str, Any]]:
    """GeoJSON dicts for rasterio via shapely's vectorised writer (faster than geo_interface)."""
    return [json.loads(text) for text in shapely.to_geojson(geometries)]


def cache_key(codes: StrArray, geometries: ObjectArray, *parameters: float) -> str:
    """Hash of everything the table depends on (codes in order, exact WKB, parameters)."""
    digest = hashlib.sha256(f"{FORMAT_VERSION}|{parameters!r}|".encode())
    digest.update("\x1f".join(codes).encode())
    for wkb in shapely.to_wkb(geometries, hex=False, include_srid=False):
        digest.update(wkb)
    return digest.hexdigest()[:20]
