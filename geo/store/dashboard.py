"""What the wall's dashboard reads from the store beyond cases: device states, open alarms,
escalations and supervision (督办) events.

Cases come from :func:`geo.store.casework.case_frame`; this module adds the two
device figures (sensors in alarm, devices offline), the newest open alarms, the count
of cases escalated in a time span (from each case's ``hotline.escalations``) and the
newest supervision events of the change feed (deadline near, overdue, escalated),
each restricted by a :class:`~geo.store.filters.FeatureFilter` (usually just ``region``).

>>> DeviceFigures(sensors_in_alarm=2, offline={"cameras": 1, "sensors": 3}).devices_offline
4
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from cityaware.geo.store.casework import supervision_op
from cityaware.geo.store.filters import FeatureFilter, filter_clauses
from cityaware.geo.store.live_tables import plain
from cityaware.geo.store.times import from_ms

if TYPE_CHECKING:
    from cityaware.geo.store.store import FeatureStore

DEVICE_KINDS = ("cameras", "sensors")
EVENT_FIELDS = ("title", "category", "status", "lon", "lat", "grid_code")


@dataclass(frozen=True)
class DeviceFigures:
    """Sensors whose last reading is out of bounds and offline devices per kind."""

    sensors_in_alarm: int
    offline: dict[str, int] = field(default_factory=dict)

    @property
    def devices_offline(self) -> int:
        """Offline devices of every kind."""
        return sum(self.offline.values())


def device_figures(store: FeatureStore, filters: FeatureFilter | None = None) -> DeviceFigures:
    """Sensors in alarm and offline devices among the devices matching ``filters``.

    >>> device_figures(store, FeatureFilter(region="990105")).sensors_in_alarm  # doctest: +SKIP
    12
    """
    f = store.features
    offline: dict[str, int] = {}
    with store.backend.read() as conn:
        for kind in DEVICE_KINDS:
            where = filter_clauses(store.backend, f, kind, filters)
            stmt = sa.select(sa.func.count()).where(*where, f.c.online == sa.false())
            offline[kind] = int(conn.execute(stmt).scalar_one())
        where = filter_clauses(store.backend, f, "sensors", filters)
        stmt = sa.select(sa.func.count()).where(*where, f.c.alarm == sa.true())
        alarm = int(conn.execute(stmt).scalar_one())
    return DeviceFigures(alarm, offline)


def open_alarms(
    store: FeatureStore, filters: FeatureFilter | None = None, limit: int = 20
) -> list[dict[str, Any]]:
    """The newest open alarms of the sensors matching ``filters``, newest first.

    >>> open_alarms(store, FeatureFilter(region="990105"), limit=5)[0]["state"]  # doctest: +SKIP
    'open'
    """
    f, alarms = store.features, store.tables["alarms"]
    sensor = sa.select(1).where(  # per open alarm: one look-up, not every sensor's id
        *filter_clauses(store.backend, f, "sensors", filters), f.c.id == alarms.c.sensor_id
    )
    stmt = (
        sa.select(alarms)
        .where(alarms.c.state == "open", sensor.exists())
        .order_by(alarms.c.opened_at.desc(), alarms.c.id)
        .limit(limit)
    )
    with store.backend.read() as conn:
        return [plain(dict(r)) for r in conn.execute(stmt).mappings()]


def _escalated_between(backend_name: str, attributes: Any, since: int | None, until: int) -> Any:
    """SQL: the case's ``hotline.escalations`` has a step with ``since <= at <= until``."""
    low = -(2**62) if since is None else int(since)
    if backend_name == "sqlite":
        steps = sa.func.json_each(attributes, "$.hotline.escalations").table_valued("value")
        at = sa.func.json_extract(steps.c.value, "$.at")
        return sa.select(1).select_from(steps).where(at >= low, at <= int(until)).exists()
    from sqlalchemy.dialects.postgresql import JSONB, JSONPATH

    bounds = sa.func.jsonb_build_object("low", low, "high", int(until))
    path = sa.cast(sa.literal("$.hotline.escalations[*] ? (@.at >= $low && @.at <= $high)"),
                   JSONPATH)  # fmt: skip
    return sa.func.jsonb_path_exists(sa.cast(attributes, JSONB), path, bounds)


def escalated_cases(
    store: FeatureStore, filters: FeatureFilter | None, since: int | None, until: int
) -> int:
    """Incidents matching ``filters`` escalated (a step of ``hotline.escalations``) between
    ``since`` and ``until`` (epoch ms, inclusive; ``since`` None: from the start).

    An escalation writes the case, so only cases updated since ``since`` are read.

    >>> escalated_cases(store, FeatureFilter(region="990105"), 0, now)  # doctest: +SKIP
    3
    """
    f = store.features
    scope = replace(filters or FeatureFilter(), since=since, until=None, time_field="updated_at")
    where = filter_clauses(store.backend, f, "incidents", scope)
    escalated = _escalated_between(store.backend_name, f.c.attributes, since, until)
    with store.backend.read() as conn:
        return int(conn.execute(sa.select(sa.func.count()).where(*where, escalated)).scalar_one())


def supervision_events(
    store: FeatureStore, filters: FeatureFilter | None, since: int | None, limit: int = 20
) -> list[dict[str, Any]]:
    """The newest supervision events (change ``op`` in :data:`SUPERVISION_OPS`) since
    ``since`` (epoch ms; None: all the feed keeps) on incidents matching ``filters``, newest
    first: ``seq``, ``op``, ``at`` (ISO), the case's ``id`` and its list fields.

    >>> supervision_events(store, FeatureFilter(region="990105"), None)[0]["op"]  # doctest: +SKIP
    'overdue'
    """
    f, c = store.features, store.changelog.table
    scope = replace(filters or FeatureFilter(), since=None, until=None)
    where = [*filter_clauses(store.backend, f, "incidents", scope),
             c.c.kind == "incidents", supervision_op(c.c.op)]  # fmt: skip
    if since is not None:
        where.append(c.c.at >= int(since))
    stmt = (
        sa.select(c.c.seq, c.c.op, c.c.at, f.c.id, *(f.c[name] for name in EVENT_FIELDS))
        .select_from(c.join(f, sa.and_(f.c.kind == c.c.kind, f.c.id == c.c.feature_id)))
        .where(*where)
        .order_by(c.c.seq.desc())
        .limit(limit)
    )
    with store.backend.read() as conn:
        rows = [plain(r) for r in conn.execute(stmt).mappings()]
    return [{**row, "seq": int(row["seq"]), "at": from_ms(row["at"])} for row in rows]


HOUR_MS = 3_600_000


def hourly_counts(
    store: FeatureStore, filters: FeatureFilter | None, start: int, until: int
) -> list[int]:
    """Incidents matching ``filters`` reported per hour of the 24 hours from ``start``
    (epoch ms) up to ``until`` (inclusive), counted in SQL over the time index.

    >>> hourly_counts(store, FeatureFilter(region="990105"), midnight, now)[:3]  # doctest: +SKIP
    [12, 7, 4]
    """
    f = store.features
    end = min(int(until), int(start) + 24 * HOUR_MS - 1)
    scope = replace(filters or FeatureFilter(), since=int(start), until=end)
    hour = ((f.c.reported_at - int(start)) // HOUR_MS).label("hour")
    where = filter_clauses(store.backend, f, "incidents", scope)
    stmt = sa.select(hour, sa.func.count()).where(*where).group_by(hour)
    counts = [0] * 24
    with store.backend.read() as conn:
        for at, n in conn.execute(stmt):
            counts[int(at)] = int(n)
    return counts


def _json_number(backend_name: str, column: Any, path: tuple[str, ...]) -> Any:
    """SQL: the number at ``path`` in the JSON text ``column`` (NULL when absent)."""
    if backend_name == "sqlite":
        return sa.func.json_extract(column, "$." + ".".join(path))
    from sqlalchemy.dialects.postgresql import JSONB

    text = sa.func.jsonb_extract_path_text(sa.cast(column, JSONB), *path)
    return sa.cast(text, sa.Numeric)


def replied_since(
    store: FeatureStore, filters: FeatureFilter | None, statuses: tuple[str, ...], since: int
) -> int:
    """Incidents matching ``filters`` in one of ``statuses`` whose reply
    (``hotline.reply.at``) is at or after ``since`` (epoch ms). A reply writes the case,
    so only cases updated since ``since`` are read.

    >>> replied_since(store, None, ("resolved", "closed"), midnight)  # doctest: +SKIP
    231
    """
    f = store.features
    scope = replace(filters or FeatureFilter(), since=int(since), until=None,
                    time_field="updated_at", status=list(statuses))  # fmt: skip
    where = filter_clauses(store.backend, f, "incidents", scope)
    reply_at = _json_number(store.backend_name, f.c.attributes, ("hotline", "reply", "at"))
    stmt = sa.select(sa.func.count()).where(*where, reply_at >= int(since))
    with store.backend.read() as conn:
        return int(conn.execute(stmt).scalar_one())
