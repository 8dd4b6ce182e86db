"""OGC API - Features (Parts 1, 2 and 3) and Tiles over the boundary registry and the feature store.

``build_router(ctx)`` is an entry of :data:`cityaware.api.app.ROUTERS`;
:func:`cityaware.api.ogc.openapi.install_openapi` patches ``/api`` after the app is built.
"""

from __future__ import annotations

from fastapi import APIRouter

from cityaware.api.context import AppContext
from cityaware.api.ogc import collections, items, landing, tiles


def build_router(ctx: AppContext) -> APIRouter:
    """All OGC API - Features routes, sharing the context's catalog."""
    catalog = ctx.catalog
    router = APIRouter()
    router.include_router(landing.build_router(ctx.access.public()))  # no data in them
    router.include_router(collections.build_router(catalog, ctx.access.read()))
    router.include_router(items.build_router(catalog, ctx.access.read()))
    router.include_router(tiles.build_router(ctx))  # OGC API - Tiles, TileJSON, styles
    return router
