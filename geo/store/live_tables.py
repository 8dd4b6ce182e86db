"""Tables of the live city: sensor readings and alarms, moving objects and fences, webhooks.

Registered in :func:`geo.store.schema.build_metadata`; written only by
:mod:`geo.store.readings`, :mod:`geo.store.positions` and :mod:`geo.store.hooks`.
Times are epoch milliseconds, as everywhere in the store.

>>> import sqlalchemy as sa
>>> sorted(define_live_tables(sa.MetaData()))[:3]
['alarms', 'fence_events', 'fence_state']
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from cityaware.geo.errors import NotFound
from cityaware.geo.store.dialect import run_many

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_MS = sa.BigInteger
_TEXT = sa.Text
_KEY = sa.String(64)


def define_live_tables(metadata: sa.MetaData) -> dict[str, sa.Table]:
    """Add the live tables to ``metadata``; returns them by name."""
    c = sa.Column
    tables = (
        sa.Table(  # the history of every sensor's readings (retention: readings_retention)
            "readings",
            metadata,
            c("sensor_id", _KEY, primary_key=True),
            c("at", _MS, primary_key=True),
            c("value", sa.Float, nullable=False),
            c("unit", _TEXT),
            sa.Index("readings_at", "at"),
            sqlite_with_rowid=False,
        ),
        sa.Table(  # thresholds per sensor (scope 'sensor') or per device kind (scope 'kind')
            "thresholds",
            metadata,
            c("scope", sa.String(8), primary_key=True),
            c("target", _KEY, primary_key=True),
            c("min", sa.Float),
            c("max", sa.Float),
            c("rate", sa.Float),
            c("band", sa.Float, nullable=False),
            c("rate_band", sa.Float, nullable=False),
            c("offline_minutes", sa.Float),
            c("category", _TEXT, nullable=False),
            c("priority", _TEXT, nullable=False),
            c("updated_at", _MS, nullable=False),
        ),
        sa.Table(  # one row per alarm episode (open until the readings come back)
            "alarms",
            metadata,
            c("id", _KEY, primary_key=True),
            c("sensor_id", _KEY, nullable=False),
            c("rule", sa.String(16), nullable=False),
            c("state", sa.String(8), nullable=False),
            c("reason", _TEXT),
            c("opened_at", _MS, nullable=False),
            c("cleared_at", _MS),
            c("first_value", sa.Float),
            c("last_value", sa.Float),
            c("worst_value", sa.Float),
            c("last_at", _MS),
            c("bad_readings", sa.Integer, nullable=False),
            c("grid_code", _TEXT),
            c("generation", _TEXT),
            c("lon", sa.Float),  # the sensor's position and threshold when it opened
            c("lat", sa.Float),
            c("category", _TEXT),
            c("priority", _TEXT),
            c("incident_id", _KEY),
            c("synced_at", _MS),
            sa.Index("alarms_sensor_state", "sensor_id", "state"),
        ),
        sa.Table(  # current position of each moving object
            "objects",
            metadata,
            c("kind", sa.String(32), primary_key=True),
            c("id", _KEY, primary_key=True),
            c("lon", sa.Float, nullable=False),
            c("lat", sa.Float, nullable=False),
            c("at", _MS, nullable=False),
            c("grid_code", _TEXT),
            c("community_code", _TEXT),
            c("street_code", _TEXT),
            c("district_code", _TEXT),
            c("generation", _TEXT),
            c("updated_at", _MS, nullable=False),
        ),
        sa.Table(  # every position received (the track)
            "tracks",
            metadata,
            c("kind", sa.String(32), primary_key=True),
            c("id", _KEY, primary_key=True),
            c("at", _MS, primary_key=True),
            c("lon", sa.Float, nullable=False),
            c("lat", sa.Float, nullable=False),
            c("grid_code", _TEXT),
            sa.Index("tracks_at", "at"),
            sqlite_with_rowid=False,
        ),
        sa.Table(
            "fences",
            metadata,
            c("id", _KEY, primary_key=True),
            c("name", _TEXT),
            c("region", _TEXT),  # a grid or region code (follows boundary generations) ...
            c("geometry", _TEXT),  # ... or a GeoJSON polygon in CRS84
            c("detect", _TEXT, nullable=False),  # comma-separated Tile38 detect words
            c("object_kinds", _TEXT),  # comma-separated; NULL: every kind
            c("min_distance_m", sa.Float, nullable=False),
            c("dwell_s", sa.Float, nullable=False),
            c("created_at", _MS, nullable=False),
        ),
        sa.Table(  # per fence and object: the confirmed side and a pending change
            "fence_state",
            metadata,
            c("fence_id", _KEY, primary_key=True),
            c("object_key", sa.String(100), primary_key=True),
            c("inside", sa.Boolean, nullable=False),
            c("pending_since", _MS),
            sqlite_with_rowid=False,
        ),
        sa.Table(
            "fence_events",
            metadata,
            c("id", _KEY, primary_key=True),  # fe_ + digest of fence, object, time, detect
            c("fence_id", _KEY, nullable=False),
            c("detect", sa.String(8), nullable=False),
            c("object_kind", sa.String(32), nullable=False),
            c("object_id", _KEY, nullable=False),
            c("at", _MS, nullable=False),
            c("lon", sa.Float, nullable=False),
            c("lat", sa.Float, nullable=False),
            c("grid_code", _TEXT),
            sa.Index("fence_events_fence_at", "fence_id", "at"),
        ),
        sa.Table(  # webhook subscriptions; ``cursor``: the last seq delivered or dead-lettered
            "hooks",
            metadata,
            c("id", _KEY, primary_key=True),
            c("url", _TEXT, nullable=False),
            c("secret", _TEXT, nullable=False),
            c("events", _TEXT, nullable=False),
            c("fences", _TEXT),
            c("kinds", _TEXT),
            c("regions", _TEXT),
            c("cursor", _MS, nullable=False),
            c("delivered", sa.Integer, nullable=False),
            c("failed", sa.Integer, nullable=False),
            c("attempts", sa.Integer, nullable=False),
            c("next_attempt_at", _MS, nullable=False),
            c("lease_until", _MS, nullable=False),
            c("last_error", _TEXT),
            c("created_at", _MS, nullable=False),
        ),
        sa.Table(
            "hook_dead_letters",
            metadata,
            c("hook_id", _KEY, primary_key=True),
            c("seq", _MS, primary_key=True),
            c("payload", _TEXT, nullable=False),
            c("error", _TEXT),
            c("attempts", sa.Integer, nullable=False),
            c("at", _MS, nullable=False),
        ),
    )
    return {t.name: t for t in tables}


def insert_ignore(
    conn: sa.Connection, table: sa.Table, rows: Sequence[Mapping[str, object]]
) -> int:
    """INSERT ``rows``, skipping those whose primary key is already there (a replay);
    returns how many were new (as the driver counts them)."""
    if not rows:
        return 0
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        stmt: sa.Insert = pg_insert(table).on_conflict_do_nothing()
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        stmt = sqlite_insert(table).on_conflict_do_nothing()
    return insert_rows(conn, stmt, rows)


def row_by_id(conn: sa.Connection, table: sa.Table, id: str, what: str) -> dict[str, Any]:
    """The row of ``table`` with this ``id`` as a plain dict; NotFound names ``what``."""
    row = conn.execute(sa.select(table).where(table.c.id == id)).mappings().first()
    if row is None:
        raise NotFound(f"no {what} {id!r}")
    return plain(row)


def events_of(
    conn: sa.Connection,
    table: sa.Table,
    owner_column: str,
    owner: str | None,
    ids: Sequence[str] | None,
    limit: int,
    newest_first: bool,
) -> list[dict[str, Any]]:
    """Rows of an event ``table`` (columns ``id`` and ``at``) as plain dicts: of one
    ``owner`` (in ``owner_column``) and/or with these ``ids``, by time (then id), at most
    ``limit``.

    >>> t = sa.Table("ev", sa.MetaData(), sa.Column("id", sa.Text, primary_key=True),
    ...     sa.Column("fence_id", sa.Text), sa.Column("at", sa.Integer))
    >>> engine = sa.create_engine("sqlite://")
    >>> t.metadata.create_all(engine)
    >>> with engine.begin() as conn:
    ...     _ = conn.execute(t.insert(), [{"id": "a", "fence_id": "f", "at": 1},
    ...         {"id": "b", "fence_id": "f", "at": 2}, {"id": "c", "fence_id": "g", "at": 3}])
    ...     [r["id"] for r in events_of(conn, t, "fence_id", "f", None, 10, True)]
    ['b', 'a']
    """
    at = table.c.at.desc() if newest_first else table.c.at
    stmt = sa.select(table).order_by(at, table.c.id).limit(limit)
    if owner is not None:
        stmt = stmt.where(table.c[owner_column] == owner)
    if ids is not None:
        stmt = stmt.where(table.c.id.in_(list(ids)))
    return [plain(r) for r in conn.execute(stmt).mappings()]


def plain(row: Mapping[Any, Any]) -> dict[str, Any]:
    """A row as a dict with plain ``str`` keys (SQLAlchemy's are a str subclass that
    orjson refuses)."""
    return {str(k): v for k, v in row.items()}


def insert_rows(conn: sa.Connection, stmt: sa.Insert, rows: Sequence[Mapping[str, Any]]) -> int:
    """Run the INSERT ``stmt`` (``table.insert()``, or one that skips conflicts) for
    ``rows`` (mappings with the same columns) in one driver ``executemany``."""
    if not rows:
        return 0
    return run_many(conn, stmt.values({n: sa.bindparam(n) for n in rows[0]}), rows)


def update_rows(
    conn: sa.Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]], key: Sequence[str]
) -> int:
    """UPDATE, for each row, the row's other columns where its ``key`` columns match, in
    one driver ``executemany``; returns the driver's row count."""
    if not rows:
        return 0
    names = [n for n in rows[0] if n not in key]
    stmt = (
        table.update()
        .where(*(table.c[k] == sa.bindparam(f"b_{k}") for k in key))
        .values({n: sa.bindparam(n) for n in names})
    )
    bound = [{**{n: r[n] for n in names}, **{f"b_{k}": r[k] for k in key}} for r in rows]
    return run_many(conn, stmt, bound)


@dataclass
class Retention:
    """Deletes the rows of a table whose ``at`` is older than ``retention_ms``, at most once
    every ``every_ms`` (pruning runs inside frequent writes)."""

    table: sa.Table
    retention_ms: int
    every_ms: int = 60_000
    pruned_at: int = 0

    def prune(self, conn: sa.Connection, now: int) -> None:
        """Delete the expired rows unless that was done less than ``every_ms`` ago."""
        if now - self.pruned_at < self.every_ms:
            return
        self.pruned_at = now
        conn.execute(self.table.delete().where(self.table.c.at < now - self.retention_ms))


def in_values(
    conn: sa.Connection, column: sa.ColumnElement[Any], values: list[str]
) -> sa.ColumnElement[bool]:
    """``column IN values`` as one bound parameter (a JSON array on SQLite, an array on
    PostgreSQL), so a 10,000-id lookup is one short statement."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY

        return column == sa.any_(sa.cast(sa.literal(values, ARRAY(sa.Text)), ARRAY(sa.Text)))
    import orjson

    listed: sa.Select[Any] = sa.select(sa.column("value")).select_from(
        sa.func.json_each(sa.literal(orjson.dumps(values).decode()))
    )
    return column.in_(listed.scalar_subquery())


def fetch_dicts(conn: sa.Connection, stmt: sa.Select[Any]) -> list[dict[str, Any]]:
    """The rows of ``stmt`` as plain dicts (faster than SQLAlchemy's row mappings)."""
    result = conn.execute(stmt)
    names = [str(k) for k in result.keys()]
    return [dict(zip(names, row, strict=True)) for row in result.all()]


def change_row(
    kind: str, id: str, op: str, old: str | None, new: str | None, generation: str | None, at: int
) -> dict[str, Any]:
    """A live (not bulk) row for :meth:`geo.store.changes.ChangeLog.append_rows`.

    >>> change_row("alarms", "al_1", "open", "g", "g", "g1", 0)["bulk"]
    False
    """
    return {
        "kind": kind,
        "feature_id": id,
        "op": op,
        "old_grid": old,
        "new_grid": new,
        "generation": generation,
        "at": at,
        "bulk": False,
    }


def digest_id(prefix: str, *parts: object) -> str:
    """A stable id from its parts: the same input always gives the same id, so a replayed
    write finds what the first one made.

    >>> digest_id("al_", "s1", "value", 0)
    'al_8d127ce3d45d77eb54f5'
    """
    text = "\x1f".join(str(p) for p in parts)
    return prefix + hashlib.sha256(text.encode()).hexdigest()[:20]
