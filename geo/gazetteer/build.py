"""The gazetteer: every nameable thing of the city, indexed by its aliases.

Entries come from the boundary hierarchy (districts, functional zones,
streets, communities, grids) and from address points (roads with numbered
addresses, compounds, landmarks). Every address point is located with the
engine's :class:`~geo.engine.locator.GridLocator`, so its grid is the engine's
ground truth, and carries its distance to the edge of its grid, community,
street and district (how far a "对面"/"附近" may stray before the answer
must get coarser).

Indexes: ``exact`` (alias -> entries) and ``pinyin`` (toneless syllables ->
entries) for n-gram lookups. Building the demo city takes a few seconds, so
:meth:`Gazetteer.load_or_build` caches it under the data directory.

>>> from cityaware.geo.boundaries.io import read_hierarchy_gpkg  # doctest: +SKIP
>>> units = read_hierarchy_gpkg("data/boundaries/zhengzhou-demo.gpkg")  # doctest: +SKIP
>>> from cityaware.geo.engine.locator import GridLocator  # doctest: +SKIP
>>> gaz = Gazetteer.build(units, GridLocator.build(units, "demo"), "demo")  # doctest: +SKIP
>>> gaz.geocode("龙亭区中山路12号").status  # doctest: +SKIP
'matched'
"""

from __future__ import annotations

import hashlib
import os
import pickle
import re
from collections import Counter
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import LineString

from cityaware.geo.arrays import FloatArray, ObjectArray
from cityaware.geo.engine.protocol import Locator
from cityaware.geo.frames import rows
from cityaware.geo.gazetteer import aliases as al
from cityaware.geo.gazetteer.normalize import RELATION_RADIUS_M, normalize, syllables
from cityaware.geo.gazetteer.points import (
    empty_address_points,
    numbered_points,
    read_address_points,
    road_crossings,
)
from cityaware.geo.gazetteer.result import GeocodeResult
from cityaware.geo.profile import CityProfile, Zone, derive_profile, extent_of

FORMAT_VERSION = 4
DEMO_POINTS = "demo"
MAX_RADIUS_M = max(RELATION_RADIUS_M.values())
ADMIN_KINDS = ("district", "zone", "street", "community", "grid")
POINT_KINDS = ("compound", "landmark")
_LEVEL_FIELDS = ("grid", "community", "street", "district")


@dataclass(slots=True)
class Entry:
    """One nameable thing: a unit, a zone, a road or a place."""

    kind: str  # district | zone | street | community | grid | road | compound | landmark | prefix
    code: str | None
    name: str
    lon: float | None = None
    lat: float | None = None
    district: str | None = None
    street: str | None = None
    community: str | None = None
    grid: str | None = None  # the one grid this entry pins, if it pins one
    zone: str | None = None
    scope: frozenset[str | None] = frozenset()  # unit and zone codes it lies in
    point: int = -1  # places: row in the point table
    numbers: dict[int, int] = field(default_factory=dict)  # roads: house number -> point row
    category: str = ""


class _RoadRow:  # the columns read (see geo.frames)
    geometry: LineString
    number_from: float
    number_to: float


class _PlaceRow:
    kind: object
    name: object
    category: object


class _UnitRow:
    level: str
    code: str
    name: str


@dataclass(slots=True)
class PointTable:
    """Columnar address points: location, engine answer, distances to unit edges (m)."""

    lon: list[float]
    lat: list[float]
    grid: list[str | None]
    community: list[str | None]
    street: list[str | None]
    district: list[str | None]
    zone: list[str | None]
    edge_m: dict[str, list[float]]  # level -> distance to that unit's boundary

    def scope(self, row: int) -> frozenset[str]:
        """Codes of the units and zones the point lies in."""
        codes = (self.district[row], self.street[row], self.community[row], self.zone[row])
        return frozenset(c for c in codes if c)

    def trusted_level(self, row: int, radius_m: float) -> str | None:
        """Finest level whose unit holds every spot within ``radius_m`` of the point."""
        if self.grid[row] is None:
            return None
        for level in _LEVEL_FIELDS:
            if radius_m <= 0 or self.edge_m[level][row] > radius_m:
                return level
        return None


class Gazetteer:
    """Names -> places of one boundary generation; :meth:`geocode` answers addresses."""

    def __init__(
        self,
        entries: list[Entry],
        points: PointTable,
        generation: str,
        profile: CityProfile | None = None,
    ) -> None:
        self.entries = entries
        self.points = points
        self.generation = generation
        self.profile = profile or CityProfile()
        self.exact: dict[str, list[tuple[int, float]]] = {}
        self.pinyin: dict[tuple[str, ...], list[tuple[int, float]]] = {}
        for index, entry in enumerate(entries):
            for alias, weight in _aliases(entry, self.profile):
                self.exact.setdefault(alias, []).append((index, weight))
        for alias, hits in self.exact.items():
            if len(alias) >= 2:
                self.pinyin.setdefault(syllables(alias), []).extend(hits)
        self.max_alias = max(len(a) for a in self.exact)
        self.unit_names = {e.code: e.name for e in entries if e.code}
        self.crossings: dict[tuple[int, int], int] = {}  # (road entry, road entry) -> point row
        self.fuzzy_names = _fuzzy_names(entries)

    def __len__(self) -> int:
        return len(self.entries)

    def geocode(self, text: str, limit: int = 5) -> GeocodeResult:
        """Parse and match a free-text address; see :func:`geo.gazetteer.matcher.geocode`."""
        from cityaware.geo.gazetteer.matcher import geocode

        return geocode(self, text, limit)

    # ---- building -----------------------------------------------------------------

    @classmethod
    def build(
        cls,
        units: gpd.GeoDataFrame,
        locator: Locator,
        generation: str = "",
        points: str | Path | None = DEMO_POINTS,
        profile: CityProfile | None = None,
        divisions: pd.DataFrame | None = None,
    ) -> Gazetteer:
        """Index the units (and ``divisions``, the units known without outline) plus
        address points: ``"demo"`` generates the demo city's, a path imports them
        (:func:`~geo.gazetteer.points.read_address_points`), None indexes the units only.
        ``profile`` (default: derived from the units) gives the prefixes, zones and
        metric CRS."""
        if profile is None:
            profile = derive_profile(units, _frame(divisions), extent_of(units.total_bounds))
        if points is None:
            roads, places = empty_address_points()
        elif str(points) == DEMO_POINTS:
            from cityaware.geo.demo.addresses import demo_address_points

            roads, places = demo_address_points(units)
        else:
            roads, places = read_address_points(Path(points))
        metric_crs = profile.metric_crs
        entries = _unit_entries(units, profile, _frame(divisions))
        number_rows, xs, ys = [], [], []
        metric_roads = roads.to_crs(metric_crs)
        for road_index, road in enumerate(rows(metric_roads, _RoadRow)):
            for number, x, y in numbered_points(
                road.geometry, int(road.number_from), int(road.number_to)
            ):
                number_rows.append((road_index, number))
                xs.append(x)
                ys.append(y)
        metric_places = places.to_crs(metric_crs)
        xs.extend(metric_places.geometry.x)
        ys.extend(metric_places.geometry.y)
        crossings = road_crossings(metric_roads.geometry.to_numpy())
        xs.extend(x for _, _, x, _ in crossings)
        ys.extend(y for _, _, _, y in crossings)
        points_table = _locate_points(
            units, locator, np.array(xs), np.array(ys), metric_crs, profile
        )
        road_entries = [Entry("road", None, str(name)) for name in roads["name"]]
        for row, (road_index, number) in enumerate(number_rows):
            road_entries[road_index].numbers[number] = row
        for entry in road_entries:
            _finish_road(entry, points_table)
        entry_of_road = {}
        for road_index, entry in enumerate(road_entries):
            if entry.numbers:
                entry_of_road[road_index] = len(entries)
                entries.append(entry)
        for offset, place in enumerate(rows(places, _PlaceRow)):
            row = len(number_rows) + offset
            if points_table.grid[row] is not None:
                entries.append(_place_entry(place, row, points_table))
        gazetteer = cls(
            entries, points_table, generation or getattr(locator, "generation", ""), profile
        )
        first = len(number_rows) + len(places)
        for offset, (a, b, _, _) in enumerate(crossings):
            if a in entry_of_road and b in entry_of_road and points_table.grid[first + offset]:
                pair = (entry_of_road[a], entry_of_road[b])
                gazetteer.crossings[pair] = gazetteer.crossings[pair[::-1]] = first + offset
        return gazetteer

    @classmethod
    def load_or_build(
        cls,
        units: gpd.GeoDataFrame,
        locator: Locator,
        generation: str,
        cache_dir: Path | None,
        points: str | Path | None = DEMO_POINTS,
        profile: CityProfile | None = None,
        divisions: pd.DataFrame | None = None,
    ) -> Gazetteer:
        """:meth:`build`, cached as ``<cache_dir>/gazetteer-<generation>-<key>.pkl``.

        The key covers the unit codes and outlines, the divisions, the profile, the
        points source (and its file's size and time) and this package's code, so any
        change rebuilds.
        """
        if cache_dir is None:
            return cls.build(units, locator, generation, points, profile, divisions)
        digest = hashlib.sha1(f"{FORMAT_VERSION}|{len(units)}|{points}|{profile!r}".encode())
        digest.update(_frame(divisions).to_csv(index=False).encode())
        if points is not None and str(points) != DEMO_POINTS and Path(points).exists():
            stat = Path(points).stat()
            digest.update(f"{stat.st_size}|{stat.st_mtime_ns}".encode())
        digest.update("|".join(units["code"].astype(str)).encode())
        for blob in shapely.to_wkb(units.geometry.to_numpy()):  # same codes, new outlines
            digest.update(blob)
        for module in ("aliases", "build", "normalize", "points"):  # code changes rebuild
            digest.update(files(__package__).joinpath(f"{module}.py").read_bytes())
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", generation)
        path = Path(cache_dir) / f"gazetteer-{safe}-{digest.hexdigest()[:12]}.pkl"
        if path.exists():
            with path.open("rb") as handle:
                cached: Gazetteer = pickle.load(handle)
                return cached
        gazetteer = cls.build(units, locator, generation, points, profile, divisions)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        with partial.open("wb") as handle:
            pickle.dump(gazetteer, handle, protocol=pickle.HIGHEST_PROTOCOL)
        partial.replace(path)
        return gazetteer


def _place_entry(place: _PlaceRow, row: int, points: PointTable) -> Entry:
    """A compound or landmark located at point ``row``."""
    return Entry(
        str(place.kind),
        None,
        str(place.name),
        points.lon[row],
        points.lat[row],
        points.district[row],
        points.street[row],
        points.community[row],
        points.grid[row],
        points.zone[row],
        points.scope(row),
        point=row,
        category=str(place.category),
    )


def _frame(divisions: pd.DataFrame | None) -> pd.DataFrame:
    """The division rows (code, name, level, parent_code) as strings; empty for None."""
    columns = ["code", "name", "level", "parent_code"]
    if divisions is None:
        return pd.DataFrame(columns=columns, dtype=object)
    return divisions.reindex(columns=columns).fillna("").astype(str)


def _unit_entries(
    outlined: gpd.GeoDataFrame, profile: CityProfile, divisions: pd.DataFrame
) -> list[Entry]:
    """Entries for the prefixes, districts, zones, streets, communities and grids; a unit
    known without outline takes the spot of its nearest outlined ancestor."""
    extra = divisions[~divisions["code"].isin(outlined["code"])].assign(managing_zone="")
    units = pd.concat([pd.DataFrame(outlined), extra], ignore_index=True)
    units = units[units["level"].isin(_LEVEL_FIELDS)]
    units["managing_zone"] = units["managing_zone"].fillna("")
    parent = dict(zip(units["code"], units["parent_code"], strict=True))
    zone = {c: z for c, z in zip(units["code"], units["managing_zone"], strict=True) if z}
    shapes = dict(zip(outlined["code"], shapely.point_on_surface(outlined.geometry), strict=True))
    spots = [_spot(code, shapes, parent) for code in units["code"]]
    grids_per = Counter(units.loc[units["level"] == "grid", "parent_code"])
    only_grid = {
        p: c for c, p in zip(units["code"], units["parent_code"], strict=True) if grids_per[p] == 1
    }
    entries = [Entry("prefix", None, name) for name in profile.prefixes]
    zone_streets: dict[str, list[str]] = {}
    for row, spot in zip(rows(units, _UnitRow), spots, strict=True):
        chain = {row.level: row.code}
        code = parent.get(row.code)
        for level in _LEVEL_FIELDS[_LEVEL_FIELDS.index(row.level) + 1 :]:
            if code:
                chain[level] = code
                code = parent.get(code)
        zones = {zone[row.code]} if row.code in zone else set()
        street = chain.get("street")
        street_zone = profile.zone_of_street(street)
        if street_zone is not None:
            zones.add(street_zone.code)
        if row.level == "street":
            for z in zones:
                zone_streets.setdefault(z, []).append(row.code)
        grid = row.code if row.level == "grid" else only_grid.get(row.code)
        entries.append(
            Entry(
                row.level,
                row.code,
                row.name,
                spot.x if spot else None,
                spot.y if spot else None,
                chain.get("district"),
                street,
                chain.get("community"),
                grid,
                zone.get(row.code) or None,
                frozenset(set(chain.values()) | zones),
            )
        )
    by_code = {e.code: e for e in entries if e.kind == "street"}
    for zone_code, streets in sorted(zone_streets.items()):
        hosts = {by_code[s].district for s in streets}
        known = profile.zone(zone_code)
        name = known.name if known else zone_code
        first = by_code[streets[0]]
        entries.append(
            Entry(
                "zone",
                zone_code,
                name,
                first.lon,
                first.lat,
                (known.host if known else "") or (hosts.pop() if len(hosts) == 1 else None),
                zone=zone_code,
                scope=frozenset({zone_code} | {by_code[s].district for s in streets}),
            )
        )
    return entries


def _spot(
    code: str, shapes: dict[str, shapely.Point], parent: dict[str, str]
) -> shapely.Point | None:
    """The representative point of a unit, or of its nearest outlined ancestor."""
    seen: set[str] = set()
    while code and code not in shapes and code not in seen:
        seen.add(code)
        code = parent.get(code, "")
    return shapes.get(code)


def _locate_points(
    units: gpd.GeoDataFrame,
    locator: Locator,
    xs: FloatArray,
    ys: FloatArray,
    metric_crs: str,
    profile: CityProfile,
) -> PointTable:
    """Locate metric points with the engine; measure their distance to each unit's edge."""
    if len(xs) == 0:
        return PointTable([], [], [], [], [], [], [], {level: [] for level in _LEVEL_FIELDS})
    batch = locator.locate_many(xs, ys, crs=metric_crs)
    boundaries = dict(
        zip(
            units["code"],
            shapely.boundary(units.to_crs(metric_crs).geometry.to_numpy()),
            strict=True,
        )
    )
    # types-shapely: arrays in match only the overload that returns Point | array
    located: ObjectArray = shapely.points(xs, ys)  # type: ignore[assignment]
    codes = {level: list(getattr(batch, f"{level}_code")) for level in _LEVEL_FIELDS}
    edge_m, needed = {}, np.ones(len(xs), dtype=bool)
    for level in _LEVEL_FIELDS:  # coarser edges only where a finer one is within reach
        distance = np.full(len(xs), np.inf)
        rows = np.flatnonzero(needed)
        edges = np.array([boundaries.get(codes[level][r]) for r in rows], dtype=object)
        distance[rows] = np.nan_to_num(shapely.distance(located[rows], edges), nan=0.0)
        edge_m[level] = distance.tolist()
        needed &= distance <= MAX_RADIUS_M
    zones = []
    for zone, street in zip(batch.managing_zone, codes["street"], strict=True):
        street_zone = profile.zone_of_street(street)
        zones.append(zone or (street_zone.code if street_zone else None))
    return PointTable(
        batch.lon.tolist(),
        batch.lat.tolist(),
        codes["grid"],
        codes["community"],
        codes["street"],
        codes["district"],
        zones,
        edge_m,
    )


def _finish_road(road: Entry, points: PointTable) -> None:
    """Drop numbers outside every grid; set the road's scope, middle and finest common unit."""
    road.numbers = {n: r for n, r in road.numbers.items() if points.grid[r] is not None}
    if not road.numbers:
        return
    rows = list(road.numbers.values())
    road.scope = frozenset(
        code
        for column in (points.district, points.street, points.community, points.zone)
        for code in {column[r] for r in rows}
        if code
    )
    middle = rows[len(rows) // 2]
    road.lon, road.lat = points.lon[middle], points.lat[middle]
    for level in _LEVEL_FIELDS[::-1]:
        values = {getattr(points, level)[r] for r in rows}
        if len(values) > 1:
            break
        setattr(road, level, values.pop())
    zones = {points.zone[r] for r in rows}
    road.zone = zones.pop() if len(zones) == 1 else None


def _aliases(entry: Entry, profile: CityProfile) -> list[tuple[str, float]]:
    """All normalised aliases of an entry with their weights."""
    kind, name = entry.kind, entry.name
    if kind == "district":
        found = al.district_aliases(name)
    elif kind == "zone":
        assert entry.code is not None  # zones and grids always have a code
        found = al.zone_aliases(profile.zone(entry.code) or Zone(entry.code, (name,)))
    elif kind == "street":
        prefixes = (*(z.name for z in profile.zones), *profile.short_names)
        found = al.street_aliases(name, prefixes)
    elif kind == "community":
        found = al.community_aliases(name)
    elif kind == "grid":
        assert entry.code is not None
        found = [(name, al.FULL), (entry.code, al.FULL)]
    elif kind == "compound":
        bare = name.removesuffix("小区")
        other = bare if bare != name else name + "小区"
        found = [(name, al.FULL)] + ([(other, al.VARIANT)] if len(bare) >= 3 else [])
    elif kind == "landmark" and name.endswith("地铁站"):
        found = [(name, al.FULL), (name[:-3] + "站", al.VARIANT)]
    else:
        found = [(name, al.FULL)]
    return [(normalize(a), w) for a, w in found if len(normalize(a)) >= 2]


def _fuzzy_names(entries: list[Entry]) -> dict[tuple[str, int], tuple[list[str], list[int]]]:
    """Names of roads, places and units for rapidfuzz, keyed by (district or '', length)."""
    names: dict[tuple[str, int], tuple[list[str], list[int]]] = {}
    for index, entry in enumerate(entries):
        if entry.kind in ("road", "compound", "landmark", "community", "street"):
            for key in {"", entry.district or ""}:
                bucket = names.setdefault((key, len(entry.name)), ([], []))
                bucket[0].append(entry.name)
                bucket[1].append(index)
    return names
