"""Group commit (geo.store.group): a batch runs without savepoints first; a job that fails
is rolled back alone (its caller gets its error, the others commit), also in a batch of one.
Checked against the table read back, on SQLite and PostGIS."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from cityaware.geo.store.group import GroupWriter

ROWS = sa.Table("group_rows", sa.MetaData(), sa.Column("k", sa.Text, primary_key=True))


@pytest.fixture
def backend(store):
    with store.backend.write() as conn:
        ROWS.create(conn)
    yield store.backend
    with store.backend.write() as conn:
        ROWS.drop(conn)


def stored(backend) -> set[str]:
    with backend.read() as conn:
        return set(conn.execute(sa.select(ROWS.c.k)).scalars())


def adding(key: str, fail: bool = False):
    def job(conn: sa.Connection) -> str:
        conn.execute(ROWS.insert(), {"k": key})
        if fail:
            raise ValueError(f"job {key} fails after writing")
        return key

    return job


def test_a_failing_job_in_a_batch_is_rolled_back_alone(backend):
    writer, gate, started = GroupWriter(backend), threading.Event(), threading.Event()

    def blocker(conn: sa.Connection) -> None:  # holds the writer while the batch gathers
        started.set()
        gate.wait(10)

    jobs = [adding("a"), adding("b", fail=True), adding("c"), adding("d")]
    with ThreadPoolExecutor(5) as pool:
        first = pool.submit(writer.submit, blocker)
        started.wait(10)
        futures = []
        for job in jobs:
            futures.append(pool.submit(writer.submit, job))
            while writer._queue.qsize() < len(futures):  # submitted in this order
                threading.Event().wait(0.001)
        batches = writer.batches
        gate.set()
        first.result(10)
        outcomes = []
        for future in futures:
            try:
                outcomes.append(future.result(10))
            except ValueError as error:
                outcomes.append(str(error))
    writer.close()
    assert outcomes == ["a", "job b fails after writing", "c", "d"]
    assert stored(backend) == {"a", "c", "d"}
    assert writer.batches == batches + 2  # the blocker, then one for the three others
    assert writer.jobs >= 5 and writer.held_s > 0 and writer.held_max_s > 0


def test_a_lone_failing_job_gets_its_error_and_stores_nothing(backend):
    writer = GroupWriter(backend)
    assert writer.submit(adding("x")) == "x"
    with pytest.raises(ValueError, match="job y fails"):
        writer.submit(adding("y", fail=True))
    assert writer.submit(adding("z")) == "z"
    writer.close()
    assert stored(backend) == {"x", "z"}


@pytest.mark.parametrize("duplicate", [False, True])
def test_adds_gathered_in_one_batch_share_statements_and_keep_every_guarantee(store, duplicate):
    """Incident adds queued behind a busy writer run as one bulk write (far fewer statements
    than four per add): each caller gets its feature, a key repeated in the batch replays
    the first, a duplicate id is a Conflict alone (the batch then runs job by job); rows,
    counts (pandas recount) and the change feed (one row per new feature, in submission
    order) as if written one by one."""
    from cityaware.geo.errors import Conflict
    from tests.geo.store.test_summary import assert_counts_exact

    writer, gate, started = store.writer, threading.Event(), threading.Event()

    def blocker(conn: sa.Connection) -> None:
        started.set()
        gate.wait(10)

    after = store.changes(0, 10_000).next
    calls = [({"id": f"b{i}", "lon": 113.61 + i * 0.002, "lat": 34.71, "category": "drainage"},
              None) for i in range(5)]  # fmt: skip
    calls += [({"id": "k1", "lon": 113.62, "lat": 34.72, "category": "road_damage"}, "key-1")]
    calls += [({"id": "k2", "lon": 113.63, "lat": 34.72, "category": "road_damage"}, "key-1")]
    calls += [({"id": "b1", "lon": 113.64, "lat": 34.72, "category": "drainage"}, None)] * duplicate
    statements: list[str] = []

    def seen(conn, cursor, statement, *_):
        statements.append(statement)

    sa.event.listen(store.backend.engine, "before_cursor_execute", seen)
    with ThreadPoolExecutor(len(calls) + 1) as pool:
        first = pool.submit(writer.submit, blocker)
        started.wait(10)
        futures = []
        for record, key in calls:
            futures.append(pool.submit(store.add_or_replay, "incidents", record, "EPSG:4326", key))
            while writer._queue.qsize() < len(futures) and not futures[-1].done():  # in order
                threading.Event().wait(0.001)
        batches = writer.batches
        statements.clear()
        gate.set()
        first.result(10)
        outcomes = []
        for future in futures:
            try:
                feature, created = future.result(10)
                outcomes.append((feature["id"], created))
            except Conflict:
                outcomes.append("conflict")
    assert outcomes[:7] == [*((f"b{i}", True) for i in range(5)), ("k1", True), ("k1", False)]
    sa.event.remove(store.backend.engine, "before_cursor_execute", seen)
    assert outcomes[7:] == ["conflict"] * duplicate
    assert writer.batches == batches + 2  # the blocker; the bulk (its careful rerun uncounted)
    if not duplicate:
        assert len(statements) < 10 < 4 * len(calls), statements
    ids = {f["id"] for f in store.query("incidents", None, limit=10_000).items}
    assert {"b0", "b1", "b2", "b3", "b4", "k1"} <= ids and "k2" not in ids
    assert_counts_exact(store)
    fed = [c for c in store.changes(after, 10_000).changes if c["op"] == "create"]
    assert [c["id"] for c in fed] == ["b0", "b1", "b2", "b3", "b4", "k1"]
