"""Loading a whole data set into a new SQLite store fast: :func:`building`.

A builder (the benchmarks' year of incidents, a demo city) fills a store nobody else
has open with many bulk imports. Each row inserted into ``features`` also updates a
dozen B-tree indexes at random places and the R*Tree (its insert trigger); with
millions of rows those pages no longer fit the page cache and the inserts crawl. Inside
``with building(store):`` the store's own :meth:`~geo.store.store.FeatureStore.bulk_import`
runs as usual (the same rows, change rows, counts and staging), but the indexes that
imports do not read are dropped and the R*Tree trigger is off; at the end the indexes
are created again (SQLite sorts once) and the R*Tree is filled in one statement. So the
store ends exactly as if every row had gone in one by one.

Only for a store no other process or thread uses meanwhile: its readers would miss
the dropped indexes (slow, never wrong) and the spatial index (wrong) until the end.

>>> with building(store):  # doctest: +SKIP
...     store.bulk_import("incidents", frame, strict=True)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import sqlalchemy as sa

from cityaware.geo.errors import InvalidInput

if TYPE_CHECKING:
    from cityaware.geo.store.store import FeatureStore

# indexes a bulk import reads itself (ids already taken, its staged rows in fid order)
KEPT = ("features_kind_id", "features_kind_fid", "features_import")
RTREE_TRIGGER = "features_rtree_insert"


def dropped_indexes(features: sa.Table) -> list[sa.Index]:
    """The indexes of ``features`` that :func:`building` drops and creates again.

    >>> from cityaware.geo.store.schema import build_metadata
    >>> names = [i.name for i in dropped_indexes(build_metadata()[1]["features"])]
    >>> "features_kind_grid" in names and "features_kind_id" not in names
    True
    """
    return sorted((i for i in features.indexes if i.name not in KEPT), key=lambda i: str(i.name))


@contextmanager
def building(store: FeatureStore) -> Iterator[None]:
    """Bulk imports inside the block go in without the indexes they do not read (see the
    module doc); InvalidInput on a backend other than SQLite."""
    if store.backend_name != "sqlite":
        raise InvalidInput("building() is for the embedded SQLite store")
    features = store.features
    indexes = dropped_indexes(features)
    trigger = _trigger_sql(store)
    with store.backend.write() as conn:
        for index in indexes:
            index.drop(conn, checkfirst=True)
        conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {RTREE_TRIGGER}")
    try:
        yield
    finally:
        with store.backend.write() as conn:
            conn.exec_driver_sql("DELETE FROM features_rtree")
            conn.exec_driver_sql(
                "INSERT INTO features_rtree SELECT fid, lon, lon, lat, lat FROM features"
            )
            conn.exec_driver_sql(trigger)
            for index in indexes:
                index.create(conn, checkfirst=True)
            conn.exec_driver_sql("PRAGMA analysis_limit=1000")  # sampled, as the store's
            conn.exec_driver_sql("ANALYZE")


def _trigger_sql(store: FeatureStore) -> str:
    """The R*Tree insert trigger's CREATE statement, as the store has it."""
    with store.backend.read() as conn:
        sql = conn.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?", (RTREE_TRIGGER,)
        ).scalar_one_or_none()
    if sql is None:
        raise InvalidInput("the store has no R*Tree insert trigger")
    return str(sql)
