"""What the map wall's small JSON helpers (``/map/api/...``) answer, below the router.

A grid's chain and counts, an incident with its history and nearest cameras,
what a click hits and where a search box text lies, from the map layers, the
feature store and the geocoder.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from cityaware.api.service.nearest import nearest_devices
from cityaware.geo.errors import Unprocessable
from cityaware.layers.service import TileFilters

if TYPE_CHECKING:
    from cityaware.api.service.geocoding import Geocoding
    from cityaware.geo.store.live import LiveDevices
    from cityaware.geo.store.store import FeatureStore
    from cityaware.layers.service import MapLayers

NEAREST_CAMERAS = 3


class MapWall:
    """The map wall's queries over its layers, the store and the geocoder."""

    def __init__(
        self, layers: MapLayers, store: FeatureStore, geocoding: Geocoding, devices: LiveDevices
    ) -> None:
        self.layers, self.store, self.geocoding = layers, store, geocoding
        self.devices = devices

    def grid_counts(self, filters: TileFilters) -> dict[str, Any]:
        """Incident counts per grid under ``filters`` and the data version they are of."""
        layers = self.layers
        return {
            "counts": layers.grid_counts(filters),
            "data_version": layers.data_version("incidents"),
        }

    def grid(self, code: str, filters: TileFilters) -> dict[str, Any]:
        """A grid's record, chain (district first) and incident counts; NotFound if unknown."""
        unit = self.layers.unit(code)
        return {**unit, "counts": self.layers.grid_counts(filters).get(code, {"total": 0})}

    def incident(self, incident_id: str) -> dict[str, Any]:
        """An incident's record, its status history and its nearest cameras (true metres)."""
        record = self.store.get("incidents", incident_id)
        history = self.store.history("incidents", incident_id)["status"]
        cameras = nearest_devices(
            self.devices, record["lon"], record["lat"], ("cameras",), NEAREST_CAMERAS
        )
        return {"incident": record, "history": history, "cameras": cameras}

    def at(
        self,
        lon: float,
        lat: float,
        zoom: int,
        kinds: Sequence[str],
        filters: TileFilters | None = None,
    ) -> dict[str, Any]:
        """What a click hits: the nearest shown point within a few pixels (incidents among
        those ``filters`` show), else the grid or finest unit there (:func:`unit_of`,
        ``code`` the grid's)."""
        found = self.layers.hit(lon, lat, zoom, kinds, filters=filters)
        if found:
            return {"kind": found[0], "feature": found[1]}
        answer = unit_of(self.geocoding.locate_point(lon, lat, "EPSG:4326"))
        return {"kind": "grids", "code": answer.pop("grid_code")} | answer

    def locate(self, text: str) -> dict[str, Any]:
        """Where a search box text (coordinates with a CRS, or an address) lies, and its
        grid or finest unit (:func:`unit_of`)."""
        answer = self.geocoding.locate_text(text)
        if answer["location"] is None:  # a unit known without outline: nowhere to fly to
            raise Unprocessable(answer["grid_reason"] or f"{text!r} has no place on the map")
        lon, lat = answer["location"]["wgs84"]
        return {"lon": lon, "lat": lat} | unit_of(answer)


def unit_of(answer: dict[str, Any]) -> dict[str, Any]:
    """The map's summary of a locate answer: its grid, else the finest unit it is in
    (``unit``, its ``level``, the ``chain`` names, unit first) and ``grid_trusted``
    (False: an address certain only down to that unit; None: no grid there).

    >>> unit_of({"status": "inside", "level": "district", "grid": None, "chain": [
    ...     {"code": "990102", "name": "D"}, {"code": "990100", "name": "C"}]})["chain"]
    ['D', 'C']
    """
    grid = answer.get("grid") or {}
    chain = answer.get("chain") or []
    return {
        "grid_code": grid.get("code"),
        "status": answer["status"],
        "level": answer.get("level"),
        "unit": chain[0] if chain else None,
        "chain": [area["name"] or area["code"] for area in chain],
        "grid_trusted": answer.get("grid_trusted"),
        "grid_reason": answer.get("grid_reason"),
    }
