"""The map wall's live events, shaped from the store's change feed.

The change feed (:mod:`geo.store.changes`) is the event log: every live write
(not bulk imports or re-assignments) of an incident or sensor is one change row
with a ``seq`` in commit order, and an event's id *is* that seq. A client that
reconnects sends its last id back (``Last-Event-ID``, or ``?last_event_id=`` for a
new EventSource) and gets every change after it, even across a server restart.

Event types, from the change joined to the feature as it is now:

* ``incident``: an incident created,
* ``incident-status``: a later change of an incident (status, priority, ...),
* ``sensor-alarm``: a sensor written while in alarm.

>>> to_event(7, "create", {"kind": "cameras", "id": "c1"}) is None
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cityaware.geo.errors import ChangesPruned
from cityaware.geo.store.changes import parse_seq
from cityaware.geo.store.taxonomy import OPEN_STATUSES
from cityaware.geo.store.times import to_ms

BATCH = 1_000
KINDS = ("incidents", "sensors")


@dataclass(frozen=True)
class Event:
    """One server-sent event: ``id`` (the change seq), ``type`` and the JSON ``data``."""

    id: str
    type: str
    data: dict[str, Any]


def _ms(value: str | None) -> int:
    """Epoch ms of the store's ISO time text (0 for none)."""
    return 0 if value is None else to_ms(value)


def to_event(seq: int, op: str, record: dict[str, Any]) -> Event | None:
    """The event for change ``seq`` (``op``) of ``record`` as it is now, or None when it is
    not one the wall shows.

    >>> to_event(3, "update", {"kind": "sensors", "id": "s1", "alarm": True, "lon": 1,
    ...     "lat": 2, "updated_at": "1970-01-01T00:00:01Z"}).type
    'sensor-alarm'
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

    def __init__(self, store: Any, last_event_id: str | None = None) -> None:
        self.store = store
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
        self.position = page.next
        events = (to_event(seq, op, record) for seq, op, record in page.items)
        return [e for e in events if e is not None]
