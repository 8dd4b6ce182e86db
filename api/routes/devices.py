"""OGC API - Features Part 4: create, replace, update and delete cameras and sensors.

    POST   /collections/{cameras|sensors}/items            a GeoJSON Feature (Point)
           Content-Crs: <http://www.opengis.net/def/crs/EPSG/0/4543>   (default CRS84)
           -> 201, Location: .../items/{id}, the stored item with its grid chain
    PUT    /collections/{collectionId}/items/{featureId}   replace (every property)
    PATCH  /collections/{collectionId}/items/{featureId}   merge-patch (given members only)
    DELETE /collections/{collectionId}/items/{featureId}   -> 204

Writes need a key whose role may ``devices.write`` (service, ops, admin). The point is
located on write (nothing is written for a point outside every grid, an unknown property,
a geometry that is not a Point or a CRS this server does not offer).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
from fastapi import APIRouter, Depends, Header, Request, Response

from cityaware.api.json_values import is_number
from cityaware.api.ogc.crs import CRS84, check_crs, point_to_crs84
from cityaware.api.ogc.geojson import feature_bytes
from cityaware.api.ogc.web import GEOJSON, href
from cityaware.api.service.limits import read_body
from cityaware.geo.errors import InvalidInput, NotFound, Unprocessable
from cityaware.geo.store.schema import DERIVED_FIELDS, KIND_FIELDS

if TYPE_CHECKING:
    from cityaware.api.context import AppContext

DEVICE_KINDS = ("cameras", "sensors")
WRITABLE_EXTRA = ("reported_at", "attributes")
ALLOW_ITEMS = "GET, POST, OPTIONS"
ALLOW_ITEM = "GET, PUT, PATCH, DELETE, OPTIONS"


def device_kind(collection_id: str) -> str:
    """The store kind of a writable collection; NotFound (404) for any other.

    >>> device_kind("sensors")
    'sensors'
    """
    if collection_id not in DEVICE_KINDS:
        raise NotFound(f"collection {collection_id!r} is not writable; writable: cameras, sensors")
    return collection_id


def writable_fields(kind: str) -> tuple[str, ...]:
    """The properties a client may set on ``kind``.

    >>> writable_fields("cameras")
    ('name', 'device_kind', 'online', 'reported_at', 'attributes')
    """
    return tuple(f for f in KIND_FIELDS[kind] if f not in DERIVED_FIELDS[kind]) + WRITABLE_EXTRA


def content_crs(header: str | None) -> str:
    """The CRS URI of a ``Content-Crs`` header (``<uri>`` or a bare URI; CRS84 when absent).

    >>> content_crs("<http://www.opengis.net/def/crs/EPSG/0/4326>")[-4:]
    '4326'
    """
    text = (header or "").strip()
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1]
    return check_crs(text, "Content-Crs")


def parse_feature(body: bytes, kind: str, crs: str, partial: bool = False) -> dict[str, Any]:
    """The store record of a GeoJSON Feature body (lon/lat in CRS84); InvalidInput says
    what is wrong. ``partial`` (PATCH): geometry and properties may be left out.

    >>> parse_feature(b'{"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]},'
    ...     b'"properties":{"name":"c"}}', "cameras", CRS84)
    {'name': 'c', 'lon': 1.0, 'lat': 2.0}
    """
    try:
        feature = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise InvalidInput(f"the body is not valid JSON: {error}") from error
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        raise InvalidInput('the body must be a GeoJSON Feature ({"type": "Feature", ...})')
    unknown_members = sorted(set(feature) - {"type", "id", "geometry", "properties", "links"})
    if unknown_members:
        raise InvalidInput(f"unknown Feature members: {', '.join(unknown_members)}")
    properties = feature.get("properties") or {}
    if not isinstance(properties, dict):
        raise InvalidInput("properties must be a JSON object")
    allowed = writable_fields(kind)
    unknown = sorted(set(properties) - set(allowed))
    if unknown:
        raise InvalidInput(
            f"unknown or read-only properties for {kind}: {', '.join(unknown)}; "
            f"writable: {', '.join(allowed)}"
        )
    record = dict(properties)
    geometry = feature.get("geometry")
    if geometry is None:
        if not partial:
            raise InvalidInput("geometry is required (a GeoJSON Point)")
    else:
        record["lon"], record["lat"] = _point(geometry, crs)
    if feature.get("id") is not None:
        record["id"] = str(feature["id"])
    return record


async def item_record(
    request: Request, kind: str, feature_id: str, crs_header: str | None, partial: bool
) -> dict[str, Any]:
    """The record of a PUT/PATCH body for item ``feature_id`` (a Feature id, when given,
    must be the path's)."""
    body = await read_body(request)
    record = parse_feature(body, kind, content_crs(crs_header), partial=partial)
    if record.pop("id", feature_id) != feature_id:
        raise InvalidInput(f"the Feature id differs from the path ({feature_id!r})")
    return record


def _point(geometry: Any, crs: str) -> tuple[float, float]:
    if not isinstance(geometry, dict) or geometry.get("type") != "Point":
        kind = geometry.get("type") if isinstance(geometry, dict) else type(geometry).__name__
        raise InvalidInput(f"geometry must be a GeoJSON Point, got {kind!r}")
    coords = geometry.get("coordinates")
    if (
        not isinstance(coords, list)
        or len(coords) not in (2, 3)
        or not all(is_number(v) for v in coords)
    ):
        raise InvalidInput("Point coordinates must be 2 or 3 numbers")
    lon, lat = point_to_crs84(coords[0], coords[1], crs)
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise InvalidInput(f"the point is not a valid position in {crs} (lon {lon}, lat {lat})")
    return lon, lat


def build_router(ctx: AppContext) -> APIRouter:
    router = APIRouter(tags=["OGC API - Features"])
    writer = Depends(ctx.access.require("devices.write"))

    def located(record: dict[str, Any]) -> Any:
        location = ctx.locator.locate(record["lon"], record["lat"], "WGS84")
        if location.status == "outside":
            raise Unprocessable(
                f"the point ({record['lon']:.6f}, {record['lat']:.6f}) is outside every grid "
                f"(nearest {location.nearest_grid}, {location.distance_m:.0f} m away)"
            )
        return location

    def answer(request: Request, kind: str, item_id: str, status: int) -> Response:
        frame = ctx.catalog.get(kind).provider.get(item_id)
        path = f"/collections/{kind}/items/{item_id}"
        headers = {"Content-Crs": f"<{CRS84}>", "Location": href(request, path)}
        return Response(feature_bytes(frame, CRS84)[0], status, headers, media_type=GEOJSON)

    @router.post(
        "/collections/{collectionId}/items",
        summary="Create a camera or sensor (OGC API - Features Part 4)",
        status_code=201,
        response_class=Response,
        dependencies=[writer],
    )
    async def create(
        request: Request,
        collectionId: str,
        content_crs_header: str | None = Header(None, alias="Content-Crs"),
    ) -> Response:
        kind = device_kind(collectionId)
        record = parse_feature(await read_body(request), kind, content_crs(content_crs_header))
        stored = ctx.store.add(kind, record, "EPSG:4326", location=located(record))
        return answer(request, kind, stored["id"], 201)

    @router.put(
        "/collections/{collectionId}/items/{featureId}",
        summary="Replace a camera or sensor: every property (Part 4)",
        response_class=Response,
        dependencies=[writer],
        operation_id="replace_device",
    )
    @router.patch(
        "/collections/{collectionId}/items/{featureId}",
        summary="Update a camera or sensor: the members given, or its position (Part 4)",
        response_class=Response,
        dependencies=[writer],
        operation_id="update_device",
    )
    async def replace_or_update(
        request: Request,
        collectionId: str,
        featureId: str,
        content_crs_header: str | None = Header(None, alias="Content-Crs"),
    ) -> Response:
        kind = device_kind(collectionId)
        partial = request.method == "PATCH"
        record = await item_record(request, kind, featureId, content_crs_header, partial)
        current = ctx.store.get(kind, featureId)  # 404 before locating
        if "lon" in record:
            located(record)
        if not partial:
            blank: dict[str, Any] = {f: None for f in writable_fields(kind) if f != "reported_at"}
            record = blank | {"online": True, "attributes": {}} | record
        elif isinstance(record.get("attributes"), dict):  # merge-patch: null removes a member
            merged = {**current["attributes"], **record["attributes"]}
            record["attributes"] = {k: v for k, v in merged.items() if v is not None}
        if record:
            ctx.store.update(kind, featureId, record)
        return answer(request, kind, featureId, 200)

    @router.delete(
        "/collections/{collectionId}/items/{featureId}",
        summary="Delete a camera or sensor (Part 4)",
        status_code=204,
        response_class=Response,
        dependencies=[writer],
    )
    def delete(collectionId: str, featureId: str) -> Response:
        ctx.store.delete(device_kind(collectionId), featureId)
        return Response(status_code=204)

    @router.options(
        "/collections/{collectionId}/items",
        include_in_schema=False,
        dependencies=[Depends(ctx.access.public())],
    )
    def options_items(collectionId: str) -> Response:
        allow = ALLOW_ITEMS if collectionId in DEVICE_KINDS else "GET, OPTIONS"
        return Response(status_code=204, headers={"Allow": allow})

    @router.options(
        "/collections/{collectionId}/items/{featureId}",
        include_in_schema=False,
        dependencies=[Depends(ctx.access.public())],
    )
    def options_item(collectionId: str, featureId: str) -> Response:
        allow = ALLOW_ITEM if collectionId in DEVICE_KINDS else "GET, OPTIONS"
        return Response(status_code=204, headers={"Allow": allow})

    return router
