"""Sensor readings in, alarms out: each opening alarm becomes one routed incident.

:class:`Alarms` writes a batch through the reading store, then brings the incidents of
the alarms it opened, kept open or cleared up to date through the incident service:
an opening alarm creates an incident (channel ``sensor_alarm``, at the sensor, so pinned
to its grid and routed by the duty list) with the idempotency key ``sensor-alarm:<alarm
id>``, so a retry, a replay or the repair after a crash finds the same incident; the
alarm's state, bad readings and clearing go into the incident's ``attributes.alarm``.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from cityaware.api.service.incidents import IncidentIn, IntakeExtras
from cityaware.geo.errors import NotFound
from cityaware.geo.store.readings import ReadingBatch, ReadingStore, WriteReport
from cityaware.geo.store.times import from_ms, now_ms

if TYPE_CHECKING:
    from cityaware.api.service.incidents import Incidents

CHANNEL = "sensor_alarm"
SYNC_THREADS = 8  # alarms brought up to date side by side (their incidents: one group commit)
T = TypeVar("T")


def idempotency_key(alarm: dict[str, Any]) -> str:
    """The incident key of an alarm.

    >>> idempotency_key({"id": "al_1"})
    'sensor-alarm:al_1'
    """
    return f"sensor-alarm:{alarm['id']}"


def incident_request(alarm: dict[str, Any]) -> IncidentIn:
    """The incident an alarm opens (only from the alarm's opening, so always the same).

    >>> incident_request({"sensor_id": "s1", "rule": "value", "reason": "max", "lon": 101.5,
    ...     "lat": 30.5, "first_value": 12.5, "opened_at": 0, "category": "drainage",
    ...     "priority": "high"}).title
    'sensor s1: max alarm (12.5)'
    """
    value = alarm["first_value"]
    shown = "" if value is None else f" ({value:g})"
    return IncidentIn(
        category=alarm["category"] or "other",
        lon=alarm["lon"],
        lat=alarm["lat"],
        crs="WGS84",
        title=f"sensor {alarm['sensor_id']}: {alarm['reason']} alarm{shown}"[:200],
        description=(
            f"{alarm['rule']} alarm of sensor {alarm['sensor_id']} opened at "
            f"{from_ms(alarm['opened_at'])} ({alarm['reason']})"
        ),
        channel=CHANNEL,
        priority=alarm["priority"] or "high",
    )


def alarm_view(alarm: dict[str, Any]) -> dict[str, Any]:
    """The public form of an alarm row (ISO times)."""
    out = {k: v for k, v in alarm.items() if k not in ("change", "clear_value")}
    for name in ("opened_at", "cleared_at", "last_at", "synced_at"):
        out[name] = from_ms(out.get(name))
    out["sensor"] = out.pop("sensor_id")
    return out


class Alarms:
    """Readings through the reading store, alarm incidents through the incident service."""

    def __init__(self, readings: ReadingStore, incidents: Incidents) -> None:
        self.readings, self.incidents = readings, incidents

    def write(self, batch: ReadingBatch) -> WriteReport:
        """Store and evaluate a batch; ``report.alarms`` are the alarms to :meth:`sync`
        (the HTTP route does it after answering, so incidents never slow the batch)."""
        return self.readings.write(batch, now_ms())

    def sweep(self, now: int | None = None) -> int:
        """Offline sensors, then any alarm whose incident a crash left behind; returns the
        number of alarms synced."""
        report = self.readings.sweep_offline(now_ms() if now is None else now)
        pending = report.alarms + self.readings.unsynced()
        self.sync(pending)
        return len(pending)

    def sync(self, alarms: list[dict[str, Any]]) -> None:
        """Create the missing incidents and record the alarms' state in them.

        The alarms are brought up to date side by side (:data:`SYNC_THREADS`), so the
        store's group commit takes their incidents in one transaction, and then marked
        synced in one more: a batch that opened or cleared a few alarms costs a few
        commits, not three per alarm (each would hold the write lock the next batch waits
        for). One that fails is left unsynced (the live worker tries it again) and its
        error raised after the others are marked."""
        ids = [a["id"] for a in alarms]
        fresh = {a["id"]: a for a in self.readings.alarms(ids=ids, limit=len(ids))} if ids else {}
        chosen = [fresh[i] for i in dict.fromkeys(ids) if i in fresh]
        if len(chosen) < 2:
            outcomes = [_outcome(self._sync_one, a) for a in chosen]
        else:
            with ThreadPoolExecutor(min(SYNC_THREADS, len(chosen)), "alarm-sync") as pool:
                outcomes = list(pool.map(lambda a: _outcome(self._sync_one, a), chosen))
        self.readings.mark_synced([o for o in outcomes if not isinstance(o, Exception)])
        for outcome in outcomes:
            if isinstance(outcome, Exception):
                raise outcome

    def _sync_one(self, alarm: dict[str, Any]) -> tuple[str, str, int]:
        """Create or update one alarm's incident; returns (alarm id, incident id, synced
        time) for :meth:`ReadingStore.mark_synced`."""
        store = self.incidents.store
        summary = alarm_summary(alarm)
        incident = self._known_incident(alarm)
        if incident is None:
            extras = IntakeExtras(attributes={"sensor": alarm["sensor_id"], "alarm": summary})
            view, _ = self.incidents.create(
                incident_request(alarm), idempotency_key(alarm), extras=extras
            )
            incident = store.get("incidents", view["id"])
        attributes = {**incident["attributes"], "sensor": alarm["sensor_id"]}
        if attributes.get("alarm") != summary:  # a replay, or the alarm moved on
            attributes["alarm"] = summary
            store.update("incidents", incident["id"], {"attributes": attributes})
        synced = max(now_ms(), alarm["cleared_at"] or 0)  # a clear may be ahead of the clock
        return alarm["id"], incident["id"], synced

    def _known_incident(self, alarm: dict[str, Any]) -> dict[str, Any] | None:
        """The incident an earlier sync recorded for the alarm, if it is still there: an
        alarm that stays open or clears needs no new intake (its pinning, routing and
        answer, which a replay of the create would do again to find the same incident)."""
        if alarm["incident_id"] is None:
            return None
        try:
            return self.incidents.store.get("incidents", alarm["incident_id"])
        except NotFound:
            return None


def _outcome(run: Callable[[dict[str, Any]], T], alarm: dict[str, Any]) -> T | Exception:
    """``run(alarm)``, or the exception it raised."""
    try:
        return run(alarm)
    except Exception as error:  # noqa: BLE001 (raised by sync after the others are marked)
        return error


def alarm_summary(alarm: dict[str, Any]) -> dict[str, Any]:
    """What an alarm's incident records of it (``attributes.alarm``).

    >>> alarm_summary({"id": "al_1", "sensor_id": "s1", "state": "open", "reason": "max",
    ...     "bad_readings": 1, "last_value": 5.0, "worst_value": 5.0, "last_at": 0,
    ...     "cleared_at": None})["last_at"]
    '1970-01-01T00:00:00Z'
    """
    return {
        "id": alarm["id"],
        "sensor": alarm["sensor_id"],
        "state": alarm["state"],
        "reason": alarm["reason"],
        "bad_readings": alarm["bad_readings"],
        "last_value": alarm["last_value"],
        "worst_value": alarm["worst_value"],
        "last_at": from_ms(alarm["last_at"]),
        "cleared_at": from_ms(alarm["cleared_at"]),
    }
