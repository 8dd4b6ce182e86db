"""The OGC query parameters of the OpenAPI document, shaped the way QGIS and GDAL read them.

QGIS takes its page size only from ``components/parameters/limit`` (``default``
and ``maximum``), and sends a subset string to the server only as query
parameters it finds on ``/collections/<id>/items`` (that collection's own path)
declared ``in: query`` with ``style: form``, ``explode: false`` and a typed
``schema``. :func:`share_parameters` therefore

* moves every shared query parameter (``limit``, ``bbox``, ``datetime``,
  ``offset``, ``filter``, ...) into ``components/parameters`` and replaces each
  inline copy with a ``$ref``;
* adds one concrete ``/collections/<id>/items`` path per collection whose GET
  lists the shared parameters plus one parameter per queryable (typed as in the
  collection's queryables), as OpenAPI allows beside the templated path.

>>> doc = {"paths": {"/collections/{collectionId}/items": {"get": {"parameters": [
...     {"name": "collectionId", "in": "path", "required": True, "schema": {"type": "string"}},
...     {"name": "limit", "in": "query", "schema": {"type": "integer", "default": 10}}]}}}}
>>> out = share_parameters(doc, {"grids": {"code": {"type": "string"}}})
>>> limit = out["components"]["parameters"]["limit"]
>>> limit["style"], limit["explode"]
('form', False)
>>> grids = out["paths"]["/collections/grids/items"]["get"]["parameters"]
>>> [p.get("$ref", p.get("name")) for p in grids]
['#/components/parameters/limit', '#/components/parameters/grids.code']
"""

from __future__ import annotations

import copy
from typing import Any

TEMPLATE = "/collections/{collectionId}/items"
#: query parameters every item listing shares (OGC API Features 1, 2, 3 and our own)
SHARED = (
    "limit", "offset", "cursor", "bbox", "bbox-crs", "crs", "datetime", "filter",
    "filter-lang", "filter-crs", "properties", "sortby", "generation", "resultType",
)  # fmt: skip
_FORM = {"style": "form", "explode": False}
_JSON_TYPES = ("string", "number", "integer", "boolean")


def _component(parameter: dict[str, Any]) -> dict[str, Any]:
    """A shared parameter as a component: form style, not exploded, no FastAPI title."""
    out = {**copy.deepcopy(parameter), **_FORM}
    out.get("schema", {}).pop("title", None)
    return out


def _queryable(collection: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    kind = spec.get("type") if spec.get("type") in _JSON_TYPES else "string"
    schema: dict[str, Any] = {"type": kind}
    if "format" in spec:
        schema["format"] = spec["format"]
    return {
        "name": name,
        "in": "query",
        "required": False,
        **_FORM,
        "schema": schema,
        "description": f"only {collection} whose {name} equals this",
    }


def share_parameters(
    document: dict[str, Any], queryables: dict[str, dict[str, dict[str, Any]]]
) -> dict[str, Any]:
    """``document`` with shared parameters as components and one items path per collection.

    ``queryables`` maps each collection id to its queryables' JSON Schemas.
    """
    components = document.setdefault("components", {}).setdefault("parameters", {})
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict):
                continue
            parameters = operation.get("parameters", [])
            for index, parameter in enumerate(parameters):
                name = parameter.get("name")
                if parameter.get("in") == "query" and name in SHARED:
                    components.setdefault(name, _component(parameter))
                    parameters[index] = {"$ref": f"#/components/parameters/{name}"}
    template = document.get("paths", {}).get(TEMPLATE, {}).get("get")
    if template is None:
        return document
    shared = [p for p in template.get("parameters", []) if "$ref" in p]
    for collection, fields in queryables.items():
        refs = []
        for name, spec in fields.items():
            if name in SHARED:  # e.g. a kind's own ``generation`` column: ?generation= is shared
                continue
            key = f"{collection}.{name}"
            components[key] = _queryable(collection, name, spec)
            refs.append({"$ref": f"#/components/parameters/{key}"})
        operation = {
            **copy.deepcopy(template),
            "operationId": f"items_{collection}".replace("-", "_"),
            "summary": f"Items of {collection}",
            "parameters": [*shared, *refs],
        }
        document["paths"][f"/collections/{collection}/items"] = {"get": operation}
    return document
