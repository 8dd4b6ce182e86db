"""OGC API - Tiles over the collections the map wall tiles, plus TileJSON and MapLibre styles.

``/tileMatrixSets[/{id}]``, ``/collections/{id}/tiles`` (tilesets list),
``/collections/{id}/tiles/{tms}`` (tileset metadata), ``.../{tms}/{tileMatrix}/{tileRow}/{tileCol}``
(MVT, the same tiles as the wall's ``/tiles/...``), ``.../{tms}/tilejson.json``,
``.../{tms}/style.json`` and ``/styles/wall/style.json`` (every layer in the wall's look:
MapLibre GL or QGIS open the whole map from that one URL).
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response

from cityaware.api.context import AppContext
from cityaware.api.ogc import tilesets
from cityaware.api.ogc.tilesets import STYLE, matrix_set, tiled_layer
from cityaware.api.responses import json_response
from cityaware.api.tile_responses import MVT_TYPE, filters, tile_response
from cityaware.layers.maplibre_style import wall_style
from cityaware.layers.service import TileFilters

TAGS: list[str | Enum] = ["OGC API - Tiles"]
Filters = Annotated[TileFilters, Depends(filters)]
TmsId = Annotated[str, Path(description="tile matrix set: WebMercatorQuad")]


def build_router(ctx: AppContext) -> APIRouter:
    """Tile matrix sets, tilesets, tiles, TileJSON and styles of the tiled collections."""
    read = [Depends(ctx.access.read())]
    router = APIRouter(tags=TAGS, dependencies=read, default_response_class=Response)
    catalog = ctx.catalog

    def tiled(collection_id: str) -> Any:
        tiled_layer(collection_id)
        return catalog.get(collection_id)

    @router.get("/tileMatrixSets", summary="The tiling schemes offered")
    def matrix_sets(request: Request) -> Response:
        return json_response(tilesets.matrix_sets_list(request))

    @router.get("/tileMatrixSets/{tileMatrixSetId}", summary="A tiling scheme (OGC 2D TMS)")
    def matrix_set_definition(tileMatrixSetId: TmsId) -> Response:
        return json_response(tilesets.matrix_set_document(tileMatrixSetId))

    @router.get("/collections/{collectionId}/tiles", summary="A collection's vector tilesets")
    def collection_tilesets(request: Request, collectionId: str, f: Filters) -> Response:
        return json_response(tilesets.tilesets_list(request, tiled(collectionId), f))

    def document_route(suffix: str, build: Any, summary: str, name: str) -> None:
        """``/collections/{id}/tiles/{tms}`` + ``suffix``: the JSON ``build`` makes."""

        def document(
            request: Request, collectionId: str, tileMatrixSetId: TmsId, f: Filters
        ) -> Response:
            return json_response(build(request, tiled(collectionId), tileMatrixSetId, f))

        path = "/collections/{collectionId}/tiles/{tileMatrixSetId}" + suffix
        router.add_api_route(
            path, document, summary=summary, response_class=Response, name=name, methods=["GET"]
        )

    document_route(
        "",
        tilesets.tileset,
        "A vector tileset's metadata: limits, layer, zoom range, filters",
        "collection_tileset",
    )
    document_route(
        "/tilejson.json",
        tilesets.tilejson,
        "TileJSON 3.0 of a collection's tiles",
        "collection_tilejson",
    )

    @router.get(
        "/collections/{collectionId}/tiles/{tileMatrixSetId}/style.json",
        summary="A MapLibre style drawing a collection's tiles in the wall's look",
        response_class=Response,
        responses={200: {"content": {STYLE: {}}}},
    )
    def collection_style(
        request: Request, collectionId: str, tileMatrixSetId: TmsId, f: Filters
    ) -> Response:
        layer = tiled_layer(collectionId)
        matrix_set(tileMatrixSetId)
        return style_response(request, [layer], tileMatrixSetId, f)

    @router.get(
        "/collections/{collectionId}/tiles/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}",
        summary="A Mapbox vector tile of a collection (the MVT layer is named like it)",
        response_class=Response,
        responses={200: {"content": {MVT_TYPE: {}}}, 304: {"description": "not modified"}},
    )
    def collection_tile(
        request: Request,
        collectionId: str,
        tileMatrixSetId: TmsId,
        tileMatrix: int,
        tileRow: int,
        tileCol: int,
        f: Filters,
    ) -> Response:
        layer = tiled_layer(collectionId)
        tms = matrix_set(tileMatrixSetId)
        tilesets.check_tile(tms, layer, tileMatrix, tileRow, tileCol)
        return tile_response(ctx.map_layers, request, layer, tileMatrix, tileCol, tileRow, f)

    @router.get(
        "/styles/wall/style.json",
        summary="The map wall's look as one MapLibre style over every tiled collection",
        response_class=Response,
        responses={200: {"content": {STYLE: {}}}},
    )
    def wall(request: Request, f: Filters) -> Response:
        layers = [c for c in catalog.collections if c in tilesets.TILED]
        return style_response(request, layers, tilesets.MATRIX_SETS[0], f)

    def style_response(
        request: Request, layers: list[str], tms_id: str, f: TileFilters
    ) -> Response:
        sources = {layer: tilesets.tilejson_url(request, layer, tms_id, f) for layer in layers}
        bbox, _ = catalog.get(layers[0]).provider.extent(None)
        center = ((bbox[0] + bbox[2]) / 2, (bbox[1] + bbox[3]) / 2) if bbox else None
        metadata = {"cityaware:filters": tilesets.filters_metadata(f)}
        style = wall_style(sources, center=center, zoom=10 if bbox else 1, metadata=metadata)
        return json_response(style, STYLE)

    return router
