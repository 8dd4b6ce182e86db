"""Emergency mode (平急联动) and replay for the kiosk, below the router.

``view()`` describes the wall in emergency mode: the incident, its grid and the
grids touching it (GeoJSON), the nearest online cameras and online sensors,
the workers nearby (the grid workers of those grids, and moving objects of kind
``worker`` within :data:`WORKER_RADIUS_M`) and the incident's timeline (status
history with the hotline's notes). ``replay()`` gives the incidents reported in
one local day or hour, oldest first, for the kiosk to play back.

>>> replay_span("2026-12-01", "Asia/Shanghai")
(1796054400000, 1796140800000)
>>> replay_span("2026-12-01T08", "UTC")
(1796112000000, 1796115600000)
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import numpy as np
from pyproj import Geod

from cityaware.api.service.nearest import nearest_devices
from cityaware.geo.errors import InvalidInput
from cityaware.geo.store import FeatureFilter
from cityaware.geo.store.wall_modes import emergency, set_emergency

if TYPE_CHECKING:
    import geopandas as gpd

    from cityaware.api.service.dashboard import Dashboard
    from cityaware.geo.store.live import LiveDevices
    from cityaware.geo.store.positions import PositionStore

NEAREST = 5
WORKER_RADIUS_M = 1000.0
REPLAY_MAX = 20_000
GEOD = Geod(ellps="WGS84")
REPLAY_FIELDS = ("id", "lon", "lat", "category", "status", "title", "grid_code", "reported_at")


def replay_span(at: str, timezone: str) -> tuple[int, int]:
    """Epoch ms [start, end) of a local day (``YYYY-MM-DD``) or hour (``YYYY-MM-DDTHH``)."""
    try:
        if len(at) == 10:
            start, step = datetime.strptime(at, "%Y-%m-%d"), timedelta(days=1)
        else:
            start, step = datetime.strptime(at, "%Y-%m-%dT%H"), timedelta(hours=1)
    except ValueError:
        raise InvalidInput(
            f"at must be a day YYYY-MM-DD or an hour YYYY-MM-DDTHH, not {at!r}"
        ) from None
    local = start.replace(tzinfo=ZoneInfo(timezone))
    return int(local.timestamp() * 1000), int((local + step).timestamp() * 1000)


class Emergency:
    """The wall's emergency mode and replay over the dashboard's store and boundaries."""

    def __init__(self, board: Dashboard, devices: LiveDevices, positions: PositionStore) -> None:
        self.board, self.devices, self.positions = board, devices, positions
        self._grids: tuple[str, gpd.GeoDataFrame] | None = None

    def switch(self, incident_id: str | None, by: str = "") -> dict[str, Any]:
        """Turn the mode on for ``incident_id`` (NotFound if unknown) or off (None)."""
        if incident_id is not None:
            self.board.store.get("incidents", incident_id)
        set_emergency(self.board.store, incident_id, by)
        return self.view()

    def view(self) -> dict[str, Any]:
        """What every wall shows now: ``{"active": false}`` or the incident's whole picture."""
        mode = emergency(self.board.store)
        if mode is None:
            return {"active": False}
        store = self.board.store
        incident = store.get("incidents", mode["incident_id"])
        lon, lat = incident["lon"], incident["lat"]
        grids = self.neighbourhood(incident.get("grid_code"))
        return {
            "active": True,
            **mode,
            "incident": incident,
            "grids": json.loads(grids.to_json(drop_id=True)) if grids is not None else None,
            "cameras": nearest_devices(self.devices, lon, lat, ("cameras",), NEAREST, online=True),
            "devices": nearest_devices(self.devices, lon, lat, ("sensors",), NEAREST, online=True),
            "workers": self.workers(grids, lon, lat),
            "timeline": store.history("incidents", incident["id"])["status"],
        }

    def grids(self) -> gpd.GeoDataFrame:
        """The active generation's grids (cached per generation)."""
        active = self.board.registry.active() or ""
        if self._grids is None or self._grids[0] != active:
            units = self.board.registry.units(level="grid")
            self._grids = (active, units[["code", "name", "attributes", "geometry"]])
        return self._grids[1]

    def neighbourhood(self, code: str | None) -> gpd.GeoDataFrame | None:
        """The grid ``code`` (first, ``role`` "incident") and the grids touching it."""
        if not code:
            return None
        grids = self.grids()
        own = grids[grids["code"] == code]
        if own.empty:
            return None
        near = grids.iloc[grids.sindex.query(own.geometry.iloc[0], predicate="intersects")]
        near = near.assign(role=np.where(near["code"] == code, "incident", "neighbour"))
        return near.sort_values("role", kind="stable")

    def workers(
        self, grids: gpd.GeoDataFrame | None, lon: float, lat: float
    ) -> list[dict[str, Any]]:
        """Grid workers of the grids shown, then moving workers within the radius."""
        out = []
        for row in grids.itertuples() if grids is not None else ():
            attributes = json.loads(str(row.attributes or "{}"))
            if attributes.get("worker"):
                out.append({"name": attributes["worker"], "phone": attributes.get("phone"),
                            "grid": row.code, "role": row.role})  # fmt: skip
        for obj in self.positions.objects("worker"):
            _, _, metres = GEOD.inv(lon, lat, obj["lon"], obj["lat"])
            if metres <= WORKER_RADIUS_M:
                out.append({"name": obj["id"], "lon": obj["lon"], "lat": obj["lat"],
                            "distance_m": round(float(metres), 1), "role": "moving"})  # fmt: skip
        return out

    def replay(self, at: str) -> dict[str, Any]:
        """The incidents reported in the local day or hour ``at``, oldest first."""
        start, end = replay_span(at, self.board.profile().timezone)
        page = self.board.store.query("incidents", FeatureFilter(since=start, until=end - 1),
                                      limit=REPLAY_MAX, sortby=["reported_at"])  # fmt: skip
        items = [{name: item.get(name) for name in REPLAY_FIELDS} for item in page.items]
        return {"at": at, "start_ms": start, "end_ms": end, "incidents": items,
                "truncated": len(items) == REPLAY_MAX}  # fmt: skip
