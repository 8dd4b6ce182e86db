"""A transaction that loses a real PostgreSQL deadlock is run again (geo.store.lockorder):
on its own (``retrying``) and as a group-commit job; the retries are bounded."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from cityaware.geo.store.group import GroupWriter
from cityaware.geo.store.lockorder import ATTEMPTS, retryable, retrying

PAIR = sa.Table("lock_pair", sa.MetaData(), sa.Column("k", sa.Text, primary_key=True),
                sa.Column("n", sa.Integer))  # fmt: skip


@pytest.fixture
def pair(store):
    if store.backend_name != "postgis":
        pytest.skip("SQLite write transactions are serial: nothing to deadlock")
    with store.backend.write() as conn:
        PAIR.create(conn)
        conn.execute(PAIR.insert(), [{"k": "a", "n": 0}, {"k": "b", "n": 0}])
    return store.backend


def bump(conn: sa.Connection, key: str) -> None:
    conn.execute(PAIR.update().where(PAIR.c.k == key).values(n=PAIR.c.n + 1))


def crossing(first: str, second: str, barrier: threading.Barrier, tries: list[str], name: str,
             patience: str):  # fmt: skip
    """A transaction body locking ``first`` then ``second``; the first try meets the other
    transaction in between (so the two deadlock). ``patience``: its deadlock_timeout, so
    the impatient one is PostgreSQL's victim."""

    def body(conn: sa.Connection) -> None:
        tries.append(name)
        conn.exec_driver_sql(f"SET LOCAL deadlock_timeout = '{patience}'")
        bump(conn, first)
        if tries.count(name) == 1:
            barrier.wait(timeout=30)
        bump(conn, second)

    return body


def totals(backend) -> dict[str, int]:
    with backend.read() as conn:
        return dict(conn.execute(sa.select(PAIR.c.k, PAIR.c.n)).all())


def test_a_transaction_that_loses_a_deadlock_is_run_again(pair):
    barrier, tries, errors = threading.Barrier(2), [], []
    winner = crossing("b", "a", barrier, tries, "winner", "20s")
    loser = crossing("a", "b", barrier, tries, "loser", "50ms")

    def run(body) -> None:
        def transaction() -> None:
            with pair.write() as conn:
                body(conn)

        try:
            retrying(transaction)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(b,)) for b in (winner, loser)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sorted(tries) == ["loser", "loser", "winner"]  # one deadlock lost, run once more
    assert totals(pair) == {"a": 2, "b": 2}  # both committed, the lost try left nothing


def test_a_group_job_that_loses_a_deadlock_runs_again_in_the_next_transaction(pair):
    barrier, tries = threading.Barrier(2), []
    writer = GroupWriter(pair)
    job = crossing("a", "b", barrier, tries, "job", "50ms")
    other = crossing("b", "a", barrier, tries, "other", "20s")

    def outside() -> None:
        with pair.write() as conn:
            other(conn)

    thread = threading.Thread(target=outside)
    thread.start()
    try:
        writer.submit(job)  # returns once committed, after its second try
    finally:
        thread.join()
        writer.close()
    assert sorted(tries) == ["job", "job", "other"]
    assert writer.retried == 1
    assert totals(pair) == {"a": 2, "b": 2}


class Lost(Exception):
    sqlstate = "40P01"


def test_retries_are_bounded_and_other_errors_are_not_retried():
    calls: list[int] = []

    def always_lost() -> None:
        calls.append(1)
        raise sa.exc.OperationalError("UPDATE", {}, Lost())

    with pytest.raises(sa.exc.OperationalError):
        retrying(always_lost, pause_s=0)
    assert len(calls) == ATTEMPTS

    def broken() -> None:
        calls.append(1)
        raise sa.exc.IntegrityError("INSERT", {}, Exception("duplicate key"))

    calls.clear()
    with pytest.raises(sa.exc.IntegrityError):
        retrying(broken, pause_s=0)
    assert len(calls) == 1
    assert not retryable(sa.exc.IntegrityError("INSERT", {}, Exception("duplicate key")))
