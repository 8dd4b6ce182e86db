"""The kiosk's JSON: panel figures, emergency mode (平急联动) and replay.

    GET    /v1/dashboard?region=990105&window=24h
    -> {"region": {...}, "kpi": {"intake_today": 231, "open": 88, "overdue": 3, ...},
        "ranking": {"level": "street", "units": [...]}, "newest": {"cases": [...],
        "alarms": [...]}, "intake_by_hour": {"today": [...], "last_week": [...]},
        "category_mix": [...]}
    GET    /v1/dashboard/emergency             -> {"active": false} or the incident's picture
    POST   /v1/dashboard/emergency {"incident": "INC-0000042"}   (ops, admin) every wall turns to it
    DELETE /v1/dashboard/emergency                               (ops, admin) back to normal
    GET    /v1/dashboard/replay?at=2026-12-01T08   the incidents of a local day or hour

See :mod:`cityaware.api.service.dashboard` for what each figure counts and
:mod:`cityaware.api.service.emergency` for the emergency picture.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from cityaware.api.context import AppContext
from cityaware.api.responses import json_response
from cityaware.api.service.auth import ApiKey


class EmergencyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    incident: str = Field(..., min_length=1, max_length=64, description="the incident's id")


def build_router(ctx: AppContext) -> APIRouter:
    router = APIRouter(tags=["map wall"])
    read = [Depends(ctx.access.read())]
    switch = ctx.access.require("wall.emergency")

    @router.get(
        "/v1/dashboard",
        summary="The wall's panel figures: KPIs, ranking, newest cases and alarms, trends",
        dependencies=read,
    )
    async def dashboard(
        region: str = Query("", max_length=32, description="a unit code; empty: the city"),
        window: str = Query("24h", description="1h, 24h, 7d, 30d or all (bounds reported_at)"),
    ) -> Response:
        figures = await asyncio.to_thread(ctx.dashboard.current, region.strip(), window)
        return json_response(figures)

    @router.get(
        "/v1/dashboard/emergency", summary="The emergency mode every wall shows", dependencies=read
    )
    async def emergency() -> Response:
        return json_response(await asyncio.to_thread(ctx.emergency.view))

    @router.post("/v1/dashboard/emergency", summary="Turn every wall to an incident")
    async def emergency_on(body: EmergencyIn, key: ApiKey = Depends(switch)) -> Response:
        view = await asyncio.to_thread(ctx.emergency.switch, body.incident, key.id or key.role)
        return json_response(view)

    @router.delete("/v1/dashboard/emergency", summary="Back to normal on every wall")
    async def emergency_off(key: ApiKey = Depends(switch)) -> Response:
        return json_response(await asyncio.to_thread(ctx.emergency.switch, None))

    @router.get(
        "/v1/dashboard/replay",
        summary="The incidents of one local day or hour, oldest first, to play back",
        dependencies=read,
    )
    async def replay(
        at: str = Query(..., max_length=13, description="a day YYYY-MM-DD or hour YYYY-MM-DDTHH"),
    ) -> Response:
        return json_response(await asyncio.to_thread(ctx.emergency.replay, at))

    return router
