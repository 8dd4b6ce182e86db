"""The error answers of every operation in the OpenAPI, written down in one place.

FastAPI documents a 422 ``HTTPValidationError`` on any operation with parameters, while
this server answers validation errors with 400 (see :mod:`cityaware.api.errors`), and it
knows nothing of the access guards, the body guard or ``NotFound``. :func:`document_errors`
rewrites each operation's error responses from what the route really is:

* 400 when it takes parameters or a body; 404 when it has path parameters or a query
  parameter that names a thing (:data:`NAMING`: a generation, a region);
* 401 and 429 everywhere (an unknown key is refused on every route, also public ones, and a
  client that guessed too many keys is told to wait); 403 when a role may not do it;
* 408 and 413 on methods with a body (:class:`~cityaware.api.guard.BodyGuard`);
* the statuses of :data:`EXTRA` for the routes that raise more (conflicts, 422, 410).

Bodies use the shared ``Error`` schema, Open311 routes GeoReport v2's ``Open311Errors``.

>>> from pathlib import Path
>>> from fastapi import FastAPI, Depends
>>> from cityaware.api.service.auth import Access, KeyStore
>>> access = Access(KeyStore(Path("/nonexistent/k.json")))
>>> app = FastAPI()
>>> @app.get("/things/{id}", dependencies=[Depends(access.read())])
... def thing(id: int): ...
>>> document_errors(app)
>>> sorted(app.openapi()["paths"]["/things/{id}"]["get"]["responses"])
['200', '400', '401', '404', '429']
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI

from cityaware.api.errors import OPEN311_PREFIX
from cityaware.api.service.auth import PUBLIC, READ, app_routes, route_permissions

BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})  # what BodyGuard guards
DESCRIPTIONS = {
    400: "Invalid parameter or body: the description says which and why",
    401: "No API key where one is needed, or a key this server does not know",
    403: "The key's role may not do this",
    404: "No such resource",
    408: "The request body stopped arriving",
    409: "The request contradicts the current state",
    410: "Gone: the change feed no longer holds changes after this seq",
    413: "The request body is larger than the limit",
    422: "Well-formed, but cannot be acted on (e.g. an address with no place)",
    429: "Too many failed API keys from this client; retry after Retry-After seconds",
}
#: query parameters and body properties that name a stored thing (an unknown one is a 404)
NAMING = frozenset({"generation", "region", "grid", "incident", "sensor", "sensor_id"})
#: statuses beyond the rules, per (method, path regex) of the routes that raise them
EXTRA: tuple[tuple[str, str, tuple[int, ...]], ...] = (
    ("GET", r"^/v1/locate$|^/map/api/locate$", (422,)),
    ("POST", r"^/v1/incidents$|^/open311/v2/requests\.(json|xml)$", (409, 422)),
    ("POST", r"^/v1/incidents/\{incident_id\}/", (409,)),
    ("PATCH", r"^/v1/(incidents|review|matters)/", (409, 422)),
    ("POST|PUT|PATCH", r"^/collections/\{collectionId\}/items", (409, 422)),
    ("GET", r"^/v1/(changes|events)$", (410,)),
)
ERROR = {
    "type": "object",
    "required": ["code", "description", "status"],
    "properties": {
        "code": {"type": "string", "example": "NotFound"},
        "description": {"type": "string", "example": "no unit 9999"},
        "status": {"type": "integer", "example": 404},
    },
}
OPEN311_ERRORS = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["code", "description"],
        "properties": {"code": {"type": "integer"}, "description": {"type": "string"}},
    },
}


def named_things(operation: dict[str, Any], components: dict[str, Any]) -> set[str]:
    """The names of an operation's query parameters and of its JSON body's properties.

    >>> named_things({"parameters": [{"name": "region", "in": "query"}]}, {})
    {'region'}
    """
    names = {p.get("name") for p in operation.get("parameters", ()) if p.get("in") == "query"}
    content = operation.get("requestBody", {}).get("content", {})
    schema = content.get("application/json", {}).get("schema", {})
    ref = schema.get("$ref", "")
    if ref.startswith("#/components/schemas/"):
        schema = components.get("schemas", {}).get(ref.rsplit("/", 1)[1], {})
    return names | set(schema.get("properties", {}))


def error_statuses(
    method: str,
    path: str,
    permissions: set[str],
    operation: dict[str, Any],
    components: dict[str, Any],
) -> set[int]:
    """The error statuses an operation can answer (see the module docstring).

    >>> sorted(error_statuses("POST", "/v1/incidents", {"incidents.create"}, {}, {}))
    [400, 401, 403, 408, 409, 413, 422, 429]
    """
    statuses = {401, 429}
    if operation.get("parameters") or operation.get("requestBody") or method in BODY_METHODS:
        statuses.add(400)
    if "{" in path or named_things(operation, components) & NAMING:
        statuses.add(404)
    if permissions - {PUBLIC, READ}:
        statuses.add(403)
    if method in BODY_METHODS:
        statuses |= {408, 413}
    for methods, pattern, extra in EXTRA:
        if method in methods.split("|") and re.search(pattern, path):
            statuses |= set(extra)
    return statuses


def add_error_responses(document: dict[str, Any], routes: list[Any]) -> dict[str, Any]:
    """``document`` (FastAPI's OpenAPI) with each operation's error answers made true."""
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas["Error"], schemas["Open311Errors"] = ERROR, OPEN311_ERRORS
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    for route in routes:
        item = document.get("paths", {}).get(route.path_format)
        if item is None:
            continue
        schema = "Open311Errors" if route.path_format.startswith(OPEN311_PREFIX) else "Error"
        content = {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}
        for method in route.methods:
            operation = item.get(method.lower())
            if operation is None:
                continue
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)  # FastAPI's; a validation error is a 400 here
            for status in sorted(
                error_statuses(
                    method, route.path_format, route_permissions(route), operation, components
                )
            ):
                responses[str(status)] = {"description": DESCRIPTIONS[status], "content": content}
    return document


def document_errors(app: FastAPI) -> None:
    """Make ``app.openapi()`` document the error answers of every operation."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = add_error_responses(generate(), app_routes(app))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
