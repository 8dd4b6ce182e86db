"""The change feed (outbox): every write appends one row per feature to ``changes``.

Each row holds ``seq``, ``kind``, ``feature_id``, ``op`` (create, update, delete,
reassign, or a case event's own op such as ``deadline_near``, ``overdue``, ``escalated``:
:data:`~geo.store.casework.SUPERVISION_OPS`), ``old_grid``/``new_grid``, ``generation``,
``at`` (epoch ms) and ``bulk``
(written by a set-based write: a bulk import or a re-assignment, not a live event).
It is written in the same transaction as the feature, so it commits with it or not at all.

Commit order. ``seq`` comes from one counter row (``store_meta``'s ``data_version``, so
:meth:`~geo.store.reads.StoreReads.data_version` *is* the newest seq). A writer takes it
with ``UPDATE ... RETURNING`` right before inserting its change rows; the UPDATE holds the
row's lock until the transaction ends, so the next writer's UPDATE waits for this commit
(or rollback, which gives the numbers back). Numbers are therefore handed out in commit
order and the committed ones are always a gapless prefix: a reader that follows ``seq``
never skips a row that commits later. On SQLite write transactions are serial anyway
(``BEGIN IMMEDIATE``); on PostGIS a ``SEQUENCE`` would not do, because ``nextval`` is
handed out when called, not at commit: a transaction holding 7 can commit after one
holding 8, and a reader that has passed 8 never sees 7.

Lock order. The counter row is also the first lock of every writing transaction that
changes existing rows or the incident counts (:meth:`ChangeLog.lock`: a group-commit
transaction takes it when it begins, a re-assignment batch before it reads its rows,
:func:`geo.store.summary.apply` before it touches a count). Writers of the store thus
queue on one row before taking any other, and cannot deadlock each other on feature or
count rows (on PostgreSQL; SQLite's writers are serial anyway). A transaction that still
loses a deadlock to something else is run again (:func:`geo.store.lockorder.retrying`).

Retention: rows older than ``retention_ms`` are pruned as a prefix of ``seq`` (every
:data:`PRUNE_EVERY` numbers, inside the write that crosses the boundary, or by calling
:meth:`ChangeReads.prune_changes`), recorded as ``pruned_through`` in ``store_meta``;
asking for changes after a pruned seq raises :class:`~geo.errors.ChangesPruned` (HTTP 410).
A staged bulk import's change rows are held back until it publishes, and deleted if it
is discarded (:mod:`geo.store.imports`).

>>> parse_seq("42"), parse_seq(None, default=7)
(42, 7)
>>> parse_seq("-1")
Traceback (most recent call last):
cityaware.geo.errors.InvalidInput: seq must be a whole number from 0 to 999999999999999999, got '-1'
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import sqlalchemy as sa

from cityaware.geo.errors import ChangesPruned, InvalidInput
from cityaware.geo.store.casework import SUPERVISION_OPS
from cityaware.geo.store.dialect import Backend
from cityaware.geo.store.imports import readable_head, visible
from cityaware.geo.store.lockorder import VERSION_KEY, lock_feed
from cityaware.geo.store.prepared import Prepared
from cityaware.geo.store.records import to_record
from cityaware.geo.store.taxonomy import check_kind
from cityaware.geo.store.times import from_ms, now_ms

OPS = ("create", "update", "delete", "reassign")
CHANGE_FIELDS = ("kind", "feature_id", "op", "old_grid", "new_grid", "generation", "at", "bulk")
DEFAULT_RETENTION_DAYS = 7.0
DAY_MS = 86_400_000
PRUNE_EVERY = 1_000
MAX_LIMIT = 10_000
PRUNED_KEY = "pruned_through"
MAX_SEQ_DIGITS = 18
LIVE_OPS = ("create", "update", *SUPERVISION_OPS)


def parse_seq(text: str | int | None, what: str = "seq", default: int | None = None) -> int:
    """A seq from a query parameter or header (InvalidInput unless 0..10**18-1)."""
    if text is None or text == "":
        if default is None:
            raise InvalidInput(f"{what} is required")
        return default
    value = str(text).strip()
    if not value.isascii() or not value.isdigit() or len(value) > MAX_SEQ_DIGITS:
        shown = value if len(value) <= 40 else value[:40] + "..."
        raise InvalidInput(
            f"{what} must be a whole number from 0 to {'9' * MAX_SEQ_DIGITS}, got {shown!r}"
        )
    return int(value)


@dataclass(frozen=True)
class ChangePage:
    """Changes after a seq, oldest first; pass ``next`` back as ``after``."""

    changes: list[dict[str, Any]]
    next: int


@dataclass(frozen=True)
class ChangedRecords:
    """Live changes joined to their feature's current record: ``(seq, op, record)``
    triples, oldest first, and ``next``, the seq everything was read up to."""

    items: list[tuple[int, str, dict[str, Any]]]
    next: int


@dataclass(frozen=True)
class FrameDelta:
    """Current rows of the features changed after a seq (every row for a full read), the
    ids deleted since, and ``seq``, the position to read from next time."""

    rows: pd.DataFrame
    removed: list[str] = field(default_factory=list)
    seq: int = 0


class ChangeLog:
    """The write side of the feed over a store's tables (used by the store and bulk import)."""

    def __init__(self, tables: dict[str, sa.Table], retention_ms: int) -> None:
        self.meta = tables["store_meta"]
        self.table = tables["changes"]
        self.retention_ms = retention_ms
        meta = self.meta  # the statements of every live write, built once (then only run)
        taken = sa.bindparam("taken", None, type_=sa.BigInteger)
        self._take = Prepared(
            meta.update()
            .where(meta.c.key == VERSION_KEY)
            .values(value=meta.c.value + taken)
            .returning(meta.c.value),
            "taken",
        )
        self._insert = self.table.insert()
        c, numbered = self.table.c, ("seq", *CHANGE_FIELDS)
        self._insert_rows = Prepared(  # rows of exactly the change fields: no per-row work
            self.table.insert().values(
                {n: sa.bindparam(n, None, type_=c[n].type) for n in numbered}
            ),
            *numbered,
        )

    def lock(self, conn: sa.Connection) -> None:
        """Take the counter row's lock until the transaction ends (see "Lock order")."""
        lock_feed(conn, self.meta)

    def append_rows(self, conn: sa.Connection, rows: Sequence[dict[str, Any]]) -> int:
        """Append change rows (dicts of :data:`CHANGE_FIELDS`) in order; returns the last seq.

        The numbers are taken and the counter row locked in one ``UPDATE ... RETURNING``
        (a live write's feed costs two statements)."""
        if not rows:
            return self._counter(conn)
        last = self._take.run(conn, taken=len(rows)).scalar_one()
        base = int(last) - len(rows)
        numbered = [{"seq": base + i, **r} for i, r in enumerate(rows, 1)]
        if all(r.keys() == self._insert_rows.names for r in numbered):
            self._insert_rows.run_many(conn, numbered)
        else:  # some fields left to their defaults
            conn.execute(self._insert, numbered[0] if len(rows) == 1 else numbered)
        self._prune_past(conn, base, int(last))
        return int(last)

    def append_select(
        self, conn: sa.Connection, select: sa.Select[Any], order_by: sa.ColumnElement[Any]
    ) -> int:
        """Append one change row per row of ``select`` (its columns are
        :data:`CHANGE_FIELDS` in that order), numbered in ``order_by`` order, in one
        INSERT ... SELECT; returns the last seq."""
        base = self._lock(conn)
        seq = sa.literal(base, sa.BigInteger) + sa.func.row_number().over(order_by=order_by)
        numbered = select.add_columns(seq.label("seq"))
        conn.execute(self.table.insert().from_select([*CHANGE_FIELDS, "seq"], numbered))
        # no rowcount for INSERT ... SELECT here; under the lock the newest row is ours
        newest = conn.execute(sa.select(sa.func.max(self.table.c.seq))).scalar_one_or_none()
        return self._advance(conn, base, max(int(newest or 0) - base, 0))

    def prune(self, conn: sa.Connection, now: int | None = None) -> int:
        """Delete the oldest rows up to the first one newer than the retention (a prefix of
        ``seq``, so no hole opens in the middle); returns how many were deleted."""
        changes = self.table
        cutoff = (now_ms() if now is None else now) - self.retention_ms
        first_kept = conn.execute(
            sa.select(changes.c.seq).where(changes.c.at >= cutoff).order_by(changes.c.seq).limit(1)
        ).scalar_one_or_none()
        stmt = changes.delete()
        if first_kept is not None:
            stmt = stmt.where(changes.c.seq < first_kept)
        deleted = conn.execute(stmt).rowcount
        if deleted:
            through = first_kept - 1 if first_kept is not None else self._counter(conn)
            self._set(conn, PRUNED_KEY, through)
        return deleted

    def latest(self, conn: sa.Connection) -> int:
        """The newest seq readers may read (0 before the first write; held before the
        changes of an import still staging, see :mod:`geo.store.imports`)."""
        return readable_head(conn, self.meta, VERSION_KEY)

    def check_retained(self, conn: sa.Connection, after: int) -> None:
        """ChangesPruned when rows right after ``after`` were pruned.

        Call it after reading the rows: pruning only ever removes a prefix and records
        how far (``pruned_through`` in ``store_meta``; a discarded import's rows leave a
        hole that is not pruning), so if nothing after ``after`` is pruned now, nothing
        was when the rows were read.
        """
        meta = self.meta
        through = conn.execute(
            sa.select(meta.c.value).where(meta.c.key == PRUNED_KEY)
        ).scalar_one_or_none()
        if through is not None and after < int(through):
            raise ChangesPruned(
                f"changes after seq {after} are no longer kept (the oldest kept follows "
                f"{through}); start again from the newest seq (GET /v1/changes?latest=true)"
            )

    def _counter(self, conn: sa.Connection) -> int:
        meta = self.meta
        value = conn.execute(sa.select(meta.c.value).where(meta.c.key == VERSION_KEY))
        return int(value.scalar_one_or_none() or 0)

    def _set(self, conn: sa.Connection, key: str, value: int) -> None:
        meta = self.meta
        if not conn.execute(meta.update().where(meta.c.key == key).values(value=value)).rowcount:
            conn.execute(meta.insert().values(key=key, value=value))

    def _lock(self, conn: sa.Connection) -> int:
        """Lock the counter row until commit (see the module doc) and return its value."""
        meta = self.meta
        value = conn.execute(
            meta.update()
            .where(meta.c.key == VERSION_KEY)
            .values(value=meta.c.value)
            .returning(meta.c.value)
        ).scalar_one()
        return int(value)

    def _advance(self, conn: sa.Connection, base: int, count: int) -> int:
        last = base + count
        if count:
            meta = self.meta
            conn.execute(meta.update().where(meta.c.key == VERSION_KEY).values(value=last))
            self._prune_past(conn, base, last)
        return last

    def _prune_past(self, conn: sa.Connection, base: int, last: int) -> None:
        """Prune when the numbers ``base+1..last`` crossed a :data:`PRUNE_EVERY` boundary."""
        if last // PRUNE_EVERY != base // PRUNE_EVERY:
            self.prune(conn)


class ChangeReads:
    """The read side of the feed, mixed into the store (which sets these attributes)."""

    backend: Backend
    features: sa.Table
    changelog: ChangeLog
    _columns: list[sa.Column[Any]]

    def changes(self, after: int = 0, limit: int = 1000) -> ChangePage:
        """Up to ``limit`` changes with seq > ``after``, oldest first.

        ChangesPruned (410) when changes right after ``after`` are no longer kept.

        >>> page = store.changes(after=0, limit=100)  # doctest: +SKIP
        >>> page.changes[0]["op"], store.changes(after=page.next).changes  # doctest: +SKIP
        ('create', [])
        """
        after, limit = _checked(after, limit)
        table = self.changelog.table
        with self.backend.read() as conn:
            head = self.changelog.latest(conn)
            rows = conn.execute(
                sa.select(table)
                .where(table.c.seq > after, table.c.seq <= head)
                .order_by(table.c.seq)
                .limit(limit)
            ).mappings()
            changes = [_change_record(r) for r in rows]
            self.changelog.check_retained(conn, after)
        return ChangePage(changes, changes[-1]["seq"] if changes else after)

    def prune_changes(self, now: int | None = None) -> int:
        """Delete changes older than the retention (measured from ``now``, epoch ms; default
        the current time); returns how many were deleted. Also runs by itself on writes.

        >>> store.prune_changes()  # doctest: +SKIP
        0
        """
        with self.backend.write() as conn:
            return self.changelog.prune(conn, now)

    def changed_records(
        self, after: int, kinds: Sequence[str], limit: int = 1000
    ) -> ChangedRecords:
        """Live changes (create, update, supervision events; not bulk) of ``kinds`` after
        ``after`` with their feature's current record (deleted features are left out).

        >>> store.changed_records(0, ["incidents"]).items[0][1]  # doctest: +SKIP
        'create'
        """
        after, limit = _checked(after, limit)
        c, f = self.changelog.table, self.features
        with self.backend.read() as conn:
            latest = self.changelog.latest(conn)  # before the rows: all up to it are read
            stmt = (
                sa.select(c.c.seq, c.c.op, *self._columns)
                .select_from(c.join(f, sa.and_(f.c.kind == c.c.kind, f.c.id == c.c.feature_id)))
                .where(
                    c.c.seq > after,
                    c.c.seq <= latest,
                    c.c.kind.in_(list(kinds)),
                    c.c.op.in_(LIVE_OPS),
                    c.c.bulk == sa.false(),
                )
                .order_by(c.c.seq)
                .limit(limit)
            )
            rows = conn.execute(stmt).mappings().all()
            self.changelog.check_retained(conn, after)
        items = [(int(r["seq"]), str(r["op"]), to_record(r)) for r in rows]
        last = items[-1][0] if items else after
        return ChangedRecords(items, last if len(items) == limit else max(latest, last))

    def changed_kinds(self, kinds: Sequence[str], after: int) -> tuple[set[str], int]:
        """The kinds among ``kinds`` with a change readers may see after seq ``after``, and
        the seq that answer is as of (one range read of the feed's newest rows).

        ChangesPruned when ``after`` is older than the retention.

        >>> store.changed_kinds(["cameras", "sensors"], after=0)  # doctest: +SKIP
        ({'cameras'}, 42)
        """
        c = self.changelog.table
        with self.backend.read() as conn:
            seq = self.changelog.latest(conn)
            newer = sa.select(c.c.kind).distinct()
            newer = newer.where(c.c.seq > after, c.c.seq <= seq, c.c.kind.in_(list(kinds)))
            found = {str(kind) for kind in conn.execute(newer).scalars()}
            self.changelog.check_retained(conn, after)
        return found, seq

    def feature_frame(
        self,
        kind: str,
        columns: Sequence[str],
        after: int | None = None,
        chunk_rows: int | None = None,
        convert: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
        reported_since: int | None = None,
    ) -> FrameDelta:
        """``columns`` of every ``kind`` feature (``after`` None), or of those changed after
        seq ``after`` plus the ids deleted since; in insertion order, times in epoch ms.
        ``reported_since`` (epoch ms) keeps only features reported then or later, read
        through the (kind, reported_at) index: a window of a long history.

        ChangesPruned when ``after`` is older than the retention (read everything again).
        With ``chunk_rows`` the rows are fetched that many at a time and each chunk goes
        through ``convert`` (e.g. to compact dtypes) before the next is read, so a million
        rows never sit in memory as Python objects at once.

        >>> full = store.feature_frame("cameras", ["id", "lon", "lat"])  # doctest: +SKIP
        >>> store.feature_frame("cameras", ["id", "lon", "lat"], after=full.seq)  # doctest: +SKIP
        """
        check_kind(kind)
        f, c = self.features, self.changelog.table
        clauses = [f.c.kind == kind, visible(f)]
        if reported_since is not None:
            clauses.append(f.c.reported_at >= reported_since)
        with self.backend.read() as conn:
            seq = self.changelog.latest(conn)  # first: a change committed meanwhile is re-read
            removed: list[str] = []
            if after is not None:
                touched = sa.select(c.c.feature_id).where(c.c.kind == kind, c.c.seq > after)
                clauses.append(f.c.id.in_(touched))
                still = sa.select(f.c.fid).where(f.c.kind == kind, f.c.id == c.c.feature_id)
                removed = list(
                    conn.execute(
                        sa.select(c.c.feature_id)
                        .distinct()
                        .where(
                            c.c.kind == kind,
                            c.c.seq > after,
                            c.c.op == "delete",
                            ~still.exists(),
                        )
                    ).scalars()
                )
            stmt = sa.select(*(f.c[n] for n in columns)).where(*clauses).order_by(f.c.fid)
            if chunk_rows:  # one read transaction: the chunks are one snapshot
                keep = convert or (lambda part: part)
                parts = [keep(part) for part in pd.read_sql(stmt, conn, chunksize=chunk_rows)]
                rows = (
                    pd.concat(parts, ignore_index=True)
                    if parts
                    else keep(pd.DataFrame(columns=list(columns)))
                )
            else:
                rows = pd.read_sql(stmt, conn)  # a frame of Row objects costs twice as long
            if after is not None:
                self.changelog.check_retained(conn, after)
        return FrameDelta(rows, removed, seq)


def mark_pruned(conn: sa.Connection, tables: dict[str, sa.Table]) -> None:
    """Record how far the feed was pruned if the store does not say yet (at open)."""
    meta = tables["store_meta"]
    known = sa.select(meta.c.value).where(meta.c.key == PRUNED_KEY)
    if conn.execute(known).scalar_one_or_none() is None:
        first = conn.execute(sa.select(sa.func.min(tables["changes"].c.seq))).scalar_one()
        newest = sa.select(meta.c.value).where(meta.c.key == VERSION_KEY)
        through = int(first) - 1 if first is not None else int(conn.execute(newest).scalar_one())
        conn.execute(meta.insert().values(key=PRUNED_KEY, value=through))


def _checked(after: int, limit: int) -> tuple[int, int]:
    if not 0 <= int(after) < 10**MAX_SEQ_DIGITS:
        raise InvalidInput(f"after must be a seq from 0 on, got {after}")
    if not 1 <= int(limit) <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}, got {limit}")
    return int(after), int(limit)


def _change_record(row: Any) -> dict[str, Any]:
    """The public dict of a change row (``id`` for the feature id, ISO time)."""
    return {
        "seq": int(row["seq"]),
        "kind": row["kind"],
        "id": row["feature_id"],
        "op": row["op"],
        "old_grid": row["old_grid"],
        "new_grid": row["new_grid"],
        "generation": row["generation"],
        "at": from_ms(row["at"]),
        "bulk": bool(row["bulk"]),
    }
