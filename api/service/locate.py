"""``/v1/locate``: geocode-to-grid for one point (GET) or a batch of up to 10,000 (POST).

    GET  /v1/locate?lon=114.3565&lat=34.8094&crs=GCJ02
    POST /v1/locate   {"crs": "WGS84", "points": [[114.35, 34.80], ...]}
                      {"crs": "BD09", "points": [{"id": "a1", "x": 114.36, "y": 34.80}]}
    POST /v1/locate?crs=EPSG:4543   (Content-Type: text/csv; header id,x,y or x,y)

A batch answers JSON column by column (``layout=columns``, the default: one
array per field, index-aligned with the input, built without a Python loop
per point), or one object per point (``layout=records``), or CSV when the
request's ``Accept`` asks for ``text/csv``. Area objects come once, keyed by code.
"""

from __future__ import annotations

import io
from itertools import chain
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.datastructures import QueryParams

from cityaware.api.responses import JSON, json_response
from cityaware.api.service.auth import HEADER, SECURITY, client_of
from cityaware.api.service.limits import check_batch_length, read_body
from cityaware.geo.errors import InvalidInput

if TYPE_CHECKING:
    from cityaware.api.context import AppContext

LAYOUTS = ("records", "columns")
CRS_HELP = "WGS84, CGCS2000, GCJ02, BD09 or EPSG:NNNN (x = longitude/easting)"

BATCH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["points"],
    "properties": {
        "crs": {"type": "string", "description": CRS_HELP},
        "points": {
            "type": "array",
            "maxItems": 10_000,
            "items": {
                "oneOf": [
                    {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2},
                    {
                        "type": "object",
                        "required": ["x", "y"],
                        "properties": {
                            "id": {"type": ["string", "integer"]},
                            "x": {"type": "number"},
                            "y": {"type": "number"},
                        },
                    },
                ]
            },
        },
    },
}
BATCH_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            JSON: {"schema": BATCH_SCHEMA},
            "text/csv": {"schema": {"type": "string", "description": "header x,y or id,x,y"}},
        },
    }
}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


SINGLE_PARAMETERS = [
    _query("lon", {"type": "number"}, "x: longitude, or easting in metres"),
    _query("lat", {"type": "number"}, "y: latitude, or northing in metres"),
    _query("crs", {"type": "string"}, CRS_HELP),
    _query("generation", {"type": "string"}, "boundary generation (default: the active one)"),
    _query("near_m", {"type": "number"}, "list candidate grids within this many metres (0-500)"),
    _query("address", {"type": "string", "maxLength": 200}, "instead of lon/lat/crs"),
]


def _number(params: QueryParams, name: str) -> float | None:
    text = params.get(name)
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        raise InvalidInput(f"{name}: {text!r} is not a number") from None


def parse_json_batch(body: bytes, crs: str | None) -> tuple[np.ndarray, np.ndarray, list[Any], str]:
    """x, y, ids and CRS of a JSON batch; InvalidInput says what is wrong."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise InvalidInput(f"body is not valid JSON: {error}") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("points"), list):
        raise InvalidInput('body must be a JSON object with a "points" array')
    points = payload["points"]
    crs = payload.get("crs") or crs
    if not isinstance(crs, str):
        raise InvalidInput(f'"crs" is required ({CRS_HELP})')
    check_batch_length(len(points))
    if isinstance(points[0], dict):
        try:
            ids = [p.get("id") for p in points]
            xy = [(p["x"], p["y"]) for p in points]
        except (AttributeError, KeyError, TypeError):
            raise InvalidInput('every point object needs numeric "x" and "y"') from None
        if any(i is not None and not isinstance(i, str | int) for i in ids):
            raise InvalidInput('a point "id" must be a string or an integer')
    else:
        ids, xy = list(range(len(points))), points
    try:
        if set(map(len, xy)) != {2}:
            raise ValueError
        flat = np.fromiter(chain.from_iterable(xy), dtype=float, count=2 * len(xy))
    except (ValueError, TypeError):
        raise InvalidInput("every point must be [x, y] numbers (or all {id, x, y})") from None
    return flat[0::2].copy(), flat[1::2].copy(), ids, crs


def parse_csv_batch(body: bytes, crs: str | None) -> tuple[np.ndarray, np.ndarray, list[Any], str]:
    """x, y, ids and CRS of a CSV batch (header ``x,y`` or ``id,x,y``; ``lon,lat`` too)."""
    import pandas as pd

    if not crs:
        raise InvalidInput(f"a CSV batch needs the crs query parameter ({CRS_HELP})")
    try:
        frame = pd.read_csv(io.BytesIO(body), dtype={"id": str}, nrows=10_001, encoding="utf-8-sig")
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as error:
        raise InvalidInput(f"body is not readable CSV: {error}") from None
    columns = {str(c).strip().lower(): c for c in frame.columns}
    xname = columns.get("x") or columns.get("lon")
    yname = columns.get("y") or columns.get("lat")
    if xname is None or yname is None:
        raise InvalidInput("CSV header must name the columns x,y (or lon,lat), optionally id")
    check_batch_length(len(frame))
    try:
        x = pd.to_numeric(frame[xname]).to_numpy(dtype=float)
        y = pd.to_numeric(frame[yname]).to_numpy(dtype=float)
    except (ValueError, TypeError) as error:
        raise InvalidInput(f"CSV x/y must be numbers: {error}") from None
    ids = frame[columns["id"]].tolist() if "id" in columns else list(range(len(frame)))
    return x, y, ids, crs


def build_router(ctx: AppContext) -> APIRouter:
    router = APIRouter(tags=["geocode-to-grid"])
    geocoding, access = ctx.geocoding, ctx.access

    @router.get(
        "/v1/locate",
        summary="Which grid (and community, street, district, zone) holds one point",
        openapi_extra={"parameters": SINGLE_PARAMETERS, "security": SECURITY},
    )
    @access.declare("read")
    async def locate_one(request: Request) -> Response:
        # The hot path: parameters are read here rather than by FastAPI's per-parameter
        # machinery (a third of the request's CPU); they are documented in SINGLE_PARAMETERS.
        access.check_read(request.headers.get(HEADER), client_of(request))
        params = request.query_params
        generation = params.get("generation")
        if "address" in params:
            return json_response(geocoding.locate_address(params["address"], generation))
        lon, lat, crs = _number(params, "lon"), _number(params, "lat"), params.get("crs")
        if lon is None or lat is None or not crs:
            raise InvalidInput(f"lon, lat and crs are required ({CRS_HELP}), or an address")
        near_m = _number(params, "near_m")
        return json_response(geocoding.locate_point(lon, lat, crs, generation, near_m))

    @router.post(
        "/v1/locate",
        summary="Locate a batch of up to 10,000 points (JSON or CSV)",
        dependencies=[Depends(access.read())],
        openapi_extra=BATCH_BODY,
    )
    async def locate_batch(
        request: Request,
        crs: str | None = Query(None, description=CRS_HELP + "; required for CSV"),
        generation: str | None = Query(None, description="boundary generation (default active)"),
        layout: str = Query(
            "columns", description="columns (one array per field; fastest) or records (per point)"
        ),
    ) -> Response:
        if layout not in LAYOUTS:
            raise InvalidInput(f"layout must be one of {', '.join(LAYOUTS)}")
        body = await read_body(request)
        content_type = request.headers.get("content-type", JSON).split(";")[0].strip().lower()
        if content_type in ("text/csv", "application/csv"):
            x, y, ids, crs = parse_csv_batch(body, crs)
        elif content_type in (JSON, "") or content_type.endswith("+json"):
            x, y, ids, crs = parse_json_batch(body, crs)
        else:
            raise InvalidInput(f"unsupported Content-Type {content_type!r}; send JSON or text/csv")
        located = geocoding.locate_batch(x, y, crs, generation)
        if "text/csv" in request.headers.get("accept", ""):
            return Response(located.csv(ids), media_type="text/csv")
        return json_response(located.answer(ids, layout))

    return router
