"""HTTP helpers shared by the OGC routes: absolute links, format negotiation
(JSON answers: :func:`cityaware.api.responses.json_response`).

Links are absolute and honour a reverse proxy's ``X-Forwarded-Proto``,
``X-Forwarded-Host`` and ``X-Forwarded-Prefix`` (QGIS and GDAL break on
relative hrefs).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import Request

from cityaware.api.responses import JSON as JSON
from cityaware.geo.errors import InvalidInput

GEOJSON = "application/geo+json"
HTML = "text/html"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
SCHEMA_JSON = "application/schema+json"
FORMAT_MEDIA = {
    "json": JSON,
    "geojson": GEOJSON,
    "html": HTML,
    "csv": "text/csv",
    "gpkg": "application/geopackage+sqlite3",
    "parquet": "application/vnd.apache.parquet",
}


def base_url(request: Request) -> str:
    """The server root as the client sees it, without a trailing slash."""
    headers = request.headers
    proto = headers.get("x-forwarded-proto", request.url.scheme).split(",")[0].strip()
    host = headers.get("x-forwarded-host") or headers.get("host") or request.url.netloc
    prefix = headers.get("x-forwarded-prefix", "").strip().rstrip("/")
    if prefix and not prefix.startswith("/"):
        prefix = "/" + prefix
    return f"{proto}://{host.split(',')[0].strip()}{prefix}"


def href(request: Request, path: str, **params: Any) -> str:
    """Absolute URL of ``path`` with query ``params`` (``None`` values dropped)."""
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return base_url(request) + path + (f"?{query}" if query else "")


def link(
    request: Request, path: str, rel: str, media: str, title: str = "", **params: Any
) -> dict[str, Any]:
    """One OGC link object."""
    out = {"href": href(request, path, **params), "rel": rel, "type": media}
    if title:
        out["title"] = title
    return out


def negotiate(request: Request, allowed: tuple[str, ...], default: str = "json") -> str:
    """Pick the output format from ``f=`` or else the ``Accept`` header.

    ``allowed`` lists format keys of :data:`FORMAT_MEDIA`; an unknown ``f`` is a 400.
    """
    requested = request.query_params.get("f")
    if requested:
        if requested not in allowed:
            raise InvalidInput(f"f={requested!r} is not offered here; use one of {list(allowed)}")
        return requested
    best, best_q = default, 0.0
    for position, part in enumerate(request.headers.get("accept", "").split(",")):
        media, _, params = part.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        q -= position * 1e-6  # earlier wins among equals
        for key in allowed:
            if FORMAT_MEDIA[key] == media.strip() and q > best_q:
                best, best_q = key, q
    return best


def alternates(
    request: Request, path: str, self_key: str, keys: tuple[str, ...]
) -> list[dict[str, Any]]:
    """``self`` and ``alternate`` links of ``path`` in each format of ``keys``."""
    params = {k: v for k, v in request.query_params.items() if k != "f"}
    out = []
    for key in keys:
        rel = "self" if key == self_key else "alternate"
        out.append(
            link(request, path, rel, FORMAT_MEDIA[key], f"this document as {key}", **params, f=key)
        )
    return out
