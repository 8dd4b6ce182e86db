"""Statistics of the features in a region under any filter, computed by the store in SQL.

Counts by category, status, channel and (local) day; the grids with the most
open incidents (none where the city has no grids); the closure rate (resolved
or closed / all); and the on-time rate: among incidents whose move to
``resolved`` is in the status history, the share resolved within ``sla_hours``
of being reported.

>>> GROUPS["cameras"]
('device_kind', 'online', 'day')
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from cityaware.geo.store import FeatureFilter
from cityaware.geo.store.reads import StoreReads
from cityaware.geo.store.taxonomy import CLOSED_STATUSES, OPEN_STATUSES

GROUPS = {
    "incidents": ("category", "status", "channel", "day"),
    "cameras": ("device_kind", "online", "day"),
    "sensors": ("device_kind", "online", "day"),
}
HOUR_MS = 3_600_000


def region_stats(
    store: StoreReads, kind: str, filters: FeatureFilter, sla_hours: float = 72, top: int = 10
) -> dict[str, Any]:
    """All statistics of ``kind`` features matching ``filters``.

    >>> region_stats(store, "incidents", FeatureFilter(region="410202"))["total"]  # doctest: +SKIP
    60
    """
    out: dict[str, Any] = {"kind": kind, "total": 0}
    for key in GROUPS[kind]:
        rows = store.aggregate(kind, [key], filters)
        if key == "day":
            rows = sorted(rows, key=lambda r: r["day"] or "")
        out[f"by_{key}"] = {str(r[key]): r["count"] for r in rows}
    out["total"] = sum(out[f"by_{GROUPS[kind][0]}"].values())  # every feature has one value
    if kind != "incidents":
        return out
    open_filter = replace(filters, status=list(OPEN_STATUSES))
    grids = [r for r in store.aggregate(kind, ["grid"], open_filter) if r["grid"]][:top]
    out["top_grids_by_open"] = [{"grid_code": r["grid"], "open": r["count"]} for r in grids]
    closed = sum(out["by_status"].get(s, 0) for s in CLOSED_STATUSES)
    out["closure_rate"] = closed / out["total"] if out["total"] else None
    resolutions = store.resolutions(kind, filters, int(sla_hours * HOUR_MS))
    out["on_time"] = {
        "sla_hours": sla_hours,
        "resolved_with_history": resolutions.resolved,
        "on_time": resolutions.within,
        "rate": resolutions.rate,
    }
    return out
