"""What the wall's dashboard reads from the store beyond cases: device states, open alarms.

Cases come from :func:`geo.store.casework.case_frame`; this module adds the two
device figures (sensors in alarm, devices offline) and the newest open alarms,
each restricted by a :class:`~geo.store.filters.FeatureFilter` on the devices
(usually just ``region``).

>>> DeviceFigures(sensors_in_alarm=2, offline={"cameras": 1, "sensors": 3}).devices_offline
4
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from cityaware.geo.store.filters import FeatureFilter, filter_clauses
from cityaware.geo.store.live_tables import plain

if TYPE_CHECKING:
    from cityaware.geo.store.store import FeatureStore

DEVICE_KINDS = ("cameras", "sensors")


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
    sensors = sa.select(f.c.id).where(*filter_clauses(store.backend, f, "sensors", filters))
    stmt = (
        sa.select(alarms)
        .where(alarms.c.state == "open", alarms.c.sensor_id.in_(sensors.scalar_subquery()))
        .order_by(alarms.c.opened_at.desc(), alarms.c.id)
        .limit(limit)
    )
    with store.backend.read() as conn:
        return [plain(dict(r)) for r in conn.execute(stmt).mappings()]
