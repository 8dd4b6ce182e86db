"""The wall's modes: the emergency mode (平急联动) every wall shows, in the ``wall_modes`` table.

Each switch appends a ``wall`` change (``emergency-on`` / ``emergency-off``, the
incident as its id) to the change feed in the same transaction, so every wall
hears of it through ``/v1/events``.

>>> sorted(c.name for c in wall_modes_table(sa.MetaData()).c)
['by', 'incident_id', 'mode', 'since']
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from cityaware.geo.store.live_tables import change_row
from cityaware.geo.store.times import from_ms, now_ms

if TYPE_CHECKING:
    from cityaware.geo.store.store import FeatureStore

WALL_MODES = "wall_modes"
WALL_KIND = "wall"


def wall_modes_table(metadata: sa.MetaData) -> sa.Table:
    """The wall's modes: one row per mode that is on (``emergency``: its incident)."""
    return sa.Table(
        WALL_MODES,
        metadata,
        sa.Column("mode", sa.String(16), primary_key=True),
        sa.Column("incident_id", sa.String(64), nullable=False),
        sa.Column("since", sa.BigInteger, nullable=False),
        sa.Column("by", sa.Text),
    )


def set_emergency(store: FeatureStore, incident_id: str | None, by: str = "") -> int:
    """Turn the emergency mode on for ``incident_id`` (None: off); returns the change seq.

    >>> set_emergency(store, "INC-0000001", by="ops")  # doctest: +SKIP
    4711
    """
    table, now = store.tables[WALL_MODES], now_ms()
    with store.backend.write() as conn:
        current = conn.execute(sa.select(table.c.incident_id).where(table.c.mode == "emergency"))
        previous = current.scalar_one_or_none()
        conn.execute(table.delete().where(table.c.mode == "emergency"))
        if incident_id is not None:
            row = {"mode": "emergency", "incident_id": incident_id, "since": now, "by": by}
            conn.execute(table.insert(), [row])
        op = "emergency-on" if incident_id is not None else "emergency-off"
        change = change_row(WALL_KIND, incident_id or previous or "", op, None, None, None, now)
        store.changelog.append_rows(conn, [change])
    return store.data_version()


def emergency(store: FeatureStore) -> dict[str, Any] | None:
    """The emergency mode's incident id, since when (ISO) and who turned it on; None when off."""
    table = store.tables[WALL_MODES]
    with store.backend.read() as conn:
        row = conn.execute(sa.select(table).where(table.c.mode == "emergency")).mappings().first()
    if row is None:
        return None
    return {"incident_id": row["incident_id"], "since": from_ms(row["since"]), "by": row["by"]}
