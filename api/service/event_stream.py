"""The map wall's live events, shaped from the store's change feed.

The change feed (:mod:`geo.store.changes`) is the event log: every live write
(not bulk imports or re-assignments) of an incident or sensor is one change row
with a ``seq`` in commit order, and an event's id *is* that seq. A client that
reconnects sends its last id back (``Last-Event-ID``, or ``?last_event_id=`` for a
new EventSource) and gets every change after it, even across a server restart.

Event types, from the change joined to the feature as it is now:

* ``incident``: an incident created,
* ``incident-status``: a later change of an incident (status, priority, ..., or a
  supervision event: deadline near, overdue, escalated),
* ``sensor-alarm``: a sensor written while in alarm.

An incident event's data carries the change's ``op``: ``create``, ``update`` or the
supervision event's own (``deadline_near``, ``overdue``, ``escalated``; the case's
hotline ``level`` is added to those).

>>> to_event(7, "create", {"kind": "cameras", "id": "c1"}) is None
True
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import orjson

from cityaware.geo.errors import ChangesPruned
from cityaware.geo.store.casework import SUPERVISION_OPS
from cityaware.geo.store.changes import parse_seq
from cityaware.geo.store.taxonomy import OPEN_STATUSES
from cityaware.geo.store.times import to_ms

BATCH = 1_000
COALESCE_SECONDS = 0.1  # a round after a commit waits this long for the burst's others
KINDS = ("incidents", "sensors")


@dataclass(frozen=True)
class Event:
    """One server-sent event: ``id`` (the change seq), ``type`` and the JSON ``data``."""

    id: str
    type: str
    data: dict[str, Any]

    @cached_property
    def frame(self) -> bytes:
        """The event as SSE text, encoded once however many clients it goes to."""
        data = orjson.dumps(self.data).decode()
        return f"id: {self.id}\nevent: {self.type}\ndata: {data}\n\n".encode()


def _ms(value: str | None) -> int:
    """Epoch ms of the store's ISO time text (0 for none)."""
    return 0 if value is None else to_ms(value)


def to_event(seq: int, op: str, record: dict[str, Any]) -> Event | None:
    """The event for change ``seq`` (``op``) of ``record`` as it is now, or None when it is
    not one the wall shows.

    >>> to_event(3, "update", {"kind": "sensors", "id": "s1", "alarm": True, "lon": 1,
    ...     "lat": 2, "updated_at": "1970-01-01T00:00:01Z"}).type
    'sensor-alarm'
    >>> event = to_event(4, "overdue", {"kind": "incidents", "id": "i1", "status": "dispatched",
    ...     "attributes": {"hotline": {"level": "street"}}})
    >>> event.type, event.data["op"], event.data["level"]
    ('incident-status', 'overdue', 'street')
    """
    kind = record["kind"]
    data = {
        "kind": kind,
        "id": record["id"],
        "lon": record.get("lon"),
        "lat": record.get("lat"),
        "grid_code": record.get("grid_code"),
        "updated_at": _ms(record.get("updated_at")),
    }
    if kind == "incidents":
        event_type = "incident" if op == "create" else "incident-status"
        for name in ("status", "category", "title", "priority", "office"):
            data[name] = record.get(name)
        data["open"] = record.get("status") in OPEN_STATUSES
        data["op"] = op
        if op in SUPERVISION_OPS:
            data["level"] = ((record.get("attributes") or {}).get("hotline") or {}).get("level")
    elif kind == "sensors" and record.get("alarm"):
        event_type = "sensor-alarm"
        for name in ("device_kind", "reading_value", "reading_unit"):
            data[name] = record.get(name)
    else:
        return None
    return Event(str(seq), event_type, data)


class EventCursor:
    """One client's position in the event stream (a change seq).

    A new client (no last id) gets what happens from now on; a resumed one gets every
    change after its last id. When that id is older than the feed's retention (or newer
    than the store's newest seq), the cursor goes on from the newest seq. A malformed id
    is InvalidInput (400).

    >>> cursor = EventCursor(store, "41")  # doctest: +SKIP
    >>> [e.id for e in cursor.poll()]      # doctest: +SKIP
    ['42', '45']
    """

    def __init__(
        self,
        store: Any,
        last_event_id: str | None = None,
        extra: Callable[[int, int], list[Event]] | None = None,
    ) -> None:
        self.store = store
        self.extra = extra  # events of other feed kinds in (after, upto] (alarms, fences)
        resumed = None if last_event_id is None else parse_seq(last_event_id, "Last-Event-ID")
        latest = store.data_version()
        # an id past the newest seq comes from another (or a reset) store: go on from now
        self.position = latest if resumed is None else min(resumed, latest)

    def poll(self) -> list[Event]:
        """The events after the position (reads rows only when the newest seq moved)."""
        if self.store.data_version() == self.position:
            return []
        try:
            page = self.store.changed_records(self.position, KINDS, BATCH)
        except ChangesPruned:
            self.position = self.store.data_version()
            return []
        start, self.position = self.position, page.next
        events = (to_event(seq, op, record) for seq, op, record in page.items)
        found = [e for e in events if e is not None]
        if self.extra is not None:
            found = sorted(found + self.extra(start, page.next), key=lambda e: int(e.id))
        return found


class EventHub:
    """One poller of the change feed per process, fanning its events out to every client.

    The poller (an asyncio task, running while clients are connected) reads the feed
    once per round, in a thread of its own (never queued behind the requests' threads),
    and keeps the last ``window`` events. A round starts the moment a write of this
    process commits (the store's ``on_commit``), else every ``poll_seconds`` (the writes
    of other processes); each client takes from that
    window what follows its own position, so 200 clients cost one feed read per round,
    not 200. A client further behind than the window (resumed from an old id) catches
    up from the store with its own cursor first. Every worker process has its own hub
    over the shared store, so a client of any worker sees every event.

    ``store`` is a function giving the store, called only once a client connects (building
    the app opens nothing).

    >>> hub = EventHub(lambda: store)                   # doctest: +SKIP
    >>> events = await hub.next(cursor, timeout=15.0)   # doctest: +SKIP
    """

    def __init__(
        self,
        store: Callable[[], Any],
        poll_seconds: float = 0.2,
        window: int = 20_000,
        extra: Callable[[], Callable[[int, int], list[Event]] | None] = lambda: None,
    ) -> None:
        self._store, self._extra = store, extra  # extra: the other feed kinds' events
        self.poll_seconds = poll_seconds
        self.events: deque[Event] = deque(maxlen=window)
        self.floor = self.position = -1  # the window holds the events in (floor, position]
        self.clients = 0
        self._moved = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._reader = ThreadPoolExecutor(1, thread_name_prefix="event-hub")

    async def next(self, cursor: EventCursor, timeout: float) -> list[Event]:
        """The events after ``cursor.position`` (moving it on); waits up to ``timeout``
        seconds for some, then answers what it has (maybe nothing)."""
        self.clients += 1
        try:
            self._start()
            if self.position < 0:  # the first round has not run yet
                await self._wait(timeout)
            if cursor.position < self.floor:  # behind the window: read the store itself
                return await asyncio.to_thread(cursor.poll)
            if cursor.position >= self.position:
                await self._wait(timeout)
            if cursor.position < self.floor:
                return await asyncio.to_thread(cursor.poll)
            after = cursor.position
            cursor.position = max(after, self.position)
            fresh = []  # the newest events are at the end: read back only as far as needed
            for event in reversed(self.events):
                if int(event.id) <= after:
                    break
                fresh.append(event)
            return fresh[::-1]
        finally:
            self.clients -= 1

    async def _wait(self, timeout: float) -> None:
        moved = self._moved
        with contextlib.suppress(TimeoutError):  # a timer, no task per client and round
            async with asyncio.timeout(timeout):
                await moved.wait()

    def _start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._poll())

    async def _poll(self) -> None:
        """Follow the feed while anyone listens (lingering a few rounds after the last)."""
        loop = asyncio.get_running_loop()
        store = self._store()
        cursor = await loop.run_in_executor(self._reader, EventCursor, store, None, self._extra())
        self.floor = self.position = cursor.position
        self.events.clear()
        self._signal()
        committed = asyncio.Event()
        stop = store.on_commit(lambda: _call_soon(loop, committed.set))
        try:
            idle = 0
            while idle < 50:
                idle = 0 if self.clients else idle + 1
                committed.clear()  # a commit from now on wakes the next round
                events = await loop.run_in_executor(self._reader, cursor.poll)
                if cursor.position != self.position:
                    overflow = len(self.events) + len(events) > (self.events.maxlen or 0)
                    self.events.extend(events)
                    if overflow:  # the oldest fell out: the window starts at its first event
                        self.floor = int(self.events[0].id) - 1
                    self.position = cursor.position
                    self._signal()
                    if len(events) >= BATCH:
                        continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(committed.wait(), self.poll_seconds)
                    await asyncio.sleep(COALESCE_SECONDS)  # one round for a burst of commits
        finally:
            stop()
            self.position = -1

    def _signal(self) -> None:
        moved, self._moved = self._moved, asyncio.Event()
        moved.set()


def _call_soon(loop: asyncio.AbstractEventLoop, callback: Callable[[], Any]) -> None:
    """Run ``callback`` in ``loop`` from another thread (nothing once the loop is closed)."""
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(callback)
