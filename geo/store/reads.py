"""The read side of the feature store: get, history, query, count, aggregate, frames,
streaming (and, from :mod:`geo.store.statistics`, extents and resolution times).

Mixed into :class:`geo.store.store.FeatureStore`; see there for opening a store.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from cityaware.geo.errors import InvalidInput, NotFound
from cityaware.geo.store import rollup
from cityaware.geo.store.filters import FeatureFilter, filter_clauses
from cityaware.geo.store.imports import readable_head, visible
from cityaware.geo.store.lockorder import VERSION_KEY
from cityaware.geo.store.paging import MatchCounts, Page, decode_cursor, encode_cursor, order_by
from cityaware.geo.store.records import to_record
from cityaware.geo.store.schema import REGION_COLUMNS
from cityaware.geo.store.statistics import StoreStatistics
from cityaware.geo.store.summary import KEY
from cityaware.geo.store.taxonomy import check_kind
from cityaware.geo.store.times import from_ms

AGGREGATE_KEYS: tuple[str, ...] = (
    *("grid", "community", "street", "district", "category", "status", "channel"),
    *("day", "zone", "device_kind", "online", "assign_status"),
)
DAY_MS = 86_400_000
WALK_ROWS = 20_000  # a page may walk this many rows in insertion order to fill itself


class StoreReads(StoreStatistics):
    """Queries over ``self.features`` (needs ``backend``, ``tables``, ``features``,
    ``_columns`` and ``day_offset_ms`` from the store)."""

    _columns: list[sa.Column[Any]]
    day_offset_ms: int
    match_counts: MatchCounts

    def get(self, kind: str, id: str) -> dict[str, Any]:
        """The stored feature (NotFound if absent)."""
        check_kind(kind)
        with self.backend.read() as conn:
            return to_record(self._row(conn, kind, id))

    def history(self, kind: str, id: str) -> dict[str, list[dict[str, Any]]]:
        """Status changes and earlier grid assignments of a feature, oldest first.

        >>> store.history("incidents", "a1")["status"][0]["to_status"]  # doctest: +SKIP
        'received'
        """
        check_kind(kind)
        out: dict[str, list[dict[str, Any]]] = {}
        with self.backend.read() as conn:
            current = self._row(conn, kind, id)
            for key, name in (("status", "status_history"), ("assignments", "assignment_history")):
                table = self.tables[name]
                rows = conn.execute(
                    sa.select(table)
                    .where(table.c.kind == kind, table.c.feature_id == id)
                    .order_by(table.c.hid)
                ).mappings()
                out[key] = [_history_record(r) for r in rows]
        if kind == "incidents":  # the initial status is implied by the creation
            first = out["status"][0]["from_status"] if out["status"] else current["status"]
            created = {"kind": kind, "feature_id": id, "from_status": None, "to_status": first,
                       "at": from_ms(current["created_at"]), "note": None}  # fmt: skip
            out["status"].insert(0, created)
        return out

    def query(
        self,
        kind: str,
        filters: FeatureFilter | None = None,
        limit: int = 100,
        offset: int = 0,
        cursor: str | None = None,
        sortby: Sequence[str] | str | None = None,
    ) -> Page:
        """One page of matching features, in a stable order.

        Without ``sortby`` the order is insertion order and ``next`` is a
        keyset cursor (stable while rows are added). ``sortby`` takes column
        names, ``-name`` for descending (e.g. ``["-reported_at"]``); ties are
        broken by insertion order. Pass ``next`` back as ``cursor``.

        >>> page = store.query("incidents", FeatureFilter(status="received"))  # doctest: +SKIP
        >>> store.query("incidents", None, limit=50, cursor=page.next)  # doctest: +SKIP
        """
        check_kind(kind)
        if not 0 <= int(limit) <= 100_000:
            raise InvalidInput(f"limit must be between 0 and 100000, got {limit}")
        f = self.features
        clauses = filter_clauses(self.backend, f, kind, filters)
        order = order_by(f, sortby)
        position = decode_cursor(cursor, keyset=not sortby) if cursor else ("offset", int(offset))
        skip = 0 if position[0] == "after" else position[1]
        walkable = not sortby and filters is not None
        everything = self.count(kind) if walkable else 0  # incidents: from the counts
        with self.backend.read() as conn:
            matched = self._matched(conn, clauses)
            page_clauses = clauses
            if walkable:
                if (skip + limit) * everything <= WALK_ROWS * max(matched, 1):  # dense
                    page_clauses = filter_clauses(self.backend, f, kind, filters, walk=True)
            if position[0] == "after":
                page_clauses = [*page_clauses, f.c.fid > position[1]]
            stmt = sa.select(*self._columns).where(*page_clauses).order_by(*order)
            rows = conn.execute(stmt.limit(limit + 1).offset(skip)).mappings().all()
        more = len(rows) > limit
        rows = rows[:limit]
        following = None
        if more and rows:
            if sortby:
                following = encode_cursor("offset", skip + len(rows))
            else:
                following = encode_cursor("after", rows[-1]["fid"])
        return Page([to_record(r) for r in rows], int(matched), following)

    def count(self, kind: str, filters: FeatureFilter | None = None) -> int:
        """How many ``kind`` features match."""
        check_kind(kind)
        if kind == rollup.KIND:
            counted = self._rolled_up([], filters)
            if counted is not None:
                return sum(r["count"] for r in counted)
        return self._raw_count(kind, filters)

    def _raw_count(self, kind: str, filters: FeatureFilter | None) -> int:
        clauses = filter_clauses(self.backend, self.features, kind, filters)
        with self.backend.read() as conn:
            return self._matched(conn, clauses)

    def _matched(self, conn: sa.Connection, clauses: list[sa.ColumnElement[bool]]) -> int:
        """COUNT of the rows matching ``clauses``, computed once per filter and data
        version (every page of one listing, and every client counting the same filter,
        share it)."""
        version = readable_head(conn, self.tables["store_meta"], VERSION_KEY)
        statement = sa.select(sa.func.count()).where(*clauses)
        return self.match_counts.get(conn, statement, version)

    def aggregate(
        self, kind: str, by: Sequence[str], filters: FeatureFilter | None = None
    ) -> list[dict[str, Any]]:
        """Counts of matching features grouped by ``by`` keys, largest count first.

        Keys: grid, community, street, district, zone (managing zone),
        category, status, channel, device_kind, online, assign_status, day
        (local day of ``filters.time_field``, 'YYYY-MM-DD'). Each row is a
        dict of the keys plus ``count``. Incident counts the summary table holds
        come from it (:mod:`geo.store.rollup`), the same numbers at a cost that
        does not grow with the history.

        >>> store.aggregate("incidents", ["district", "category"])  # doctest: +SKIP
        [{'district': '410202', 'category': 'noise', 'count': 12}, ...]
        """
        check_kind(kind)
        by = [by] if isinstance(by, str) else list(by)
        unknown = [k for k in by if k not in AGGREGATE_KEYS]
        if unknown or not by:
            raise InvalidInput(
                f"cannot aggregate by {unknown or by}; use {', '.join(AGGREGATE_KEYS)}"
            )
        if kind == rollup.KIND:
            counted = self._rolled_up(by, filters)
            if counted is not None:
                return counted
        return self._raw_aggregate(kind, by, filters)

    def aggregate_frame(
        self, kind: str, by: Sequence[str], filters: FeatureFilter | None = None
    ) -> pd.DataFrame:
        """:meth:`aggregate` as one frame (columns ``by`` and ``count``, no order), read
        columnar: the fast way when there are many groups (e.g. grid x category).

        >>> frame = store.aggregate_frame("incidents", ["grid", "category"])  # doctest: +SKIP
        >>> frame.columns.tolist()  # doctest: +SKIP
        ['grid', 'category', 'count']
        """
        by = [by] if isinstance(by, str) else list(by)
        plan = rollup.plan(by, filters, self.day_offset_ms) if kind == rollup.KIND else None
        if plan is None or not by:
            rows = self.aggregate(kind, by, filters)
            return _with_none(pd.DataFrame(rows, columns=[*by, "count"]), by)
        stmt = rollup.counts_select(self.tables["incident_counts"], plan, by)
        with self.backend.read() as conn:
            parts = [rollup.shaped_frame(pd.read_sql(stmt, conn), by)]
        for edge in plan.edges:
            rows = self._raw_aggregate(kind, by, rollup.edge_filter(filters, edge))
            parts.append(pd.DataFrame(rows, columns=[*by, "count"]))
        frame = pd.concat(parts, ignore_index=True)
        frame = frame.groupby(by, dropna=False, sort=False)["count"].sum().reset_index()
        return _with_none(frame[frame["count"] != 0].reset_index(drop=True), by)

    def _rolled_up(
        self, by: list[str], filters: FeatureFilter | None
    ) -> list[dict[str, Any]] | None:
        """Incident counts from the summary table plus the partial days' raw rows (None:
        the summary cannot answer this)."""
        plan = rollup.plan(by, filters, self.day_offset_ms)
        if plan is None:
            return None
        stmt = rollup.counts_select(self.tables["incident_counts"], plan, by)
        with self.backend.read() as conn:
            rows = rollup.shaped(conn.execute(stmt).mappings().all(), by)
        for edge in plan.edges:
            edge_filter = rollup.edge_filter(filters, edge)
            if by:
                rows = rollup.merge(rows, self._raw_aggregate(rollup.KIND, by, edge_filter), by)
            else:
                extra = self._raw_count(rollup.KIND, edge_filter)
                rows = rollup.merge(rows, [{"count": extra}], by)
        return rollup.ordered(rows, by)

    def _raw_aggregate(
        self, kind: str, by: list[str], filters: FeatureFilter | None
    ) -> list[dict[str, Any]]:
        f = self.features
        time_field = filters.time_field if filters else "reported_at"
        groups = [self._group_column(key, time_field).label(key) for key in by]
        count = sa.func.count().label("count")
        stmt = (
            sa.select(*groups, count)
            .where(*filter_clauses(self.backend, f, kind, filters))
            .group_by(*groups)
            .order_by(count.desc(), *groups)
        )
        with self.backend.read() as conn:
            rows = conn.execute(stmt).mappings().all()
        out = [dict(r) for r in rows]
        for row in out:
            if "day" in row and row["day"] is not None:
                row["day"] = str(np.datetime64(int(row["day"]), "D"))
            if "online" in row and row["online"] is not None:
                row["online"] = bool(row["online"])
        return out

    def frame(
        self, kind: str, columns: Sequence[str], filters: FeatureFilter | None = None
    ) -> pd.DataFrame:
        """The chosen ``columns`` of every matching feature as one frame, in insertion order.

        One columnar SELECT (times stay epoch milliseconds, as stored): the fast
        way to read many rows when dicts per row are not needed.

        >>> since = FeatureFilter(since=0, time_field="updated_at")
        >>> store.frame("incidents", ["id", "lon", "lat", "updated_at"], since)  # doctest: +SKIP
        """
        check_kind(kind)
        known = {c.name: c for c in self._columns}
        unknown = [name for name in columns if name not in known]
        if unknown or not columns:
            names = unknown or list(columns)
            raise InvalidInput(f"cannot read columns {names}; use {', '.join(sorted(known))}")
        stmt = (
            sa.select(*(known[name] for name in columns))
            .where(*filter_clauses(self.backend, self.features, kind, filters))
            .order_by(self.features.c.fid)
        )
        with self.backend.read() as conn:
            return pd.read_sql(stmt, conn)

    def count_table(self) -> pd.DataFrame:
        """The incident counts the store keeps (:mod:`geo.store.summary`), rows with n != 0.

        >>> store.count_table().columns.tolist()[:3]  # doctest: +SKIP
        ['level', 'unit', 'district']
        """
        counts = self.tables["incident_counts"]
        key = [counts.c[name] for name in KEY]  # one row per key (summed over partitions)
        total = sa.func.sum(counts.c.n)
        n = sa.cast(total, sa.BigInteger).label("n")
        stmt = sa.select(*key, n).group_by(*key).having(total != 0)
        with self.backend.read() as conn:
            return pd.read_sql(stmt, conn)

    def iter_features(
        self, kind: str, filters: FeatureFilter | None = None, batch_size: int = 10_000
    ) -> Iterator[list[dict[str, Any]]]:
        """Every matching feature, in batches of ``batch_size`` (for streaming exports).

        Each batch is its own short query (keyset on insertion order), so a
        million rows never sit in memory.

        >>> for batch in store.iter_features("incidents", FeatureFilter(region="410202")):
        ...     write(batch)  # doctest: +SKIP
        """
        check_kind(kind)
        f = self.features
        clauses = filter_clauses(self.backend, f, kind, filters)
        last = 0
        while True:
            with self.backend.read() as conn:
                rows = (
                    conn.execute(
                        sa.select(*self._columns)
                        .where(*clauses, f.c.fid > last)
                        .order_by(f.c.fid)
                        .limit(batch_size)
                    )
                    .mappings()
                    .all()
                )
            if not rows:
                return
            last = rows[-1]["fid"]
            yield [to_record(r) for r in rows]

    def data_version(self) -> int:
        """A number that grows with every write readers can see (for cache keys, e.g. map
        tiles): the newest change seq they may read."""
        with self.backend.read() as conn:
            return readable_head(conn, self.tables["store_meta"], VERSION_KEY)

    def _row(self, conn: sa.Connection, kind: str, id: str) -> sa.RowMapping:
        f = self.features
        row = (
            conn.execute(
                sa.select(*self._columns).where(f.c.kind == kind, f.c.id == str(id), visible(f))
            )
            .mappings()
            .first()
        )
        if row is None:
            raise NotFound(f"no {kind} with id {id!r}")
        return row

    def _group_column(self, key: str, time_field: str) -> sa.ColumnElement[Any]:
        c = self.features.c
        if key in REGION_COLUMNS:
            return c[REGION_COLUMNS[key]]
        if key == "zone":
            return c.managing_zone
        if key == "day":
            day: sa.ColumnElement[Any] = (c[time_field] + self.day_offset_ms) // DAY_MS
            return day
        return c[key]


def _with_none(frame: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """``frame`` with missing ``keys`` values as None (pandas makes them NaN)."""
    for key in keys:
        values = np.array(frame[key].astype(object).to_numpy(), dtype=object)
        values[pd.isna(values)] = None
        frame[key] = pd.Series(values, dtype=object)
    return frame


def _history_record(row: sa.RowMapping) -> dict[str, Any]:
    out = {str(k): v for k, v in dict(row).items() if k != "hid"}
    for name in ("at", "replaced_at"):
        if name in out:
            out[name] = from_ms(out[name])
    return out
