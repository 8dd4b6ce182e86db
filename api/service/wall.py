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
        those ``filters`` show), else the grid."""
        found = self.layers.hit(lon, lat, zoom, kinds, filters=filters)
        if found:
            return {"kind": found[0], "feature": found[1]}
        location = self.geocoding.locator().locate(lon, lat)
        return {"kind": "grids", "code": location.grid_code, "status": location.status}

    def locate(self, text: str) -> dict[str, Any]:
        """Where a search box text (coordinates with a CRS, or an address) lies, and its grid."""
        answer = self.geocoding.locate_text(text)
        if answer["location"] is None:  # a unit known without outline: nowhere to fly to
            raise Unprocessable(answer["grid_reason"] or f"{text!r} has no place on the map")
        lon, lat = answer["location"]["wgs84"]
        grid = answer.get("grid") or {}
        return {"lon": lon, "lat": lat, "grid_code": grid.get("code"), "status": answer["status"]}
