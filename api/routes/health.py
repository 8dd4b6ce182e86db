"""``GET /healthz``: liveness, and the trivial endpoint benchmarks compare with."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from cityaware.api.context import AppContext


def build_router(ctx: AppContext) -> APIRouter:
    router = APIRouter(tags=["health"], dependencies=[Depends(ctx.access.public())])

    @router.get("/healthz", summary="Liveness probe")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return router
