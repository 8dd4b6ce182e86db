"""``/v1/locate``: geocode-to-grid for one point (GET) or a batch of up to 10,000 (POST).

    GET  /v1/locate?lon=114.3565&lat=34.8094&crs=GCJ02
    POST /v1/locate   {"crs": "WGS84", "points": [[114.35, 34.80], ...]}
                      {"crs": "BD09", "points": [{"id": "a1", "x": 114.36, "y": 34.80}]}
                      {"crs": "WGS84", "points": [{"id": 7, "lon": 114.36, "lat": 34.80}]}
    POST /v1/locate?crs=EPSG:4543   (Content-Type: text/csv; header id,x,y or x,y)
    POST /v1/locate?crs=WGS84       (Content-Type: application/octet-stream:
                                     float64 little-endian x0 y0 x1 y1 ...)
    POST /v1/locate?crs=WGS84       (Content-Type: application/vnd.apache.arrow.stream:
                                     columns x, y (or lon, lat) and optionally id)

Point objects name their coordinates like the single form (``lon``/``lat``) or
``x``/``y``; pairs are ``[x, y]``. A batch answers JSON column by column
(``layout=columns``, the default: one array per field, index-aligned with the
input, built without a Python loop per point), or one object per point
(``layout=records``), or CSV when ``Accept`` asks for ``text/csv``, or an Arrow
IPC stream (``Accept: application/vnd.apache.arrow.stream``: the same columns,
codes dictionary-encoded; the header and the areas as JSON in the schema
metadata). Area objects come once, keyed by code. ``candidates=false`` leaves
the candidate grids out (they cost most near edges).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.datastructures import QueryParams

from cityaware.api.responses import JSON, json_response
from cityaware.api.service.answers import ARROW_STREAM
from cityaware.api.service.auth import HEADER, SECURITY, client_of
from cityaware.api.service.limits import check_batch_length, read_body
from cityaware.geo.errors import InvalidInput

if TYPE_CHECKING:
    from cityaware.api.context import AppContext

LAYOUTS = ("records", "columns")
OCTET_STREAM = "application/octet-stream"
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
                    {
                        "type": "object",
                        "required": ["lon", "lat"],
                        "properties": {
                            "id": {"type": ["string", "integer"]},
                            "lon": {"type": "number"},
                            "lat": {"type": "number"},
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
            OCTET_STREAM: {
                "schema": {
                    "type": "string",
                    "format": "binary",
                    "description": "float64 little-endian x, y pairs (16 bytes per point, "
                    "at most 10,000 points); the crs query parameter is required",
                }
            },
            ARROW_STREAM: {
                "schema": {
                    "type": "string",
                    "format": "binary",
                    "description": "an Arrow IPC stream with float64 columns x, y (or lon, "
                    "lat) and optionally id; the crs query parameter is required",
                }
            },
        },
    },
    "responses": {
        "200": {
            "description": "the located batch",
            "content": {
                JSON: {"schema": {"type": "object"}},
                "text/csv": {"schema": {"type": "string"}},
                ARROW_STREAM: {
                    "schema": {
                        "type": "string",
                        "format": "binary",
                        "description": "Arrow IPC stream: the columns of layout=columns "
                        "(codes dictionary-encoded); schema metadata 'header' and 'areas' "
                        "hold JSON",
                    }
                },
            },
        }
    },
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
    try:  # the fast path: all [x, y] pairs
        flat = np.array(points, dtype=np.float64)
        if flat.shape == (len(points), 2):
            return flat[:, 0].copy(), flat[:, 1].copy(), list(range(len(points))), crs
    except (ValueError, TypeError):
        pass
    ids, xy = [], []
    for k, point in enumerate(points):
        if isinstance(point, dict):
            names = ("x", "y") if "x" in point or "y" in point else ("lon", "lat")
            if not all(isinstance(point.get(n), int | float) for n in names):
                raise InvalidInput(
                    f'point {k}: a point object needs numeric "lon" and "lat" (or "x" and "y")'
                )
            if not isinstance(point.get("id", 0), str | int) or isinstance(point.get("id"), bool):
                raise InvalidInput(f'point {k}: "id" must be a string or an integer')
            ids.append(point.get("id"))
            xy.append((point[names[0]], point[names[1]]))
        elif isinstance(point, list) and len(point) == 2:
            ids.append(k)
            xy.append((point[0], point[1]))
        else:
            raise InvalidInput(f"point {k}: give [x, y] or an object with lon/lat (or x/y)")
    try:
        values = np.array(xy, dtype=np.float64).reshape(len(xy), 2)
    except (ValueError, TypeError):
        raise InvalidInput("every point must be [x, y] numbers (or objects)") from None
    return values[:, 0].copy(), values[:, 1].copy(), ids, crs


def parse_binary_batch(
    body: bytes, crs: str | None
) -> tuple[np.ndarray, np.ndarray, list[Any] | None, str]:
    """x, y of a float64 little-endian body of x, y pairs (no ids)."""
    if not crs:
        raise InvalidInput(f"a binary batch needs the crs query parameter ({CRS_HELP})")
    if len(body) % 16:
        raise InvalidInput(
            f"an {OCTET_STREAM} body holds float64 little-endian x, y pairs: "
            f"16 bytes per point, got {len(body)} bytes"
        )
    check_batch_length(len(body) // 16)
    values = np.frombuffer(body, dtype="<f8").reshape(-1, 2)
    return values[:, 0].astype(np.float64), values[:, 1].astype(np.float64), None, crs


def parse_arrow_batch(
    body: bytes, crs: str | None
) -> tuple[np.ndarray, np.ndarray, list[Any] | None, str]:
    """x, y (or lon, lat) and optional ids of an Arrow IPC stream body."""
    import pyarrow as pa

    from cityaware.geo.engine.columns import floats

    if not crs:
        raise InvalidInput(f"an Arrow batch needs the crs query parameter ({CRS_HELP})")
    try:
        table = pa.ipc.open_stream(body).read_all()
    except (pa.ArrowInvalid, OSError) as error:
        raise InvalidInput(f"body is not an Arrow IPC stream: {error}") from None
    names = set(table.column_names)
    xname, yname = ("x", "y") if {"x", "y"} <= names else ("lon", "lat")
    if not {xname, yname} <= names:
        raise InvalidInput(f"an Arrow batch needs columns x, y (or lon, lat); got {sorted(names)}")
    check_batch_length(table.num_rows)
    try:
        x, y = floats(table[xname]), floats(table[yname])
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
        raise InvalidInput(f"Arrow columns {xname}, {yname} must be numbers: {error}") from None
    ids = table["id"].to_pylist() if "id" in names else None
    return x, y, ids, crs


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


PARSERS: dict[str, Callable[[bytes, str | None], tuple[Any, Any, list[Any] | None, str]]] = {
    JSON: parse_json_batch,
    "": parse_json_batch,
    "text/csv": parse_csv_batch,
    "application/csv": parse_csv_batch,
    OCTET_STREAM: parse_binary_batch,
    ARROW_STREAM: parse_arrow_batch,
}


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
        candidates: bool = Query(True, description="list the other grids within 10 m"),
    ) -> Response:
        if layout not in LAYOUTS:
            raise InvalidInput(f"layout must be one of {', '.join(LAYOUTS)}")
        body = await read_body(request)
        content_type = request.headers.get("content-type", JSON).split(";")[0].strip().lower()
        parse = PARSERS.get(content_type)
        if parse is None and content_type.endswith("+json"):
            parse = parse_json_batch
        if parse is None:
            raise InvalidInput(
                f"unsupported Content-Type {content_type!r}; send one of {', '.join(PARSERS)}"
            )
        x, y, ids, crs = parse(body, crs)
        located = geocoding.locate_batch(x, y, crs, generation, candidates)
        accept = request.headers.get("accept", "")
        if ARROW_STREAM in accept:
            return Response(located.arrow(ids), media_type=ARROW_STREAM)
        ids = list(range(len(located))) if ids is None else ids
        if "text/csv" in accept:
            return Response(located.csv(ids), media_type="text/csv")
        return json_response(located.answer(ids, layout))

    return router
