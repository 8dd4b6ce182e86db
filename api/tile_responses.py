"""The HTTP answer for one map tile, shared by ``/tiles/...`` (the wall) and OGC API - Tiles.

The tile comes from :meth:`cityaware.layers.service.MapLayers.tile` (cached, gzipped
once); the answer carries an ETag from the layer's data version and the encoding,
answers ``If-None-Match`` with 304 before any rendering, and is sent gzipped to
clients that accept it.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable

from fastapi import Query, Request, Response

from cityaware.api.conditional import conditional
from cityaware.layers.service import POINT_LAYERS, MapLayers, TileFilters

MVT_TYPE = "application/vnd.mapbox-vector-tile"


def tile_filters(window: str, status: str) -> Callable[..., TileFilters]:
    """A dependency reading ``window``, ``status`` and ``category`` with these defaults.

    >>> tile_filters("all", "all")("7d", "open", "").key()
    ('7d', 'open', '')
    """

    def parse(
        window: str = Query(window, description="time window: 1h, 24h, 7d, 30d or all"),
        status: str = Query(status, description="open (received, dispatched, in progress) or all"),
        category: str = Query("", description="one incident category, empty for all"),
    ) -> TileFilters:
        return TileFilters.parse(window, status, category)

    return parse


filters = tile_filters("24h", "open")  # what the tiles show by default: 24h of open cases
hit_filters = tile_filters("all", "all")  # a click without filters hits any incident


def tile_response(
    layers: MapLayers, request: Request, layer: str, z: int, x: int, y: int, f: TileFilters
) -> Response:
    """MVT ``layer/z/x/y`` (XYZ: ``y`` counted from the top) under filters ``f``."""
    gzipped = "gzip" in request.headers.get("accept-encoding", "")
    tag = layers.tile_tag(layer, z, x, y, f) + ("-gz" if gzipped else "")
    headers = {
        "Cache-Control": "public, max-age=5" if layer in POINT_LAYERS else "public, max-age=300",
        "Vary": "Accept-Encoding",
    }

    def render() -> Response:
        body = layers.tile(layer, z, x, y, f, compress=True)
        if gzipped:
            return Response(body, media_type=MVT_TYPE, headers={"Content-Encoding": "gzip"})
        return Response(gzip.decompress(body), media_type=MVT_TYPE)

    return conditional(request, f'"{tag}"', render, headers)
