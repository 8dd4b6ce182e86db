"""OGC API - Tiles documents: tile matrix sets, tilesets, TileJSON 3.0 and MapLibre styles.

The tile math is :mod:`morecantile`'s (``WebMercatorQuad``, the scheme the map
wall's tiles are rendered in). Which collections have tiles, their MVT layer
names (the collection id), zoom ranges and properties come from
:mod:`cityaware.layers.service`; incident tiles take the wall's filters, whose
defaults are published with every incident tileset.

>>> tiled_layer("grids"), zoom_range("streets")
('grids', (11, 22))
>>> matrix_set("WebMercatorQuad").crs.root
'http://www.opengis.net/def/crs/EPSG/0/3857'
"""

from __future__ import annotations

import inspect
from typing import Any

import morecantile
from fastapi import Request

from cityaware.api.ogc.catalog import Collection
from cityaware.api.ogc.crs import CRS84
from cityaware.api.ogc.web import JSON, base_url, link
from cityaware.api.tile_responses import MVT_TYPE as MVT
from cityaware.api.tile_responses import filters
from cityaware.geo.errors import NotFound
from cityaware.layers.service import MIN_ZOOMS, POINT_LAYERS, TileFilters
from cityaware.layers.sources import POLYGON_PROPERTIES
from cityaware.layers.tiles import MAX_ZOOM

TILEJSON = "application/json"
STYLE = "application/vnd.mapbox.style+json"
TILING_SCHEME = "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme"
TILESETS_VECTOR = "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector"
TILING_SCHEMES = "http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes"
MATRIX_SETS: tuple[str, ...] = ("WebMercatorQuad",)  # the scheme the tiles are rendered in
TILED = (*MIN_ZOOMS, *POINT_LAYERS)
_TYPES = {"string": "String", "number": "Number", "integer": "Number", "boolean": "Boolean"}


def tiled_layer(collection_id: str) -> str:
    """The tile layer of ``collection_id``; :class:`NotFound` when it has no tiles."""
    if collection_id not in TILED:
        raise NotFound(f"collection {collection_id!r} has no tiles; tiled: {', '.join(TILED)}")
    return collection_id


def matrix_set(tms_id: str) -> morecantile.TileMatrixSet:
    """A supported tile matrix set; :class:`NotFound` for any other id."""
    if tms_id not in MATRIX_SETS:
        raise NotFound(f"no tile matrix set {tms_id!r}; offered: {', '.join(MATRIX_SETS)}")
    return morecantile.tms.get(tms_id)


def zoom_range(layer: str) -> tuple[int, int]:
    """The zoom levels (tile matrices) ``layer`` has tiles at."""
    return MIN_ZOOMS.get(layer, 0), MAX_ZOOM


def check_tile(tms: morecantile.TileMatrixSet, layer: str, z: int, row: int, col: int) -> None:
    """:class:`NotFound` unless tile ``z/row/col`` is in ``layer``'s tile matrices.

    >>> check_tile(matrix_set("WebMercatorQuad"), "grids", 10, 0, 1024)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    cityaware.geo.errors.NotFound: tile 10/0/1024 is outside WebMercatorQuad: ... cols 0..1023 at 10
    """
    low, high = zoom_range(layer)
    if not low <= z <= high:
        raise NotFound(f"{layer} has tiles at tile matrices {low} to {high}, not {z}")
    if not tms.is_valid(morecantile.Tile(col, row, z)):
        matrix = tms.matrix(z)
        raise NotFound(
            f"tile {z}/{row}/{col} is outside {tms.id}: rows 0..{matrix.matrixHeight - 1} "
            f"and cols 0..{matrix.matrixWidth - 1} at {z}"
        )


def filter_parameters() -> dict[str, dict[str, Any]]:
    """The incident filters tiles take (those of the wall), with defaults and meaning.

    >>> filter_parameters()["window"]["default"]
    '24h'
    """
    return {
        name: {"default": p.default.default, "description": p.default.description}
        for name, p in inspect.signature(filters).parameters.items()
    }


def filter_query(layer: str, f: TileFilters) -> str:
    """The query string carrying ``f`` on ``layer``'s tile URLs ('' but for incidents).

    >>> filter_query("incidents", TileFilters.parse("24h", "open", ""))
    'window=24h&status=open'
    """
    if layer != "incidents":
        return ""
    values = dict(zip(("window", "status", "category"), f.key(), strict=True))
    return "&".join(f"{k}={v}" for k, v in values.items() if v)


def _path(collection_id: str, tms_id: str) -> str:
    return f"/collections/{collection_id}/tiles/{tms_id}"


def _url(request: Request, path: str, query: str = "") -> str:
    """An absolute URL; ``path`` may hold ``{z}``-style templates (kept unescaped)."""
    return base_url(request) + path + (f"?{query}" if query else "")


def tile_template(
    request: Request, layer: str, tms_id: str, f: TileFilters, ogc: bool = False
) -> str:
    """The templated tile URL: ``{z}/{y}/{x}`` (TileJSON), with ``ogc`` the OGC names
    ``{tileMatrix}/{tileRow}/{tileCol}``."""
    names = "/{tileMatrix}/{tileRow}/{tileCol}" if ogc else "/{z}/{y}/{x}"
    return _url(request, _path(layer, tms_id) + names, filter_query(layer, f))


def tilejson_url(request: Request, layer: str, tms_id: str, f: TileFilters) -> str:
    return _url(request, _path(layer, tms_id) + "/tilejson.json", filter_query(layer, f))


def _bounds(collection: Collection, tms: morecantile.TileMatrixSet) -> tuple[float, ...]:
    bbox, _ = collection.provider.extent(None)
    return tuple(bbox) if bbox else tuple(tms.bbox)


def layer_fields(collection: Collection, layer: str) -> dict[str, str]:
    """TileJSON ``fields`` of ``layer``'s features: name → String, Number or Boolean."""
    if layer not in POINT_LAYERS:
        return {name: "String" for name in POLYGON_PROPERTIES}
    spec = POINT_LAYERS[layer]
    types = {n: _TYPES.get(collection.provider.fields.get(n, {}).get("type", ""), "String")
             for n in spec.columns}  # fmt: skip
    types.update({name: "Number" for name in ("count", "cluster", *spec.sums)})
    return types


def _layer_description(layer: str) -> str:
    if layer not in POINT_LAYERS:
        return f"{layer} outlines (polygons, simplified to one pixel per zoom)"
    detail = POINT_LAYERS[layer].detail_zoom
    return (
        f"{layer} points from zoom {detail} while a tile holds at most "
        f"{POINT_LAYERS[layer].cap}; below that, bins at their members' mean position "
        "with cluster=1 and count"
    )


def tileset_links(
    request: Request, layer: str, tms_id: str, f: TileFilters
) -> list[dict[str, Any]]:
    """self, tiling scheme, templated tiles, TileJSON and style of one tileset."""
    query, path = filter_query(layer, f), _path(layer, tms_id)

    def one(href: str, rel: str, media: str, title: str) -> dict[str, Any]:
        return {"href": href, "rel": rel, "type": media, "title": title}

    return [
        one(_url(request, path, query), "self", JSON, f"{layer} tiles in {tms_id}"),
        link(request, f"/tileMatrixSets/{tms_id}", TILING_SCHEME, JSON, f"The {tms_id} scheme"),
        {**one(tile_template(request, layer, tms_id, f, ogc=True), "item", MVT, "Vector tiles"),
         "templated": True},
        one(tilejson_url(request, layer, tms_id, f), "describedby", TILEJSON, "TileJSON 3.0"),
        one(_url(request, path + "/style.json", query), "stylesheet", STYLE, "MapLibre style"),
    ]  # fmt: skip


def tileset_summary(
    request: Request, collection: Collection, tms_id: str, f: TileFilters
) -> dict[str, Any]:
    """One entry of a collection's tileset list."""
    tms = matrix_set(tms_id)
    return {
        "title": f"{collection.title} ({tms_id})",
        "dataType": "vector",
        "crs": tms.crs.root,
        "tileMatrixSetURI": tms.uri,
        "links": tileset_links(request, collection.id, tms_id, f),
    }


def tilesets_list(request: Request, collection: Collection, f: TileFilters) -> dict[str, Any]:
    """``/collections/{id}/tiles``: one summary per tile matrix set offered."""
    return {"tilesets": [tileset_summary(request, collection, t, f) for t in MATRIX_SETS]}


def tileset(
    request: Request, collection: Collection, tms_id: str, f: TileFilters
) -> dict[str, Any]:
    """The tileset metadata: bounding box, tile matrix limits, its one layer, filters."""
    tms, layer = matrix_set(tms_id), tiled_layer(collection.id)
    west, south, east, north = _bounds(collection, tms)
    low, high = zoom_range(layer)
    limits = []
    for z in range(low, high + 1):
        top_left, bottom_right = tms.tile(west, north, z), tms.tile(east, south, z)
        limits.append(
            {"tileMatrix": str(z), "minTileRow": top_left.y, "maxTileRow": bottom_right.y,
             "minTileCol": top_left.x, "maxTileCol": bottom_right.x}
        )  # fmt: skip
    body = {
        **tileset_summary(request, collection, tms_id, f),
        "description": collection.description,
        "boundingBox": {"lowerLeft": [west, south], "upperRight": [east, north], "crs": CRS84},
        "tileMatrixSetLimits": limits,
        "layers": [
            {
                "id": layer,
                "title": collection.title,
                "description": _layer_description(layer),
                "dataType": "vector",
                "geometryDimension": 0 if layer in POINT_LAYERS else 2,
                "minTileMatrix": str(low),
                "maxTileMatrix": str(high),
                "propertiesSchema": {"type": "object", "properties": {
                    n: {"type": t.lower()} for n, t in layer_fields(collection, layer).items()}},
            }
        ],
    }  # fmt: skip
    if layer == "incidents":
        body["cityaware:filters"] = filters_metadata(f)
    return body


def filters_metadata(f: TileFilters) -> dict[str, Any]:
    shown = dict(zip(("window", "status", "category"), f.key(), strict=True))
    return {name: {**p, "value": shown[name]} for name, p in filter_parameters().items()}


def tilejson(
    request: Request, collection: Collection, tms_id: str, f: TileFilters
) -> dict[str, Any]:
    """TileJSON 3.0.0 of one collection's tiles."""
    tms, layer = matrix_set(tms_id), tiled_layer(collection.id)
    bounds = _bounds(collection, tms)
    low, high = zoom_range(layer)
    body: dict[str, Any] = {
        "tilejson": "3.0.0",
        "name": collection.id,
        "description": collection.title,
        "scheme": "xyz",
        "tiles": [tile_template(request, layer, tms_id, f)],
        "minzoom": low,
        "maxzoom": high,
        "bounds": list(bounds),
        "center": [(bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2, max(low, 10)],
        "vector_layers": [
            {
                "id": layer,
                "description": _layer_description(layer),
                "minzoom": low,
                "maxzoom": high,
                "fields": layer_fields(collection, layer),
            }
        ],
    }
    if layer == "incidents":
        body["cityaware:filters"] = filters_metadata(f)
    return body


def matrix_sets_list(request: Request) -> dict[str, Any]:
    """``/tileMatrixSets``: the schemes offered, each linked to its definition."""
    return {
        "tileMatrixSets": [
            {
                "id": tms_id,
                "title": matrix_set(tms_id).title,
                "uri": matrix_set(tms_id).uri,
                "links": [link(request, f"/tileMatrixSets/{tms_id}", "self", JSON, tms_id)],
            }
            for tms_id in MATRIX_SETS
        ]
    }


def matrix_set_document(tms_id: str) -> dict[str, Any]:
    """``/tileMatrixSets/{id}``: the OGC 2DTMS JSON definition (morecantile's)."""
    return matrix_set(tms_id).model_dump(mode="json", exclude_none=True)


_TILES = "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/"
#: the Tiles classes this server passes (tests/api/ogc/test_tiles.py exercises each)
TILES_CONFORMANCE: tuple[str, ...] = tuple(
    _TILES + name
    for name in ("core", "tileset", "tilesets-list", "geodata-tilesets", "mvt", "oas30")
)


def tilesets_links(request: Request, collection_id: str) -> list[dict[str, Any]]:
    """A collection's link to its vector tilesets (none when it has no tiles)."""
    if collection_id not in TILED:
        return []
    path = f"/collections/{collection_id}/tiles"
    return [link(request, path, TILESETS_VECTOR, JSON, "Vector tilesets")]


def landing_links(request: Request) -> list[dict[str, Any]]:
    """Landing page links to the tiling schemes and the wall's MapLibre style."""
    return [
        link(request, "/tileMatrixSets", TILING_SCHEMES, JSON, "Tiling schemes"),
        link(request, "/styles/wall/style.json", "stylesheet", STYLE, "The wall as a style"),
    ]
