"""``GET /v1/nearest``: the k nearest cameras or sensors to a point or an incident, or all
within a radius, with true (geodesic, WGS84 ellipsoid) distances in metres.

    GET /v1/nearest?lon=114.36&lat=34.80&crs=GCJ02&kind=cameras&k=5&online=true
    GET /v1/nearest?incident=3f9a0c1d2e4b5a6c&kind=sensors&radius_m=300

The devices are searched in memory (:class:`~geo.store.live.LiveDevices`: a live
index kept in step with the store's change feed, so every server process answers
alike right after a write in any of them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, Query, Response

from cityaware.api.responses import json_response
from cityaware.api.service.locate import CRS_HELP
from cityaware.geo.crs import to_lonlat
from cityaware.geo.errors import InvalidInput
from cityaware.geo.store.live import DEVICE_KINDS, LiveDevices

if TYPE_CHECKING:
    from cityaware.api.context import AppContext
    from cityaware.geo.engine.live_index import Attrs, LiveIndex
    from cityaware.geo.store.store import FeatureStore

MAX_K = 100
MAX_RADIUS_M = 50_000.0
MAX_WITHIN = 2_000
DEVICE_FIELDS = ("name", "device_kind", "online", "reading_value", "reading_unit", "alarm")


def _device(index: LiveIndex, kind: str, id: Any, distance: float) -> dict[str, Any]:
    lon, lat, attrs = index.get(kind, id)
    device = {"id": id, "kind": kind}
    device |= {name: attrs[name] for name in DEVICE_FIELDS if name in attrs}
    device |= {"lon": lon, "lat": lat, "distance_m": round(distance, 2)}
    return device | {"grid_code": attrs.get("grid_code")}


def nearest_devices(
    devices: LiveDevices,
    lon: float,
    lat: float,
    kinds: tuple[str, ...] = DEVICE_KINDS,
    k: int = 5,
    radius_m: float | None = None,
    online: bool | None = None,
    device_kind: str | None = None,
    max_age_s: float = 0.0,
) -> list[dict[str, Any]]:
    """The k nearest devices of ``kinds`` (or all within ``radius_m``), nearest first (ties
    by id); ``online`` and ``device_kind`` keep only devices with that value; ``max_age_s``:
    see :meth:`~geo.store.live.LiveDevices.current`."""

    def wanted(attrs: Attrs) -> bool:
        return (online is None or attrs.get("online") == online) and (
            device_kind is None or attrs.get("device_kind") == device_kind
        )

    index = devices.current(max_age_s)
    found: list[tuple[float, str, str, Any]] = []
    for kind in kinds:
        if radius_m is not None:
            hits = index.within(lon, lat, radius_m, kind, wanted)
            if len(hits) > MAX_WITHIN:
                raise InvalidInput(
                    f"{len(hits)} {kind} lie within {radius_m:g} m; at most {MAX_WITHIN} are "
                    "listed: use a smaller radius_m"
                )
        else:
            hits = index.nearest(lon, lat, k, kind, wanted)
        found += [(distance, str(id), kind, id) for id, distance in hits]
    found.sort(key=lambda hit: hit[:2])
    if radius_m is None:
        found = found[:k]
    return [_device(index, kind, id, distance) for distance, _, kind, id in found]


def nearest_answer(
    store: FeatureStore,
    devices: LiveDevices,
    *,
    lon: float | None = None,
    lat: float | None = None,
    crs: str | None = None,
    incident: str | None = None,
    kind: str | None = None,
    k: int = 5,
    radius_m: float | None = None,
    online: bool | None = None,
    device_kind: str | None = None,
) -> dict[str, Any]:
    """The ``/v1/nearest`` answer around a point given in ``crs``, or an incident's point."""
    if kind is not None and kind not in DEVICE_KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(DEVICE_KINDS)}")
    query: dict[str, Any]
    if incident is not None:
        record = store.get("incidents", incident)
        x, y, query = record["lon"], record["lat"], {"incident": incident}
    elif lon is None or lat is None or not crs:
        raise InvalidInput(f"give lon, lat and crs ({CRS_HELP}), or an incident id")
    else:
        x, y = (float(v) for v in to_lonlat(lon, lat, crs))
        query = {"x": lon, "y": lat, "crs": crs}
    kinds = (kind,) if kind else DEVICE_KINDS
    found = nearest_devices(devices, x, y, kinds, k, radius_m, online, device_kind)
    return {
        "query": query,
        "location": {"wgs84": [x, y]},
        "k": None if radius_m is not None else k,
        "radius_m": radius_m,
        "count": len(found),
        "features": found or None,
    }


def build_router(ctx: AppContext) -> APIRouter:
    router = APIRouter(tags=["nearest devices"])

    @router.get(
        "/v1/nearest",
        summary="Nearest cameras or sensors to a point or an incident (true metres)",
        dependencies=[Depends(ctx.access.read())],
    )
    async def nearest(
        lon: float | None = Query(None, description="x: longitude or easting"),
        lat: float | None = Query(None, description="y: latitude or northing"),
        crs: str | None = Query(None, description=CRS_HELP),
        incident: str | None = Query(None, max_length=64, description="an incident id instead"),
        kind: str | None = Query(None, description="cameras or sensors (default both)"),
        k: int = Query(5, ge=1, le=MAX_K, description="how many nearest"),
        radius_m: float | None = Query(
            None, gt=0, le=MAX_RADIUS_M, description="all within this many metres instead of k"
        ),
        online: bool | None = Query(None, description="only online (true) or offline (false)"),
        device_kind: str | None = Query(None, max_length=64, description="e.g. ptz, water_meter"),
    ) -> Response:
        answer = nearest_answer(
            ctx.store, ctx.live_devices, lon=lon, lat=lat, crs=crs, incident=incident,
            kind=kind, k=k, radius_m=radius_m, online=online, device_kind=device_kind,
        )  # fmt: skip
        return json_response(answer)

    return router
