"""Locators and area catalogs per boundary generation, and point/address resolution.

The active generation's locator is ``AppContext.locator``; another generation
(``?generation=g0001``) comes from ``AppContext.locator_for``. :class:`Geocoding`
is what the locate, nearest and incident routes share.
"""

from __future__ import annotations

import gc
from typing import Any

import numpy as np
import shapely

from cityaware.api.service.answers import location_answer
from cityaware.api.service.shapes import AreaCatalog
from cityaware.geo.chinacoords import wgs84_to_gcj02
from cityaware.geo.crs import normalize_crs
from cityaware.geo.errors import InvalidInput, NotFound, Unprocessable

MAX_NEAR_M = 500.0
MAX_CATALOGS = 4


class Geocoding:
    """Point and address → grid answers over the generations of one server."""

    def __init__(self, ctx) -> None:
        self.ctx = ctx
        self._catalogs: dict[str, AreaCatalog] = {}

    def locator(self, generation: str | None = None):
        """The locator of ``generation`` (the active one when None); NotFound if unknown."""
        if not generation:
            return self.ctx.locator
        self.ctx.registry.units(generation, level="district")  # NotFound for an unknown one
        return self.ctx.locator_for(generation)

    def catalog(self, locator) -> AreaCatalog:
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
            self._catalogs[generation] = AreaCatalog(lookup)
            # The locator's indexes live as long as the process: keep their millions of
            # objects out of the cyclic GC's scans, which otherwise dominate big batches.
            gc.freeze()
        return self._catalogs[generation]

    def _code_systems(self, generation: str) -> dict[str, dict[str, str]]:
        try:
            units = self.ctx.registry.units(generation)
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
    ) -> dict:
        """The full answer for one point given in ``crs``; ``near_m`` widens or narrows
        the candidate radius (default: the locator's own, 10 m)."""
        locator = self.locator(generation)
        loc = locator.locate(x, y, crs)
        if near_m is not None:
            loc.candidates = grids_within(locator, loc.lon, loc.lat, near_m, loc.grid_code)
        gcj = wgs84_to_gcj02(loc.lon, loc.lat)  # already validated by the locator
        query = {"x": x, "y": y, "crs": normalize_crs(crs)}
        return location_answer(loc, self.catalog(locator), gcj, query)

    def locate_address(self, address: str, generation: str | None = None) -> dict:
        """The answer for an address through the gazetteer (active generation only).

        Answers only when the gazetteer trusts one grid; otherwise 422 saying
        what it found (a coarser unit, several candidates, or nothing).
        """
        address = (address or "").strip()
        if not address:
            raise InvalidInput("address is empty")
        if len(address) > 200:
            raise InvalidInput("address is longer than 200 characters")
        gazetteer = getattr(self.ctx, "gazetteer", None)
        if gazetteer is None:
            raise Unprocessable(
                "locating by address is not available on this server; send lon, lat and crs"
            )
        if generation:
            raise InvalidInput("an address is located in the active generation only")
        result = gazetteer.geocode(address)
        if result.lon is None or result.lat is None:
            raise Unprocessable(_unplaced(address, result))
        answer = self.locate_point(float(result.lon), float(result.lat), "EPSG:4326")
        best = result.best
        answer["query"] = {"address": address}
        answer["match"] = {
            "method": "address",
            "status": result.status,
            "level": result.level,
            "confidence": round(float(result.confidence), 3),
            "matched_text": best.matched_text if best else None,
            "gazetteer_grid": result.grid_code,
        }
        return answer


def grids_within(locator, lon: float, lat: float, near_m: float, own: str | None):
    """Codes of the grids other than ``own`` within ``near_m`` metres (metric CRS), or None."""
    if not 0 <= near_m <= MAX_NEAR_M:
        raise InvalidInput(f"near_m must be between 0 and {MAX_NEAR_M:g} metres")
    x, y = locator.exact.to_metric(np.array([lon]), np.array([lat]))
    _, found = locator.exact.metric_tree.query(
        shapely.points(x, y), predicate="dwithin", distance=near_m
    )
    codes = sorted(set(locator.grid_codes[found].tolist()) - {own})
    return codes or None


def _unplaced(address: str, result) -> str:
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
