"""The fast path of the grid locator: a lon/lat raster of "which grid, surely".

Each cell (about ``cell_m`` metres square) holds the index of the one grid
that contains the *whole cell with a margin*, or -1 ("ask the exact path").
A cell is sure when its centre lies in exactly one grid and no grid boundary
(outer ring, hole or part) comes within ``near_m`` metres plus a slack of a
quarter cell: every boundary is buffered by that reach (in degrees, using the
larger of the degree-per-metre factors of longitude and latitude, so the
buffer is at least that many metres in every direction) and burned with
``all_touched=True``. Every point of a sure cell is therefore strictly inside
its grid and farther than ``near_m`` from every other grid: the lookup answer
is exactly the geometric answer, with no candidates.

The raster is saved as an ``.npz`` under the cache directory, keyed by
generation and a hash of the grid codes, geometries and parameters.

>>> from shapely import box
>>> table = LookupTable.build(np.array([box(113.0, 34.0, 113.1, 34.1)]), near_m=10, cell_m=50)
>>> table.lookup(np.array([113.05, 113.0, 120.0]), np.array([34.05, 34.05, 30.0])).tolist()
[0, -1, -1]
"""

from __future__ import annotations

import hashlib
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
from affine import Affine
from rasterio.enums import MergeAlg
from rasterio.features import rasterize

FORMAT_VERSION = "1"
DEFAULT_CELL_M = 20.0
EXACT = -1
_M_PER_DEG_LAT_MIN = 110_574.0  # metres per degree of latitude at the equator (its minimum)
_M_PER_DEG_LON_EQUATOR = 111_319.0  # slightly under the WGS84 value, so cells come out larger
# Boundaries are buffered by near_m * _REACH_FACTOR + _SLACK_CELLS cells: the factor covers
# the Gauss-Krüger scale error (< 1e-4) and the slack covers the few-percent inscribed
# buffer arcs (quad_segs=2) and floating-point rounding when a point is binned.
_REACH_FACTOR = 1.01
_SLACK_CELLS = 0.25


@dataclass
class LookupTable:
    """Cell raster in lon/lat: row 0 is the north edge, column 0 the west edge."""

    cells: np.ndarray
    west: float
    north: float
    dlon: float
    dlat: float

    @property
    def nbytes(self) -> int:
        return int(self.cells.nbytes)

    @classmethod
    def build(
        cls, geometries: np.ndarray, near_m: float, cell_m: float = DEFAULT_CELL_M
    ) -> LookupTable:
        """Rasterize ``geometries`` (lon/lat polygons, index = grid index)."""
        west, south, east, north = shapely.total_bounds(geometries)
        mid_lat = math.radians((south + north) / 2)
        dlat = cell_m / _M_PER_DEG_LAT_MIN
        dlon = cell_m / (_M_PER_DEG_LON_EQUATOR * math.cos(mid_lat))
        max_abs_lat = math.radians(min(89.0, max(abs(south), abs(north))))
        degrees_per_m = max(
            1 / _M_PER_DEG_LAT_MIN, 1 / (_M_PER_DEG_LON_EQUATOR * math.cos(max_abs_lat))
        )
        reach = (near_m * _REACH_FACTOR + cell_m * _SLACK_CELLS) * degrees_per_m
        pad = 2 + math.ceil(reach / min(dlon, dlat))
        west, north = west - pad * dlon, north + pad * dlat
        shape = (
            math.ceil((north - south) / dlat) + pad,
            math.ceil((east - west) / dlon) + pad,
        )
        transform = Affine(dlon, 0.0, west, 0.0, -dlat, north)
        n = len(geometries)
        present = [i for i in range(n) if not shapely.is_empty(geometries[i])]
        # Reversed, so the smallest index is burned last and wins where grids overlap.
        index = rasterize(
            ((geometries[i], i) for i in reversed(present)),
            out_shape=shape,
            transform=transform,
            fill=EXACT,
            dtype="int32",
        )
        count = rasterize(
            ((geometries[i], 1) for i in present),
            out_shape=shape,
            transform=transform,
            fill=0,
            dtype="uint8",
            merge_alg=MergeAlg.add,
        )
        near_edges = shapely.buffer(shapely.boundary(geometries[present]), reach, quad_segs=2)
        unsure = rasterize(
            ((b, 1) for b in near_edges),
            out_shape=shape,
            transform=transform,
            fill=0,
            dtype="uint8",
            all_touched=True,
        ).astype(bool)
        unsure |= count != 1
        dtype = np.int16 if n < np.iinfo(np.int16).max else np.int32
        cells = np.where(unsure, EXACT, index).astype(dtype)
        return cls(cells=cells, west=west, north=north, dlon=dlon, dlat=dlat)

    def lookup(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Grid index per point, or -1 where the exact path must decide (also NaN/off-raster)."""
        rows, cols = self.cells.shape
        col = np.floor((lon - self.west) / self.dlon)
        row = np.floor((self.north - lat) / self.dlat)
        on_raster = (col >= 0) & (col < cols) & (row >= 0) & (row < rows)
        flat = np.where(on_raster, row * cols + col, 0).astype(np.intp)
        found = self.cells.ravel()[flat].astype(np.int64)
        found[~on_raster] = EXACT
        return found

    def lookup_one(self, lon: float, lat: float) -> int:
        """Scalar :meth:`lookup` without numpy array overhead."""
        col = math.floor((lon - self.west) / self.dlon)
        row = math.floor((self.north - lat) / self.dlat)
        rows, cols = self.cells.shape
        if 0 <= row < rows and 0 <= col < cols:
            return int(self.cells[row, col])
        return EXACT

    def save(self, path: Path) -> None:
        """Write atomically (temp file + rename), so readers never see half a table."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp.npz")
        os.close(fd)
        try:
            np.savez(tmp, cells=self.cells, frame=[self.west, self.north, self.dlon, self.dlat])
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    @classmethod
    def load(cls, path: Path) -> LookupTable:
        with np.load(path, allow_pickle=False) as saved:
            west, north, dlon, dlat = (float(v) for v in saved["frame"])
            return cls(cells=saved["cells"], west=west, north=north, dlon=dlon, dlat=dlat)


def cache_key(codes: np.ndarray, geometries: np.ndarray, near_m: float, cell_m: float) -> str:
    """Hash of everything the table depends on (codes in order, exact WKB, parameters)."""
    digest = hashlib.sha256(f"{FORMAT_VERSION}|{near_m!r}|{cell_m!r}|".encode())
    digest.update("\x1f".join(codes).encode())
    for wkb in shapely.to_wkb(geometries, hex=False, include_srid=False):
        digest.update(wkb)
    return digest.hexdigest()[:20]
