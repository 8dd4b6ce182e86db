"""Staged import steps commit without fsync and checkpoint the WAL outside the write
lock; everything else stays durable (SQLite)."""

from __future__ import annotations

import sqlalchemy as sa

from cityaware.geo.store import open_store
from cityaware.geo.store.dialect import ANALYZED_KEY, SQLITE_FILE
from tests.geo.store import sample


def _pragma(conn: sa.Connection, name: str) -> int:
    return int(conn.exec_driver_sql(f"PRAGMA {name}").scalar_one())


def test_a_non_durable_write_leaves_its_connection_durable_again(tmp_path, locator):
    store = open_store("", tmp_path, locator)
    try:
        with store.backend.write(durable=False) as conn:
            assert _pragma(conn, "synchronous") == 1  # NORMAL: no fsync at this commit
            assert _pragma(conn, "wal_autocheckpoint") == 0  # no checkpoint in the lock
            conn.exec_driver_sql("CREATE TABLE filler (x BLOB)")
            for _ in range(50):
                conn.exec_driver_sql("INSERT INTO filler VALUES (zeroblob(4096))")
        # ... but after it, outside the lock: the rows are in the database file itself
        assert (tmp_path / SQLITE_FILE).stat().st_size > 50 * 4096
        for _ in range(3):  # whichever pooled connection comes next
            with store.backend.write() as conn:
                assert _pragma(conn, "synchronous") == 2  # FULL
                assert _pragma(conn, "wal_autocheckpoint") == 1000  # SQLite's default
    finally:
        store.close()


def test_analyze_runs_again_only_once_the_table_has_doubled(tmp_path, locator):
    store = open_store("", tmp_path, locator)
    meta = store.tables["store_meta"]
    analyzed = sa.select(meta.c.value).where(meta.c.key == ANALYZED_KEY)
    try:
        store.bulk_import("incidents", sample.incidents(100))
        with store.backend.read() as conn:
            first = conn.execute(analyzed).scalar_one()
        store.bulk_import("incidents", sample.incidents(30, seed=2).assign(id=None))
        with store.backend.read() as conn:
            assert conn.execute(analyzed).scalar_one() == first  # grew by 30%: no ANALYZE
        store.bulk_import("incidents", sample.incidents(200, seed=3).assign(id=None))
        with store.backend.read() as conn:
            assert conn.execute(analyzed).scalar_one() > first  # doubled: analyzed again
    finally:
        store.close()
