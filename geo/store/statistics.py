"""Summaries the store computes in SQL: extents and resolution times.

Mixed into :class:`geo.store.reads.StoreReads` (and so into the store).
Counts grouped by keys are :meth:`~geo.store.reads.StoreReads.aggregate`.

>>> Resolutions(resolved=4, within=3).rate
0.75
>>> Extent(None, None, None).bbox is None
True
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from cityaware.geo.store.dialect import Backend
from cityaware.geo.store.filters import FeatureFilter, filter_clauses
from cityaware.geo.store.taxonomy import check_kind

Bbox = tuple[float, float, float, float]


@dataclass(frozen=True)
class Extent:
    """Where and when matching features lie: ``bbox`` (lon/lat, None when nothing matches)
    and the first and last ``time_field`` value in epoch milliseconds."""

    bbox: Bbox | None
    first_ms: int | None
    last_ms: int | None


@dataclass(frozen=True)
class Resolutions:
    """Features with a logged move to ``resolved`` and how many of them came ``within``
    the time limit of being reported."""

    resolved: int
    within: int

    @property
    def rate(self) -> float | None:
        """The share resolved within the limit (None when nothing was resolved)."""
        return self.within / self.resolved if self.resolved else None


class StoreStatistics:
    """Extents and resolution times over ``self.features`` (needs ``backend``, ``tables``
    and ``features`` from the store)."""

    backend: Backend
    tables: dict[str, sa.Table]
    features: sa.Table

    def extent(self, kind: str, filters: FeatureFilter | None = None) -> Extent:
        """The bbox and time span (of ``filters.time_field``, default ``reported_at``).

        >>> store.extent("incidents", FeatureFilter(region="410202")).bbox  # doctest: +SKIP
        (114.31, 34.81, 114.36, 34.85)
        """
        check_kind(kind)
        c = self.features.c
        time = c[filters.time_field if filters else "reported_at"]
        stmt = sa.select(
            sa.func.min(c.lon), sa.func.min(c.lat), sa.func.max(c.lon), sa.func.max(c.lat),
            sa.func.min(time), sa.func.max(time),
        ).where(*filter_clauses(self.backend, self.features, kind, filters))  # fmt: skip
        with self.backend.read() as conn:
            row = conn.execute(stmt).one()
        first, last = (None if v is None else int(v) for v in row[4:])
        if row[0] is None:
            return Extent(None, first, last)
        return Extent((row[0], row[1], row[2], row[3]), first, last)

    def resolutions(self, kind: str, filters: FeatureFilter | None, within_ms: int) -> Resolutions:
        """Matching features whose first logged move to ``resolved`` is known, and how
        many of them it reached within ``within_ms`` of ``reported_at``.

        >>> store.resolutions("incidents", None, 72 * 3_600_000).rate  # doctest: +SKIP
        0.8
        """
        check_kind(kind)
        history, features = self.tables["status_history"], self.features
        first = (
            sa.select(history.c.feature_id, sa.func.min(history.c.at).label("resolved_at"))
            .where(history.c.kind == kind, history.c.to_status == "resolved")
            .group_by(history.c.feature_id)
            .subquery()
        )
        on_time = sa.case((first.c.resolved_at - features.c.reported_at <= within_ms, 1), else_=0)
        stmt = (
            sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(on_time), 0))
            .select_from(features.join(first, first.c.feature_id == features.c.id))
            .where(*filter_clauses(self.backend, features, kind, filters))
        )
        with self.backend.read() as conn:
            resolved, within = conn.execute(stmt).one()
        return Resolutions(int(resolved), int(within))
