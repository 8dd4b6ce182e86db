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
   / nearest-grid distances on the true polygons (:mod:`geo.engine.exact`).

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

import json
import math
import os
import re
import shutil
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import shapely

from cityaware.geo.arrays import IntArray, ObjectArray
from cityaware.geo.crs import WGS84, lonlat_problem, normalize_crs, to_lonlat
from cityaware.geo.engine import edges, snapshot
from cityaware.geo.engine.exact import CONTAINMENT_MARGIN_M, ExactIndex
from cityaware.geo.engine.lookup import DEFAULT_CELL_M, EXACT, FAR, LISTED, LookupTable, cache_key
from cityaware.geo.engine.results import (
    INSIDE,
    INVALID,
    ON_BOUNDARY,
    STATUS_NAMES,
    Located,
    Location,
    LocationBatch,
)
from cityaware.geo.errors import InvalidInput, NotFound
from cityaware.geo.memory import gc_paused

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd

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
        generation: str,
        table: LookupTable | None,
        exact: ExactIndex,
        near_m: float,
        outside_tolerance_m: float,
        records: Mapping[str, dict[str, Any]],
        leaf_codes: list[str],
        from_cache: bool = False,
        chains: list[list[str | None]] | None = None,
    ) -> None:
        self.generation = generation
        self.near_m = float(near_m)
        self.outside_tolerance_m = float(outside_tolerance_m)
        self.table = table
        self.exact = exact
        self.from_cache = from_cache
        self.folder: Path | None = None  # the snapshot folder it was saved to or opened from
        self._records = records
        self.leaf_codes = np.array(leaf_codes, dtype=object)
        if chains is None:
            chains = [self._chain_codes(code) for code in leaf_codes]
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
        chains. With ``cache_dir`` the whole locator is loaded from / saved to the
        snapshot folder ``<cache_dir>/grid-lookup-<generation>-<hash>/``
        (:mod:`geo.engine.snapshot`; :meth:`open` reads it without the units).
        ``cell_m=None`` disables the raster (exact path only).
        """
        if units.crs is not None and not units.crs.equals("EPSG:4326"):
            units = units.to_crs("EPSG:4326")
        grids = leaf_units(units)
        if grids.empty:
            raise InvalidInput(f"generation {generation!r} has no outlines to locate in")
        records = _records(divisions) if divisions is not None else {}
        records.update(_records(units))  # an outlined unit wins over its division row
        codes = [str(code) for code in grids["code"]]
        geometries = grids.geometry.to_numpy()
        folder = None
        if cell_m is not None and cache_dir is not None:
            key = cache_key(np.array(codes), geometries, near_m, outside_tolerance_m, cell_m)
            safe = re.sub(r"[^A-Za-z0-9_.-]", "_", generation)
            folder = Path(cache_dir) / f"grid-lookup-{safe}-{key}"
            if (folder / snapshot.META_FILE).exists():  # the units' own records win
                saved = snapshot.load(folder)
                locator = cls(
                    generation,
                    saved.table,
                    saved.exact,
                    near_m,
                    outside_tolerance_m,
                    records,
                    codes,
                    from_cache=True,
                )
                locator.folder = folder
                return locator
        exact = ExactIndex(geometries, outside_tolerance_m)
        table = None
        if cell_m is not None:
            table = LookupTable.build(
                geometries, near_m, outside_tolerance_m, exact.to_metric, cell_m=cell_m
            )
        locator = cls(generation, table, exact, near_m, outside_tolerance_m, records, codes)
        if folder is not None:
            locator.save(folder)
            _remove_stale(folder, safe)
        return locator

    def save(self, folder: Path) -> None:
        """Save this locator (with its lookup table) as a snapshot folder."""
        if self.table is None:
            raise InvalidInput("a locator without lookup table is not saved")
        meta = {
            "generation": self.generation,
            "near_m": self.near_m,
            "outside_tolerance_m": self.outside_tolerance_m,
        }
        saved = snapshot.Snapshot(
            self.table,
            self.exact,
            self.leaf_codes.tolist(),
            [list(row) for row in self._rows],
            self._records,
            meta,
        )
        snapshot.save(folder, saved)
        self.folder = folder

    @classmethod
    def open(cls, folder: Path) -> GridLocator:
        """The locator saved in a snapshot folder, without reading any boundaries
        (FileNotFoundError when there is none)."""
        saved = snapshot.load(folder)
        meta = saved.meta
        locator = cls(
            meta["generation"],
            saved.table,
            saved.exact,
            meta["near_m"],
            meta["outside_tolerance_m"],
            saved.records,
            saved.leaf_codes,
            from_cache=True,
            chains=saved.chains,
        )
        locator.folder = folder
        return locator

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

    def locate_lonlat(
        self, lon: npt.ArrayLike, lat: npt.ArrayLike, candidates: bool = True
    ) -> LocationBatch:
        """Locate already-validated WGS84 points; NaN rows come back ``invalid``.

        ``candidates=False`` skips the candidate lists (None everywhere): they are the
        most expensive part of an answer near edges. See :meth:`locate_indices`.
        """
        found = self.locate_indices(lon, lat, candidates)
        batch = LocationBatch.empty(self.generation, len(found.unit), codes=False)
        batch.lon, batch.lat, batch.error = found.lon, found.lat, found.error
        batch.status = STATUS_NAMES[found.status]
        batch.distance_m = found.distance_m
        batch.nearest_grid = self._chains[found.nearest, 0]
        if found.candidates is not None:
            batch.candidates = found.candidates
        else:
            batch.candidates = np.empty(len(found.unit), dtype=object)
        chains = self._chains.take(found.unit, axis=0)  # -1 takes the trailing row of None
        for k, name in enumerate(CHAIN_COLUMNS):
            setattr(batch, name, chains[:, k])  # strided views of one fresh matrix
        return batch

    def locate_indices(
        self, lon: npt.ArrayLike, lat: npt.ArrayLike, candidates: bool = True
    ) -> Located:
        """:meth:`locate_lonlat` as numbers: status codes and leaf indices into
        :meth:`chain_table` (no per-point Python objects apart from candidate lists
        and error texts).

        Batches of at least ``2 * PART_MIN_POINTS`` points are cut into one part per
        worker thread (at most :data:`WORKERS`): numpy, pyproj and shapely release
        the GIL for most of the work, so the parts run side by side.
        """
        lons, lats = np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)
        n = len(lons)
        found = Located.empty(lons, lats, candidates)
        bounds = np.linspace(0, n, max(1, min(WORKERS, n // PART_MIN_POINTS)) + 1).astype(int)
        parts = [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
        others = [_executor().submit(self._locate_part, found.part(p)) for p in parts[1:]]
        self._locate_part(found.part(parts[0]))
        for future in others:
            future.result()
        return found

    def chain_table(self) -> ObjectArray:
        """Per leaf index (plus a last row of None for -1): the :data:`CHAIN_COLUMNS`."""
        return self._chains

    def _locate_part(self, found: Located) -> None:
        """Fill one part (views into the whole answer) in place."""
        lon, lat, unit = found.lon, found.lat, found.unit
        if self.table is not None:
            unit[:] = self.table.lookup(lon, lat)  # EXACT for NaN and infinity
        else:
            unit[:] = EXACT
        listed = np.flatnonzero(unit <= LISTED)
        if found.candidates is None and self.table is not None:
            listed = self._answer_clear_cells(unit, listed)
        found.status[unit >= 0] = INSIDE  # the rest stays OUTSIDE until decided
        if listed.size:  # sets unit to EXACT for the points it cannot decide
            self._locate_near_edges(found, listed)
        exact = np.flatnonzero(unit == EXACT)
        finite = np.isfinite(lon[exact]) & np.isfinite(lat[exact])
        invalid, exact = exact[~finite], exact[finite]
        unit[unit < 0] = -1
        if exact.size:
            self._locate_exactly(found, exact)
        found.status[invalid] = INVALID
        found.error[invalid] = "not a finite number"

    def _answer_clear_cells(self, unit: IntArray, listed: IntArray) -> IntArray:
        """Containment only: points of listed cells (``listed``) that no edge crosses get
        the grid of their cell centre (see :func:`geo.engine.lookup.clear_cells`); the
        other listed points are returned."""
        table = self.table
        assert table is not None
        answer = table.settled.take(LISTED - unit[listed])
        unit[listed] = answer
        crossed: IntArray = listed[answer <= LISTED]
        return crossed

    def _locate_near_edges(self, found: Located, rows: IntArray) -> None:
        """Answer points of listed cells from their segment lists; undecided ones -> EXACT."""
        lon, lat = found.lon[rows], found.lat[rows]
        table = self.table
        assert table is not None  # listed cells come only from the lookup table
        want = found.candidates is not None  # containment only needs no metric distances
        x, y = table.metric_near_edges(lon, lat) if want else (None, None)
        centre_lon, centre_lat = table.cell_centres(lon, lat)
        answer = edges.resolve(
            table.segments,
            table.offsets,
            table.entries,
            table.centre,
            LISTED - found.unit[rows],
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
        decided, distance = answer.decided, answer.group_distance
        if distance is not None:
            # Too close to call with approximate metric coordinates: the exact path decides.
            unsure = np.abs(distance - self.near_m) <= table.metric_error_m
            decided[answer.group_point[unsure]] = False
        found.unit[rows[decided]] = answer.chosen[decided]
        found.status[rows[decided]] = INSIDE
        if found.candidates is not None and distance is not None:
            point, grid = answer.group_point, answer.group_grid
            keep = decided[point] & (distance <= self.near_m)
            keep &= grid != answer.chosen[point]
            self._set_candidates(found.candidates, rows, point[keep], grid[keep])
        found.unit[rows[~decided]] = EXACT

    def _set_candidates(
        self, candidates: ObjectArray, rows: IntArray, point_idx: IntArray, grid_idx: IntArray
    ) -> None:
        """candidates[rows[p]] = codes of the grids paired with p (pairs sorted by p, grid)."""
        if not point_idx.size:
            return
        starts = np.flatnonzero(np.r_[True, point_idx[1:] != point_idx[:-1]])
        codes = self.leaf_codes[grid_idx].tolist()
        bounds = np.r_[starts, point_idx.size].tolist()
        with gc_paused():  # tens of thousands of new lists would trigger many GC passes
            groups = np.fromiter(
                (codes[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)),
                dtype=object,
                count=starts.size,
            )
        candidates[rows[point_idx[starts]]] = groups

    def _locate_exactly(self, found: Located, rows: IntArray) -> None:
        """Fill the answers of ``rows`` from the exact index."""
        want = found.candidates is not None
        near_m = self.near_m if want else CONTAINMENT_MARGIN_M  # other grids: not needed
        answer = self.exact.resolve(found.lon[rows], found.lat[rows], near_m)
        found.unit[rows] = answer.chosen
        found.status[rows[answer.chosen >= 0]] = INSIDE
        found.status[rows[answer.on_boundary]] = ON_BOUNDARY
        if found.candidates is not None:
            self._set_candidates(found.candidates, rows, answer.near_point, answer.near_grid)
        outside = rows[answer.outside]
        found.nearest[outside] = answer.nearest
        found.distance_m[outside] = answer.distance

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
        self.unit(code)  # NotFound for an unknown code
        return {
            level: dict(record, attributes=_attributes(record["attributes"]))
            for level, record in self._raw_chain(code).items()
        }

    def _raw_chain(self, code: str) -> dict[str, dict[str, Any]]:
        """:meth:`chain` of a known code with the attributes left unparsed."""
        chain: dict[str, dict[str, Any]] = {}
        record: dict[str, Any] | None = self._records[code]
        while record is not None:
            chain[record["level"]] = record
            record = self._records.get(record["parent_code"])
        return chain

    def _chain_codes(self, leaf_code: str) -> list[str | None]:
        """The CHAIN_COLUMNS of a leaf: codes only from records (never guessed by prefix)."""
        chain = self._raw_chain(leaf_code)  # the leaf first, then up
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


def _remove_stale(current: Path, generation: str) -> None:
    """Delete this generation's other cached snapshots (older format or parameters)."""
    mine = re.compile(rf"grid-lookup-{re.escape(generation)}-[0-9a-f]{{20}}(\.npz)?")
    for path in current.parent.iterdir():
        if path != current and mine.fullmatch(path.name):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
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
    import pandas as pd

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
