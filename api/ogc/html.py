"""HTML views of the OGC documents (``f=html`` or a browser's ``Accept``), one Jinja2 page.

>>> "<h1>Hi</h1>" in render_page("http://x", "Hi").body.decode()
True
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape

_ENV = Environment(
    loader=PackageLoader("cityaware.api.ogc", "templates"),
    autoescape=select_autoescape(["html"]),
)


def render_page(
    root: str,
    title: str,
    description: str = "",
    links: list[dict[str, Any]] | None = None,
    facts: list[tuple[str, Any]] | None = None,
    columns: list[str] | None = None,
    rows: list[dict[str, Any]] | None = None,
    geojson: bytes | None = None,
) -> HTMLResponse:
    """Render the one page template; ``rows`` are ``{"cells": [...], "href": url|None}``;
    ``geojson`` (CRS84 bytes) is drawn on a Leaflet map."""
    html = _ENV.get_template("page.html").render(
        root=root,
        title=title,
        description=description,
        links=links or [],
        facts=facts or [],
        columns=columns or [],
        rows=rows or [],
        geojson=_script_safe(geojson),
    )
    return HTMLResponse(html)


def _script_safe(geojson: bytes | None) -> str | None:
    """GeoJSON text that cannot close its ``<script>`` element."""
    if geojson is None:
        return None
    return geojson.decode().replace("</", "<\\/")
