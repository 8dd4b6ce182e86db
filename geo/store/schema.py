"""The store's tables (SQLAlchemy Core), identical on SQLite and PostGIS.

One ``features`` table holds all kinds (``kind`` column); each kind uses the
common columns plus its own (:data:`KIND_FIELDS`). Times are integer
milliseconds since the epoch (UTC) so time filters and day buckets are the
same SQL on both backends. The spatial index is backend specific and lives
in :mod:`geo.store.dialect`.

>>> sorted(KIND_FIELDS["cameras"])
['device_kind', 'name', 'online']
>>> "grid_code" in ASSIGNMENT_COLUMNS
True
"""

from __future__ import annotations

import sqlalchemy as sa

from cityaware.geo.store.contacts import CONTACTS, contacts_table
from cityaware.geo.store.imports import imports_table
from cityaware.geo.store.live_tables import define_live_tables
from cityaware.geo.store.rules import define_rule_tables
from cityaware.geo.store.summary import counts_table
from cityaware.geo.store.wall_modes import wall_modes_table

ASSIGNMENT_COLUMNS: tuple[str, ...] = (
    "grid_code",
    "community_code",
    "street_code",
    "district_code",
    "managing_zone",
    "assign_status",
    "candidates",
    "distance_m",
    "nearest_grid",
    "generation",
)
COMMON_FIELDS: tuple[str, ...] = ("id", "lon", "lat", "reported_at", "attributes")
KIND_FIELDS: dict[str, tuple[str, ...]] = {
    "incidents": (
        "category",
        "title",
        "description",
        "channel",
        "status",
        "delivery_state",
        "priority",
        "address",
        "office",
    ),
    "cameras": ("name", "device_kind", "online"),
    "sensors": (
        "name",
        "device_kind",
        "online",
        "reading_value",
        "reading_unit",
        "reading_at",
        "alarm_low",
        "alarm_high",
    ),
}
# Columns a caller may not set directly (assignment, bookkeeping, derived).
DERIVED_FIELDS: dict[str, tuple[str, ...]] = {
    "incidents": (),
    "cameras": (),
    "sensors": ("alarm",),
}
TIME_COLUMNS: tuple[str, ...] = ("reported_at", "created_at", "updated_at", "reading_at")
REGION_COLUMNS: dict[str, str] = {
    "district": "district_code",
    "street": "street_code",
    "community": "community_code",
    "grid": "grid_code",
}

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # INTEGER PRIMARY KEY = rowid


def _partial(name: str, column: str, unique: bool = False) -> sa.Index:
    """An index on (kind, column) over the rows where ``column`` is set (mostly NULL columns)."""
    where = sa.column(column).isnot(None)
    return sa.Index(name, "kind", column, unique=unique, sqlite_where=where, postgresql_where=where)


def _flagged(name: str, column: str, value: bool) -> sa.Index:
    """An index on (kind) over the rows where the boolean ``column`` is ``value`` (few)."""
    where = sa.column(column) == (sa.true() if value else sa.false())
    return sa.Index(name, "kind", sqlite_where=where, postgresql_where=where)


def build_metadata() -> tuple[sa.MetaData, dict[str, sa.Table]]:
    """Build the metadata and tables (``features``, ``status_history``,
    ``assignment_history``, ``store_meta``, ``changes``); the PostGIS geometry
    column is added by the dialect."""
    metadata = sa.MetaData()
    text = sa.Text
    features = sa.Table(
        "features",
        metadata,
        sa.Column("fid", _ID, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("lon", sa.Float, nullable=False),
        sa.Column("lat", sa.Float, nullable=False),
        *(sa.Column(name, text) for name in ASSIGNMENT_COLUMNS if name != "distance_m"),
        sa.Column("distance_m", sa.Float),
        sa.Column("name", text),
        sa.Column("category", text),
        sa.Column("title", text),
        sa.Column("description", text),
        sa.Column("channel", text),
        sa.Column("status", text),
        sa.Column("delivery_state", text),
        sa.Column("priority", text),
        sa.Column("address", text),
        sa.Column("office", text),
        sa.Column("device_kind", text),
        sa.Column("online", sa.Boolean),
        sa.Column("reading_value", sa.Float),
        sa.Column("reading_unit", text),
        sa.Column("reading_at", sa.BigInteger),
        sa.Column("alarm_low", sa.Float),
        sa.Column("alarm_high", sa.Float),
        sa.Column("alarm", sa.Boolean),
        sa.Column("reported_at", sa.BigInteger),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.Column("idempotency_key", sa.String(200)),
        sa.Column("attributes", text),
        sa.Column("import_id", sa.BigInteger),  # a staged bulk import (geo.store.imports)
        sa.Index("features_kind_id", "kind", "id", unique=True),
        sa.Index("features_kind_fid", "kind", "fid"),  # pages in insertion order, keyset
        _partial("features_kind_idem", "idempotency_key", unique=True),
        sa.Index("features_kind_grid", "kind", "grid_code"),
        sa.Index("features_kind_community", "kind", "community_code"),
        sa.Index("features_kind_street", "kind", "street_code"),
        sa.Index("features_kind_district", "kind", "district_code"),
        _partial("features_kind_zone", "managing_zone"),
        sa.Index("features_kind_reported", "kind", "reported_at"),
        sa.Index("features_kind_updated", "kind", "updated_at"),
        _flagged("features_kind_offline", "online", False),  # the wall counts these
        _flagged("features_kind_alarm", "alarm", True),
        sa.Index(
            "features_import",
            "import_id",
            sqlite_where=sa.column("import_id").isnot(None),
            postgresql_where=sa.column("import_id").isnot(None),
        ),
    )
    status_history = sa.Table(
        "status_history",
        metadata,
        sa.Column("hid", _ID, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("feature_id", sa.String(64), nullable=False),
        sa.Column("from_status", text),
        sa.Column("to_status", text, nullable=False),
        sa.Column("at", sa.BigInteger, nullable=False),
        sa.Column("note", text),
        sa.Index("status_history_feature", "kind", "feature_id"),
    )
    assignment_history = sa.Table(
        "assignment_history",
        metadata,
        sa.Column("hid", _ID, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("feature_id", sa.String(64), nullable=False),
        sa.Column("lon", sa.Float),
        sa.Column("lat", sa.Float),
        *(sa.Column(name, text) for name in ASSIGNMENT_COLUMNS if name != "distance_m"),
        sa.Column("distance_m", sa.Float),
        sa.Column("replaced_at", sa.BigInteger, nullable=False),
        sa.Column("reason", text, nullable=False),
        sa.Index("assignment_history_feature", "kind", "feature_id"),
    )
    store_meta = sa.Table(
        "store_meta",
        metadata,
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.BigInteger, nullable=False),
    )
    changes = sa.Table(
        "changes",
        metadata,
        sa.Column("seq", _ID, primary_key=True, autoincrement=False),  # see geo.store.changes
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("feature_id", sa.String(64), nullable=False),
        sa.Column("op", sa.String(16), nullable=False),
        sa.Column("old_grid", text),
        sa.Column("new_grid", text),
        sa.Column("generation", text),
        sa.Column("at", sa.BigInteger, nullable=False),
        sa.Column("bulk", sa.Boolean, nullable=False),
    )
    from cityaware.geo.store.casework import review_table, supervision_op  # (issue 15)

    where = supervision_op(changes.c.op)  # the wall's newest 督办 events (few rows)
    sa.Index("changes_supervision", changes.c.seq, sqlite_where=where, postgresql_where=where)

    extra = (review_table(metadata),)
    tables = {
        t.name: t
        for t in (features, status_history, assignment_history, store_meta, changes, *extra)
    }
    tables |= define_live_tables(metadata)
    tables |= define_rule_tables(metadata)
    tables["imports"] = imports_table(metadata)
    tables[CONTACTS] = contacts_table(metadata)
    tables["incident_counts"] = counts_table(metadata)
    tables["wall_modes"] = wall_modes_table(metadata)
    return metadata, tables
