"""Locators and area catalogs per boundary generation, and point/address resolution.

The active generation's locator is ``AppContext.locator``; another generation
(``?generation=g0001``) gets its own locator built once and kept (a few at
most). :class:`Geocoding` is what the locate, nearest and incident routes share.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np

from api.service.answers import location_answer
from api.service.shapes import AreaCatalog
from geo.crs import from_lonlat, normalize_crs
from geo.errors import InvalidInput, NotFound, Unprocessable

MAX_OTHER_GENERATIONS = 2


class Geocoding:
    """Point and address → grid answers over the generations of one server."""

    def __init__(self, ctx) -> None:
        self.ctx = ctx
        self._others: OrderedDict[str, Any] = OrderedDict()
        self._catalogs: dict[int, AreaCatalog] = {}
        self._store = None

    @property
    def store(self):
        """The feature store (``AppContext.store`` when the server provides one)."""
        if hasattr(type(self.ctx), "store"):
            return self.ctx.store
        if self._store is None:
            from geo.store import open_store

            settings = self.ctx.settings
            self._store = open_store(settings.database_url, settings.data_dir, self._active())
        return self._store

    def locator(self, generation: str | None = None):
        """The locator of ``generation`` (the active one when None or active)."""
        active = self._active()
        if generation in (None, "", active.generation):
            return active
        if generation in self._others:
            self._others.move_to_end(generation)
            return self._others[generation]
        return self._build(generation)

    def _build(self, generation: str):
        from geo.engine.locator import GridLocator

        units = self.ctx.registry.units(generation)  # NotFound for an unknown generation
        locator = GridLocator.build(
            units, generation, cache_dir=self.ctx.settings.data_dir / "cache"
        )
        self._others[generation] = locator
        while len(self._others) > MAX_OTHER_GENERATIONS:
            self._others.popitem(last=False)
        return locator

    def _active(self):
        if hasattr(type(self.ctx), "locator"):
            return self.ctx.locator
        active = self.ctx.registry.active()
        if active is None:
            raise NotFound("no active boundary generation: import and activate boundaries first")
        return self._others[active] if active in self._others else self._build(active)

    def catalog(self, locator) -> AreaCatalog:
        """Area objects of a locator's generation (with code system and edition)."""
        key = id(locator)
        if key not in self._catalogs:
            systems = self._code_systems(locator.generation)

            def lookup(code: str) -> dict[str, Any]:
                return locator.unit(code) | systems.get(code, {})

            self._catalogs = {k: v for k, v in self._catalogs.items() if k == id(self._active())}
            self._catalogs[key] = AreaCatalog(lookup)
        return self._catalogs[key]

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

    def locate_point(self, x: float, y: float, crs: str, generation: str | None = None) -> dict:
        """The full answer for one point given in ``crs``."""
        locator = self.locator(generation)
        loc = locator.locate(x, y, crs)
        gcj = from_lonlat(loc.lon, loc.lat, "GCJ02")
        query = {"x": x, "y": y, "crs": normalize_crs(crs)}
        return location_answer(loc, self.catalog(locator), gcj, query)

    def locate_address(self, address: str, generation: str | None = None) -> dict:
        """The answer for an address, through the gazetteer (422 until one exists)."""
        address = (address or "").strip()
        if not address:
            raise InvalidInput("address is empty")
        if len(address) > 200:
            raise InvalidInput("address is longer than 200 characters")
        gazetteer = getattr(self.ctx, "gazetteer", None)
        if gazetteer is None:
            raise Unprocessable(
                "locating by address is not available on this server yet; send lon, lat and crs"
            )
        return self._from_gazetteer(gazetteer, address, generation)

    def _from_gazetteer(self, gazetteer, address: str, generation: str | None) -> dict:
        result = gazetteer.geocode(address)
        status = getattr(result, "status", None) or result.get("status")
        lon = getattr(result, "lon", None)
        lat = getattr(result, "lat", None)
        if lon is None or lat is None or not np.isfinite([lon, lat]).all():
            raise Unprocessable(f"address {address!r} could not be placed (gazetteer: {status})")
        answer = self.locate_point(float(lon), float(lat), "EPSG:4326", generation)
        answer["query"] = {"address": address, "match": status}
        return answer
