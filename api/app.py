"""The FastAPI application, composed from one router factory per API.

Each entry of :data:`ROUTERS` is a ``build_router(ctx) -> APIRouter`` factory.

>>> app = create_app(Settings())
>>> app.title
'cityaware'
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, FastAPI
from starlette.middleware.cors import CORSMiddleware

from cityaware.api import ogc, regions
from cityaware.api.context import AppContext, finish_activation
from cityaware.api.errors import install_error_handlers
from cityaware.api.guard import BodyGuard, SecurityHeaders
from cityaware.api.head import HeadAsGet
from cityaware.api.ogc.openapi import install_openapi
from cityaware.api.openapi_errors import document_errors
from cityaware.api.routes import (
    changes,
    dashboard,
    devices,
    events,
    health,
    hooks,
    map,
    positions,
    readings,
    rules,
)
from cityaware.api.routes.map import basemap_url
from cityaware.api.service import casework, evaluation, incidents, locate, nearest, open311
from cityaware.api.service.auth import HEADER, app_routes, check_admin_key
from cityaware.api.settings import Settings

ROUTERS: tuple[Callable[[AppContext], APIRouter], ...] = (
    health.build_router,
    locate.build_router,  # early: the hot path matches fewer routes
    ogc.build_router,
    regions.build_router,
    nearest.build_router,
    incidents.build_router,
    open311.build_router,
    map.build_router,
    events.build_router,
    changes.build_router,
    devices.build_router,
    readings.build_router,
    positions.build_router,
    hooks.build_router,
    casework.build_router,
    evaluation.build_router,
    dashboard.build_router,
    rules.build_router,
)


def create_app(settings: Settings | None = None, ctx: AppContext | None = None) -> FastAPI:
    """Build the app for ``settings`` (default: from the environment)."""
    ctx = ctx or AppContext(settings or Settings.from_env())
    check_admin_key(ctx.settings.admin_key)
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
    for build_router in ROUTERS:
        app.include_router(build_router(ctx))
    install_openapi(app)
    document_errors(app)
    install_middleware(app, ctx)
    if ctx.registry.pending_activation() is not None:  # a crash interrupted an activation
        threading.Thread(target=finish_activation, args=(ctx,), daemon=True).start()
    return app


def _routes_of(app: FastAPI) -> Callable[[], list[Any]]:
    """``app_routes(app)``, listed again only when the app's routes change (not per POST)."""
    cached: dict[int, list[Any]] = {}

    def routes() -> list[Any]:
        key = len(app.routes)
        if key not in cached:
            cached.clear()
            cached[key] = app_routes(app)
        return cached[key]

    return routes


def install_middleware(app: FastAPI, ctx: AppContext) -> None:
    """Bodies guarded (access first, size cap, timeout), CORS for the configured origins,
    security headers on every answer, HEAD answered by the GET routes (the last added
    runs first)."""
    app.add_middleware(BodyGuard, access=lambda: ctx.access, routes=_routes_of(app))
    cors = cors_options(ctx.settings)
    if cors:
        app.add_middleware(CORSMiddleware, **cors)
    app.add_middleware(SecurityHeaders, basemap_url=basemap_url())
    app.add_middleware(HeadAsGet)


def cors_options(settings: Settings) -> dict[str, Any]:
    """``CORSMiddleware`` options for ``CITYAWARE_CORS_ORIGINS`` (none: same origin only).

    Named origins may read and write (with a key); ``*`` (public read-only
    deployments, which need public reads) allows reads only.

    >>> cors_options(Settings(cors_origins=("*",)))["allow_methods"]
    ['GET', 'HEAD', 'OPTIONS']
    >>> cors_options(Settings())
    {}
    """
    origins = list(settings.cors_origins)
    if not origins:
        return {}
    if "*" in origins and not settings.public_read:
        raise ValueError("CITYAWARE_CORS_ORIGINS='*' needs public reads (CITYAWARE_PUBLIC_READ=1)")
    reads = ["GET", "HEAD", "OPTIONS"]
    writes = ["POST", "PUT", "PATCH", "DELETE"]
    wildcard = "*" in origins
    return {
        "allow_origins": ["*"] if wildcard else origins,
        "allow_methods": reads if wildcard else reads + writes,
        "allow_headers": [HEADER, "Content-Type", "Idempotency-Key", "Last-Event-ID",
                          "If-None-Match", "Accept"],
        "expose_headers": ["ETag", "Location", "Retry-After", "Idempotent-Replayed",
                           "Content-Crs", "Content-Length"],
        "max_age": 600,
    }  # fmt: skip
