"""PostGIS at scale: the ``features`` table partitioned by month of ``reported_at``.

Opt in with ``?partitions=month`` on a ``postgresql://`` URL (a new database; an
existing unpartitioned table is refused, not converted). Then ``features`` is
``PARTITION BY RANGE (reported_at)`` with one partition per UTC month
(``features_pYYYYMM``) and a DEFAULT partition for months that have none yet;
every index of the table exists on every partition. Each month is itself
``PARTITION BY LIST (import_id)``: live writes land in ``features_pYYYYMM_live``
(``import_id`` :data:`LIVE`, its default here: a partition key is never NULL), and
each bulk import's rows of the month in a table of their own, loaded bare and indexed
before it is attached (:mod:`geo.store.partition_load`).

PostgreSQL requires the partition key in every unique index, so ``(kind, id)``
and ``(kind, idempotency_key)`` cannot stay unique indexes of a partitioned
table. They become plain indexes (fast look-ups per partition), and global
uniqueness moves to two small unpartitioned key tables, ``feature_keys`` and
``feature_idempotency``, filled by an AFTER INSERT/DELETE trigger in the same
statement: a duplicate still fails the insert with an IntegrityError. The
primary key becomes ``(fid, reported_at, import_id)`` (fid stays unique: a sequence).

Partitions appear as months do: :func:`ensure_months` creates the months
around now when the store opens and the months of a bulk load before its COPY;
a single write for a month without a partition lands in DEFAULT, and
:func:`split_default` (after each bulk load, or any time) moves such rows into
new partitions of their own, inside the caller's transaction.

>>> month_bounds(202611)
(1793491200000, 1796083200000)
>>> partition_name(202611)
'features_p202611'
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

PARTITION_OPTION = "partitions"
DEFAULT_PARTITION = "features_default"  # rows of months without a partition (or no time)
LIVE = 0  # the import_id of rows not (or no longer) of a bulk import
MONTHS_AHEAD = 2
_MOVING = "cityaware.moving_rows"
_KEY_DDL = (
    """CREATE TABLE IF NOT EXISTS feature_keys (
         kind varchar(16) NOT NULL, id varchar(64) NOT NULL, PRIMARY KEY (kind, id))""",
    """CREATE TABLE IF NOT EXISTS feature_idempotency (
         kind varchar(16) NOT NULL, key varchar(200) NOT NULL, PRIMARY KEY (kind, key))""",
    f"""CREATE OR REPLACE FUNCTION features_keys_sync() RETURNS trigger AS $$
       BEGIN
         IF coalesce(current_setting('{_MOVING}', true), '') = 'on' THEN RETURN NULL; END IF;
         IF TG_OP = 'INSERT' THEN
           INSERT INTO feature_keys VALUES (NEW.kind, NEW.id);
           IF NEW.idempotency_key IS NOT NULL THEN
             INSERT INTO feature_idempotency VALUES (NEW.kind, NEW.idempotency_key);
           END IF;
         ELSE
           DELETE FROM feature_keys WHERE kind = OLD.kind AND id = OLD.id;
           DELETE FROM feature_idempotency WHERE kind = OLD.kind AND key = OLD.idempotency_key;
         END IF;
         RETURN NULL;
       END $$ LANGUAGE plpgsql""",
    """CREATE OR REPLACE TRIGGER features_keys AFTER INSERT OR DELETE ON features
         FOR EACH ROW EXECUTE FUNCTION features_keys_sync()""",
    "CREATE TABLE IF NOT EXISTS features_default PARTITION OF features DEFAULT",
)


def month_of(ms: int) -> int:
    """The UTC month (yyyymm) of an epoch-milliseconds time.

    >>> month_of(1793491200000)
    202611
    """
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return moment.year * 100 + moment.month


def month_bounds(month: int) -> tuple[int, int]:
    """[start, end) of a yyyymm month in epoch milliseconds (UTC)."""
    year, number = divmod(month, 100)
    start = datetime(year, number, 1, tzinfo=UTC)
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=UTC)
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


def partition_name(month: int) -> str:
    """The table name of a month's partition."""
    return f"features_p{month}"


def prepare_table(features: sa.Table) -> None:
    """Make the table definition partitionable (before ``create_all``)."""
    features.dialect_options["postgresql"]["partition_by"] = "RANGE (reported_at)"
    features.c.reported_at.nullable = False
    features.c.reported_at.primary_key = True
    features.c.import_id.nullable = False
    features.c.import_id.primary_key = True
    features.c.import_id.server_default = sa.DefaultClause(str(LIVE))
    features.append_constraint(
        sa.PrimaryKeyConstraint(features.c.fid, features.c.reported_at, features.c.import_id)
    )
    for index in list(features.indexes):
        index.unique = False  # global uniqueness: the key tables (module doc)
        if index.name == "features_import":  # a partition holds one import: its table
            features.indexes.discard(index)


def prepare_counts(counts: sa.Table) -> None:
    """Make ``incident_counts`` ``PARTITION BY LIST (import_id)`` (before ``create_all``):
    live writes keep their sums in ``incident_counts_live``, each bulk import its own in a
    table attached when it publishes; readers sum over all (:mod:`geo.store.rollup`)."""
    counts.append_column(
        sa.Column(
            "import_id", sa.BigInteger, nullable=False, server_default=str(LIVE), primary_key=True
        )
    )
    key = [c for c in counts.primary_key.columns]
    counts.append_constraint(
        sa.PrimaryKeyConstraint(*key, counts.c.import_id, name="incident_counts_key")
    )
    counts.dialect_options["postgresql"]["partition_by"] = "LIST (import_id)"


def install(conn: sa.Connection, now_ms: int) -> None:
    """Key tables, trigger, DEFAULT partition and the months around ``now_ms``.

    Refuses an existing unpartitioned ``features`` table.
    """
    kind = conn.exec_driver_sql(
        "SELECT relkind FROM pg_class WHERE oid = to_regclass('features')"
    ).scalar_one_or_none()
    if kind != "p":
        raise ValueError(
            "the database has an unpartitioned features table; ?partitions=month needs a "
            "new database (export and re-import the features into it)"
        )
    for statement in _KEY_DDL:
        conn.exec_driver_sql(statement)
    conn.exec_driver_sql(
        f"CREATE TABLE IF NOT EXISTS incident_counts_live PARTITION OF incident_counts "
        f"FOR VALUES IN ({LIVE})"
    )
    month = month_of(now_ms)
    ensure_months(conn, [_add_months(month, k) for k in range(-1, MONTHS_AHEAD + 1)])


def existing_months(conn: sa.Connection) -> set[int]:
    """The months that have a partition."""
    names = conn.exec_driver_sql(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = to_regclass('features')"
    ).scalars()
    return {int(n[len("features_p") :]) for n in names if n.startswith("features_p")}


def ensure_months(conn: sa.Connection, months: list[int]) -> list[int]:
    """Create the missing partitions of ``months`` (whose rows are not in DEFAULT yet)."""
    missing = sorted(set(months) - existing_months(conn))
    for month in missing:
        start, end = month_bounds(month)
        moved = conn.exec_driver_sql(
            f"SELECT count(*) FROM features_default WHERE reported_at >= {start} "
            f"AND reported_at < {end}"
        ).scalar_one()
        if moved:
            continue  # split_default moves them
        create_month(conn, month)
    return missing


def create_month(conn: sa.Connection, month: int) -> None:
    """The month's partition (by ``import_id``) and its partition for live rows."""
    start, end = month_bounds(month)
    name = partition_name(month)
    conn.exec_driver_sql(
        f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF features "
        f"FOR VALUES FROM ({start}) TO ({end}) PARTITION BY LIST (import_id)"
    )
    conn.exec_driver_sql(
        f"CREATE TABLE IF NOT EXISTS {name}_live PARTITION OF {name} FOR VALUES IN ({LIVE})"
    )


def split_default(conn: sa.Connection, columns: list[str]) -> list[int]:
    """Move the DEFAULT partition's rows into partitions of their months; the new months.

    ``columns``: the table's insertable columns (not the generated geometry).
    """
    months = sorted(
        {
            month_of(int(ms))
            for ms in conn.exec_driver_sql(
                "SELECT DISTINCT (reported_at / 86400000) * 86400000 FROM features_default"
            ).scalars()
        }
    )
    if not months:
        return []
    names = ", ".join(columns)
    conn.exec_driver_sql(f"SET LOCAL {_MOVING} = 'on'")  # keys stay: the rows only move
    conn.exec_driver_sql("ALTER TABLE features DETACH PARTITION features_default")
    for month in months:
        start, end = month_bounds(month)
        where = f"reported_at >= {start} AND reported_at < {end}"
        create_month(conn, month)
        conn.exec_driver_sql(
            f"INSERT INTO features ({names}) SELECT {names} FROM features_default WHERE {where}"
        )
        conn.exec_driver_sql(f"DELETE FROM features_default WHERE {where}")
    conn.exec_driver_sql("ALTER TABLE features ATTACH PARTITION features_default DEFAULT")
    conn.exec_driver_sql(f"SET LOCAL {_MOVING} = 'off'")
    return months


def _add_months(month: int, k: int) -> int:
    year, number = divmod(month, 100)
    total = year * 12 + number - 1 + k
    return (total // 12) * 100 + total % 12 + 1
