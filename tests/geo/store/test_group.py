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
