"""``GET /v1/events``: server-sent events for the map wall (new incidents, status changes,
sensor alarms).

The store's change feed is the event log (see :mod:`api.service.event_stream`): each
connection follows it through an :class:`~api.service.event_stream.EventCursor` fed by
the process's one :class:`~api.service.event_stream.EventHub` (one feed read per round
for all clients), so a
client that reconnects with ``Last-Event-ID`` (sent by the browser's EventSource itself)
or ``?last_event_id=`` catches up on everything it missed, across server restarts. A
malformed id is a 400 JSON answer.

Stream format: ``id: <seq>``, ``event: incident | incident-status | sensor-alarm``,
``data: {json}``; on connect a ``hello`` and, after 15 quiet seconds, a ``sync`` event
whose id is the stream's position, so a reconnect resumes from there.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse

from cityaware.api.context import AppContext
from cityaware.api.service.event_stream import EventCursor, EventHub

POLL_SECONDS = 0.2
WAIT_SECONDS = 1.0  # how often a quiet stream checks that its client is still there
KEEPALIVE_SECONDS = 15.0
RETRY_MS = 1000


def build_router(ctx: AppContext) -> APIRouter:
    router = APIRouter(tags=["map wall"], dependencies=[Depends(ctx.access.read())])
    hub = EventHub(lambda: ctx.store, POLL_SECONDS, extra=lambda: ctx.live_feed.sse_events)

    @router.get(
        "/v1/events",
        summary="Live events (server-sent events) with Last-Event-ID catch-up",
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {}}}},
    )
    async def events(
        request: Request,
        last_event_id: str | None = Query(None, description="resume after this event id (seq)"),
        last_event_header: str | None = Header(None, alias="Last-Event-ID"),
    ) -> StreamingResponse:
        resume = last_event_header or last_event_id
        cursor = await asyncio.to_thread(EventCursor, ctx.store, resume, ctx.live_feed.sse_events)

        def position(kind: str) -> bytes:
            # sets the browser's Last-Event-ID even before the first real event
            return f"id: {cursor.position}\nevent: {kind}\ndata: {{}}\n\n".encode()

        async def stream() -> AsyncIterator[bytes]:
            yield f"retry: {RETRY_MS}\n".encode() + position("hello")
            quiet_since = time.monotonic()
            while True:
                events = await hub.next(cursor, timeout=WAIT_SECONDS)
                if events:  # a gone client fails this write (or the server cancels us)
                    yield b"".join(event.frame for event in events)
                    quiet_since = time.monotonic()
                elif await request.is_disconnected():  # a quiet turn: is anyone there?
                    return
                if time.monotonic() - quiet_since > KEEPALIVE_SECONDS:
                    yield position("sync")
                    quiet_since = time.monotonic()

        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)

    return router
