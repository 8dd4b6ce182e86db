"""Webhooks over HTTP (delivery: :mod:`api.service.hooks`).

    POST   /v1/hooks  {"url": "https://router.example/hook", "events": ["fence.*", "alarm.open"],
                       "fences": ["f1"], "kinds": ["worker"], "regions": ["990105"]}
           -> 201 {"id": "hk_...", "secret": "...", ...}   (the HMAC secret is shown once)
    GET    /v1/hooks, /v1/hooks/{id} (delivered/failed counters, cursor, last error)
    GET    /v1/hooks/{id}/dead-letters;  DELETE /v1/hooks/{id}

Managing hooks needs role ops or admin. ``from_seq`` starts delivery after that seq
(default: from now on).
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from cityaware.api.responses import json_response
from cityaware.geo.errors import InvalidInput
from cityaware.geo.store.records import new_ids
from cityaware.geo.store.times import from_ms, now_ms

if TYPE_CHECKING:
    from cityaware.api.context import AppContext

HIDDEN = ("secret", "lease_until")


class HookIn(BaseModel):
    """A subscription: where to send which events."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(..., max_length=2000, description="http(s) URL receiving POSTs")
    events: list[str] = Field(
        ..., min_length=1, description="event types or patterns: alarm.open, fence.*, ..."
    )
    fences: list[str] | None = Field(None, description="only these fences' events")
    kinds: list[str] | None = Field(None, description="only these object kinds")
    regions: list[str] | None = Field(None, description="only in these grid/region codes")
    secret: str | None = Field(None, min_length=16, max_length=200, description="HMAC key")
    from_seq: int | None = Field(None, ge=0, description="deliver changes after this seq")


def hook_view(row: dict[str, Any]) -> dict[str, Any]:
    """The public form of a hook (no secret).

    >>> hook_view({"id": "h", "secret": "s", "events": "a,b", "fences": None, "kinds": None,
    ...     "regions": None, "created_at": 0, "next_attempt_at": 0, "lease_until": 0})["events"]
    ['a', 'b']
    """
    out = {k: v for k, v in row.items() if k not in HIDDEN}
    for name in ("events", "fences", "kinds", "regions"):
        out[name] = row[name].split(",") if row[name] else None
    out["created_at"] = from_ms(row["created_at"])
    out["next_attempt_at"] = from_ms(row["next_attempt_at"] or None)
    return out


def _joined(values: list[str] | None, what: str) -> str | None:
    if not values:
        return None
    if any(not v or "," in v for v in values):
        raise InvalidInput(f"{what}: values must be non-empty and without commas")
    return ",".join(values)


def build_router(ctx: AppContext) -> APIRouter:
    def start() -> None:
        if ctx.settings.live.worker_interval_s > 0:
            ctx.live_worker.start()

    def stop() -> None:
        if "live_worker" in vars(ctx):
            ctx.live_worker.stop()

    router = APIRouter(tags=["webhooks"], on_startup=[start], on_shutdown=[stop])
    manage = [Depends(ctx.access.require("hooks.manage"))]

    @router.post(
        "/v1/hooks", summary="Subscribe a URL to live events", status_code=201, dependencies=manage
    )
    def create_hook(hook: HookIn) -> Response:
        parts = urlsplit(hook.url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise InvalidInput(f"url must be an http or https URL, got {hook.url!r}")
        secret = hook.secret or secrets.token_urlsafe(32)
        row = {
            "id": "hk_" + new_ids(1)[0],
            "url": hook.url,
            "secret": secret,
            "events": _joined(hook.events, "events"),
            "fences": _joined(hook.fences, "fences"),
            "kinds": _joined(hook.kinds, "kinds"),
            "regions": _joined(hook.regions, "regions"),
            "cursor": hook.from_seq,
        }
        stored = ctx.hooks.create(row, now_ms())
        answer = json_response(hook_view(stored) | {"secret": secret}, status_code=201)
        answer.headers["Location"] = f"/v1/hooks/{stored['id']}"
        return answer

    @router.get("/v1/hooks", summary="Every hook", dependencies=manage)
    def list_hooks() -> Response:
        return json_response({"hooks": [hook_view(h) for h in ctx.hooks.hooks()]})

    @router.get("/v1/hooks/{hook_id}", summary="A hook and its counters", dependencies=manage)
    def get_hook(hook_id: str) -> Response:
        return json_response(hook_view(ctx.hooks.get(hook_id)))

    @router.get(
        "/v1/hooks/{hook_id}/dead-letters",
        summary="Events given up on after the last attempt",
        dependencies=manage,
    )
    def dead_letters(hook_id: str, limit: int = Query(1000, ge=1, le=10_000)) -> Response:
        return json_response({"dead_letters": ctx.hooks.dead_letters(hook_id, limit)})

    @router.delete(
        "/v1/hooks/{hook_id}", summary="Unsubscribe", status_code=204, dependencies=manage
    )
    def delete_hook(hook_id: str) -> Response:
        ctx.hooks.delete(hook_id)
        return Response(status_code=204)

    return router
