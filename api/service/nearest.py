"""``GET /v1/nearest``: the k nearest cameras or sensors to a point or an incident, or all
within a radius, with true (geodesic, WGS84 ellipsoid) distances in metres.

    GET /v1/nearest?lon=114.36&lat=34.80&crs=GCJ02&kind=cameras&k=5&online=true
    GET /v1/nearest?incident=3f9a0c1d2e4b5a6c&kind=sensors&radius_m=300

The search asks the store for everything within a radius (its spatial index
and exact geodesic filter) and widens the radius until k features are in it;
anything outside the radius is farther than everything inside, so the k
closest found are the true k nearest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from fastapi import APIRouter, Depends, Query, Response
from pyproj import Geod

from cityaware.api.service.locate import CRS_HELP, json_response
from cityaware.geo.crs import to_lonlat
from cityaware.geo.errors import InvalidInput
from cityaware.geo.store import FeatureFilter

if TYPE_CHECKING:
    from cityaware.api.context import AppContext
    from cityaware.geo.store.store import FeatureStore

DEVICE_KINDS = ("cameras", "sensors")
MAX_K = 100
MAX_RADIUS_M = 50_000.0
MAX_WITHIN = 2_000
FIRST_RADIUS_M = 250.0
DEVICE_FIELDS = ("name", "device_kind", "online", "reading_value", "reading_unit", "alarm")
_GEOD = Geod(ellps="WGS84")


def geodesic_m(lon: float, lat: float, lons: np.ndarray, lats: np.ndarray) -> np.ndarray:
    """Distances in metres from one point to many on the WGS84 ellipsoid.

    >>> float(geodesic_m(113.0, 34.0, np.array([113.0]), np.array([34.001]))[0]).__round__(1)
    110.9
    """
    _, _, distance = _GEOD.inv(np.full(len(lons), lon), np.full(len(lats), lat), lons, lats)
    return np.asarray(distance, dtype=float)


def _device(record: dict[str, Any], distance: float) -> dict[str, Any]:
    device = {"id": record["id"], "kind": record["kind"]}
    device |= {name: record[name] for name in DEVICE_FIELDS if name in record}
    device |= {"lon": record["lon"], "lat": record["lat"], "distance_m": round(distance, 2)}
    return device | {"grid_code": record.get("grid_code")}


def _within(
    store: FeatureStore,
    kind: str,
    lon: float,
    lat: float,
    radius_m: float,
    filters: dict[str, Any],
) -> tuple[list[dict[str, Any]], int]:
    page = store.query(
        kind, FeatureFilter(radius=(lon, lat, radius_m), **filters), limit=MAX_WITHIN
    )
    return page.items, page.number_matched


def nearest_devices(
    store: FeatureStore,
    lon: float,
    lat: float,
    kinds: tuple[str, ...] = DEVICE_KINDS,
    k: int = 5,
    radius_m: float | None = None,
    online: bool | None = None,
    device_kind: str | None = None,
) -> list[dict[str, Any]]:
    """The k nearest devices of ``kinds`` (or all within ``radius_m``), nearest first."""
    filters = {"online": online, "device_kind": device_kind}
    found: list[dict[str, Any]] = []
    for kind in kinds:
        if radius_m is not None:
            items, matched = _within(store, kind, lon, lat, radius_m, filters)
            if matched > MAX_WITHIN:
                raise InvalidInput(
                    f"{matched} {kind} lie within {radius_m:g} m; at most {MAX_WITHIN} are "
                    "listed: use a smaller radius_m"
                )
        else:
            items = _k_nearest(store, kind, lon, lat, k, filters)
        found.extend(items)
    if not found:
        return []
    distance = geodesic_m(
        lon, lat, np.array([r["lon"] for r in found]), np.array([r["lat"] for r in found])
    )
    order = np.lexsort((np.array([r["id"] for r in found]), distance))
    if radius_m is None:
        order = order[:k]
    return [_device(found[i], float(distance[i])) for i in order]


def _k_nearest(
    store: FeatureStore, kind: str, lon: float, lat: float, k: int, filters: dict[str, Any]
) -> list[dict[str, Any]]:
    """Everything within the smallest searched radius holding k features (or the largest)."""
    low, radius = 0.0, FIRST_RADIUS_M
    items: list[dict[str, Any]] = []
    for _ in range(40):  # bounded: the radius grows x4 or is bisected each round
        items_r, matched = _within(store, kind, lon, lat, radius, filters)
        if matched > MAX_WITHIN:  # too many to read: shrink towards the last small radius
            radius = (low + radius) / 2
            continue
        items = items_r
        if matched >= k or radius >= MAX_RADIUS_M:
            break
        low, radius = radius, min(radius * 4, MAX_RADIUS_M)
    return items


def nearest_answer(
    store: FeatureStore,
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
    devices = nearest_devices(store, x, y, kinds, k, radius_m, online, device_kind)
    return {
        "query": query,
        "location": {"wgs84": [x, y]},
        "k": None if radius_m is not None else k,
        "radius_m": radius_m,
        "count": len(devices),
        "features": devices or None,
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
            ctx.store, lon=lon, lat=lat, crs=crs, incident=incident, kind=kind, k=k,
            radius_m=radius_m, online=online, device_kind=device_kind,
        )  # fmt: skip
        return json_response(answer)

    return router
