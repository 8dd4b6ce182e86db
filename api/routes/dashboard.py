"""``GET /v1/dashboard``: the wall's panel figures, for the kiosk and other screens.

    GET /v1/dashboard?region=410105&window=24h
    -> {"region": {...}, "kpi": {"intake_today": 231, "open": 88, "overdue": 3, ...},
        "ranking": {"level": "street", "units": [...]}, "newest": {"cases": [...],
        "alarms": [...]}, "intake_by_hour": {"today": [...], "last_week": [...]},
        "category_mix": [...]}

See :mod:`cityaware.api.service.dashboard` for what each figure counts.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends, Query, Response

from cityaware.api.context import AppContext
from cityaware.api.responses import json_response


def build_router(ctx: AppContext) -> APIRouter:
    router = APIRouter(tags=["map wall"])

    @router.get(
        "/v1/dashboard",
        summary="The wall's panel figures: KPIs, ranking, newest cases and alarms, trends",
        dependencies=[Depends(ctx.access.read())],
    )
    async def dashboard(
        region: str = Query("", max_length=32, description="a unit code; empty: the city"),
        window: str = Query("24h", description="1h, 24h, 7d, 30d or all (bounds reported_at)"),
    ) -> Response:
        figures = await asyncio.to_thread(ctx.dashboard.figures, region.strip(), window)
        return json_response(figures)

    return router
