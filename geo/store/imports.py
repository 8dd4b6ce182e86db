"""Staged bulk imports: written in short steps, hidden from every reader until one flip.

A bulk import must stay all-or-nothing without holding the write lock for its whole
run (live writes would wait for it). So its rows go into ``features`` in short
transactions of :data:`STEP_ROWS` rows, each carrying the import's id in
``import_id``; while the import's row in ``imports`` says ``staging``, every read
leaves them out (:func:`visible`, part of every feature query). The last short
transaction appends the import's change rows (one ``create`` per feature, seq in
commit order) and sets the state to ``published``: readers see all of the import
at once, or none of it.

An import that fails is discarded (its rows deleted in short steps, then its
``imports`` row). One that died (``kill -9``, power loss) is discarded by the next
:func:`recover`, which :func:`~geo.store.store.open_store` runs: an import is dead
when its owner process on this host is gone, or its heartbeat (renewed by every
step) is older than :data:`STALE_MS` (an owner on another host).

>>> " ".join(str(visible(sa.table("features", sa.column("import_id")))).split())[:60]
'features.import_id IS NULL OR (features.import_id NOT IN (SE'
"""

from __future__ import annotations

import os
import socket
from typing import Any

import sqlalchemy as sa

from cityaware.geo.store.dialect import Backend
from cityaware.geo.store.times import now_ms

STEP_ROWS = 5_000
STALE_MS = 10 * 60_000
STAGING, PUBLISHED = "staging", "published"
_IMPORTS = sa.table("imports", sa.column("id"), sa.column("state"))


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
    )


def visible(features: sa.TableClause) -> sa.ColumnElement[bool]:
    """True for the feature rows readers may see: not of an import still staging."""
    pending = sa.select(_IMPORTS.c.id).where(_IMPORTS.c.state != PUBLISHED)
    return sa.or_(features.c.import_id.is_(None), features.c.import_id.not_in(pending))


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


def publish(conn: sa.Connection, imports: sa.Table, import_id: int) -> None:
    """Make the import's rows visible (inside the transaction that logs its changes)."""
    conn.execute(imports.update().where(imports.c.id == import_id).values(state=PUBLISHED))


def discard(backend: Backend, tables: dict[str, sa.Table], import_id: int) -> int:
    """Delete a staging import's rows in short steps, then its record; returns the rows."""
    features, imports = tables["features"], tables["imports"]
    deleted = 0
    while True:
        with backend.write() as conn:
            batch = sa.select(features.c.fid).where(features.c.import_id == import_id)
            fids = sa.select(batch.limit(STEP_ROWS).subquery().c.fid)
            count = conn.execute(features.delete().where(features.c.fid.in_(fids))).rowcount
            deleted += count
            if count < STEP_ROWS:
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
