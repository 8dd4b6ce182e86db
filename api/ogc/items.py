"""``/collections/{collectionId}/items`` and ``/items/{featureId}``.

Pages are GeoJSON (``application/geo+json``) with an integer ``numberMatched``
and ``next``/``prev`` links typed ``application/geo+json``; ``f=csv|gpkg|parquet``
turns the same request into a full export (see :mod:`api.ogc.exports`).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

import geopandas as gpd
import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from cityaware.api.conditional import conditional_get
from cityaware.api.ogc import exports
from cityaware.api.ogc.catalog import Catalog, Collection
from cityaware.api.ogc.collections import Generation
from cityaware.api.ogc.crs import CRS84, check_crs, to_uri
from cityaware.api.ogc.filters import with_equalities
from cityaware.api.ogc.geojson import collection_bytes, feature_bytes, json_safe_records
from cityaware.api.ogc.html import render_page
from cityaware.api.ogc.params import DEFAULT_LIMIT, MAX_LIMIT, ItemParams, item_params
from cityaware.api.ogc.web import GEOJSON, HTML, alternates, base_url, href, link, negotiate
from cityaware.geo.errors import InvalidInput

ITEM_FORMATS = ("geojson", "json", "html", "csv", "gpkg", "parquet")
Limit = Annotated[
    int,
    Query(ge=1, le=MAX_LIMIT, description=f"page size (default {DEFAULT_LIMIT}, max {MAX_LIMIT})"),
]
MAX_OFFSET = 10**12
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="matching items to skip")]
ResultType = Annotated[
    Literal["results", "hits"],
    Query(alias="resultType", description="hits: only numberMatched, no features"),
]
Cursor = Annotated[
    str | None,
    Query(max_length=200, description="opaque position from a next link (wins over offset)"),
]
# Queryables usable as ``?name=value`` (any queryable works; these are listed in the
# OpenAPI document because GDAL forwards equality filters only for listed parameters).
EQUALITY_PARAMETERS = (
    "code", "name", "parent_code", "managing_zone", "category", "status", "channel",
    "priority", "office", "device_kind", "grid_code", "community_code", "street_code",
    "district_code",
)  # fmt: skip
EQUALITY_OPENAPI = {
    "parameters": [
        {
            "name": name,
            "in": "query",
            "required": False,
            "style": "form",
            "explode": False,
            "schema": {"type": "string"},
            "description": f"only items whose {name} equals this (when a queryable)",
        }
        for name in EQUALITY_PARAMETERS
    ]
}


def _crs_header(crs: str) -> dict[str, str]:
    return {"Content-Crs": f"<{to_uri(crs)}>"}


def build_router(catalog: Catalog, access: Any = None) -> APIRouter:
    """Item pages and single items."""
    router = APIRouter(
        tags=["OGC API - Features"], dependencies=[Depends(access)] if access else []
    )

    def version_of(collection_id: str, generation: str | None) -> str | None:  # ETag, 304
        return catalog.get(collection_id).provider.version(generation)

    @router.get(
        "/collections/{collectionId}/items",
        summary="Items of a collection (GeoJSON, HTML, or exports: CSV, GeoPackage, GeoParquet)",
        response_class=Response,
        openapi_extra=EQUALITY_OPENAPI,
        responses={200: {"content": {GEOJSON: {}, HTML: {}}}},
    )
    @conditional_get(
        lambda collectionId, params, **_: version_of(collectionId, params.query.generation)
    )
    def items(
        request: Request,
        collectionId: str,
        params: Annotated[ItemParams, Depends(item_params)],
        limit: Limit = DEFAULT_LIMIT,
        offset: Offset = 0,
        cursor: Cursor = None,
        result_type: ResultType = "results",
    ) -> Response:
        collection = catalog.get(collectionId)
        path = f"/collections/{collectionId}/items"
        params.query.cursor = cursor
        limit = 0 if result_type == "hits" else limit  # GDAL counts a filter with hits
        return items_response(request, collection, params, limit, offset, path)

    @router.get(
        "/collections/{collectionId}/export",
        summary="Every matching item as one streamed file (GeoJSON, CSV, GeoPackage, GeoParquet)",
        response_class=Response,
    )
    def export(
        request: Request,
        collectionId: str,
        params: Annotated[ItemParams, Depends(item_params)],
        f: Annotated[str, Query(description="geojson, csv, gpkg or parquet")] = "geojson",
    ) -> Response:
        if f not in ("geojson", *exports.FILE_FORMATS):
            raise InvalidInput(
                f"f={f!r} is not an export format; use geojson, csv, gpkg or parquet"
            )
        collection = catalog.get(collectionId)
        _add_equalities(request, collection, params)
        return exports.export_response(collection, params, f)

    @router.get(
        "/collections/{collectionId}/items/{featureId}",
        summary="One item",
        response_class=Response,
        responses={200: {"content": {GEOJSON: {}, HTML: {}}}},
    )
    @conditional_get(lambda collectionId, generation, **_: version_of(collectionId, generation))
    def item(
        request: Request,
        collectionId: str,
        featureId: str,
        generation: Generation = None,
        crs: Annotated[str | None, Query(description="CRS of the output geometry")] = None,
    ) -> Response:
        collection = catalog.get(collectionId)
        fmt = negotiate(request, ("geojson", "json", "html"), default="geojson")
        crs_uri = check_crs(crs, "crs")
        frame = collection.provider.get(featureId, generation)
        path = f"/collections/{collectionId}/items/{featureId}"
        links = [
            *alternates(request, path, "html" if fmt == "html" else "geojson", ("geojson", "html")),
            link(request, f"/collections/{collectionId}", "collection", "application/json"),
        ]
        if fmt == "html":
            facts = list(json_safe_records(frame.drop(columns=[frame.geometry.name]))[0].items())
            geojson = feature_bytes(frame, CRS84)[0]
            title = f"{collection.title}: {featureId}"
            return render_page(base_url(request), title, links=links, facts=facts, geojson=geojson)
        feature = feature_bytes(frame, crs_uri)[0]
        body = feature[:-1] + b',"links":' + orjson.dumps(links) + b"}"
        return Response(body, media_type=GEOJSON, headers=_crs_header(crs_uri))

    return router


def items_response(
    request: Request, collection: Collection, params: ItemParams, limit: int, offset: int, path: str
) -> Response:
    """A page of ``collection`` at ``path`` (GeoJSON or HTML), or a full export for file formats."""
    fmt = negotiate(request, ITEM_FORMATS, default="geojson")
    _add_equalities(request, collection, params)
    if fmt in exports.FILE_FORMATS:
        return exports.export_response(collection, params, fmt)
    query = params.query
    query.limit, query.offset = limit, offset
    page = collection.provider.query(query)
    keys = ("geojson", "html")
    links = alternates(request, path, "html" if fmt == "html" else "geojson", keys)
    args = {k: v for k, v in request.query_params.items() if k not in ("offset", "cursor", "f")}
    returned = len(page.items)
    if page.next_cursor is not None:  # keyset: the next page costs what this one did
        links.append(_page_link(request, path, "next", {**args, "cursor": page.next_cursor}, fmt))
    elif query.cursor is None and returned and offset + returned < page.number_matched:
        links.append(_page_link(request, path, "next", {**args, "offset": offset + limit}, fmt))
    if offset > 0 and query.cursor is None:
        links.append(
            _page_link(request, path, "prev", {**args, "offset": max(0, offset - limit)}, fmt)
        )
    links.append(link(request, f"/collections/{collection.id}", "collection", "application/json"))
    if fmt == "html":
        return _items_html(request, collection, page.items, links, page.number_matched)
    stamp = dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    members = {
        "numberMatched": int(page.number_matched),
        "numberReturned": returned,
        "timeStamp": stamp,
        "links": links,
    }
    body = collection_bytes(feature_bytes(page.items, params.crs), members)
    return Response(body, media_type=GEOJSON, headers=_crs_header(params.crs))


def _add_equalities(request: Request, collection: Collection, params: ItemParams) -> None:
    """Fold ``?name=value`` parameters naming queryables into the query's filter."""
    fields = collection.provider.fields
    pairs = {k: v for k, v in request.query_params.items() if k in fields}
    params.query.filter = with_equalities(params.query.filter, pairs, fields)


def _page_link(
    request: Request, path: str, rel: str, args: dict[str, Any], fmt: str
) -> dict[str, Any]:
    media = HTML if fmt == "html" else GEOJSON
    extra = {"f": "html"} if fmt == "html" else {}
    return {"href": href(request, path, **args, **extra), "rel": rel, "type": media}


def _items_html(
    request: Request,
    collection: Collection,
    frame: gpd.GeoDataFrame,
    links: list[dict[str, Any]],
    matched: int,
) -> Response:
    base = base_url(request)
    props = [c for c in frame.columns if c != frame.geometry.name]
    records = json_safe_records(frame[props])
    items = f"{base}/collections/{collection.id}/items"
    rows = [{"cells": [r[c] for c in props], "href": f"{items}/{r['id']}?f=html"} for r in records]
    title = f"{collection.title}: {len(records)} of {matched}"
    geojson = collection_bytes(feature_bytes(frame, CRS84), {"numberMatched": matched})
    return render_page(base, title, links=links, columns=props, rows=rows, geojson=geojson)
