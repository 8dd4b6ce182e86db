"""The feature store: incidents, cameras and sensors, each pinned to its grid.

Open it with :func:`geo.store.open_store`. Every write assigns the grid
through the engine (``locator.locate_many``) in the same transaction that
stores the feature, appends to the change feed (:mod:`geo.store.changes`; its
newest seq is :meth:`FeatureStore.data_version`), and is durable once the call
returns.

Example (``locator`` from ``GridLocator.build``)::

    store = open_store("", data_dir, locator)
    inc = store.add("incidents", {"lon": 114.32, "lat": 34.80, "category": "noise"})
    inc["grid_code"], inc["assign_status"], inc["status"]
    # ('410202001001001', 'inside', 'received')
    store.update("incidents", inc["id"], {"status": "dispatched"})
    store.query("incidents", FeatureFilter(region="410202"), limit=10).items
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from cityaware.geo.engine.protocol import Locator
from cityaware.geo.engine.results import Location
from cityaware.geo.errors import Conflict, InvalidInput, NotFound
from cityaware.geo.store import bulk, imports, summary
from cityaware.geo.store import reassign as reassigning
from cityaware.geo.store.bulk import ImportReport, Source
from cityaware.geo.store.casework import kept_unit_location
from cityaware.geo.store.changes import (
    DAY_MS,
    DEFAULT_RETENTION_DAYS,
    ChangeLog,
    ChangeReads,
    mark_pruned,
)
from cityaware.geo.store.dialect import Backend
from cityaware.geo.store.group import GroupWriter
from cityaware.geo.store.lockorder import VERSION_KEY
from cityaware.geo.store.paging import MatchCounts
from cityaware.geo.store.partitions import LIVE
from cityaware.geo.store.prepared import Prepared
from cityaware.geo.store.reads import StoreReads
from cityaware.geo.store.records import to_record
from cityaware.geo.store.schema import ASSIGNMENT_COLUMNS
from cityaware.geo.store.single import prepare_record
from cityaware.geo.store.taxonomy import Taxonomy, check_kind, check_transition
from cityaware.geo.store.times import now_ms

# The locator writes assign with, or a zero-argument callable returning the current one.
LocatorSource = Locator | Callable[[], Locator | None] | None
_READONLY = {"id", "kind", "fid", "created_at", "updated_at", "alarm", *ASSIGNMENT_COLUMNS}


class FeatureStore(StoreReads, ChangeReads):
    """Incidents, cameras and sensors on SQLite or PostGIS (one code path).

    ``locator`` is the engine's :class:`~geo.engine.locator.GridLocator` of
    the active generation, or a zero-argument callable returning it (so the
    store follows activation; called on each write). None: read-only until
    one is given.
    ``day_offset_hours`` sets the local day of ``aggregate(by=['day'])``
    (default UTC+8, China Standard Time); ``retention_days`` how long the
    change feed keeps its rows.
    """

    def __init__(
        self,
        backend: Backend,
        tables: dict[str, sa.Table],
        locator: LocatorSource = None,
        taxonomy: Taxonomy | None = None,
        day_offset_hours: float = 8.0,
        retention_days: float = DEFAULT_RETENTION_DAYS,
    ) -> None:
        self.backend = backend
        self.tables = tables
        self.features = tables["features"]
        self._locator = locator
        self.taxonomy = taxonomy or Taxonomy()
        self.day_offset_ms = int(day_offset_hours * 3_600_000)
        self._columns = [c for c in self.features.c if c.name != "geom"]
        self.changelog = ChangeLog(tables, int(retention_days * DAY_MS))
        self.writer = GroupWriter(backend, begin=self.changelog.lock)  # the lock order
        self.match_counts = MatchCounts()
        self._count_statements: dict[tuple[str, str, int], Prepared] = {}
        self._inserts: dict[tuple[str, ...], Prepared] = {}  # a live write's, by its columns
        self._count_many: sa.Insert | None = None  # counts of several new rows at once
        with backend.write() as conn:  # counts of a store from before them (or another offset)
            summary.ensure(conn, tables, self.day_offset_ms)

    @property
    def locator(self) -> Locator | None:
        """The GridLocator writes assign with (resolving a callable)."""
        value = self._locator
        return value() if callable(value) else value

    @locator.setter
    def locator(self, value: LocatorSource) -> None:
        self._locator = value

    @property
    def columns(self) -> sa.ColumnCollection[str, sa.Column[Any]]:
        """The ``features`` columns, to build ``FeatureFilter.where`` clauses safely."""
        return self.features.c

    def on_commit(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener()`` (quick, no writes) after each write this process commits;
        returns the unsubscribe (see :mod:`geo.store.commits`)."""
        return self.backend.commits.subscribe(listener)

    @property
    def backend_name(self) -> str:
        """'sqlite' or 'postgis'."""
        return self.backend.name

    # --- writes -----------------------------------------------------------

    def add(
        self,
        kind: str,
        record: dict[str, Any],
        crs: str = "EPSG:4326",
        idempotency_key: str | None = None,
        location: Location | None = None,
    ) -> dict[str, Any]:
        """Store one feature, pinned to its grid; returns the stored feature.

        ``record`` holds ``lon``/``lat`` in ``crs`` (or a GeoJSON Point
        ``geometry``), an optional ``id`` and the kind's fields (incidents:
        category, title, description, channel, status, delivery_state,
        priority, address, office; cameras: name, device_kind, online;
        sensors: those plus reading_value, reading_unit, reading_at,
        alarm_low, alarm_high); ``reported_at``; any other keys go to
        ``attributes``. With ``idempotency_key``, a repeated call returns the
        feature the first call created instead of creating another.
        ``location``: the engine's answer for this point, already computed by
        the caller (e.g. for routing); it is stored as given (its lon/lat and
        generation) instead of locating the point again.
        Raises InvalidInput (bad values), Conflict (id already used).

        >>> store.add("cameras", {"id": "cam-1", "lon": 114.3, "lat": 34.8})  # doctest: +SKIP
        """
        return self.add_or_replay(kind, record, crs, idempotency_key, location)[0]

    def add_or_replay(
        self,
        kind: str,
        record: dict[str, Any],
        crs: str = "EPSG:4326",
        idempotency_key: str | None = None,
        location: Location | None = None,
        also: Callable[[sa.Connection, str], None] | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """As :meth:`add`, returning ``(feature, created)``: ``created`` is False when
        ``idempotency_key`` replayed the feature an earlier call created. ``also(conn, id)``
        writes more rows of a created feature in its transaction (e.g. a private contact).

        >>> store.add_or_replay("incidents", record, idempotency_key="k1")[1]  # doctest: +SKIP
        True
        """
        check_kind(kind)
        if idempotency_key is not None:  # a retry: answered without queueing a write
            with self.backend.read() as conn:
                existing = self._by_idempotency(conn, kind, idempotency_key)
            if existing is not None:
                return existing, False
        now = now_ms()
        row = self._prepare_one(kind, record, crs, now, location)
        row["idempotency_key"] = idempotency_key
        added = _Added(kind, row, now, self._insert_for(tuple(row)), to_record(row), also)
        try:
            return self.writer.submit_bulk(self._write_added, added)  # type: ignore[no-any-return]
        except sa.exc.IntegrityError as error:  # PostGIS: another transaction's key won
            if idempotency_key is not None:
                with self.backend.read() as conn:
                    existing = self._by_idempotency(conn, kind, idempotency_key)
                if existing is not None:
                    return existing, False
            raise Conflict(f"{kind} id {row['id']!r} already exists") from error

    def update(
        self,
        kind: str,
        id: str,
        changes: dict[str, Any],
        crs: str = "EPSG:4326",
        note: str | None = None,
    ) -> dict[str, Any]:
        """Change fields of a feature; returns the updated feature.

        A ``status`` change must follow the lifecycle (received → dispatched →
        in_progress → resolved → closed; resolved/closed may reopen to
        received or in_progress), else Conflict; it is logged in the status
        history with ``note``. New ``lon``/``lat`` (in ``crs``) re-assign the
        grid and keep the previous assignment in the assignment history.

        >>> store.update("incidents", "a1", {"status": "dispatched"})  # doctest: +SKIP
        """
        check_kind(kind)
        changes = dict(changes)
        fixed = sorted(set(changes) & _READONLY)
        if fixed:
            raise InvalidInput(f"cannot change {', '.join(fixed)}")
        now = now_ms()

        def write(conn: sa.Connection) -> dict[str, Any]:
            current = self._row(conn, kind, id)
            merged = {k: v for k, v in to_record(current).items() if k not in _READONLY}
            merged.update(changes)
            merged["id"] = id
            given_crs, kept = crs, None
            if not ("lon" in changes or "lat" in changes or "geometry" in changes):
                merged["lon"], merged["lat"] = current["lon"], current["lat"]
                given_crs = "EPSG:4326"
                kept = kept_unit_location(current)  # a case pinned to a street stays there
            row = self._prepare_one(kind, merged, given_crs, now, kept)
            if kind == "incidents" and row["status"] != current["status"]:
                check_transition(current["status"], row["status"])
                self._log_status(conn, kind, [id], current["status"], [row["status"]], now, note)
            if any(row[n] != current[n] for n in ("lon", "lat", "grid_code", "generation")):
                self._log_assignment(conn, [current], now, "update")
            row.pop("created_at")
            if not changes.get("reported_at"):
                row.pop("reported_at")
            else:  # may move it to another month's partition: no longer an import's
                row["import_id"] = LIVE
            this = self.features.c.fid == current["fid"]
            self._count(conn, kind, "fid", current["fid"], -1)
            conn.execute(
                self.features.update()
                .where(this)
                .values(**{k: v for k, v in row.items() if k not in ("kind", "id")})
            )
            self._count(conn, kind, "fid", current["fid"], 1)
            self._log(conn, kind, id, "update", current["grid_code"], row, now)
            return to_record(self._row(conn, kind, id))

        return self.writer.submit(write)

    def delete(self, kind: str, id: str) -> None:
        """Delete a feature and its histories (NotFound if absent)."""
        check_kind(kind)
        f = self.features

        def write(conn: sa.Connection) -> None:
            self._count(conn, kind, "id", id, -1)  # rolled back with the job if absent
            deleted = conn.execute(
                f.delete()
                .where(f.c.kind == kind, f.c.id == id)
                .returning(f.c.grid_code, f.c.generation)
            ).first()
            if deleted is None:
                raise NotFound(f"no {kind} with id {id!r}")
            for name in ("status_history", "assignment_history"):
                table = self.tables[name]
                conn.execute(table.delete().where(table.c.kind == kind, table.c.feature_id == id))
            gone = {"grid_code": None, "generation": deleted.generation}
            self._log(conn, kind, id, "delete", deleted.grid_code, gone, now_ms())

        self.writer.submit(write)

    def bulk_import(
        self,
        kind: str,
        source: Source,
        crs: str | None = None,
        lon_col: str = "lon",
        lat_col: str = "lat",
        strict: bool = False,
        progress: Callable[[int], None] | None = None,
    ) -> ImportReport:
        """Import many features in one transaction (see :func:`geo.store.bulk.bulk_import`);
        one ``create`` change per feature."""
        return bulk.bulk_import(self, kind, source, crs, lon_col, lat_col, strict, progress)

    def reassign(
        self,
        locator: Locator,
        batch_size: int = reassigning.DEFAULT_BATCH,
        on_batch: Callable[[int], None] | None = None,
    ) -> int:
        """Re-assign every feature with ``locator`` (a newly activated generation).

        Features already on ``locator.generation`` are skipped; the earlier
        assignment of every other one goes to the assignment history and a
        ``reassign`` change (old and new grid) to the feed. In batches of
        ``batch_size`` by ``fid``, each committed on its own (resumable: see
        :mod:`geo.store.reassign`); ``on_batch(moved_so_far)`` after each. Returns
        the count.

        >>> store.reassign(GridLocator.build(units, "g2"))  # doctest: +SKIP
        """
        moved = reassigning.reassign_in_batches(self, locator, batch_size, on_batch)
        self._follow(locator)
        return moved

    def close(self) -> None:
        """Finish queued writes and release the database connections."""
        self.writer.close()
        self.backend.dispose()

    def follow_active(self) -> int:
        """Re-assign whatever is not on the current locator's generation (call after
        activating a generation; a no-op when everything is current). Returns the count."""
        locator = self.locator
        return 0 if locator is None else self.reassign(locator)

    # --- internals --------------------------------------------------------

    def _prepare_one(
        self,
        kind: str,
        record: dict[str, Any],
        crs: str,
        now: int,
        location: Location | None = None,
    ) -> dict[str, Any]:
        """One validated row, pinned to its grid (to ``location`` when given); InvalidInput
        says why when it cannot be."""
        return prepare_record(
            kind,
            record,
            location=location,
            locator=self.locator if location is None else None,
            crs=crs,
            taxonomy=self.taxonomy,
            now=now,
        )

    def _write_added(
        self, conn: sa.Connection, items: list[_Added]
    ) -> list[tuple[dict[str, Any], bool]]:
        """The writes of consecutive :meth:`add_or_replay` calls under the write lock: a
        key seen before replays its feature; the new rows go in one ``executemany`` per
        column set, their counts in one upsert and their changes in one append, in order."""
        results: list[tuple[dict[str, Any], bool]] = []
        fresh: dict[tuple[str, str], _Added] = {}
        new: list[_Added] = []
        for item in items:
            key = item.row["idempotency_key"]
            if key is not None:  # under the write lock: sees every commit, and this batch
                earlier = fresh.get((item.kind, key))
                existing = (
                    earlier.created if earlier else self._by_idempotency(conn, item.kind, key)
                )
                if existing is not None:
                    results.append((existing, False))
                    continue
                fresh[(item.kind, key)] = item
            results.append((item.created, True))
            new.append(item)
        by_insert: dict[int, tuple[Prepared, list[dict[str, Any]]]] = {}
        for item in new:
            by_insert.setdefault(id(item.insert), (item.insert, []))[1].append(item.row)
        for insert, rows in by_insert.values():
            if len(rows) == 1:
                insert.run(conn, **rows[0])
            else:
                insert.run_many(conn, rows)
        for kind in {item.kind for item in new}:
            self._count_all(conn, kind, [item.row["id"] for item in new if item.kind == kind])
        changes = [_change(i.kind, i.row["id"], "create", None, i.row, i.now) for i in new]
        self.changelog.append_rows(conn, changes)
        for item in new:
            if item.also is not None:
                item.also(conn, item.row["id"])
        return results

    def _count_all(self, conn: sa.Connection, kind: str, ids: list[str]) -> None:
        """Add the rows of ``ids`` to the incident counts (one statement for all)."""
        if kind != summary.KIND or len(ids) == 1:
            self._count(conn, kind, "id", ids[0], 1)
            return
        if self._count_many is None:
            where = self.features.c.id.in_(sa.bindparam("ids", expanding=True))
            self._count_many = summary.upsert(
                conn.dialect.name, self.tables, where, 1, self.day_offset_ms
            )
        conn.execute(self._count_many, {"ids": ids})

    def _count(self, conn: sa.Connection, kind: str, column: str, value: Any, sign: int) -> None:
        """Add (1) or take back (-1) the row whose ``column`` is ``value`` in the incident
        counts (the statement is built once per column and sign, then only run)."""
        if kind != summary.KIND:
            return
        key = (conn.dialect.name, column, sign)
        stmt = self._count_statements.get(key)
        if stmt is None:
            counted = sa.bindparam("counted", None, type_=self.features.c[column].type)
            where = self.features.c[column] == counted
            upsert = summary.upsert(conn.dialect.name, self.tables, where, sign, self.day_offset_ms)
            stmt = self._count_statements[key] = Prepared(upsert, "counted")
        stmt.run(conn, counted=value)

    def _insert_for(self, columns: tuple[str, ...]) -> Prepared:
        """The INSERT of one feature row with ``columns``, compiled once per column set."""
        insert = self._inserts.get(columns)
        if insert is None:
            c = self.features.c
            values = {name: sa.bindparam(name, None, type_=c[name].type) for name in columns}
            insert = self._inserts[columns] = Prepared(self.features.insert().values(values),
                                                       *columns)  # fmt: skip
        return insert

    def _follow(self, locator: Locator) -> None:
        """After a re-assignment, write with ``locator`` unless following a callable."""
        if not callable(self._locator):
            self._locator = locator

    def _by_idempotency(self, conn: sa.Connection, kind: str, key: str) -> dict[str, Any] | None:
        f = self.features
        row = (
            conn.execute(
                sa.select(*self._columns).where(f.c.kind == kind, f.c.idempotency_key == key)
            )
            .mappings()
            .first()
        )
        return None if row is None else to_record(row)

    def _log(
        self,
        conn: sa.Connection,
        kind: str,
        id: str,
        op: str,
        old_grid: str | None,
        row: dict[str, Any],
        at: int,
    ) -> None:
        """Append the change of one live write (``row``: the new grid and generation)."""
        self.changelog.append_rows(conn, [_change(kind, id, op, old_grid, row, at)])

    def _log_status(
        self,
        conn: sa.Connection,
        kind: str,
        ids: Sequence[str],
        old: str | None,
        new: Sequence[str],
        at: int,
        note: str | None = None,
    ) -> None:
        table = self.tables["status_history"]
        rows = [
            {
                "kind": kind,
                "feature_id": i,
                "from_status": old,
                "to_status": s,
                "at": at,
                "note": note,
            }
            for i, s in zip(ids, new, strict=True)
        ]
        conn.execute(table.insert(), rows)

    def _log_assignment(
        self, conn: sa.Connection, rows: Sequence[Mapping[Any, Any]], at: int, reason: str
    ) -> None:
        table = self.tables["assignment_history"]
        names = ["lon", "lat", *ASSIGNMENT_COLUMNS]
        conn.execute(
            table.insert(),
            [
                {
                    "kind": r["kind"],
                    "feature_id": r["id"],
                    **{n: r[n] for n in names},
                    "replaced_at": at,
                    "reason": reason,
                }
                for r in rows
            ],
        )


def open_tables(backend: Backend) -> dict[str, sa.Table]:
    """Create (if needed) and return the store's tables on ``backend``."""
    from cityaware.geo.store.schema import build_metadata

    metadata, tables = build_metadata()
    backend.add_geometry(tables["features"])
    with backend.write() as conn:
        backend.before_create(conn)
        metadata.create_all(conn)
        _add_missing_columns(conn, tables["features"])
        for table in metadata.sorted_tables:  # indexes added since the file was created
            for index in table.indexes:
                index.create(conn, checkfirst=True)
        backend.install(conn)
        meta = tables["store_meta"]
        exists = conn.execute(
            sa.select(meta.c.value).where(meta.c.key == VERSION_KEY)
        ).scalar_one_or_none()
        if exists is None:
            conn.execute(meta.insert().values(key=VERSION_KEY, value=0))
        mark_pruned(conn, tables)
    return tables


def _add_missing_columns(conn: sa.Connection, table: sa.Table) -> None:
    """Columns added to the schema since the file was created (all nullable, no default)."""
    present = {c["name"] for c in sa.inspect(conn).get_columns(table.name)}
    for column in table.c:
        if column.name not in present and column.name != "geom":
            kind = column.type.compile(dialect=conn.dialect)
            conn.exec_driver_sql(f"ALTER TABLE {table.name} ADD COLUMN {column.name} {kind}")


def open_store(
    url: str,
    data_dir: Path,
    locator: LocatorSource = None,
    taxonomy: Taxonomy | None = None,
    retention_days: float = DEFAULT_RETENTION_DAYS,
) -> FeatureStore:
    """Open (creating if needed) the feature store.

    ``url`` empty: the embedded SQLite file ``<data_dir>/features.sqlite``;
    ``postgresql://...``: PostGIS (driver psycopg). ``locator``: the engine's
    GridLocator of the active generation (needed for writes). The taxonomy
    defaults to ``<data_dir>/taxonomy.json`` when present, else the built-in one.
    ``retention_days``: how long the change feed keeps its rows.

    >>> store = open_store("", Path("cityaware-data"), locator)  # doctest: +SKIP
    """
    from cityaware.geo.store.dialect import create_backend

    backend = create_backend(url, data_dir)
    tables = open_tables(backend)
    imports.recover(backend, tables)  # imports that died while staging leave nothing
    taxonomy = taxonomy or Taxonomy.load(data_dir)
    return FeatureStore(backend, tables, locator, taxonomy, retention_days=retention_days)


@dataclass(frozen=True)
class _Added:
    """One :meth:`FeatureStore.add_or_replay` call's write, prepared before the lock."""

    kind: str
    row: dict[str, Any]
    now: int
    insert: Prepared
    created: dict[str, Any]
    also: Callable[[sa.Connection, str], None] | None


def _change(
    kind: str, id: str, op: str, old_grid: str | None, row: dict[str, Any], at: int
) -> dict[str, Any]:
    """The change-feed row of one live write (``row``: the new grid and generation)."""
    return {"kind": kind, "feature_id": id, "op": op, "old_grid": old_grid,
            "new_grid": row["grid_code"], "generation": row["generation"], "at": at,
            "bulk": False}  # fmt: skip
