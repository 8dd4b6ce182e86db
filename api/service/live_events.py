"""The change feed as typed live events, shared by ``/v1/events`` and the webhooks.

Each change becomes one event ``{"seq", "type", "time", "data"}``; ``type`` is
``<thing>.<op>``: ``alarm.open``, ``alarm.clear``, ``fence.enter`` (``exit``, ``inside``,
``outside``, ``cross``), ``rule.open``/``rule.clear`` (a built-in live rule, see
:mod:`api.service.rules`), ``object.move`` (a moving object changed grid), and
``incident.create``, ``sensor.update``, ``camera.delete``, ... for the features. Alarm
and fence events carry their record (a fence event in Tile38's shape); the others the
change itself (kind, id, old and new grid, generation).

>>> event_type({"kind": "fence_events", "op": "enter"})
'fence.enter'
>>> event_type({"kind": "incidents", "op": "create"})
'incident.create'
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cityaware.api.service.alarms import alarm_view
from cityaware.api.service.event_stream import Event
from cityaware.geo.store.rules import RuleStore

if TYPE_CHECKING:
    from cityaware.geo.store.positions import PositionStore
    from cityaware.geo.store.readings import ReadingStore
    from cityaware.geo.store.store import FeatureStore

THINGS = {
    "alarms": "alarm",
    "fence_events": "fence",
    "rule_events": "rule",
    "objects": "object",
    "incidents": "incident",
    "cameras": "camera",
    "sensors": "sensor",
    "wall": "wall",
}
LIVE_KINDS = ("alarms", "fence_events", "rule_events", "objects", "wall")
PAGE = 1_000


def event_type(change: dict[str, Any]) -> str:
    """The event type of a change row."""
    return f"{THINGS.get(change['kind'], change['kind'])}.{change['op']}"


class LiveFeed:
    """Reads the change feed and describes its rows as live events."""

    def __init__(
        self,
        store: FeatureStore,
        readings: ReadingStore,
        positions: PositionStore,
        rules: RuleStore | None = None,
    ):
        self.store, self.readings, self.positions = store, readings, positions
        self.rules = rules or RuleStore(store)

    def page(self, after: int, limit: int = PAGE) -> tuple[list[dict[str, Any]], int]:
        """Events of the changes after ``after`` (live writes only, not bulk imports) and the
        seq read up to."""
        page = self.store.changes(after, limit)
        return self.describe([c for c in page.changes if not c["bulk"]]), page.next

    def describe(self, changes: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """One event per change row (see the module doc)."""
        alarm_ids = [c["id"] for c in changes if c["kind"] == "alarms"]
        fence_ids = [c["id"] for c in changes if c["kind"] == "fence_events"]
        alarms = {a["id"]: a for a in self.readings.alarms(ids=alarm_ids)} if alarm_ids else {}
        fences = (
            {e["id"]: e for e in self.positions.fence_events(ids=fence_ids, limit=len(fence_ids))}
            if fence_ids
            else {}
        )
        rule_ids = [c["id"] for c in changes if c["kind"] == "rule_events"]
        rules = (
            {e["id"]: e for e in self.rules.events(ids=rule_ids, limit=len(rule_ids))}
            if rule_ids
            else {}
        )
        events = []
        for change in changes:
            data: dict[str, Any] | None
            if change["kind"] == "alarms":
                alarm = alarms.get(change["id"])
                data = None if alarm is None else alarm_view(alarm)
            elif change["kind"] == "fence_events":
                data = fences.get(change["id"])
            elif change["kind"] == "rule_events":
                data = rules.get(change["id"])
            else:
                data = {k: change[k] for k in ("kind", "id", "op", "old_grid", "new_grid")}
                data["generation"] = change["generation"]
            if data is not None:  # a deleted fence takes its events along
                events.append(
                    {
                        "seq": change["seq"],
                        "type": event_type(change),
                        "time": change["at"],
                        "data": data,
                    }
                )
        return events

    def sse_events(self, after: int, upto: int) -> list[Event]:
        """The alarm, fence and object events with ``after < seq <= upto``, for the map
        wall's event stream (SSE type: the event type with ``-``, e.g. ``fence-enter``)."""
        out: list[Event] = []
        position = after
        while position < upto:
            page = self.store.changes(position, PAGE)
            if not page.changes:
                break
            rows = [c for c in page.changes if c["seq"] <= upto and c["kind"] in LIVE_KINDS]
            for event in self.describe(rows):
                out.append(Event(str(event["seq"]), event["type"].replace(".", "-"), event["data"]))
            position = page.next
        return out
