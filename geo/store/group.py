"""Group commit: live writes from many threads committed together by one writer thread.

A caller hands :meth:`GroupWriter.submit` a job, a function of an open write
connection; the writer thread takes every job waiting at that moment, runs them
in submission order in **one** write transaction and commits once. A job that fails
is rolled back alone and its exception goes to its caller only: the batch first runs
without savepoints (fewer statements while the write lock is held); if a job fails,
that transaction is rolled back and the batch runs again with each job inside its own
SAVEPOINT (so jobs must be functions of the connection alone, as the retries after a
lost deadlock already need). Each caller returns only after that commit: nothing
acknowledged is lost, and the cost of the commit (SQLite's WAL ``fsync`` with
``synchronous=FULL``, PostgreSQL's WAL flush) is shared by the whole batch
instead of paid per write. Jobs submitted with :meth:`GroupWriter.submit_bulk` that
follow each other in a batch run as one call (one statement for all their rows, an
``executemany``); after a failure each runs alone. While one batch commits the next one
gathers, so the batch grows with the load by itself; there is no timer and no added latency
when writes come one at a time.

Jobs run in order inside the transaction, so change-feed numbers (taken by each
job under the write lock, see :mod:`geo.store.changes`) stay in commit order.
``begin(conn)`` runs first in every transaction: the store takes the change-feed
counter there, the first lock of every writer (:mod:`geo.store.lockorder`). A job
that loses a deadlock or a serialization failure anyway (PostgreSQL) is run again in
the next transaction, and a whole batch whose transaction failed that way is run
again, each at most :data:`~geo.store.lockorder.ATTEMPTS` times in all.

>>> writer = GroupWriter(backend)                                  # doctest: +SKIP
>>> writer.submit(lambda conn: conn.execute(sa.text("SELECT 1")).scalar_one())  # doctest: +SKIP
1
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar

import sqlalchemy as sa

from cityaware.geo.store.dialect import Backend
from cityaware.geo.store.lockorder import ATTEMPTS, retryable

T = TypeVar("T")
MAX_BATCH = 512


Bulk = Callable[[sa.Connection, list[Any]], list[Any]]


@dataclass
class _Job:
    run: Callable[[sa.Connection], Any]
    done: Future[Any] = field(default_factory=Future)
    attempts: int = 0
    bulk: Bulk | None = None  # with ``item``: run with its like neighbours in one call
    item: Any = None


class GroupWriter:
    """One writer thread committing the jobs queued meanwhile in one transaction.

    ``max_batch`` bounds the jobs per transaction (and so the time the write lock
    is held by one commit); ``begin(conn)`` runs first in each transaction.
    """

    def __init__(
        self,
        backend: Backend,
        max_batch: int = MAX_BATCH,
        begin: Callable[[sa.Connection], None] | None = None,
    ) -> None:
        self.backend = backend
        self.max_batch = max_batch
        self.begin = begin
        self.retried = 0  # job or batch runs repeated after a lost deadlock
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._starting = threading.Lock()
        self.batches = 0
        self.jobs = 0
        self.held_s = 0.0  # seconds inside committed transactions: the write lock held
        self.held_max_s = 0.0  # the longest of them
        self.waited_s = 0.0  # seconds waiting for the write lock (other processes' turns)

    def submit(self, run: Callable[[sa.Connection], T]) -> T:
        """Run ``run(conn)`` in the next group transaction; return its result once that
        transaction has committed (or raise what ``run`` raised, or the commit's error)."""
        return self._submitted(_Job(run))  # type: ignore[no-any-return]

    def submit_bulk(self, bulk: Bulk, item: Any) -> Any:
        """Like :meth:`submit` for ``bulk(conn, [item])[0]``; the jobs of one batch with an
        equal ``bulk`` that follow each other run as one ``bulk(conn, items)``, which returns
        their results in order (and raises if any fails: then each runs alone)."""
        return self._submitted(_Job(lambda conn: bulk(conn, [item])[0], bulk=bulk, item=item))

    def _submitted(self, job: _Job) -> Any:
        if threading.current_thread() is self._thread:  # a job writing again: same transaction
            raise RuntimeError("a group-commit job cannot submit another job")
        self._start()
        self._queue.put(job)
        return job.done.result()

    def close(self) -> None:
        """Finish the queued jobs and stop the writer thread."""
        thread = self._thread
        if thread is not None and thread.is_alive():
            self._queue.put(None)
            thread.join(timeout=30)
        self._thread = None

    def _start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._starting:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._serve, name="store-group-commit", daemon=True
                )
                self._thread.start()

    def _serve(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    self._commit(batch)
                    return
                batch.append(job)
            self._commit(batch)

    def _commit(self, batch: list[_Job], careful: bool = False) -> None:
        """Run ``batch`` in one transaction; tell each caller its outcome after the commit.

        First without savepoints (two statements fewer per job under the write lock); when
        a job fails, that transaction is rolled back and the batch runs again ``careful``ly,
        each job inside its own savepoint (a lone job's failure is simply its outcome).
        Jobs that lost a deadlock run again in a transaction of their own first."""
        outcomes: list[tuple[Any, BaseException | None]] = []
        for job in batch if not careful else ():
            job.attempts += 1
        asked = time.perf_counter()
        try:
            with self.backend.write() as conn:
                held = time.perf_counter()
                if self.begin is not None:
                    self.begin(conn)
                outcomes = _each(conn, batch) if careful else _all(conn, batch)
        except _JobFailed as failed:  # rolled back: nothing of the batch is stored
            if len(batch) > 1:
                self._commit(batch, careful=True)
                return
            outcomes = [(None, failed.error)]
        except BaseException as error:  # the commit failed: nothing of the batch is stored
            if self._again(error, batch[0]):
                self._commit(batch)
                return
            for job in batch:
                job.done.set_exception(error)
            return
        else:
            self._timed(asked, held)
        again = [j for j, (_, e) in zip(batch, outcomes, strict=True) if self._again(e, j)]
        if again:
            self._commit(again)
        rerun = {id(job) for job in again}
        for job, (result, failure) in zip(batch, outcomes, strict=True):
            if id(job) in rerun:
                continue
            self.jobs += 1
            if failure is None:
                job.done.set_result(result)
            else:
                job.done.set_exception(failure)

    def _timed(self, asked: float, held: float) -> None:
        """Count one committed batch: how long it waited for the write lock and held it."""
        hold = time.perf_counter() - held
        self.batches += 1
        self.held_s += hold
        self.held_max_s = max(self.held_max_s, hold)
        self.waited_s += held - asked

    def _again(self, error: BaseException | None, job: _Job) -> bool:
        """Whether to run ``job`` again: it lost a deadlock with attempts left."""
        if error is None or not retryable(error) or job.attempts >= ATTEMPTS:
            return False
        self.retried += 1
        return True


class _JobFailed(Exception):
    """A job's failure, rolling back a transaction run without savepoints."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


def _all(conn: sa.Connection, batch: list[_Job]) -> list[tuple[Any, BaseException | None]]:
    """Run the jobs of ``batch`` in order, neighbours with an equal ``bulk`` in one call;
    the first failure raises _JobFailed."""
    outcomes: list[tuple[Any, BaseException | None]] = []
    start = 0
    while start < len(batch):
        job, end = batch[start], start + 1
        while job.bulk is not None and end < len(batch) and batch[end].bulk == job.bulk:
            end += 1
        try:
            if job.bulk is None:
                results = [job.run(conn)]
            else:
                results = job.bulk(conn, [j.item for j in batch[start:end]])
        except Exception as error:
            raise _JobFailed(error) from error
        outcomes += [(result, None) for result in results]
        start = end
    return outcomes


def _each(conn: sa.Connection, batch: list[_Job]) -> list[tuple[Any, BaseException | None]]:
    """Run each job of ``batch`` inside its own SAVEPOINT: (result, None) or (None, error)."""
    outcomes: list[tuple[Any, BaseException | None]] = []
    for job in batch:
        try:
            with conn.begin_nested():
                outcomes.append((job.run(conn), None))
        except Exception as error:  # the job's own failure: rolled back alone
            outcomes.append((None, error))
    return outcomes
