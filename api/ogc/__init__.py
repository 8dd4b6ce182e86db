"""OGC API - Features (Parts 1, 2 and 3) over the boundary registry and the feature store.

``build_router(ctx)`` is the entry in :data:`api.app.ROUTER_MODULES`;
:func:`api.ogc.openapi.install_openapi` patches ``/api`` after the app is built.
"""

from __future__ import annotations

from fastapi import APIRouter

from cityaware.api.context import AppContext
from cityaware.api.ogc import collections, items, landing
from cityaware.api.ogc.catalog import catalog_of


def build_router(ctx: AppContext) -> APIRouter:
    """All OGC API - Features routes, sharing the context's catalog."""
    catalog = catalog_of(ctx)
    router = APIRouter()
    router.include_router(landing.build_router())
    router.include_router(collections.build_router(catalog))
    router.include_router(items.build_router(catalog))
    return router
