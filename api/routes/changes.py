"""``GET /v1/changes``: the store's change feed as JSON pages, for clients that follow it.

    GET /v1/changes?after=0&limit=1000  -> {"changes": [{"seq": 1, "kind": "incidents",
                                            "id": "a1", "op": "create", "old_grid": null,
                                            "new_grid": "410202001001001", "generation": "g1",
                                            "at": "2026-12-01T08:00:00Z", "bulk": false}],
                                            "next": 1}
    GET /v1/changes?latest=true         -> {"next": 1234}   (start following from now)

``op`` is create, update, delete, reassign, or a case's supervision (督办) event:
``deadline_near``, ``overdue``, ``escalated``. Pass ``next`` back as ``after``; ``seq`` is
in commit order, so nothing is skipped. A seq older than the retention
(``CITYAWARE_CHANGES_RETENTION_DAYS``, default 7) is 410.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends, Query, Response

from cityaware.api.context import AppContext
from cityaware.api.responses import json_response
from cityaware.geo.store.changes import MAX_LIMIT, parse_seq

DEFAULT_LIMIT = 1000


def build_router(ctx: AppContext) -> APIRouter:
    router = APIRouter(tags=["features"])

    @router.get(
        "/v1/changes",
        summary="Every write to the feature store, in commit order (follow with after=next)",
        dependencies=[Depends(ctx.access.read())],
    )
    async def changes(
        after: str | None = Query(None, description="return changes with a larger seq"),
        limit: str | None = Query(None, description=f"at most this many (1 to {MAX_LIMIT})"),
        latest: bool = Query(False, description="only the newest seq, as next"),
    ) -> Response:
        if latest:
            return json_response({"next": await asyncio.to_thread(ctx.store.data_version)})
        seq = parse_seq(after, "after", default=0)
        count = parse_seq(limit, "limit", default=DEFAULT_LIMIT)
        page = await asyncio.to_thread(ctx.store.changes, seq, count)
        return json_response({"changes": page.changes, "next": page.next})

    return router
