"""Statistics of the features in a region under any filter, computed by the store in SQL.

Counts by category, status, channel and (local) day; the grids with the most
open incidents; the closure rate (resolved or closed / all); and the on-time
rate: among incidents whose move to ``resolved`` is in the status history,
the share resolved within ``sla_hours`` of being reported.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import sqlalchemy as sa

from cityaware.geo.store import FeatureFilter
from cityaware.geo.store.filters import filter_clauses
from cityaware.geo.store.taxonomy import OPEN_STATUSES

GROUPS = {
    "incidents": ("category", "status", "channel", "day"),
    "cameras": ("device_kind", "online", "day"),
    "sensors": ("device_kind", "online", "day"),
}
CLOSED = ("resolved", "closed")


def region_stats(
    store: Any, kind: str, filters: FeatureFilter, sla_hours: float = 72, top: int = 10
) -> dict[str, Any]:
    """All statistics of ``kind`` features matching ``filters``.

    >>> region_stats(store, "incidents", FeatureFilter(region="410105"))["total"]  # doctest: +SKIP
    60
    """
    out: dict[str, Any] = {"kind": kind, "total": store.count(kind, filters)}
    for key in GROUPS[kind]:
        rows = store.aggregate(kind, [key], filters)
        if key == "day":
            rows = sorted(rows, key=lambda r: r["day"] or "")
        out[f"by_{key}"] = {str(r[key]): r["count"] for r in rows}
    if kind != "incidents":
        return out
    open_filter = replace(filters, status=list(OPEN_STATUSES))
    grids = store.aggregate(kind, ["grid"], open_filter)[:top]
    out["top_grids_by_open"] = [{"grid_code": r["grid"], "open": r["count"]} for r in grids]
    closed = sum(out["by_status"].get(s, 0) for s in CLOSED)
    out["closure_rate"] = closed / out["total"] if out["total"] else None
    resolved, on_time = _on_time(store, kind, filters, sla_hours)
    out["on_time"] = {
        "sla_hours": sla_hours,
        "resolved_with_history": resolved,
        "on_time": on_time,
        "rate": on_time / resolved if resolved else None,
    }
    return out


def _on_time(store: Any, kind: str, filters: FeatureFilter, sla_hours: float) -> tuple[int, int]:
    """(incidents with a logged move to resolved, of which within the SLA)."""
    history, features = store.tables["status_history"], store.features
    first = (
        sa.select(history.c.feature_id, sa.func.min(history.c.at).label("resolved_at"))
        .where(history.c.kind == kind, history.c.to_status == "resolved")
        .group_by(history.c.feature_id)
        .subquery()
    )
    sla_ms = int(sla_hours * 3_600_000)
    within = sa.case((first.c.resolved_at - features.c.reported_at <= sla_ms, 1), else_=0)
    stmt = (
        sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(within), 0))
        .select_from(features.join(first, first.c.feature_id == features.c.id))
        .where(*filter_clauses(store.backend, features, kind, filters))
    )
    with store.backend.read() as conn:
        resolved, on_time = conn.execute(stmt).one()
    return int(resolved), int(on_time)
