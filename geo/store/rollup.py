"""Counts of incidents answered from ``incident_counts`` (:mod:`geo.store.summary`).

:func:`plan` says whether an aggregate (``by`` keys and a filter) can be answered
from the counts, and how: by region (none, a city, district or zone, street; with
the grid level also community and grid), the whole local days inside
``since``/``until``, at most one of category, status and channel (grouped by or
filtered on; at grid level category, or statuses that are open). The parts of the
time range that cover part of a day are left to the raw rows (at most two partial
days), so the answer is exact and costs the same whatever the history holds.

>>> p = plan(["category"], FeatureFilter(region="990105", since=0, until=DAY_MS - 1), 0)
>>> (p.level, p.dim, p.days, p.edges)
('district', 'category', (0, 0), [])
>>> p = plan(["grid"], FeatureFilter(region="990105001"), 0)
>>> (p.level, p.dim)
('grid', 'category')
>>> plan(["channel"], FeatureFilter(bbox=(0, 0, 1, 1)), 0) is None
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from cityaware.geo.boundaries.levels import is_city_code
from cityaware.geo.store.filters import FeatureFilter
from cityaware.geo.store.summary import DAY_MS, DIMS, KIND
from cityaware.geo.store.taxonomy import OPEN_STATUSES
from cityaware.geo.store.times import to_ms

__all__ = ["KIND", "Plan", "plan"]
KEYS = ("grid", *DIMS, "day")
# the filter fields the counts can honour; any other field set sends the aggregate to raw rows
_SERVED = {"region", "since", "until", "time_field", "category", "status"}
NO_DAY = -1  # the day of a row without reported_at
Edge = tuple[int | None, int | None]


@dataclass(frozen=True)
class Plan:
    """How to answer from the counts: ``level`` and ``dim`` of the rows, the region
    ``clauses`` builder's inputs, whole ``days`` (first, last; None: open) and the partial
    ``edges`` (since, until in ms) left to raw rows."""

    level: str
    dim: str
    region: str | None
    values: tuple[str, ...] | None
    days: tuple[int | None, int | None]
    edges: list[Edge] = field(default_factory=list)


def plan(by: Sequence[str], filters: FeatureFilter | None, offset_ms: int) -> Plan | None:
    """The plan for ``by`` over ``filters``, or None when the counts cannot answer."""
    f = filters or FeatureFilter()
    if any(k not in KEYS for k in by) or f.time_field != "reported_at":
        return None
    given = {name for name in f.__dataclass_fields__ if _set(getattr(f, name))}
    if given - _SERVED:
        return None
    values_of = {"category": f.categories(), "status": _tuple(f.status)}
    dims = {k for k in by if k in DIMS} | {d for d, v in values_of.items() if v is not None}
    if len(dims) > 1:
        return None
    region = str(f.region) if f.region else None
    small = region is not None and not is_city_code(region) and len(region) not in (6, 9)
    grid = "grid" in by or small
    dim = next(iter(dims), "category" if grid else "status")
    values = values_of.get(dim)
    if grid and dim != "category" and not (dim == "status" and values and _open(values)):
        return None
    level = "grid" if grid else _level(region)
    days, edges = _days(f, offset_ms)
    if days[0] is not None and days[1] is not None and days[0] > days[1]:
        return None  # less than a whole day: the raw rows are few
    return Plan(level, dim, region, values, days, edges)


def edge_filter(filters: FeatureFilter | None, edge: Edge) -> FeatureFilter:
    """``filters`` narrowed to one partial-day ``edge`` (for the raw rows)."""
    return replace(filters or FeatureFilter(), since=edge[0], until=edge[1])


def counts_select(counts: sa.Table, p: Plan, by: Sequence[str]) -> sa.Select[Any]:
    """The SELECT of summed counts grouped by ``by`` (columns named as the keys, ``count``)."""
    c = counts.c
    columns = {"grid": c.unit, "day": c.day, **{d: c.value for d in DIMS}}
    groups = [columns[k].label(k) for k in by]
    total = sa.func.sum(c.n)
    clauses = [c.dim == p.dim, *_region(c, p)]
    if p.values is not None:
        clauses.append(c.value.in_(p.values))
    first, last = p.days
    if first is not None:
        clauses.append(c.day >= first)
    elif last is not None:
        clauses.append(c.day > NO_DAY)  # an upper bound leaves out rows without a time
    if last is not None:
        clauses.append(c.day <= last)
    stmt = sa.select(*groups, total.label("count")).where(*clauses)
    if groups:
        stmt = stmt.group_by(*groups)
    return stmt.having(total != 0)


def merge(
    rows: list[dict[str, Any]], extra: list[dict[str, Any]], by: Sequence[str]
) -> list[dict[str, Any]]:
    """Add the counts of ``extra`` rows into ``rows`` by their ``by`` keys."""
    totals: dict[tuple[Any, ...], int] = {}
    for row in (*rows, *extra):
        key = tuple(row[k] for k in by)
        totals[key] = totals.get(key, 0) + int(row["count"])
    return [{**dict(zip(by, key, strict=True)), "count": n} for key, n in totals.items() if n]


def shaped(rows: Sequence[Any], by: Sequence[str]) -> list[dict[str, Any]]:
    """Rows of :func:`counts_select` as the store's aggregate rows ('' is None, days as text)."""
    out = []
    for row in rows:
        record: dict[str, Any] = {}
        for key in by:
            value = row[key]
            if key == "day":
                record[key] = None if value == NO_DAY else str(np.datetime64(int(value), "D"))
            else:
                record[key] = value or None
        record["count"] = int(row["count"])
        out.append(record)
    return out


def shaped_frame(frame: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """A frame of :func:`counts_select` rows as :func:`shaped` makes them, vectorised.

    >>> shaped_frame(pd.DataFrame({"grid": ["", "g1"], "day": [0, -1], "count": [2, 1]}),
    ...              ["grid", "day"]).to_dict("list")
    {'grid': [None, 'g1'], 'day': ['1970-01-01', None], 'count': [2, 1]}
    """
    out = pd.DataFrame(index=frame.index)
    for key in by:
        values = frame[key]
        if key == "day":
            days = values.to_numpy(dtype="int64")
            text = days.astype("datetime64[D]").astype(str).astype(object)
            text[days == NO_DAY] = None
            out[key] = pd.Series(text, index=frame.index, dtype=object)
        else:
            column = np.array(values.astype(object).to_numpy(), dtype=object)
            column[(column == "") | pd.isna(column)] = None
            out[key] = pd.Series(column, index=frame.index, dtype=object)
    out["count"] = frame["count"].astype("int64")
    return out


def ordered(rows: list[dict[str, Any]], by: Sequence[str]) -> list[dict[str, Any]]:
    """Largest count first, ties by key (missing keys first)."""
    return sorted(
        rows, key=lambda r: (-r["count"], *((r[k] is not None, str(r[k] or "")) for k in by))
    )


def _region(c: sa.ColumnCollection[str, sa.Column[Any]], p: Plan) -> list[sa.ColumnElement[bool]]:
    code = p.region
    if p.level != "grid":
        six = p.level == "district" and code is not None  # a district or a zone
        clauses: list[sa.ColumnElement[bool]] = [
            c.level.in_(("district", "zone") if six else (p.level,))
        ]
        if code is None:
            return clauses
        if is_city_code(code):
            return [c.level == "district", c.unit.startswith(code[:4], autoescape=True)]
        return [*clauses, c.unit == code]
    clauses = [c.level == "grid"]
    if code is None:
        return clauses
    if is_city_code(code):
        return [*clauses, c.district.startswith(code[:4], autoescape=True)]
    column = {6: None, 9: c.street, 12: c.community}.get(len(code), c.unit)
    if column is None:
        return [*clauses, sa.or_(c.district == code, c.zone == code)]
    return [*clauses, column == code]


def _level(region: str | None) -> str:
    if region is None:
        return "all"
    if is_city_code(region) or len(region) == 6:
        return "district"
    return "street"


def _days(f: FeatureFilter, offset_ms: int) -> tuple[tuple[int | None, int | None], list[Edge]]:
    """Whole local days inside the bounds and the partial-day edges around them."""
    since = None if f.since is None else to_ms(f.since, "since")
    until = None if f.until is None else to_ms(f.until, "until")
    first = None if since is None else -((-(since + offset_ms)) // DAY_MS)  # ceil
    last = None if until is None else (until + offset_ms + 1) // DAY_MS - 1
    edges: list[Edge] = []
    if since is not None and first is not None and first * DAY_MS - offset_ms > since:
        edges.append((since, first * DAY_MS - offset_ms - 1))
    if until is not None and last is not None and (last + 1) * DAY_MS - offset_ms - 1 < until:
        edges.append(((last + 1) * DAY_MS - offset_ms, until))
    return (first, last), edges


def _set(value: Any) -> bool:
    return value is not None and not (isinstance(value, str) and not value)


def _tuple(value: str | Sequence[str] | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    return (value,) if isinstance(value, str) else tuple(str(v) for v in value)


def _open(values: tuple[str, ...]) -> bool:
    return set(values) <= set(OPEN_STATUSES)
