"""Point → governance grid (or the finest unit outlined there), exact, any CRS.

The locator indexes the generation's *leaf* units: every outlined unit with no
finer outlined unit below it (:func:`leaf_units`). In a city with grids those
are the grids; a city with district outlines only answers districts, and a
district without finer outlines answers itself (``level`` says which level
answered; finer codes are None). Units known without outline (division lists)
join the records, so chains reach up to the city.

:class:`GridLocator` answers in three tiers, each exact:

1. a lon/lat lookup raster (:mod:`geo.engine.lookup`, ~20 m cells): a cell
   safely inside one grid, or far outside all, answers at once (~86 % of
   points in the demo benchmark);
2. cells that grid edges pass near carry lists of those edge segments
   (:mod:`geo.engine.edges`): numpy distances in metres (points projected by
   per-block affine maps with a proven error bound of ~2 mm; closer calls go
   to tier 3) plus the parity of the edges crossed on the way from the cell
   centre, or GEOS ``contains_xy`` when a crossing is unsure, decide (~13 %);
3. the rest — points on or within 5 cm of an edge, overlapping grids, outside
   points that need the nearest grid — go to shapely ``covers`` / ``dwithin``
   / ``query_nearest`` on the true polygons (:mod:`geo.engine.exact`).

So every answer equals the geometric answer of ``shapely.covers``. The
raster and lists are cached on disk per generation (``cache_dir``). Big
batches are split over two worker threads (:meth:`GridLocator.locate_lonlat`).

Rules:

* **Tie rule.** A point covered by several grids (on a shared edge or vertex)
  goes to the covering grid with the *smallest code* (string order).
* **on_boundary** means the point lies on the boundary of its assigned grid.
* **Candidates.** For every point within ``near_m`` metres of a grid other
  than its own, ``candidates`` lists those other grids (sorted by code);
  otherwise it is None.
* **Outside.** No grid covers the point: status ``outside``, no grid; the
  nearest grid and its distance in metres when within ``outside_tolerance_m``
  (smallest code on equal distance).

Distances are in the city's CGCS2000 Gauss-Krüger zone (chosen from its longitude).

>>> import geopandas as gpd
>>> from shapely import box
>>> units = gpd.GeoDataFrame({"code": ["g1", "g2"], "name": ["A", "B"], "level": "grid",
...     "parent_code": "410202001001", "managing_zone": "", "attributes": "{}"},
...     geometry=[box(113.0, 34.0, 113.01, 34.01), box(113.01, 34.0, 113.02, 34.01)], crs=4326)
>>> locator = GridLocator.build(units, "demo")
>>> hit = locator.locate(113.01, 34.005)
>>> hit.status, hit.grid_code, hit.candidates, hit.level
('on_boundary', 'g1', ['g2'], 'grid')
>>> districts = units.assign(level="district", parent_code="")
>>> GridLocator.build(districts, "coarse").locate(113.015, 34.005).to_dict()["district_code"]
'g2'
"""

from __future__ import annotations

import gc
import json
import math
import os
import re
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from cityaware.geo.arrays import Int8Array, IntArray
from cityaware.geo.crs import WGS84, lonlat_problem, normalize_crs, to_lonlat
from cityaware.geo.engine import edges
from cityaware.geo.engine.exact import ExactIndex
from cityaware.geo.engine.lookup import DEFAULT_CELL_M, EXACT, FAR, LISTED, LookupTable, cache_key
from cityaware.geo.engine.results import (
    INSIDE,
    INVALID,
    ON_BOUNDARY,
    OUTSIDE,
    STATUS_NAMES,
    Location,
    LocationBatch,
)
from cityaware.geo.errors import InvalidInput, NotFound

LEVEL_ORDER = ("grid", "community", "street", "district", "city")
WORKERS = min(2, os.cpu_count() or 1)  # threads for one big batch
PART_MIN_POINTS = 50_000  # smaller parts are not worth a thread hand-over
CHAIN_COLUMNS = (
    "grid_code",
    "community_code",
    "street_code",
    "district_code",
    "city_code",
    "managing_zone",
    "level",
)
RECORD_COLUMNS = ("code", "name", "level", "parent_code", "managing_zone", "attributes")


class GridLocator:
    """Answers which grid (or finest outlined unit) and chain up to the city holds a point."""

    def __init__(
        self,
        units: gpd.GeoDataFrame,
        generation: str,
        table: LookupTable | None,
        exact: ExactIndex,
        near_m: float,
        outside_tolerance_m: float,
        from_cache: bool = False,
        divisions: pd.DataFrame | None = None,
    ) -> None:
        self.generation = generation
        self.near_m = float(near_m)
        self.outside_tolerance_m = float(outside_tolerance_m)
        self.table = table
        self.exact = exact
        self.from_cache = from_cache
        self._records = _records(divisions) if divisions is not None else {}
        self._records.update(_records(units))  # an outlined unit wins over its division row
        self.leaf_codes = leaf_units(units)["code"].to_numpy(dtype=object)
        chains = [self._chain_codes(code) for code in self.leaf_codes]
        # One row per leaf index, one column per CHAIN_COLUMNS name, and a trailing
        # row of None so that index -1 ("no unit") reads as None. A single 2-D take
        # gathers all seven columns about twice as fast as seven 1-D gathers.
        self._chains = np.array(chains + [[None] * len(CHAIN_COLUMNS)], dtype=object)
        self._rows = [tuple(c) for c in chains]

    @classmethod
    def build(
        cls,
        units: gpd.GeoDataFrame,
        generation: str,
        cache_dir: Path | None = None,
        near_m: float = 10.0,
        outside_tolerance_m: float = 500.0,
        cell_m: float | None = DEFAULT_CELL_M,
        divisions: pd.DataFrame | None = None,
    ) -> GridLocator:
        """Index the leaf units of a units frame (see the module docstring).

        ``divisions`` (code, name, level, parent_code; no outline) add records to the
        chains. With ``cache_dir`` the lookup raster is loaded from / saved to
        ``<cache_dir>/grid-lookup-<generation>-<hash>.npz``. ``cell_m=None``
        disables the raster (exact path only).
        """
        if units.crs is not None and not units.crs.equals("EPSG:4326"):
            units = units.to_crs("EPSG:4326")
        grids = leaf_units(units)
        if grids.empty:
            raise InvalidInput(f"generation {generation!r} has no outlines to locate in")
        geometries = grids.geometry.to_numpy()
        exact = ExactIndex(geometries, outside_tolerance_m)
        table, from_cache = None, False
        if cell_m is not None:
            path = None
            if cache_dir is not None:
                codes = grids["code"].to_numpy(dtype=str)
                key = cache_key(codes, geometries, near_m, outside_tolerance_m, cell_m)
                safe = re.sub(r"[^A-Za-z0-9_.-]", "_", generation)
                path = Path(cache_dir) / f"grid-lookup-{safe}-{key}.npz"
            if path is not None and path.exists():
                table, from_cache = LookupTable.load(path), True
            else:
                table = LookupTable.build(
                    geometries, near_m, outside_tolerance_m, exact.to_metric, cell_m=cell_m
                )
                if path is not None:
                    table.save(path)
                    _remove_stale(path, safe)
        return cls(
            units, generation, table, exact, near_m, outside_tolerance_m, from_cache, divisions
        )

    def locate(self, x: float, y: float, crs: str = WGS84) -> Location:
        """Locate one point given in ``crs`` (x = lon/easting, y = lat/northing).

        Raises InvalidInput for unusable coordinates or an unknown CRS.
        """
        if normalize_crs(crs) == WGS84:
            lon, lat = float(x), float(y)
            problem = lonlat_problem(lon, lat)
            if problem:
                raise InvalidInput(problem)
        else:
            lon, lat = (float(v) for v in to_lonlat(x, y, crs))
        index = self.table.lookup_one(lon, lat) if self.table is not None else EXACT
        if index == FAR:
            return Location("outside", None, None, None, None, None, self.generation, lon, lat)
        if index < 0:
            return self.locate_lonlat(np.array([lon]), np.array([lat]))[0]
        grid, community, street, district, city, zone, level = self._rows[index]
        return Location(
            "inside",
            grid,
            community,
            street,
            district,
            zone,
            self.generation,
            lon,
            lat,
            level=level,
            city_code=city,
        )

    def locate_many(self, x: npt.ArrayLike, y: npt.ArrayLike, crs: str = WGS84) -> LocationBatch:
        """Locate many points (arrays, lists or GeoSeries coordinates) in one go.

        Raises InvalidInput naming the first bad row; use
        :func:`geo.crs.to_lonlat_checked` + :meth:`locate_lonlat` to keep going instead.
        """
        lon, lat = to_lonlat(np.atleast_1d(x), np.atleast_1d(y), crs)
        return self.locate_lonlat(lon, lat)

    def locate_lonlat(self, lon: npt.ArrayLike, lat: npt.ArrayLike) -> LocationBatch:
        """Locate already-validated WGS84 points; NaN rows come back ``invalid``.

        Batches of at least ``2 * PART_MIN_POINTS`` points are cut into one part per
        worker thread (at most :data:`WORKERS`): numpy, pyproj and shapely release
        the GIL for most of the work, so the parts run side by side.
        """
        lons, lats = np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)
        n = len(lons)
        batch = LocationBatch.empty(self.generation, n, codes=False)
        batch.lon, batch.lat = lons, lats
        status = np.empty(n, dtype=np.int8)
        found = np.empty(n, dtype=np.int64)  # grid index per point, -1 none
        bounds = np.linspace(0, n, max(1, min(WORKERS, n // PART_MIN_POINTS)) + 1).astype(int)
        parts = [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
        others = [_executor().submit(self._locate_part, batch, p, status, found) for p in parts[1:]]
        self._locate_part(batch, parts[0], status, found)
        for future in others:
            future.result()
        batch.status = STATUS_NAMES[status]
        chains = self._chains.take(found, axis=0)  # -1 takes the trailing row of None
        for k, name in enumerate(CHAIN_COLUMNS):
            setattr(batch, name, chains[:, k])  # strided views of one fresh matrix
        return batch

    def _locate_part(
        self, whole: LocationBatch, part: slice, status: Int8Array, grid: IntArray
    ) -> None:
        """Locate the rows ``part`` of ``whole``: fill its columns, ``status`` and ``grid``."""
        batch, status = whole.part(part), status[part]
        lon, lat = batch.lon, batch.lat
        if self.table is not None:
            found = self.table.lookup(lon, lat)  # EXACT for NaN and infinity
        else:
            found = np.full(len(lon), EXACT)
        np.copyto(status, np.where(found >= 0, INSIDE, OUTSIDE), casting="unsafe")
        listed = np.flatnonzero(found <= LISTED)
        if listed.size:  # sets found to EXACT for the points it cannot decide
            self._locate_near_edges(batch, found, status, listed)
        exact = np.flatnonzero(found == EXACT)
        finite = np.isfinite(lon[exact]) & np.isfinite(lat[exact])
        invalid, exact = exact[~finite], exact[finite]
        found[found < 0] = -1
        if exact.size:
            self._locate_exactly(batch, found, status, exact)
        status[invalid] = INVALID
        batch.error[invalid] = "not a finite number"
        grid[part] = found

    def _locate_near_edges(
        self, batch: LocationBatch, found: IntArray, status: Int8Array, rows: IntArray
    ) -> None:
        """Answer points of listed cells from their segment lists; undecided ones -> EXACT."""
        lon, lat = batch.lon[rows], batch.lat[rows]
        table = self.table
        assert table is not None  # listed cells come only from the lookup table
        x, y = table.metric_near_edges(lon, lat)  # within metric_error_m of to_metric
        centre_lon, centre_lat = table.cell_centres(lon, lat)
        answer = edges.resolve(
            table.segments,
            table.offsets,
            table.entries,
            table.centre,
            LISTED - found[rows],
            lon,
            lat,
            x,
            y,
            centre_lon,
            centre_lat,
            table.m_per_deg,
            self.exact.geometries,
            table.metric_error_m,
            self.exact.valid,
        )
        decided = answer.decided
        # Too close to call with approximate metric coordinates: the exact path decides.
        unsure = np.abs(answer.group_distance - self.near_m) <= table.metric_error_m
        decided[answer.group_point[unsure]] = False
        found[rows[decided]] = answer.chosen[decided]
        status[rows[decided]] = INSIDE
        point, grid = answer.group_point, answer.group_grid
        keep = (
            decided[point] & (answer.group_distance <= self.near_m) & (grid != answer.chosen[point])
        )
        self._set_candidates(batch, rows, point[keep], grid[keep])
        found[rows[~decided]] = EXACT

    def _set_candidates(
        self, batch: LocationBatch, rows: IntArray, point_idx: IntArray, grid_idx: IntArray
    ) -> None:
        """candidates[rows[p]] = codes of the grids paired with p (pairs sorted by p, grid)."""
        if not point_idx.size:
            return
        starts = np.flatnonzero(np.r_[True, point_idx[1:] != point_idx[:-1]])
        codes = self.leaf_codes[grid_idx].tolist()
        bounds = np.r_[starts, point_idx.size].tolist()
        with _gc_paused():  # tens of thousands of new lists would trigger many GC passes
            groups = np.fromiter(
                (codes[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)),
                dtype=object,
                count=starts.size,
            )
        batch.candidates[rows[point_idx[starts]]] = groups

    def _locate_exactly(
        self, batch: LocationBatch, found: IntArray, status: Int8Array, rows: IntArray
    ) -> None:
        """Fill ``found``/``status``/distances/candidates for ``rows`` from the exact index."""
        answer = self.exact.resolve(batch.lon[rows], batch.lat[rows], self.near_m)
        found[rows] = answer.chosen
        status[rows[answer.chosen >= 0]] = INSIDE
        status[rows[answer.on_boundary]] = ON_BOUNDARY
        self._set_candidates(batch, rows, answer.near_point, answer.near_grid)
        outside = rows[answer.outside]
        batch.nearest_grid[outside] = self._chains[answer.nearest, 0]
        batch.distance_m[outside] = answer.distance

    def unit(self, code: str) -> dict[str, Any]:
        """The record of any unit: code, name, level, parent_code, managing_zone, attributes.

        Raises NotFound for an unknown code.
        """
        try:
            record = self._records[code]
        except KeyError:
            raise NotFound(f"no unit {code!r} in generation {self.generation!r}") from None
        return dict(record, attributes=_attributes(record["attributes"]))

    def chain(self, code: str) -> dict[str, dict[str, Any]]:
        """Records of a unit and its ancestors keyed by level (levels without a record omitted)."""
        chain: dict[str, dict[str, Any]] = {}
        record: dict[str, Any] | None = self.unit(code)
        while record is not None:
            chain[record["level"]] = record
            code = record["parent_code"]
            record = self.unit(code) if code in self._records else None
        return chain

    def _chain_codes(self, leaf_code: str) -> list[str | None]:
        """The CHAIN_COLUMNS of a leaf: codes only from records (never guessed by prefix)."""
        chain = self.chain(leaf_code)  # the leaf first, then up
        codes = {lv: record["code"] for lv, record in chain.items()}
        zone = next((r["managing_zone"] for r in chain.values() if r["managing_zone"]), None)
        level = self._records[leaf_code]["level"]
        return [codes.get(lv) for lv in LEVEL_ORDER] + [zone, level]

    def __repr__(self) -> str:
        source = "cache" if self.from_cache else "built"
        return (
            f"GridLocator({len(self.leaf_codes)} units, generation={self.generation!r}, {source})"
        )


_pool: tuple[int, ThreadPoolExecutor] | None = None
_pool_lock = threading.Lock()


def _executor() -> ThreadPoolExecutor:
    """The process's worker threads for batch parts (made anew in a forked child)."""
    global _pool
    with _pool_lock:
        if _pool is None or _pool[0] != os.getpid():
            _pool = (os.getpid(), ThreadPoolExecutor(WORKERS, thread_name_prefix="locate"))
        return _pool[1]


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many small lists (no cycles).

    Each 700 new lists start a collection, and the survivors soon push full
    collections over every tracked object of the process (~7 ms per 18,000 lists
    in the benchmark). Restores the previous state, so nesting and callers that
    turned the collector off themselves are unaffected.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _remove_stale(current: Path, generation: str) -> None:
    """Delete this generation's other cached tables (older format or parameters)."""
    mine = re.compile(rf"grid-lookup-{re.escape(generation)}-[0-9a-f]{{20}}\.npz")
    for path in current.parent.iterdir():
        if path != current and mine.fullmatch(path.name):
            path.unlink(missing_ok=True)


def leaf_units(units: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The outlined units with no finer outlined unit below them, sorted by code (what the
    locator indexes). "Below" is by record (a child) or by place (a finer level's
    representative point inside it, for children whose parent record is missing).

    >>> import geopandas as gpd, shapely
    >>> frame = gpd.GeoDataFrame({"code": ["d1", "s1", "d2"], "parent_code": ["", "d1", ""],
    ...                           "level": ["district", "street", "district"]},
    ...                          geometry=[shapely.box(0, 0, 2, 2), shapely.box(0, 0, 1, 1),
    ...                                    shapely.box(2, 0, 3, 1)])
    >>> leaf_units(frame)["code"].tolist()
    ['d2', 's1']
    """
    outlined = units[units.geometry.notna() & ~units.geometry.is_empty]
    parents = set(outlined["parent_code"].astype(str))
    leaves = outlined[~outlined["code"].astype(str).isin(parents)]
    rank = {level: k for k, level in enumerate(LEVEL_ORDER)}
    leaf_rank = leaves["level"].map(rank).fillna(0).to_numpy()
    if leaf_rank.any():  # coarse leaves: drop those holding a finer unit's point
        all_rank = outlined["level"].map(rank).fillna(0).to_numpy()
        spots = shapely.point_on_surface(outlined.geometry.to_numpy())
        coarse = np.flatnonzero(leaf_rank > 0)
        shapes = leaves.geometry.to_numpy()[coarse]
        hit, spot = shapely.STRtree(spots).query(shapes, predicate="contains_properly")
        finer = all_rank[spot] < leaf_rank[coarse[hit]]
        keep = np.ones(len(leaves), dtype=bool)
        keep[coarse[hit[finer]]] = False
        leaves = leaves[keep]
    return leaves.sort_values("code", kind="stable")


def _records(units: pd.DataFrame) -> dict[str, dict[str, Any]]:
    records: dict[str, dict[str, Any]] = {}
    columns = RECORD_COLUMNS
    frame = pd.DataFrame(units).reindex(columns=list(columns))
    rows = zip(*(frame[column].tolist() for column in columns), strict=True)
    for code, name, level, parent, zone, attributes in rows:
        records[str(code)] = {
            "code": str(code),
            "name": "" if _missing(name) else str(name),
            "level": str(level),
            "parent_code": "" if _missing(parent) else str(parent),
            "managing_zone": "" if _missing(zone) else str(zone),
            "attributes": attributes,  # parsed by unit(), on demand
        }
    return records


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _attributes(value: object) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    if not isinstance(value, str | bytes | bytearray) or not value:
        return {}  # also None and NaN
    try:
        parsed = json.loads(value)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}
