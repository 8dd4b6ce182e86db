"""Staged bulk imports: written in short steps, hidden from every reader until one flip.

A bulk import must stay all-or-nothing without holding the write lock for its whole
run (live writes would wait for it). So its rows go into ``features`` in short
transactions of :data:`STEP_ROWS` rows (a :func:`pause` after each), each carrying
the import's id in ``import_id``; while the import's row in ``imports`` says ``staging``, every read
leaves them out (:func:`visible`, part of every feature query). Then its change
rows (one ``create`` per feature) are appended in short transactions too; the
first one records their first seq in ``imports.first_seq``, and until the flip
the change feed is read only up to the seq before it (:func:`readable_head`), so
no follower passes a hidden change. The last of those transactions sets the
state to ``published``: readers see all of the import (features and changes) at
once, or none of it. Live writes go on meanwhile; the feed only holds back their
changes for the few seconds the change rows take.

An import that fails is discarded (its change rows, then its features deleted in
short steps, then its ``imports`` row). One that died (``kill -9``, power loss) is
discarded by the next :func:`recover`, which :func:`~geo.store.store.open_store`
runs: an import is dead when its owner process on this host is gone, or its
heartbeat (renewed by every step) is older than :data:`STALE_MS` (an owner on
another host). Meanwhile the feed stays held, as a dead import still stages.

On a month-partitioned PostGIS store the rows go into tables of their own outside
``features`` instead, attached at the flip (:mod:`geo.store.partition_load`); a
discard drops those tables and releases their ids.

>>> " ".join(str(visible(sa.table("features", sa.column("import_id")))).split())[:60]
'features.import_id IS NULL OR (features.import_id NOT IN (SE'
"""

from __future__ import annotations

import os
import socket
import time
from typing import Any

import sqlalchemy as sa

from cityaware.geo.store import partition_load
from cityaware.geo.store.dialect import Backend
from cityaware.geo.store.times import now_ms

STEP_ROWS = 1_000  # the first step: then steps are sized to hold the lock ~STEP_SECONDS
STEP_SECONDS = 0.15  # a step holds the write lock about this long (0: STEP_ROWS each)
MAX_STEP_ROWS = 100_000
STEP_PAUSE_S = 0.02  # after a step, so writers queued on the lock go first
STALE_MS = 10 * 60_000
STAGING, PUBLISHED = "staging", "published"
_IMPORTS = sa.table("imports", sa.column("id"), sa.column("state"), sa.column("first_seq"))


def imports_table(metadata: sa.MetaData) -> sa.Table:
    """The ``imports`` table: one row per bulk import (its state, owner and heartbeat)."""
    return sa.Table(
        "imports",
        metadata,
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("owner", sa.String(300), nullable=False),
        sa.Column("started_at", sa.BigInteger, nullable=False),
        sa.Column("heartbeat_at", sa.BigInteger, nullable=False),
        sa.Column("first_seq", sa.BigInteger),  # of its change rows, once they start
    )


def visible(features: sa.FromClause) -> sa.ColumnElement[bool]:
    """True for the feature rows readers may see: not of an import still staging."""
    pending = sa.select(_IMPORTS.c.id).where(_IMPORTS.c.state != PUBLISHED)
    return sa.or_(features.c.import_id.is_(None), features.c.import_id.not_in(pending))


def readable_head(conn: sa.Connection, meta: sa.Table, version_key: str) -> int:
    """The newest seq readers may read: the newest committed one, or the seq before the
    first change row of an import still staging (one statement, one snapshot)."""
    newest = sa.select(meta.c.value).where(meta.c.key == version_key).scalar_subquery()
    held = sa.select(sa.func.min(_IMPORTS.c.first_seq)).where(_IMPORTS.c.state == STAGING)
    value, first = conn.execute(sa.select(newest, held.scalar_subquery())).one()
    head = int(value or 0)
    return head if first is None else min(head, int(first) - 1)


def begin(backend: Backend, imports: sa.Table, kind: str) -> int:
    """Record a new staging import owned by this process; returns its id."""
    now = now_ms()
    with backend.write() as conn:
        return int(
            conn.execute(
                imports.insert()
                .values(kind=kind, state=STAGING, owner=_me(), started_at=now, heartbeat_at=now)
                .returning(imports.c.id)
            ).scalar_one()
        )


def heartbeat(conn: sa.Connection, imports: sa.Table, import_id: int) -> None:
    """Renew the import's heartbeat (inside each step's transaction)."""
    conn.execute(imports.update().where(imports.c.id == import_id).values(heartbeat_at=now_ms()))


def hold_feed(conn: sa.Connection, imports: sa.Table, import_id: int, first_seq: int) -> None:
    """Record the seq of the import's first change row (inside the transaction appending it)."""
    conn.execute(imports.update().where(imports.c.id == import_id).values(first_seq=first_seq))


def publish(conn: sa.Connection, imports: sa.Table, import_id: int) -> None:
    """Make the import's rows and changes visible (inside the transaction of its last changes)."""
    conn.execute(imports.update().where(imports.c.id == import_id).values(state=PUBLISHED))


def discard(backend: Backend, tables: dict[str, sa.Table], import_id: int) -> int:
    """Delete a staging import's change rows and rows in short steps, then its record;
    returns the feature rows deleted."""
    features, imports, changes = tables["features"], tables["imports"], tables["changes"]
    first = sa.select(imports.c.first_seq).where(imports.c.id == import_id).scalar_subquery()
    ours = sa.select(features.c.id).where(features.c.import_id == import_id)
    if backend.partitioned:  # its rows are in tables of their own (geo.store.partition_load)
        with backend.read() as conn:
            names = partition_load.staged(conn, import_id)
        if names:
            ours = sa.select(partition_load.source(names).c.id)
    logged = sa.select(changes.c.seq).where(
        changes.c.seq >= first,
        changes.c.bulk,
        changes.c.op == "create",
        changes.c.feature_id.in_(ours),
    )
    _delete_in_steps(backend, changes, changes.c.seq, logged)
    staged = sa.select(features.c.fid).where(features.c.import_id == import_id)
    deleted = _delete_in_steps(backend, features, features.c.fid, staged)
    with backend.write() as conn:
        if backend.partitioned:
            deleted += partition_load.drop(conn, import_id)
        conn.execute(imports.delete().where(imports.c.id == import_id))
    return deleted


def recover(backend: Backend, tables: dict[str, sa.Table]) -> list[int]:
    """Discard every staging import whose owner is gone; returns their ids.

    >>> recover(store.backend, store.tables)  # doctest: +SKIP
    []
    """
    imports = tables["imports"]
    with backend.read() as conn:
        rows = conn.execute(sa.select(imports).where(imports.c.state == STAGING)).mappings().all()
    dead = [int(r["id"]) for r in rows if _dead(r)]
    for import_id in dead:
        discard(backend, tables, import_id)
    return dead


class Steps:
    """Rows per step: :data:`STEP_ROWS` first, then as many as the last step's rate fits
    in :data:`STEP_SECONDS` (a pause per 1,000 rows capped imports at ~25,000 rows/s),
    so live writes still wait at most about one step.

    >>> steps = Steps(first=1000, seconds=0.1, most=50_000)
    >>> steps.rows, steps.took(1000, 0.01), steps.rows
    (1000, None, 10000)
    """

    def __init__(
        self, first: int = STEP_ROWS, seconds: float | None = None, most: int = MAX_STEP_ROWS
    ) -> None:
        self.first, self.most = first, max(first, most)
        self.seconds = STEP_SECONDS if seconds is None else seconds
        self.rows = first

    def took(self, rows: int, seconds: float) -> None:
        """Size the next step from one that wrote ``rows`` in ``seconds``."""
        if self.seconds > 0 and rows and seconds > 0:
            self.rows = int(min(self.most, max(self.first, rows * self.seconds / seconds)))


def pause() -> None:
    """Wait :data:`STEP_PAUSE_S` between steps: the lock is not fair (the step's process
    would take it again at once), so writers waiting on it get in here."""
    time.sleep(STEP_PAUSE_S)


def _delete_in_steps(
    backend: Backend, table: sa.Table, key: sa.Column[Any], rows: sa.Select[Any]
) -> int:
    """Delete the rows whose ``key`` ``rows`` selects, :data:`STEP_ROWS` per transaction."""
    deleted = 0
    while True:
        with backend.write() as conn:
            step = sa.select(rows.limit(STEP_ROWS).subquery().c[0])
            count = conn.execute(table.delete().where(key.in_(step))).rowcount
        deleted += count
        if count < STEP_ROWS:
            return deleted
        pause()


def _me() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _dead(row: Any) -> bool:
    host, _, pid = str(row["owner"]).rpartition(":")
    if host == socket.gethostname() and pid.isdigit():
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return True
        except PermissionError:  # alive, another user's
            return False
        return False
    return now_ms() - int(row["heartbeat_at"]) > STALE_MS
