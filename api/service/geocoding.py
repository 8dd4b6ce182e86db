"""Locators and area catalogs per boundary generation, and point/address resolution.

:class:`Geocoding` answers for the active generation or another one
(``?generation=g0001``) from the registry and the per-generation locator cache;
the locate, map and incident routes share it. :func:`locate_text` reads the map
wall's search box (coordinates with an optional CRS, else an address).
"""

from __future__ import annotations

import gc
import re
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely

from cityaware.api.service.answers import LocatedBatch, location_answer, unit_answer
from cityaware.api.service.shapes import AreaCatalog
from cityaware.geo.boundaries.extent import DEFAULT_MARGIN_M, CityExtent
from cityaware.geo.boundaries.generations import BoundaryRegistry
from cityaware.geo.chinacoords import wgs84_to_gcj02
from cityaware.geo.crs import normalize_crs, to_lonlat
from cityaware.geo.engine import Locator
from cityaware.geo.engine.cached import LocatorCache
from cityaware.geo.engine.columns import chain_dictionaries
from cityaware.geo.engine.locator import GridLocator
from cityaware.geo.errors import InvalidInput, NotFound, Unprocessable

if TYPE_CHECKING:
    from cityaware.geo.engine.results import Location
    from cityaware.geo.gazetteer.active import ActiveGazetteer
    from cityaware.geo.gazetteer.result import GeocodeResult
    from cityaware.geo.profile import CityProfiles

MAX_NEAR_M = 500.0
MAX_CATALOGS = 4
COORDINATES = re.compile(
    r"^\s*(-?\d+(?:\.\d+)?)\s*[,\s]\s*(-?\d+(?:\.\d+)?)\s*(?:[,\s]\s*(\S+))?\s*$"
)


def active_locator(registry: BoundaryRegistry, locators: LocatorCache) -> GridLocator:
    """The locator of the registry's active generation; NotFound when none is active."""
    active = registry.active()
    if active is None:
        raise NotFound("no active boundary generation: import and activate boundaries first")
    return locators.get(active)


class Geocoding:
    """Point and address → grid answers over the generations of one server.

    ``gazetteer`` (the active generation's address matcher) is optional: without
    it, locating by address answers 422. ``profiles`` (the city profile per
    generation) names the functional zones.
    """

    def __init__(
        self,
        registry: BoundaryRegistry,
        locators: LocatorCache,
        gazetteer: ActiveGazetteer | None = None,
        profiles: CityProfiles | None = None,
        margin_m: float = DEFAULT_MARGIN_M,
    ) -> None:
        self.registry, self.locators, self.gazetteer = registry, locators, gazetteer
        self.profiles, self.margin_m = profiles, margin_m
        self._catalogs: dict[str, AreaCatalog] = {}
        self._extents: dict[str, CityExtent] = {}

    def extent(self, generation: str | None = None) -> CityExtent:
        """The city's extent in ``generation`` (the active one when None) with the write
        margin (``margin_m``): written points must lie inside it."""
        key = generation or self.locator().generation
        if key not in self._extents:
            self._extents[key] = CityExtent.of_units(self.registry.units(key), self.margin_m)
        return self._extents[key]

    def locator(self, generation: str | None = None) -> GridLocator:
        """The locator of ``generation`` (the active one when None); NotFound if unknown."""
        if not generation:
            return active_locator(self.registry, self.locators)
        self.registry.require(generation)  # NotFound for an unknown one
        return self.locators.get(generation)

    def catalog(self, locator: Locator) -> AreaCatalog:
        """Area objects of a locator's generation (with code system and edition).

        Keyed by generation id: a staged generation never changes.
        """
        generation = locator.generation
        if generation not in self._catalogs:
            systems = self._code_systems(generation)

            def lookup(code: str) -> dict[str, Any]:
                return locator.unit(code) | systems.get(code, {})

            while len(self._catalogs) >= MAX_CATALOGS:
                self._catalogs.pop(next(iter(self._catalogs)))
            zones = self.profiles.get(generation).zones if self.profiles else ()
            self._catalogs[generation] = AreaCatalog(lookup, {z.code: z.name for z in zones})
            # The locator's indexes live as long as the process: keep their millions of
            # objects out of the cyclic GC's scans, which otherwise dominate big batches.
            gc.freeze()
        return self._catalogs[generation]

    def _code_systems(self, generation: str) -> dict[str, dict[str, str]]:
        try:
            units = self.registry.units(generation)
        except NotFound:
            return {}
        frame = units.reindex(columns=["code", "code_system", "code_version"]).fillna("")
        return {
            str(code): {"code_system": str(system), "code_version": str(version)}
            for code, system, version in frame.itertuples(index=False)
        }

    def locate_point(
        self,
        x: float,
        y: float,
        crs: str,
        generation: str | None = None,
        near_m: float | None = None,
    ) -> dict[str, Any]:
        """The full answer for one point given in ``crs``; ``near_m`` widens or narrows
        the candidate radius (default: the locator's own, 10 m)."""
        return self.located_point(x, y, crs, generation, near_m)[1]

    def located_point(
        self,
        x: float,
        y: float,
        crs: str,
        generation: str | None = None,
        near_m: float | None = None,
    ) -> tuple[Location, dict[str, Any]]:
        """:meth:`locate_point` with the engine's :class:`Location` it answers from."""
        locator = self.locator(generation)
        loc = locator.locate(x, y, crs)
        if near_m is not None:
            own = getattr(loc, f"{loc.level}_code") if loc.level else None
            loc.candidates = grids_within(locator, loc.lon, loc.lat, near_m, own)
        gcj = wgs84_to_gcj02(loc.lon, loc.lat)  # already validated by the locator
        query = {"x": x, "y": y, "crs": normalize_crs(crs)}
        return loc, location_answer(loc, self.catalog(locator), gcj, query)

    def locate_batch(
        self,
        x: np.ndarray,
        y: np.ndarray,
        crs: str,
        generation: str | None = None,
        candidates: bool = True,
    ) -> LocatedBatch:
        """Locate many points given in ``crs``; InvalidInput names the first bad row.
        ``candidates=False`` leaves the candidate lists out (faster near edges)."""
        crs = normalize_crs(crs)
        locator = self.locator(generation)
        lon, lat = to_lonlat(np.atleast_1d(x), np.atleast_1d(y), crs)
        found = locator.locate_indices(lon, lat, candidates)
        gcj = wgs84_to_gcj02(found.lon, found.lat)  # already validated by to_lonlat
        return LocatedBatch(
            found,
            locator.chain_table(),
            gcj,
            self.catalog(locator),
            crs,
            locator.generation,
            chain_dictionaries(locator),
        )

    def locate_address(self, address: str, generation: str | None = None) -> dict[str, Any]:
        """The answer for an address through the gazetteer (active generation only).

        ``grid_trusted`` says whether the gazetteer trusts one grid. When it trusts
        only a coarser unit (a street office, a community, a district) the answer is
        that unit (:func:`~api.service.answers.unit_answer`: its level and chain,
        ``grid: null``, ``location`` the point the address names, if any) with the
        reason in ``grid_reason``. 422 when nothing usable was found.
        """
        return self.located_address(address, generation)[1]

    def located_address(
        self, address: str, generation: str | None = None
    ) -> tuple[Location | None, dict[str, Any]]:
        """:meth:`locate_address` with the engine's :class:`Location` it answers from (an
        incident is routed and stored with that location: the address is located once);
        None when only a coarser unit is trusted."""
        address = (address or "").strip()
        if not address:
            raise InvalidInput("address is empty")
        if len(address) > 200:
            raise InvalidInput("address is longer than 200 characters")
        gazetteer = self.gazetteer
        if gazetteer is None:
            raise Unprocessable(
                "locating by address is not available on this server; send lon, lat and crs"
            )
        if generation:
            raise InvalidInput("an address is located in the active generation only")
        result = gazetteer.geocode(address)
        best = result.best
        location: Location | None = None
        if result.lon is not None and result.lat is not None:
            location, answer = self.located_point(float(result.lon), float(result.lat), "EPSG:4326")
            answer |= {"grid_trusted": True, "grid_reason": None}
        else:
            answer = self._unit_answer(address, result)
        answer["query"] = {"address": address}
        answer["match"] = {
            "method": "address",
            "status": result.status,
            "level": result.level,
            "confidence": round(float(result.confidence), 3),
            "matched_text": best.matched_text if best else None,
            "gazetteer_grid": result.grid_code,
        }
        return location, answer

    def city_name(self, loc: Location) -> str:
        """The name of the city ``loc`` lies in: its city record, else the profile's one city."""
        if loc.city_code:
            name = str(self.locator(loc.generation).unit(loc.city_code)["name"])
            if name:
                return name
        return self.profiles.get(loc.generation).city_name if self.profiles else ""

    def _unit_answer(self, address: str, result: GeocodeResult) -> dict[str, Any]:
        """The answer at the unit the gazetteer trusts (no grid); Unprocessable without one."""
        code = _unit_of(result)
        if code is None:
            raise Unprocessable(_unplaced(address, result))
        locator = self.locator()
        catalog = self.catalog(locator)
        try:
            chain, zone = list(locator.chain(code).values()), None
        except NotFound:  # a functional zone has no unit record
            if catalog.area(code) is None:
                raise Unprocessable(_unplaced(address, result)) from None
            chain, zone = [], code
        answer = unit_answer(chain, catalog, locator.generation, {}, zone)
        best = result.best
        if best is not None and best.lon is not None and best.lat is not None:
            gcj = wgs84_to_gcj02(best.lon, best.lat)
            answer["location"] = {
                "wgs84": [best.lon, best.lat],
                "gcj02": [float(gcj[0]), float(gcj[1])],
            }
        return answer | {"grid_trusted": False, "grid_reason": _unplaced(address, result)}

    def locate_text(self, text: str) -> dict[str, Any]:
        """The answer for a search box: ``x, y[, CRS]`` (default WGS84), else an address.

        >>> COORDINATES.match("114.35, 34.80 GCJ02").groups()
        ('114.35', '34.80', 'GCJ02')
        """
        match = COORDINATES.match(text)
        if match is None:
            return self.locate_address(text)
        return self.locate_point(float(match[1]), float(match[2]), match[3] or "WGS84")


def grids_within(
    locator: GridLocator, lon: float, lat: float, near_m: float, own: str | None
) -> list[str] | None:
    """Codes of the grids (leaf units) other than ``own`` within ``near_m`` metres, or None."""
    if not 0 <= near_m <= MAX_NEAR_M:
        raise InvalidInput(f"near_m must be between 0 and {MAX_NEAR_M:g} metres")
    x, y = locator.exact.to_metric(np.array([lon]), np.array([lat]))
    _, found = locator.exact.metric_tree.query(
        shapely.points(x, y), predicate="dwithin", distance=near_m
    )
    codes = sorted(set(locator.leaf_codes[found].tolist()) - {own})
    return codes or None


def _unit_of(result: GeocodeResult) -> str | None:
    """The code of the unit an untrusted result still pins (a road: its community)."""
    best = result.best
    if result.level == "road" and best is not None:
        return best.community_code or best.street_code or best.district_code
    return result.unit_code


def _unplaced(address: str, result: GeocodeResult) -> str:
    """Why an address gave no point: what the gazetteer could and could not tell."""
    names = [c.name for c in result.candidates[:5]]
    if result.status == "ambiguous":
        return f"address {address!r} is ambiguous: {', '.join(names)}; give coordinates"
    if result.status == "not_found" or not names:
        return f"address {address!r} was not found in the gazetteer; give coordinates"
    unit = result.unit_code or "no unit"
    return (
        f"address {address!r} is only certain down to {result.level} {unit} "
        f"({names[0]}), not a grid; give coordinates or a more precise address"
    )
