"""The map wall: ``GET /map``, ``/map/kiosk``, ``/static/...``, ``/tiles/{layer}/{z}/{x}/{y}.mvt``
and the small JSON helpers the page calls under ``/map/api/``.

Every asset the page needs is served here (no CDN). Tiles carry an ETag built
from the layer's data version, a short ``Cache-Control`` and gzip.
``CITYAWARE_BASEMAP_URL`` (an XYZ raster URL template of the centre's own tile
server) adds a raster base under our dark boundary style.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import FileResponse, HTMLResponse

from cityaware.api.context import AppContext
from cityaware.api.tile_responses import MVT_TYPE, filters, hit_filters, tile_response
from cityaware.geo.errors import CityAwareError, InvalidInput, NotFound
from cityaware.geo.profile import CityProfile
from cityaware.layers import kiosk
from cityaware.layers.page import ASSETS_DIR, WallView, render_wall_page
from cityaware.layers.service import TileFilters

LOG = logging.getLogger("cityaware.map")


def build_router(ctx: AppContext) -> APIRouter:
    router = APIRouter(tags=["map wall"], on_startup=[lambda: _warm_in_background(ctx)])
    basemap = basemap_url()
    html: dict[WallView, str] = {}
    pages = APIRouter(dependencies=[Depends(ctx.access.public())])  # no data in them
    api = APIRouter(dependencies=[Depends(ctx.access.read())])

    def page() -> HTMLResponse:
        """The page fitted to the active generation (rendered once per view)."""
        active = ctx.registry.active()
        view = WallView.from_profile(ctx.profiles.get(active)) if active else WallView()
        if view not in html:
            html[view] = render_wall_page(False, basemap, view)
        return HTMLResponse(html[view])

    @pages.get("/map", response_class=HTMLResponse, summary="The live map wall")
    def map_page() -> HTMLResponse:
        return page()

    boards: dict[tuple[str, WallView], str] = {}

    @pages.get(
        "/map/kiosk",
        response_class=HTMLResponse,
        summary="The operations-centre kiosk: one named layout of panels around the map",
    )
    def kiosk_page(
        layout: str = Query("overview", description="overview, district, alarms or hotline"),
        region: str = Query("", max_length=32, description="a unit code (district layout)"),
    ) -> HTMLResponse:
        screen = kiosk.layout(layout)
        if screen.needs_region and not region:
            raise InvalidInput(f"layout {layout!r} needs region=<a district or street code>")
        active = ctx.registry.active()
        profile = ctx.profiles.get(active) if active else CityProfile()
        view = WallView.from_profile(profile)
        if (layout, view) not in boards:
            city = {"name": profile.city_name, "timezone": profile.timezone}
            boards[(layout, view)] = kiosk.render_kiosk_page(screen, basemap, view, city)
        return HTMLResponse(boards[(layout, view)])

    @pages.get("/static/{path:path}", include_in_schema=False)
    def static(path: str) -> FileResponse:
        return FileResponse(static_file(path), headers={"Cache-Control": "public, max-age=3600"})

    @api.get(
        "/tiles/{layer}/{z}/{x}/{y}.mvt",
        summary="A Mapbox vector tile of one map layer",
        responses={200: {"content": {MVT_TYPE: {}}}, 304: {"description": "not modified"}},
    )
    def tile(
        layer: str, z: int, x: int, y: int, request: Request, f: TileFilters = Depends(filters)
    ) -> Response:
        return tile_response(ctx.map_layers, request, layer, z, x, y, f)

    @api.get(
        "/map/api/grid-counts",
        summary="Incident counts per grid for the choropleth",
    )
    def grid_counts(f: TileFilters = Depends(filters)) -> dict[str, Any]:
        return ctx.map_wall.grid_counts(f)

    @api.get(
        "/map/api/grids/{code}",
        summary="A grid's chain, worker, office and counts",
    )
    def grid(code: str, f: TileFilters = Depends(filters)) -> dict[str, Any]:
        return ctx.map_wall.grid(code, f)

    @api.get("/map/api/heat", summary="Binned incident points for the heatmap")
    def heat(
        bbox: str = Query(..., description="min lon, min lat, max lon, max lat"),
        zoom: int = Query(..., ge=0, le=22),
        f: TileFilters = Depends(filters),
    ) -> dict[str, Any]:
        return {"points": ctx.map_layers.heat(f, _bbox(bbox), zoom)}

    @api.get(
        "/map/api/incidents/{id}",
        summary="An incident, its history and nearest cameras",
    )
    def incident(id: str) -> dict[str, Any]:
        return ctx.map_wall.incident(id)

    @api.get(
        "/map/api/at",
        summary="What a click hits: a point of a shown layer, else a grid",
    )
    def at(
        lon: float = Query(..., ge=-180, le=180),
        lat: float = Query(..., ge=-90, le=90),
        zoom: int = Query(..., ge=0, le=22),
        layers: str = Query("incidents,sensors,cameras", description="point layers shown"),
        f: TileFilters = Depends(hit_filters),
    ) -> dict[str, Any]:
        return ctx.map_wall.at(lon, lat, zoom, [k for k in layers.split(",") if k], f)

    @api.get(
        "/map/api/locate",
        summary="Coordinates (with CRS) or an address → grid",
    )
    def locate(q: str = Query(..., min_length=1, max_length=200)) -> dict[str, Any]:
        return ctx.map_wall.locate(q)

    router.include_router(pages)
    router.include_router(api)
    return router


MAX_STATIC_PATH = 200


def basemap_url() -> str:
    """``CITYAWARE_BASEMAP_URL``: the centre's own XYZ raster tile URL template, or ''."""
    return os.environ.get("CITYAWARE_BASEMAP_URL", "")


def static_file(path: str) -> Path:
    """The shipped asset at ``path`` under ``layers/assets``; NotFound for anything else
    (outside the folder, a NUL byte, an over-long or unreadable name).

    >>> static_file("wall.js").name
    'wall.js'
    >>> static_file("a" + chr(0) + ".js")
    Traceback (most recent call last):
    cityaware.geo.errors.NotFound: no static file 'a\\x00.js'
    """
    root = ASSETS_DIR.resolve()
    try:
        if len(path) > MAX_STATIC_PATH or "\x00" in path:
            raise ValueError(path)
        file = (root / path).resolve()
        if file.is_file() and file.is_relative_to(root):
            return file
    except (OSError, ValueError):
        pass
    shown = path if len(path) <= 60 else path[:60] + "..."
    raise NotFound(f"no static file {shown!r}")


def _warm_in_background(ctx: AppContext) -> None:
    """When a server starts: render the city-wide tiles in a daemon thread (see
    :meth:`cityaware.layers.service.MapLayers.warm`); a server without data just skips it."""

    def warm() -> None:
        try:
            made = ctx.map_layers.warm(filters=TileFilters.parse("24h", "open", ""))
            LOG.info("map wall: %d tiles warmed", made)
        except CityAwareError as error:
            LOG.info("map wall: no warm-up (%s)", error)

    threading.Thread(target=warm, name="map-warm-up", daemon=True).start()


def _bbox(text: str) -> tuple[float, float, float, float]:
    try:
        minlon, minlat, maxlon, maxlat = (float(v) for v in text.split(","))
    except ValueError:
        raise InvalidInput(
            f"bbox must be four numbers 'minlon,minlat,maxlon,maxlat': {text!r}"
        ) from None
    if not (minlon < maxlon and minlat < maxlat):
        raise InvalidInput(f"bbox {text!r} is empty or inverted")
    return minlon, minlat, maxlon, maxlat
