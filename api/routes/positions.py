"""Moving objects and geofences over HTTP.

    POST   /v1/positions  {"positions": [{"id": "w17", "kind": "worker", "lon": 101.55,
                            "lat": 30.56, "crs": "GCJ02", "at": "2026-12-01T08:00:00Z"}]}
           -> {"accepted": 1, "moved": 1, "grid_changes": 1, "events": [...]}
    GET    /v1/objects?kind=worker            current positions (GeoJSON)
    GET    /v1/objects/{kind}/{id}/track?start=&end=   the track (GeoJSON LineString)
    POST   /v1/fences     {"id": "f1", "region": "990105001001001" | "geometry": {Polygon},
                           "detect": ["enter", "exit"], "kinds": ["worker"],
                           "min_distance_m": 10, "dwell_s": 30}
    GET    /v1/fences, /v1/fences/{id}, /v1/fences/{id}/events;  DELETE /v1/fences/{id}

A position needs a ``crs`` (per position or for the batch); one that cannot be converted,
or lands far outside every grid (``CITYAWARE_POSITION_MAX_OUTSIDE_M``: the usual sign of
a wrong CRS) refuses the whole batch with a 400, and nothing is written.
"""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
import shapely
from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from cityaware.api.json_values import is_number
from cityaware.api.responses import json_response
from cityaware.api.routes.readings import batch_items, parse_time
from cityaware.api.service.limits import read_body
from cityaware.geo.crs import to_lonlat_checked
from cityaware.geo.errors import InvalidInput
from cityaware.geo.live.fences import DETECTS
from cityaware.geo.store.positions import PositionBatch
from cityaware.geo.store.records import new_ids
from cityaware.geo.store.times import from_ms, now_ms

if TYPE_CHECKING:
    from cityaware.api.context import AppContext

MAX_POSITIONS = 10_000
MAX_BODY = 8 * 1024 * 1024
POSITION_KEYS = frozenset({"id", "kind", "lon", "lat", "crs", "at"})
KIND_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{0,15}$")
MAX_OBJECT_ID = 47  # kind:id fits the change feed's 64-character ids


def parse_positions(body: bytes, now: int, skew_ms: int) -> tuple[PositionBatch, np.ndarray]:
    """The batch (lon/lat in CRS84) of a ``{"positions": [...]}`` body; InvalidInput names
    the first bad position. Also returns the input CRS of each position."""
    shape = '{"id", "kind", "lon", "lat", "crs", "at"}'
    payload, items = batch_items(body, "positions", shape, MAX_POSITIONS)
    default_crs = payload.get("crs")
    kinds, ids, xs, ys, crss, times = [], [], [], [], [], []
    for n, item in enumerate(items):
        if not isinstance(item, dict) or not POSITION_KEYS.issuperset(item):
            raise InvalidInput(f"positions[{n}]: must be an object of {sorted(POSITION_KEYS)}")
        kind, oid = item.get("kind"), item.get("id")
        if not isinstance(kind, str) or not KIND_PATTERN.match(kind):
            raise InvalidInput(f"positions[{n}]: kind must match {KIND_PATTERN.pattern}")
        if not isinstance(oid, str) or not 0 < len(oid) <= MAX_OBJECT_ID:
            raise InvalidInput(f"positions[{n}]: id must be 1 to {MAX_OBJECT_ID} characters")
        x, y = item.get("lon"), item.get("lat")
        if not (is_number(x) and is_number(y)):
            raise InvalidInput(f"positions[{n}]: lon and lat must be numbers")
        crs = item.get("crs", default_crs)
        if not isinstance(crs, str) or not crs:
            raise InvalidInput(f"positions[{n}]: crs is required (WGS84, GCJ02, EPSG:4543, ...)")
        at = parse_time(item.get("at"), f"positions[{n}].at")
        if at > now + skew_ms:
            raise InvalidInput(f"positions[{n}]: at {item['at']} is in the future")
        kinds.append(kind)
        ids.append(oid)
        xs.append(float(x))
        ys.append(float(y))
        crss.append(crs)
        times.append(at)
    crs_array = np.array(crss, dtype=object)
    lon, lat = np.full(len(xs), np.nan), np.full(len(xs), np.nan)
    x_array, y_array = np.array(xs), np.array(ys)
    for crs in sorted(set(crss)):
        rows = np.flatnonzero(crs_array == crs)
        converted, converted_lat, problems = to_lonlat_checked(x_array[rows], y_array[rows], crs)
        bad = [i for i, p in zip(rows.tolist(), problems.tolist(), strict=True) if p]
        if bad:
            problem = problems[rows.tolist().index(bad[0])]
            raise InvalidInput(f"positions[{bad[0]}]: {problem} (crs {crs}); nothing was written")
        lon[rows], lat[rows] = converted, converted_lat
    return PositionBatch(kinds, ids, lon.tolist(), lat.tolist(), times), crs_array


class FenceIn(BaseModel):
    """A fence: a grid or region code, or a polygon (GeoJSON, CRS84)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    id: str | None = Field(None, min_length=1, max_length=64)
    name: str | None = Field(None, max_length=200)
    region: str | None = Field(None, max_length=64, description="grid or region code")
    geometry: dict[str, Any] | None = Field(None, description="GeoJSON Polygon/MultiPolygon")
    detect: list[str] = Field(["enter", "exit"], description=", ".join(DETECTS))
    kinds: list[str] | None = Field(None, description="object kinds watched (default: all)")
    min_distance_m: float | None = Field(None, ge=0, description="hysteresis distance")
    dwell_s: float | None = Field(None, ge=0, description="hysteresis dwell time")


def fence_row(fence: FenceIn, min_distance_m: float, dwell_s: float, now: int) -> dict[str, Any]:
    """The stored row of a fence (InvalidInput when it is not usable)."""
    if (fence.region is None) == (fence.geometry is None):
        raise InvalidInput("give either region (a grid or region code) or geometry (a polygon)")
    unknown = sorted(set(fence.detect) - set(DETECTS))
    if unknown or not fence.detect:
        raise InvalidInput(f"detect must be a non-empty list of {', '.join(DETECTS)}")
    geometry = None
    if fence.geometry is not None:
        try:
            shape = shapely.from_geojson(orjson.dumps(fence.geometry).decode())
        except shapely.errors.GEOSException as error:
            raise InvalidInput(f"geometry is not GeoJSON: {error}") from None
        if shape.geom_type not in ("Polygon", "MultiPolygon") or not shape.is_valid:
            reason = shapely.is_valid_reason(shape)
            raise InvalidInput(f"geometry must be a valid Polygon or MultiPolygon ({reason})")
        if not shapely.box(-180, -90, 180, 90).covers(shape):
            raise InvalidInput("geometry must be in CRS84 (lon/lat degrees)")
        geometry = shapely.to_geojson(shape)
    for kind in fence.kinds or ():
        if not KIND_PATTERN.match(kind):
            raise InvalidInput(f"kinds: {kind!r} is not an object kind")
    return {
        "id": fence.id or "fn_" + new_ids(1)[0],
        "name": fence.name,
        "region": fence.region,
        "geometry": geometry,
        "detect": ",".join(sorted(set(fence.detect))),
        "object_kinds": ",".join(sorted(set(fence.kinds))) if fence.kinds else None,
        "min_distance_m": min_distance_m if fence.min_distance_m is None else fence.min_distance_m,
        "dwell_s": dwell_s if fence.dwell_s is None else fence.dwell_s,
        "created_at": now,
    }


def track_feature(kind: str, oid: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """A track as a GeoJSON Feature (LineString, or Point for one position) with the time
    and grid of each vertex.

    >>> track_feature("worker", "w1", [{"lon": 1.0, "lat": 2.0, "at": 0, "grid_code": "g"}]
    ...     )["geometry"]["type"]
    'Point'
    """
    coords = [[r["lon"], r["lat"]] for r in rows]
    geometry = (
        {"type": "Point", "coordinates": coords[0]}
        if len(coords) == 1
        else {"type": "LineString", "coordinates": coords}
    )
    return {
        "type": "Feature",
        "id": f"{kind}:{oid}",
        "geometry": geometry,
        "properties": {
            "kind": kind,
            "id": oid,
            "times": [from_ms(r["at"]) for r in rows],
            "grids": [r["grid_code"] for r in rows],
        },
    }


def build_router(ctx: AppContext) -> APIRouter:
    router = APIRouter(tags=["moving objects"])
    access = ctx.access

    def write(body: bytes) -> dict[str, Any]:
        live = ctx.settings.live
        now = now_ms()
        batch, _ = parse_positions(body, now, int(live.future_skew_s * 1000))
        locator = ctx.locator
        located = locator.locate_lonlat(np.asarray(batch.lon), np.asarray(batch.lat))
        near = np.asarray(located.distance_m, dtype=float) <= live.position_max_outside_m
        far = np.flatnonzero((np.asarray(located.status) == "outside") & ~near)
        if len(far):
            i = int(far[0])
            raise InvalidInput(
                f"positions[{i}] ({batch.lon[i]:.5f}, {batch.lat[i]:.5f} in WGS84) is more than "
                f"{live.position_max_outside_m:.0f} m outside every grid (is its crs right?); "
                "nothing was written"
            )
        report = ctx.positions.write(batch, locator, now, located)
        return {
            "accepted": report.accepted,
            "moved": report.moved,
            "grid_changes": report.grid_changes,
            "events": report.events,
        }

    @router.post(
        "/v1/positions",
        summary="A batch of up to 10,000 positions of moving objects (fences checked on write)",
        dependencies=[Depends(access.require("positions.write"))],
    )
    async def post_positions(request: Request) -> Response:
        body = await read_body(request, MAX_BODY)
        return json_response(await asyncio.to_thread(write, body))

    @router.get(
        "/v1/objects", summary="Current positions (GeoJSON)", dependencies=[Depends(access.read())]
    )
    def objects(kind: str | None = None) -> Response:
        features = [
            {
                "type": "Feature",
                "id": f"{o['kind']}:{o['id']}",
                "geometry": {"type": "Point", "coordinates": [o["lon"], o["lat"]]},
                "properties": {k: v for k, v in o.items() if k not in ("lon", "lat")},
            }
            for o in ctx.positions.objects(kind)
        ]
        return json_response({"type": "FeatureCollection", "features": features})

    @router.get(
        "/v1/objects/{kind}/{object_id}/track",
        summary="An object's track in a time range (GeoJSON Feature)",
        dependencies=[Depends(access.read())],
    )
    def track(
        kind: str,
        object_id: str,
        start: str | None = Query(None, description="ISO 8601, inclusive"),
        end: str | None = Query(None, description="ISO 8601, inclusive"),
    ) -> Response:
        first = None if start is None else parse_time(start, "start")
        last = None if end is None else parse_time(end, "end")
        rows = ctx.positions.track(kind, object_id, first, last)
        if not rows:
            return json_response({"type": "FeatureCollection", "features": []})
        feature = track_feature(kind, object_id, rows)
        return json_response({"type": "FeatureCollection", "features": [feature]})

    @router.post(
        "/v1/fences",
        summary="Create a fence on a grid/region code or a polygon",
        status_code=201,
        dependencies=[Depends(access.require("fences.manage"))],
    )
    def create_fence(fence: FenceIn) -> Response:
        live = ctx.settings.live
        row = fence_row(fence, live.fence_min_distance_m, live.fence_dwell_s, now_ms())
        stored = ctx.positions.add_fence(row, ctx.locator.generation)
        answer = json_response(stored, status_code=201)
        answer.headers["Location"] = f"/v1/fences/{stored['id']}"
        return answer

    @router.get("/v1/fences", summary="Every fence", dependencies=[Depends(access.read())])
    def fences() -> Response:
        return json_response({"fences": ctx.positions.fences()})

    @router.get("/v1/fences/{fence_id}", summary="One fence", dependencies=[Depends(access.read())])
    def fence(fence_id: str) -> Response:
        return json_response(ctx.positions.fence(fence_id))

    @router.get(
        "/v1/fences/{fence_id}/events",
        summary="A fence's events, oldest first",
        dependencies=[Depends(access.read())],
    )
    def fence_events(fence_id: str, limit: int = Query(1000, ge=1, le=10_000)) -> Response:
        ctx.positions.fence(fence_id)
        return json_response({"events": ctx.positions.fence_events(fence_id, limit=limit)})

    @router.delete(
        "/v1/fences/{fence_id}",
        summary="Delete a fence",
        status_code=204,
        dependencies=[Depends(access.require("fences.manage"))],
    )
    def delete_fence(fence_id: str) -> Response:
        ctx.positions.delete_fence(fence_id)
        return Response(status_code=204)

    return router
