"""Serve ``/api`` as an OpenAPI 3.0 document with the media type OGC clients expect.

QGIS, GDAL and OWSLib find the API definition through the landing page's
``service-desc`` link typed ``application/vnd.oai.openapi+json;version=3.0``.
FastAPI writes OpenAPI 3.1; :func:`to_openapi30` rewrites the few 3.1-only
constructs it emits (``type: null`` in ``anyOf``, type arrays, ``examples``,
``const``, numeric ``exclusiveMinimum``/``exclusiveMaximum``).

>>> to_openapi30({"anyOf": [{"type": "string"}, {"type": "null"}], "title": "t"})
{'type': 'string', 'nullable': True, 'title': 't'}
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import Response

from cityaware.api.json_values import is_number
from cityaware.api.ogc.openapi_params import share_parameters
from cityaware.api.ogc.web import OPENAPI
from cityaware.api.responses import json_response

SWAGGER_ASSETS = "/static/swagger_ui"  # swagger-ui-dist from npm, under layers/assets


def to_openapi30(node: Any) -> Any:
    """Rewrite a FastAPI 3.1 schema tree into its OpenAPI 3.0 equivalent."""
    if isinstance(node, list):
        return [to_openapi30(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: to_openapi30(value) for key, value in node.items()}
    for key in ("anyOf", "oneOf"):
        options = out.get(key)
        if isinstance(options, list) and {"type": "null"} in options:
            rest = [option for option in options if option != {"type": "null"}]
            del out[key]
            merged = rest[0] if len(rest) == 1 else {key: rest}
            out = {**merged, "nullable": True, **out}
    if isinstance(out.get("type"), list):  # JSON Schema type arrays are 3.1-only
        types = [t for t in out.pop("type") if t != "null"]
        if len(types) < len(node["type"]):
            out["nullable"] = True
        if len(types) == 1:
            out["type"] = types[0]
        else:
            out["anyOf"] = [{"type": t} for t in types]
    if "const" in out:
        out["enum"] = [out.pop("const")]
    if isinstance(out.get("examples"), list) and "schema" not in out:
        examples = out.pop("examples")
        if examples:
            out["example"] = examples[0]
    for key, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if is_number(out.get(key)):
            out[bound] = out.pop(key)
            out[key] = True
    return out


def install_openapi(app: FastAPI) -> None:
    """Replace FastAPI's ``/api`` route with the 3.0 document and the OGC media type, and
    serve ``/api.html`` (Swagger UI) from our own vendored assets: no CDN, works offline."""

    public = [Depends(app.state.ctx.access.public())]

    @app.get("/api.html", include_in_schema=False, dependencies=public)
    def api_html() -> Response:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} API",
            swagger_js_url=f"{SWAGGER_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{SWAGGER_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{SWAGGER_ASSETS}/favicon-32x32.png",
        )

    url = app.openapi_url or "/openapi.json"
    app.router.routes[:] = [r for r in app.router.routes if getattr(r, "path", None) != url]
    cache: dict[str, Any] = {}

    @app.get(url, include_in_schema=False, dependencies=public)
    def openapi_document() -> Response:
        if "doc" not in cache:
            document = to_openapi30(app.openapi())
            document["openapi"] = "3.0.3"
            catalog = app.state.ctx.catalog.collections
            share_parameters(document, {k: c.provider.fields for k, c in catalog.items()})
            cache["doc"] = document
        return json_response(cache["doc"], OPENAPI)
