"""The FastAPI application, composed from one router factory per API.

Each module in :data:`ROUTER_MODULES` exposes ``build_router(ctx) -> APIRouter``.

>>> app = create_app(Settings())
>>> app.title
'cityaware'
"""

from __future__ import annotations

import importlib

from fastapi import FastAPI

from api.context import AppContext
from api.errors import install_error_handlers
from api.ogc.openapi import install_openapi
from api.settings import Settings

ROUTER_MODULES: tuple[str, ...] = (
    "api.routes.health",
    "api.service.locate",  # early: the hot path matches fewer routes
    "api.ogc",
    "api.regions",
    "api.service.nearest",
    "api.service.incidents",
    "api.service.open311",
    "api.routes.map",
    "api.routes.events",
)


def create_app(settings: Settings | None = None, ctx: AppContext | None = None) -> FastAPI:
    """Build the app for ``settings`` (default: from the environment)."""
    ctx = ctx or AppContext(settings or Settings.from_env())
    app = FastAPI(
        title="cityaware",
        version="0.1.0",
        description="City-awareness map server: point-in-grid lookups, features, map wall.",
        openapi_url="/api",
        docs_url=None,  # /api.html: served offline by install_openapi
        redoc_url=None,
    )
    app.state.ctx = ctx
    install_error_handlers(app)
    for name in ROUTER_MODULES:
        app.include_router(importlib.import_module(name).build_router(ctx))
    install_openapi(app)
    return app
