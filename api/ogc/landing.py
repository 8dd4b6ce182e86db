"""``/`` (landing page) and ``/conformance``.

Only the conformance classes this server passes are declared; each is
exercised by ``tests/api/ogc``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from cityaware.api.ogc.html import render_page
from cityaware.api.ogc.tilesets import TILES_CONFORMANCE, landing_links
from cityaware.api.ogc.web import (
    HTML,
    JSON,
    OPENAPI,
    alternates,
    base_url,
    link,
    negotiate,
)
from cityaware.api.responses import json_response

_COMMON = "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/"
_FEATURES = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/"
_FILTER = "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/"
_CQL2 = "http://www.opengis.net/spec/cql2/1.0/conf/"
CONFORMANCE: tuple[str, ...] = (
    *(_COMMON + name for name in ("core", "landing-page", "json", "html", "oas30")),
    "http://www.opengis.net/spec/ogcapi-common-2/1.0/conf/collections",
    *(_FEATURES + name for name in ("core", "oas30", "geojson", "html")),
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    # Part 4 on cameras and sensors (api/routes/devices.py, tests/api/service/test_devices.py)
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/update",
    *(
        _FILTER + name
        for name in ("queryables", "queryables-query-parameters", "filter", "features-filter")
    ),
    *(
        _CQL2 + name
        for name in (
            "cql2-text",
            "cql2-json",
            "basic-cql2",
            "advanced-comparison-operators",
            "basic-spatial-functions",
        )
    ),
    *TILES_CONFORMANCE,
)


TITLE = "cityaware"
DESCRIPTION = (
    "City-awareness map server: governance grids, incidents, cameras "
    "and sensors as OGC API - Features."
)


def build_router(access: Any = None) -> APIRouter:
    """The landing page and conformance routes."""
    router = APIRouter(
        tags=["OGC API - Features"], dependencies=[Depends(access)] if access else []
    )

    @router.get("/", summary="Landing page", response_class=Response)
    def landing(request: Request) -> Response:
        fmt = negotiate(request, ("json", "html"))
        links = [
            *alternates(request, "/", fmt, ("json", "html")),
            link(request, "/api", "service-desc", OPENAPI, "The API definition (OpenAPI 3.0)"),
            link(request, "/api.html", "service-doc", HTML, "The API documentation"),
            link(request, "/conformance", "conformance", JSON, "Conformance classes"),
            link(request, "/collections", "data", JSON, "The collections"),
            link(request, "/v1/hotspots", "related", JSON, "Recurring-category hotspots"),
            *landing_links(request),
        ]
        body = {
            "title": TITLE,
            "description": DESCRIPTION,
            "links": links,
        }
        if fmt == "html":
            return render_page(base_url(request), TITLE, DESCRIPTION, links)
        return json_response(body)

    @router.get("/conformance", summary="Conformance classes", response_class=Response)
    def conformance(request: Request) -> Response:
        fmt = negotiate(request, ("json", "html"))
        body = {
            "conformsTo": list(CONFORMANCE),
            "links": alternates(request, "/conformance", fmt, ("json", "html")),
        }
        if fmt == "html":
            rows = [{"cells": [uri], "href": uri} for uri in CONFORMANCE]
            return render_page(base_url(request), "Conformance", columns=["class"], rows=rows)
        return json_response(body)

    return router
