"""Hotline casework tables and writes: the review queue and case events.

``hotline_review`` keeps the intakes that wait for a person (no trusted place
or category): the text, what the machine read and why it did not dispatch.
Case events (deadline near, overdue, escalated, reply, callback) change an
incident's ``attributes`` (and office) and append one row to the change feed
with the event as ``op``, in one transaction; an event with a note is also kept
in the status history (same status, the note says what happened).

>>> sorted(c.name for c in review_table(sa.MetaData()).c)[:3]
['analysis', 'channel', 'decided_at']
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson
import pandas as pd
import sqlalchemy as sa

from cityaware.geo.errors import Conflict, NotFound
from cityaware.geo.store.times import from_ms, now_ms

if TYPE_CHECKING:
    from cityaware.geo.store.store import FeatureStore

REVIEW = "hotline_review"
REVIEW_KIND = "review"
REVIEW_STATES = ("pending", "done")
# the change ops of 督办 (supervision) events: typed in the feed, listed on the wall
SUPERVISION_OPS: tuple[str, ...] = ("deadline_near", "overdue", "escalated")


def supervision_op(op: sa.ColumnElement[str]) -> sa.ColumnElement[bool]:
    """``op IN (the supervision ops)`` with the values written into the SQL, as the
    partial index ``changes_supervision`` has them (a bound list would not match it)."""
    values: sa.BindParameter[list[str]] = sa.bindparam(
        "supervision_ops", list(SUPERVISION_OPS), expanding=True, literal_execute=True
    )
    return op.in_(values)


def review_table(metadata: sa.MetaData) -> sa.Table:
    """The review queue's table on ``metadata``."""
    return sa.Table(
        REVIEW,
        metadata,
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("channel", sa.Text),
        sa.Column("analysis", sa.Text, nullable=False),  # JSON: category, place, dispatch, due
        sa.Column("received_at", sa.BigInteger, nullable=False),
        sa.Column("decided_at", sa.BigInteger),
        sa.Column("incident_id", sa.String(64)),
        sa.Column("note", sa.Text),
        sa.Index("hotline_review_state", "state", "received_at"),
    )


def _review_record(row: Any) -> dict[str, Any]:
    record = dict(row._mapping)
    record["analysis"] = orjson.loads(record["analysis"])
    for name in ("received_at", "decided_at"):
        record[name] = from_ms(record[name]) if record[name] is not None else None
    return record


def _change(kind: str, id: str, op: str, at: int, grid: str | None = None) -> dict[str, Any]:
    return {"kind": kind, "feature_id": id, "op": op, "old_grid": grid, "new_grid": grid,
            "generation": None, "at": at, "bulk": False}  # fmt: skip


def add_review(
    store: FeatureStore,
    record: dict[str, Any],
    also: Callable[[sa.Connection, str], None] | None = None,
) -> dict[str, Any]:
    """Queue an intake for review (``id``, ``text``, ``channel``, ``analysis``); ``also(conn,
    id)`` writes more rows in the same transaction."""
    table, now = store.tables[REVIEW], now_ms()
    row = {**record, "analysis": orjson.dumps(record["analysis"]).decode(), "state": "pending"}
    row["received_at"] = now
    with store.backend.write() as conn:
        conn.execute(table.insert(), [row])
        store.changelog.append_rows(conn, [_change(REVIEW_KIND, row["id"], "create", now)])
        if also is not None:
            also(conn, row["id"])
    return get_review(store, row["id"])


def get_review(store: FeatureStore, id: str) -> dict[str, Any]:
    """One review item (NotFound if absent)."""
    table = store.tables[REVIEW]
    with store.backend.read() as conn:
        row = conn.execute(sa.select(table).where(table.c.id == id)).first()
    if row is None:
        raise NotFound(f"no review item {id!r}")
    return _review_record(row)


def list_reviews(
    store: FeatureStore, state: str = "pending", limit: int = 100
) -> list[dict[str, Any]]:
    """Review items in ``state``, oldest first (the queue order)."""
    table = store.tables[REVIEW]
    stmt = sa.select(table).where(table.c.state == state).order_by(table.c.received_at, table.c.id)
    with store.backend.read() as conn:
        return [_review_record(r) for r in conn.execute(stmt.limit(limit))]


def close_review(store: FeatureStore, id: str, incident_id: str, note: str | None) -> None:
    """Mark a pending item done with the incident it became; Conflict if already done."""
    table, now = store.tables[REVIEW], now_ms()
    with store.backend.write() as conn:
        done = conn.execute(
            table.update()
            .where(table.c.id == id, table.c.state == "pending")
            .values(state="done", decided_at=now, incident_id=incident_id, note=note)
        ).rowcount
        if not done:
            raise Conflict(f"review item {id!r} was already decided")
        store.changelog.append_rows(conn, [_change(REVIEW_KIND, id, "update", now)])


def case_event(
    store: FeatureStore,
    id: str,
    op: str,
    attributes: dict[str, Any],
    note: str | None = None,
    office: str | None = None,
) -> None:
    """Write one case event on incident ``id`` (see the module docstring)."""
    features, now = store.features, now_ms()
    with store.backend.write() as conn:
        store.changelog.lock(conn)  # the first lock of every writer (geo.store.lockorder)
        current = conn.execute(
            sa.select(features.c.fid, features.c.status, features.c.grid_code).where(
                features.c.kind == "incidents", features.c.id == id
            )
        ).first()
        if current is None:
            raise NotFound(f"no incidents with id {id!r}")
        values: dict[str, Any] = {
            "attributes": orjson.dumps(attributes).decode(),
            "updated_at": now,
        }
        if office is not None:
            values["office"] = office
        conn.execute(features.update().where(features.c.fid == current.fid).values(**values))
        if note:
            history = store.tables["status_history"]
            conn.execute(history.insert(), [{"kind": "incidents", "feature_id": id,
                                             "from_status": current.status,
                                             "to_status": current.status, "at": now,
                                             "note": note}])  # fmt: skip
        store.changelog.append_rows(conn, [_change("incidents", id, op, now, current.grid_code)])


# What evaluation and matters read of each case's hotline block, as flat columns.
CASE_PATHS: dict[str, tuple[str, ...]] = {
    "level": ("hotline", "level"),
    "resolve_due": ("hotline", "due", "resolve_at"),
    "reply_on_time": ("hotline", "reply", "on_time"),
    "reply_level": ("hotline", "reply", "level"),
    "reply_at": ("hotline", "reply", "at"),
    "satisfaction": ("hotline", "callback", "satisfaction"),
    "reopened": ("hotline", "reopened"),
    "matter": ("hotline", "matter"),
}
CASE_COLUMNS: tuple[str, ...] = ("id", "category", "status", "office", "district_code")
CASE_COLUMNS += ("street_code",)
CASE_COLUMNS += ("community_code", "grid_code", "managing_zone", "lon", "lat", "reported_at")


def _hotline_fields(backend_name: str, column: sa.ColumnElement[Any]) -> Any:
    """A JSON array of the :data:`CASE_PATHS` values of each row (one JSON parse a row)."""
    paths = list(CASE_PATHS.values())
    if backend_name == "sqlite":
        return sa.func.json_extract(column, *("$." + ".".join(p) for p in paths))
    from sqlalchemy.dialects.postgresql import JSONB

    document = sa.cast(column, JSONB)
    return sa.cast(sa.func.jsonb_build_array(
        *(sa.func.jsonb_extract_path(document, *p) for p in paths)), sa.Text)  # fmt: skip


def case_frame(store: FeatureStore, filters: Any = None) -> pd.DataFrame:
    """One row per incident matching ``filters`` (a FeatureFilter): its columns and
    the hotline block's fields of :data:`CASE_PATHS` (read out of the JSON in SQL)."""
    from cityaware.geo.store.filters import filter_clauses

    f = store.features
    selected = [f.c[name] for name in CASE_COLUMNS]
    selected.append(_hotline_fields(store.backend_name, f.c.attributes).label("hotline"))
    stmt = (
        sa.select(*selected)
        .where(*filter_clauses(store.backend, f, "incidents", filters))
        .order_by(f.c.fid)
    )
    with store.backend.read() as conn:
        rows = conn.execute(stmt).all()
    names = list(CASE_PATHS)
    empty = [None] * len(names)
    fields = [orjson.loads(r[-1]) if r[-1] else empty for r in rows]
    frame = pd.DataFrame([r[:-1] for r in rows], columns=list(CASE_COLUMNS))
    extra = pd.DataFrame(fields, columns=names) if rows else pd.DataFrame(columns=names)
    frame = pd.concat([frame, extra], axis=1)
    frame["reply_on_time"] = frame["reply_on_time"].map(lambda v: v is True or v == 1)
    frame["reopened"] = pd.to_numeric(frame["reopened"], errors="coerce").fillna(0).astype(int)
    frame["resolve_due"] = pd.to_numeric(frame["resolve_due"], errors="coerce")
    frame["reply_at"] = pd.to_numeric(frame["reply_at"], errors="coerce")
    return frame


UNIT_STATUS = "unit"  # assign_status of a case pinned to a unit above the grid (no grid)


def kept_unit_location(current: Any) -> Any:
    """The stored location of a row pinned to a unit (not a grid), for an update that
    does not move it (re-locating would put it into the grid under its point); else None.
    """
    if current["assign_status"] != UNIT_STATUS:
        return None
    from cityaware.geo.engine.results import Location

    return Location(
        UNIT_STATUS, None, current["community_code"], current["street_code"],
        current["district_code"], current["managing_zone"], current["generation"],
        current["lon"], current["lat"],
    )  # fmt: skip
