"""Live events for the map wall, read from the feature store so none is ever missed.

Design: the store *is* the event log. Every write stamps ``updated_at`` (epoch
ms) and bumps ``data_version``; :class:`EventFeed` turns rows changed since a
cursor into events:

* ``incident``: an incident written for the first time (``created_at == updated_at``),
* ``incident-status``: a later change of an incident (status, reassignment),
* ``sensor-alarm``: a sensor written while in alarm.

An event's id is ``"<updated_at>-<kind>-<feature id>"``. A client that
reconnects sends it back (``Last-Event-ID``, or ``?last_event_id=`` for a new
EventSource) and gets every change from that time on, even across a server
restart, because nothing lives only in memory. Rows are read again with an
``OVERLAP_MS`` margin (a writer whose commit lands after a later timestamp is
still seen) and de-duplicated by event id. Writers need no hook: polling costs one
``data_version`` read per ``poll_seconds`` while nothing changes.

>>> parse_event_id("1764136800000-incidents-ab12")
1764136800000
>>> parse_event_id("junk") is None
True
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

from cityaware.geo.store.filters import FeatureFilter

OVERLAP_MS = 3_000
BATCH = 1_000
MAX_ROWS = 10_000
OPEN_STATUSES = ("received", "dispatched", "in_progress")


def parse_event_id(value: str | None) -> int | None:
    """The ``updated_at`` cursor inside an event id (None when absent or malformed)."""
    head = (value or "").split("-", 1)[0]
    return int(head) if head.isdigit() else None


def _ms(value) -> int:
    """Epoch ms of the store's ISO time text (or a number)."""
    if value is None:
        return 0
    if isinstance(value, (int, float)):
        return int(value)
    return int(datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp() * 1000)


@dataclass(frozen=True)
class Event:
    """One server-sent event: ``id``, ``type`` and the JSON ``data``."""

    id: str
    type: str
    at: int
    data: dict


def to_event(record: dict) -> Event | None:
    """The event for one changed store record (None when it is not one the wall shows)."""
    kind, updated = record["kind"], _ms(record.get("updated_at"))
    data = {
        "kind": kind,
        "id": record["id"],
        "lon": record["lon"],
        "lat": record["lat"],
        "grid_code": record.get("grid_code"),
        "updated_at": updated,
    }
    if kind == "incidents":
        created = _ms(record.get("created_at"))
        kind_of_event = "incident" if created == updated else "incident-status"
        for name in ("status", "category", "title", "priority", "office"):
            data[name] = record.get(name)
        data["open"] = record.get("status") in OPEN_STATUSES
    elif kind == "sensors" and record.get("alarm"):
        kind_of_event = "sensor-alarm"
        for name in ("device_kind", "reading_value", "reading_unit"):
            data[name] = record.get(name)
    else:
        return None
    return Event(f"{updated}-{kind}-{record['id']}", kind_of_event, updated, data)


class EventFeed:
    """Changes of the store as events since a cursor (see the module docstring)."""

    KINDS = ("incidents", "sensors")

    def __init__(self, store) -> None:
        self.store = store

    def version(self) -> int:
        return self.store.data_version()

    def since(self, cursor_ms: int) -> tuple[list[Event], int]:
        """Events of rows updated at or after ``cursor_ms - OVERLAP_MS``, oldest first, and
        the newest ``updated_at`` read (rows past ``MAX_ROWS`` per kind are left unread:
        only a bulk import writes that many at once, and it is not a live event)."""
        events: list[Event] = []
        newest = cursor_ms
        since = FeatureFilter(time_field="updated_at", since=max(cursor_ms - OVERLAP_MS, 0))
        for kind in self.KINDS:
            page_cursor, read = None, 0
            while read < MAX_ROWS:
                page = self.store.query(
                    kind, since, limit=BATCH, cursor=page_cursor, sortby=["updated_at"]
                )
                read += len(page.items)
                events.extend(e for e in map(to_event, page.items) if e is not None)
                newest = max([newest, *(_ms(r.get("updated_at")) for r in page.items[-1:])])
                if page.next is None:
                    break
                page_cursor = page.next
        return sorted(events, key=lambda e: (e.at, e.id)), newest


class EventCursor:
    """One client's position in the event stream.

    A new client (no last id) gets what happens from now on; a resumed one gets
    everything from ``OVERLAP_MS`` before its last event on (the page drops ids
    it has already shown). Each event id is yielded once per cursor.
    """

    def __init__(self, feed: EventFeed, last_event_id: str | None = None) -> None:
        self.feed = feed
        resumed = parse_event_id(last_event_id)
        now = int(time.time() * 1000)
        self.cursor = now if resumed is None else resumed
        self.floor = now if resumed is None else resumed - OVERLAP_MS
        self.seen: dict[str, int] = {}
        self.version: int | None = None

    def poll(self) -> list[Event]:
        """New events since the last poll (reads rows only when the store's version moved)."""
        version = self.feed.version()
        if version == self.version:
            return []
        events, newest = self.feed.since(self.cursor)
        self.version = version
        fresh = [e for e in events if e.at >= self.floor and e.id not in self.seen]
        for event in fresh:
            self.seen[event.id] = event.at
        self.cursor = max(self.cursor, newest)
        oldest = self.cursor - 2 * OVERLAP_MS
        self.seen = {k: v for k, v in self.seen.items() if v >= oldest}
        return fresh
