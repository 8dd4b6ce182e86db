"""``/collections``, ``/collections/{collectionId}`` and its ``/queryables``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from cityaware.api.ogc.catalog import Catalog, Collection
from cityaware.api.ogc.crs import CRS84, SUPPORTED_CRS
from cityaware.api.ogc.html import render_page
from cityaware.api.ogc.tilesets import tilesets_links
from cityaware.api.ogc.web import (
    GEOJSON,
    HTML,
    SCHEMA_JSON,
    alternates,
    base_url,
    link,
    negotiate,
)
from cityaware.api.responses import json_response

Generation = Annotated[
    str | None, Query(description="boundary generation id (default: the active one)")
]


def collection_document(
    request: Request, collection: Collection, generation: str | None
) -> dict[str, Any]:
    """The OGC collection description (extent, CRS list, links)."""
    bbox, interval = collection.provider.extent(generation)
    path = f"/collections/{collection.id}"
    extent: dict[str, Any] = {}  # measured on the data: no bbox while the collection is empty
    if bbox:
        extent["spatial"] = {"bbox": [list(bbox)], "crs": CRS84}
    if collection.provider.temporal_field:
        extent["temporal"] = {
            "interval": [interval],
            "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian",
        }
    return {
        "id": collection.id,
        "title": collection.title,
        "description": collection.description,
        "itemType": "feature",
        "extent": extent,
        "crs": list(SUPPORTED_CRS),
        "storageCrs": CRS84,
        "links": [
            link(
                request, path, "self", "application/json", collection.title, generation=generation
            ),
            link(request, path, "alternate", HTML, "as HTML", generation=generation, f="html"),
            link(
                request,
                path + "/items",
                "items",
                GEOJSON,
                "Items as GeoJSON",
                generation=generation,
            ),
            link(
                request,
                path + "/items",
                "items",
                HTML,
                "Items as HTML",
                generation=generation,
                f="html",
            ),
            *(
                link(request, path + "/schema", rel, SCHEMA_JSON, "JSON Schema of the items")
                # relation types ignore case, GDAL before 3.7 does not: it types fields
                # from this schema only when the link is spelled "describedBy"
                for rel in ("describedby", "describedBy")
            ),
            link(
                request,
                path + "/queryables",
                "http://www.opengis.net/def/rel/ogc/1.0/queryables",
                SCHEMA_JSON,
                "Queryables",
            ),
            *(
                link(
                    request,
                    path + "/export",
                    "enclosure",
                    media,
                    f"Export as {key}",
                    generation=generation,
                    f=key,
                )
                for key, media in (
                    ("geojson", GEOJSON),
                    ("csv", "text/csv"),
                    ("gpkg", "application/geopackage+sqlite3"),
                    ("parquet", "application/vnd.apache.parquet"),
                )
            ),
            *tilesets_links(request, collection.id),
        ],
    }


def geometry_schema(collection: Collection) -> dict[str, str]:
    """The JSON Schema keywords of a collection's one geometry type (OGC Features Part 5).

    >>> from cityaware.api.ogc.providers import BoundaryProvider
    >>> geometry_schema(Collection("grids", "Grids", "", BoundaryProvider(None, "grid")))
    {'format': 'geometry-multipolygon', 'x-ogc-role': 'primary-geometry'}
    """
    kind = collection.provider.geometry_type.lower()
    return {"format": f"geometry-{kind}", "x-ogc-role": "primary-geometry"}


def build_router(catalog: Catalog, access: Any = None) -> APIRouter:
    """Collection listing, one collection, queryables."""
    router = APIRouter(
        tags=["OGC API - Features"], dependencies=[Depends(access)] if access else []
    )

    @router.get("/collections", summary="The feature collections", response_class=Response)
    def collections(request: Request, generation: Generation = None) -> Response:
        fmt = negotiate(request, ("json", "html"))
        documents = [
            collection_document(request, c, generation) for c in catalog.collections.values()
        ]
        body = {
            "links": alternates(request, "/collections", fmt, ("json", "html")),
            "collections": documents,
        }
        if fmt == "html":
            rows = [
                {"cells": [d["id"], d["title"]], "href": d["links"][1]["href"]} for d in documents
            ]
            return render_page(
                base_url(request),
                "Collections",
                columns=["id", "title"],
                rows=rows,
                links=body["links"],
            )
        return json_response(body)

    @router.get("/collections/{collectionId}", summary="One collection", response_class=Response)
    def collection(request: Request, collectionId: str, generation: Generation = None) -> Response:
        found = catalog.get(collectionId)
        fmt = negotiate(request, ("json", "html"))
        body = collection_document(request, found, generation)
        if fmt == "html":
            facts = [
                ("id", body["id"]),
                ("bbox", body["extent"].get("spatial", {}).get("bbox", ["none (empty)"])[0]),
                ("storage CRS", body["storageCrs"]),
                ("CRS", ", ".join(body["crs"])),
            ]
            return render_page(
                base_url(request), body["title"], body["description"], body["links"], facts
            )
        return json_response(body)

    @router.get(
        "/collections/{collectionId}/schema",
        summary="JSON Schema of the collection's GeoJSON features",
        response_class=Response,
    )
    def schema(request: Request, collectionId: str) -> Response:
        found = catalog.get(collectionId)
        body = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": base_url(request) + f"/collections/{collectionId}/schema",
            "title": found.title,
            "type": "object",
            "required": ["type", "geometry", "properties"],
            "properties": {
                "type": {"type": "string", "enum": ["Feature"]},
                "id": {"type": "string"},
                "geometry": {"type": "object", **geometry_schema(found)},
                "properties": {"type": "object", "properties": found.provider.fields},
            },
        }
        return json_response(body, SCHEMA_JSON)

    @router.get(
        "/collections/{collectionId}/queryables",
        summary="Properties usable in filter, sortby and properties",
        response_class=Response,
    )
    def queryables(request: Request, collectionId: str) -> Response:
        found = catalog.get(collectionId)
        fmt = negotiate(request, ("json", "html"))
        properties: dict[str, dict[str, Any]] = {
            "geometry": {**geometry_schema(found), "title": "geometry"},
            **found.provider.fields,
        }
        schema = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": base_url(request) + f"/collections/{collectionId}/queryables",
            "type": "object",
            "title": found.title,
            "properties": properties,
            "additionalProperties": False,
        }
        if fmt == "html":
            rows = [
                {"cells": [name, spec.get("type", spec.get("format", "")), spec.get("title", "")]}
                for name, spec in properties.items()
            ]
            return render_page(
                base_url(request),
                f"Queryables of {found.title}",
                columns=["name", "type", "title"],
                rows=rows,
            )
        return json_response(schema, SCHEMA_JSON)

    return router
