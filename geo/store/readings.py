"""Sensor readings: the batch write with alarm evaluation, the history, thresholds, offline.

One :meth:`ReadingStore.write` is one transaction, whose first lock is the change-feed
counter (like every writer of the store, see :mod:`geo.store.lockorder`; one that
loses a deadlock anyway is run again): it checks
every sensor exists (else nothing is written), keeps each reading in the ``readings``
history (a replayed reading is ignored), moves each sensor's last reading, online state
and ``alarm`` flag forward (readings older than the sensor's last one are history only),
and runs the newer ones through the sensor's threshold (:mod:`geo.live.alarms`). An alarm
that opens or clears is one ``alarms`` change in the feed (op ``open``/``clear``, the
sensor's grid), and a sensor whose alarm or online flag flips one ``sensors`` ``update``;
readings that change nothing but the value add nothing to the feed. Replaying a batch
leaves every table as it was.

Thresholds: the sensor's own (scope ``sensor``), else its device kind's (scope ``kind``),
else its ``alarm_low``/``alarm_high`` columns as min/max.

>>> alarm_id("s1", "value", 1_700_000_000_000)
'al_515eed7755d14a1d3400'
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa

from cityaware.geo.errors import InvalidInput, NotFound
from cityaware.geo.live.alarms import (
    MINUTE_MS,
    Episode,
    SensorState,
    Step,
    Threshold,
    badness,
    evaluate,
)
from cityaware.geo.live.screen import group_ends, screen
from cityaware.geo.store.columns import insert_ignore_columns, update_columns
from cityaware.geo.store.live_tables import (
    Retention,
    change_row,
    digest_id,
    fetch_dicts,
    in_values,
    plain,
    row_by_id,
    update_rows,
)
from cityaware.geo.store.lockorder import ordered_write
from cityaware.geo.store.sensor_state import ScreeningQuery, refuse_unknown
from cityaware.geo.store.times import from_ms

SCOPES = ("sensor", "kind")
_SENSOR_COLUMNS: tuple[str, ...] = ("id", "reading_value", "reading_at", "online", "alarm")
_SENSOR_COLUMNS += (
    "device_kind",
    "alarm_low",
    "alarm_high",
    "grid_code",
    "generation",
    "lon",
    "lat",
)


def alarm_id(sensor_id: str, rule: str, opened_at: int) -> str:
    """The id of the alarm of ``sensor_id`` opened at ``opened_at``: the same reading always
    opens the same alarm, so a retried batch cannot open a second one."""
    return digest_id("al_", sensor_id, rule, opened_at)


@dataclass(frozen=True)
class ReadingBatch:
    """Aligned columns of a batch: sensor id, value, time (epoch ms), unit (or None)."""

    sensors: Sequence[str]
    values: Sequence[float] | npt.NDArray[np.float64]
    at: Sequence[int] | npt.NDArray[np.int64]
    units: Sequence[str | None]

    def __len__(self) -> int:
        return len(self.sensors)


@dataclass
class WriteReport:
    """What a write did: readings accepted, new history rows, readings evaluated (newer than
    the sensor's last), and the alarms whose incident must be created or brought up to date
    (``alarms``: rows as dicts, with ``change`` = opened, updated or cleared)."""

    accepted: int = 0
    stored: int = 0
    evaluated: int = 0
    alarms: list[dict[str, Any]] = field(default_factory=list)


class ReadingStore:
    """Readings, thresholds and alarms over a feature store's backend and tables.

    ``sync_ms``: how often an open alarm's incident is brought up to date by further bad
    readings; ``retention_ms``: how long readings are kept.
    """

    def __init__(self, store: Any, retention_ms: int, sync_ms: int = 60_000) -> None:
        self.store = store
        self.backend = store.backend
        self.tables = store.tables
        self.retention_ms, self.sync_ms = retention_ms, sync_ms
        self._retention = Retention(self.tables["readings"], retention_ms)
        self._screening = ScreeningQuery(store.features, self.tables)

    # --- thresholds ------------------------------------------------------------

    def set_threshold(self, scope: str, target: str, threshold: Threshold, now: int) -> None:
        """Create or replace the threshold of a sensor (scope ``sensor``) or device kind."""
        if scope not in SCOPES:
            raise InvalidInput(f"scope must be one of {', '.join(SCOPES)}, got {scope!r}")
        table = self.tables["thresholds"]
        row = {"scope": scope, "target": target, **asdict(threshold), "updated_at": now}

        def replace(conn: sa.Connection) -> None:
            if scope == "sensor":
                self._sensor_rows(conn, [target])
            conn.execute(table.delete().where(table.c.scope == scope, table.c.target == target))
            conn.execute(table.insert(), [row])

        ordered_write(self.store, replace)

    def delete_threshold(self, scope: str, target: str) -> None:
        """Remove a threshold (NotFound when there is none)."""
        table = self.tables["thresholds"]
        gone = ordered_write(
            self.store,
            lambda conn: (
                conn.execute(
                    table.delete().where(table.c.scope == scope, table.c.target == target)
                ).rowcount
            ),
        )
        if not gone:
            raise NotFound(f"no {scope} threshold for {target!r}")

    def thresholds(self) -> list[dict[str, Any]]:
        """Every threshold, sensor ones first."""
        table = self.tables["thresholds"]
        with self.backend.read() as conn:
            rows = conn.execute(sa.select(table).order_by(table.c.scope.desc(), table.c.target))
            return [plain(r) | {"updated_at": from_ms(r["updated_at"])} for r in rows.mappings()]

    # --- writes ------------------------------------------------------------------

    def write(self, batch: ReadingBatch, now: int) -> WriteReport:
        """Store a batch and evaluate its alarms (see the module doc).

        Columnar: the history is one executemany, the sensors one UPDATE, and the
        thresholds are screened over arrays (:mod:`geo.live.screen`); only sensors with an
        open alarm or a reading past a bound go through :func:`evaluate` one by one."""
        ids = sorted(set(batch.sensors))
        code_of = {s: i for i, s in enumerate(ids)}
        codes = np.fromiter(map(code_of.__getitem__, batch.sensors), np.int64, len(batch))
        at = np.asarray(batch.at, dtype=np.int64)
        values = np.asarray(batch.values, dtype=np.float64)
        order = np.lexsort((at, codes))  # stable: a duplicate keeps its first occurrence
        codes, at, values = codes[order], at[order], values[order]
        units = [batch.units[i] for i in order.tolist()]
        return ordered_write(
            self.store, lambda conn: self._write(conn, ids, codes, at, values, units, now)
        )

    def _write(
        self,
        conn: sa.Connection,
        ids: list[str],
        codes: np.ndarray,
        at: np.ndarray,
        values: np.ndarray,
        units: list[str | None],
        now: int,
    ) -> WriteReport:
        """One attempt of :meth:`write`: the readings sorted by sensor and time, ``codes``
        their sensor's index in the sorted ``ids``."""
        report = WriteReport(accepted=len(codes))
        state = self._screening.run(conn, ids)
        report.stored = insert_ignore_columns(
            conn,
            self.tables["readings"],
            {
                "sensor_id": [ids[c] for c in codes.tolist()],
                "at": at.tolist(),
                "value": values.tolist(),
                "unit": units,
            },
        )
        newer = at > state.previous.at[codes]
        report.evaluated = int(newer.sum())
        picked = np.flatnonzero(newer)
        codes, at, values = codes[picked], at[picked], values[picked]
        crossing = screen(codes, at, values, state.bounds, state.previous)
        last = np.flatnonzero(group_ends(codes))  # each sensor's newest reading
        alarm = np.zeros(len(ids), dtype=bool)
        has_newer = np.zeros(len(ids), dtype=bool)
        has_newer[codes] = True
        exact = state.has_open & has_newer  # an open alarm may stay, update or clear
        exact[codes[crossing]] = True  # a closed one may open
        exact_codes = np.flatnonzero(exact).tolist()
        changes: list[dict[str, Any]] = []
        alarm_rows: list[dict[str, Any]] = []
        if exact_codes:
            bounds = zip(
                np.searchsorted(codes, exact_codes, side="left").tolist(),
                np.searchsorted(codes, exact_codes, side="right").tolist(),
                strict=True,
            )
            groups = {
                ids[c]: list(zip(at[a:b].tolist(), values[a:b].tolist(), strict=True))
                for c, (a, b) in zip(exact_codes, bounds, strict=True)
            }
            opened = self._evaluate_exact(conn, groups, changes, alarm_rows, now)
            alarm[exact_codes] = [opened[ids[c]] for c in exact_codes]
        touched = codes[last]
        flipped = touched[(state.alarm[touched] != alarm[touched]) | ~state.online[touched]]
        flipped = flipped[~exact[flipped]]  # the exact ones added their own change
        if len(flipped):
            rows = self._sensor_rows(conn, [ids[c] for c in flipped.tolist()])
            changes += [_change("sensors", sid, "update", r, now) for sid, r in rows.items()]
        update_columns(
            conn,
            self.store.features,
            "fid",
            {
                "fid": state.fid[touched].tolist(),
                "reading_value": values[last].tolist(),
                "reading_at": at[last].tolist(),
                "reading_unit": [units[i] for i in picked[last].tolist()],
                "online": [True] * len(last),
                "alarm": alarm[touched].tolist(),
            },  # fid: the rows the screening read (and on PostgreSQL locked) just now
        )
        report.alarms = self._save_alarms(conn, alarm_rows, now)
        if changes:
            self.store.changelog.append_rows(conn, changes)
        self._retention.prune(conn, now)
        return report

    def _evaluate_exact(
        self,
        conn: sa.Connection,
        groups: dict[str, list[tuple[int, float]]],
        changes: list[dict[str, Any]],
        alarm_rows: list[dict[str, Any]],
        now: int,
    ) -> dict[str, bool]:
        """Run each sensor's newer readings ``groups[id]`` through :func:`evaluate`, adding
        alarm rows and changes; returns whether each one's value alarm is open after them."""
        chosen = list(groups)
        sensors = self._sensor_rows(conn, chosen)
        thresholds = self._thresholds_for(conn, sensors.values())
        open_alarms = self._open_alarms(conn, chosen)
        return {
            sid: self._evaluate_sensor(
                sensors[sid], readings, thresholds.get(sid), open_alarms, changes, alarm_rows, now
            )
            for sid, readings in groups.items()
        }

    def _evaluate_sensor(
        self,
        sensor: dict[str, Any],
        readings: list[tuple[int, float]],
        threshold: Threshold | None,
        open_alarms: dict[tuple[str, str], dict[str, Any]],
        changes: list[dict[str, Any]],
        alarm_rows: list[dict[str, Any]],
        now: int,
    ) -> bool:
        """One sensor of :meth:`_evaluate_exact`."""
        sid = sensor["id"]
        current = open_alarms.get((sid, "value"))
        state = SensorState(sensor["reading_value"], sensor["reading_at"], current is not None)
        if threshold is not None and threshold.checks_values:
            step = evaluate(threshold, state, readings)
        else:
            step = Step(last=readings[-1], open=current is not None)
        offline = open_alarms.get((sid, "offline"))
        if offline is not None:  # a reading ends the silence
            alarm_rows.append(_cleared(offline, readings[0][0], readings[0][1]))
            changes.append(_change("alarms", offline["id"], "clear", sensor, now))
        alarm_rows += self._episodes(sensor, threshold, step, current, changes, now)
        if bool(sensor["alarm"]) != step.open or not sensor["online"]:
            changes.append(_change("sensors", sid, "update", sensor, now))
        return step.open

    def sweep_offline(self, now: int) -> WriteReport:
        """Mark sensors offline whose threshold's ``offline_minutes`` passed without a
        reading (since the last one, or since they were created) and open their offline
        alarm. Run it periodically (the server's live worker does)."""
        return ordered_write(self.store, lambda conn: self._sweep(conn, now))

    def _sweep(self, conn: sa.Connection, now: int) -> WriteReport:
        """One attempt of :meth:`sweep_offline`."""
        features = self.store.features
        report = WriteReport()
        table = self.tables["thresholds"]
        limits = conn.execute(
            sa.select(sa.func.min(table.c.offline_minutes)).where(
                table.c.offline_minutes.isnot(None)
            )
        ).scalar_one_or_none()
        if limits is None:
            return report
        cutoff = now - int(limits * MINUTE_MS)
        seen = sa.func.coalesce(features.c.reading_at, features.c.created_at)
        rows = conn.execute(
            sa.select(*(features.c[n] for n in _SENSOR_COLUMNS), seen.label("seen")).where(
                features.c.kind == "sensors", features.c.online == sa.true(), seen < cutoff
            )
        ).mappings()
        candidates = {r["id"]: plain(r) for r in rows}
        thresholds = self._thresholds_for(conn, candidates.values())
        open_alarms = self._open_alarms(conn, sorted(candidates))
        changes: list[dict[str, Any]] = []
        alarm_rows: list[dict[str, Any]] = []
        silent: list[dict[str, Any]] = []
        for sid, sensor in candidates.items():
            threshold = thresholds.get(sid)
            if threshold is None or threshold.offline_minutes is None:
                continue
            due = sensor["seen"] + int(threshold.offline_minutes * MINUTE_MS)
            if due > now:
                continue
            silent.append({"id": sid, "online": False})
            changes.append(_change("sensors", sid, "update", sensor, now))
            if (sid, "offline") not in open_alarms:
                row = _opened(sensor, "offline", due, sensor["reading_value"], "offline", threshold)
                alarm_rows.append(row)
                changes.append(_change("alarms", row["id"], "open", sensor, now))
        self._update_sensors(conn, silent)
        report.alarms = self._save_alarms(conn, alarm_rows, now)
        if changes:
            self.store.changelog.append_rows(conn, changes)
        return report

    # --- alarms and incidents ----------------------------------------------------

    def alarm(self, alarm_id: str) -> dict[str, Any]:
        """One alarm (NotFound if absent)."""
        with self.backend.read() as conn:
            return row_by_id(conn, self.tables["alarms"], alarm_id, "alarm")

    def alarms(
        self,
        sensor_id: str | None = None,
        state: str | None = None,
        limit: int = 1000,
        ids: Sequence[str] | None = None,
    ) -> list[dict[str, Any]]:
        """Alarms, newest first, optionally of one sensor, in one state or with these ids."""
        table = self.tables["alarms"]
        stmt = sa.select(table).order_by(table.c.opened_at.desc(), table.c.id).limit(limit)
        if ids is not None:
            stmt = stmt.where(table.c.id.in_(list(ids)))
        if sensor_id is not None:
            stmt = stmt.where(table.c.sensor_id == sensor_id)
        if state is not None:
            stmt = stmt.where(table.c.state == state)
        with self.backend.read() as conn:
            return [plain(r) for r in conn.execute(stmt).mappings()]

    def unsynced(self, limit: int = 1000) -> list[dict[str, Any]]:
        """Alarms whose incident is missing or behind their clearing (after a crash between
        the reading write and the incident write): the live worker repairs them."""
        table = self.tables["alarms"]
        behind = sa.and_(
            table.c.cleared_at.isnot(None),
            sa.or_(table.c.synced_at.is_(None), table.c.synced_at < table.c.cleared_at),
        )
        stmt = sa.select(table).where(sa.or_(table.c.incident_id.is_(None), behind))
        with self.backend.read() as conn:
            rows = conn.execute(stmt.order_by(table.c.opened_at).limit(limit)).mappings()
            return [plain(r) for r in rows]

    def mark_synced(self, synced: Sequence[tuple[str, str, int]]) -> None:
        """Record, for each ``(alarm id, incident id, now)``, that the alarm's incident is
        that one and up to date as of ``now``: one transaction (feed counter first) for
        all the alarms a sync brought up to date, so one commit."""
        if not synced:
            return
        table = self.tables["alarms"]
        rows = [{"id": a, "incident_id": i, "synced_at": at} for a, i, at in synced]
        ordered_write(self.store, lambda conn: update_rows(conn, table, rows, ("id",)))

    # --- history -------------------------------------------------------------------

    def history(
        self, sensor_id: str, start: int | None, end: int | None, limit: int = 10_000
    ) -> list[dict[str, Any]]:
        """Readings of one sensor in ``[start, end]`` (epoch ms), oldest first."""
        table = self.tables["readings"]
        stmt = sa.select(table.c.at, table.c.value, table.c.unit).where(
            table.c.sensor_id == sensor_id
        )
        if start is not None:
            stmt = stmt.where(table.c.at >= start)
        if end is not None:
            stmt = stmt.where(table.c.at <= end)
        with self.backend.read() as conn:
            self._sensor_rows(conn, [sensor_id])
            rows = conn.execute(stmt.order_by(table.c.at).limit(limit)).mappings()
            return [{"at": from_ms(r["at"]), "value": r["value"], "unit": r["unit"]} for r in rows]

    # --- internals -----------------------------------------------------------------

    def _sensor_rows(self, conn: sa.Connection, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The sensors ``ids`` (InvalidInput naming the unknown ones: nothing is written)."""
        f = self.store.features
        stmt = sa.select(*(f.c[n] for n in _SENSOR_COLUMNS)).where(
            f.c.kind == "sensors", in_values(conn, f.c.id, list(ids))
        )
        found = {r["id"]: r for r in fetch_dicts(conn, stmt)}
        if len(found) != len(ids):
            refuse_unknown(ids, found)
        return found

    def _thresholds_for(
        self, conn: sa.Connection, sensors: Iterable[dict[str, Any]]
    ) -> dict[str, Threshold]:
        sensors = list(sensors)
        table = self.tables["thresholds"]
        names = [c.name for c in table.c if c.name not in ("scope", "target", "updated_at")]
        rows = fetch_dicts(
            conn,
            sa.select(table).where(
                sa.or_(
                    table.c.scope == "kind",
                    sa.and_(
                        table.c.scope == "sensor",
                        in_values(conn, table.c.target, [s["id"] for s in sensors]),
                    ),
                )
            ),
        )
        found = {(r["scope"], r["target"]): Threshold(**{n: r[n] for n in names}) for r in rows}
        out: dict[str, Threshold] = {}
        for s in sensors:
            threshold = found.get(("sensor", s["id"])) or found.get(
                ("kind", s["device_kind"] or "")
            )
            if threshold is None and (s["alarm_low"] is not None or s["alarm_high"] is not None):
                threshold = Threshold(min=s["alarm_low"], max=s["alarm_high"])
            if threshold is not None:
                out[s["id"]] = threshold
        return out

    def _open_alarms(
        self, conn: sa.Connection, ids: Sequence[str]
    ) -> dict[tuple[str, str], dict[str, Any]]:
        table = self.tables["alarms"]
        rows = fetch_dicts(
            conn,
            sa.select(table).where(
                table.c.state == "open", in_values(conn, table.c.sensor_id, list(ids))
            ),
        )
        return {(r["sensor_id"], r["rule"]): r for r in rows}

    def _episodes(
        self,
        sensor: dict[str, Any],
        threshold: Threshold | None,
        step: Step,
        current: dict[str, Any] | None,
        changes: list[dict[str, Any]],
        now: int,
    ) -> list[dict[str, Any]]:
        """Alarm rows (new or changed) for the value alarm's episodes of one sensor."""
        rows = []
        for episode in step.episodes:
            if episode.opened is not None:
                opened = episode.opened
                row = _opened(sensor, "value", opened.at, opened.value, opened.reason, threshold)
                changes.append(_change("alarms", row["id"], "open", sensor, now))
            elif current is not None:
                row = {**current, "change": "updated"}
            else:
                continue
            _add_bad(row, episode, threshold)
            if episode.cleared is not None:
                row = _cleared(row, episode.cleared.at, episode.cleared.value)
                changes.append(_change("alarms", row["id"], "clear", sensor, now))
            rows.append(row)
        return rows

    def _save_alarms(
        self, conn: sa.Connection, rows: list[dict[str, Any]], now: int
    ) -> list[dict[str, Any]]:
        """Insert opened alarms, update the others; returns those whose incident needs
        creating or bringing up to date (updates at most every ``sync_ms``)."""
        table = self.tables["alarms"]
        columns = [c.name for c in table.c]
        inserts = [r for r in rows if r["change"] == "opened"]
        updates = [r for r in rows if r["change"] != "opened"]
        if inserts:
            conn.execute(table.insert(), [{n: r.get(n) for n in columns} for r in inserts])
        update_rows(conn, table, [{n: r[n] for n in columns} for r in updates], ("id",))
        due = now - self.sync_ms
        return [
            r
            for r in rows
            if r["change"] != "updated" or r["synced_at"] is None or r["synced_at"] <= due
        ]

    def _update_sensors(self, conn: sa.Connection, rows: list[dict[str, Any]]) -> None:
        """Update sensor features by id (rows: id and the columns to set)."""
        sensors = [{"kind": "sensors", **r} for r in rows]
        update_rows(conn, self.store.features, sensors, ("kind", "id"))


def _opened(
    sensor: dict[str, Any],
    rule: str,
    at: int,
    value: float | None,
    reason: str | None,
    threshold: Threshold | None,
) -> dict[str, Any]:
    threshold = threshold or Threshold()
    return {
        "category": threshold.category,
        "priority": threshold.priority,
        "lon": sensor["lon"],
        "lat": sensor["lat"],
        "id": alarm_id(sensor["id"], rule, at),
        "sensor_id": sensor["id"],
        "rule": rule,
        "state": "open",
        "reason": reason,
        "opened_at": at,
        "cleared_at": None,
        "first_value": value,
        "last_value": value,
        "worst_value": value,
        "last_at": at,
        "bad_readings": 0,
        "grid_code": sensor["grid_code"],
        "generation": sensor["generation"],
        "incident_id": None,
        "synced_at": None,
        "change": "opened",
    }


def _add_bad(row: dict[str, Any], episode: Episode, threshold: Threshold | None) -> None:
    row["bad_readings"] += episode.bad_readings
    if episode.last_bad is not None:
        row["last_at"], row["last_value"] = episode.last_bad
    if episode.worst is not None and threshold is not None:
        old = row["worst_value"]
        if old is None or badness(threshold, episode.worst) > badness(threshold, old):
            row["worst_value"] = episode.worst


def _cleared(row: dict[str, Any], at: int, value: float) -> dict[str, Any]:
    change = "opened" if row.get("change") == "opened" else "cleared"
    return {**row, "state": "cleared", "cleared_at": at, "change": change, "clear_value": value}


def _change(kind: str, id: str, op: str, sensor: dict[str, Any], now: int) -> dict[str, Any]:
    grid = sensor["grid_code"]
    return change_row(kind, id, op, grid, grid, sensor["generation"], now)
