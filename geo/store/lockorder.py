"""The store's one lock order, and running a transaction again that lost a deadlock.

Every writing transaction takes the change-feed counter row first (:func:`lock_feed`; see
"Lock order" in :mod:`geo.store.changes`), so writers of this store do not deadlock each
other on feature or count rows. A transaction can still lose to something else (another
program, a writer that does not take the counter, a lock PostgreSQL takes itself).
PostgreSQL then aborts it whole (SQLSTATE ``40P01`` deadlock, ``40001``
serialization failure) and it is safe to run again. :func:`retrying` does so a bounded
number of times, with a short growing pause; any other error, and the last failure, goes
to the caller. SQLite never raises these (its writers are serial). :func:`ordered_write`
does both for a writer that opens its own transaction (live readings, positions, rules).

>>> class Lost(Exception):
...     sqlstate = "40P01"  # what psycopg's errors carry
>>> calls = []
>>> def flaky() -> str:
...     calls.append(1)
...     if len(calls) < 3:
...         raise sa.exc.OperationalError("UPDATE", {}, Lost())
...     return "done"
>>> retrying(flaky, pause_s=0), len(calls)
('done', 3)
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Protocol, TypeVar

import sqlalchemy as sa

from cityaware.geo.store.prepared import Prepared

if TYPE_CHECKING:
    from cityaware.geo.store.dialect import Backend

T = TypeVar("T")
VERSION_KEY = "data_version"  # store_meta: the change-feed counter (the newest seq)
RETRYABLE = frozenset({"40P01", "40001"})  # deadlock detected, serialization failure
ATTEMPTS = 5


def lock_feed(conn: sa.Connection, meta: sa.Table) -> None:
    """Lock the change-feed counter row (in ``store_meta``) until ``conn``'s transaction
    ends: ``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite leaves FOR UPDATE out (its write
    transactions are serial). Taking it again in the same transaction is one indexed read.
    The statement is built and compiled once per table (every write transaction runs it)."""
    _feed_lock(meta).run(conn)


@lru_cache(maxsize=16)
def _feed_lock(meta: sa.Table) -> Prepared:
    return Prepared(sa.select(meta.c.value).where(meta.c.key == VERSION_KEY).with_for_update())


def retryable(error: BaseException) -> bool:
    """True when ``error`` is a deadlock or serialization failure (worth running again).

    >>> class Lost(Exception):
    ...     sqlstate = "40001"
    >>> retryable(sa.exc.OperationalError("x", {}, Lost())), retryable(ValueError())
    (True, False)
    """
    if not isinstance(error, sa.exc.DBAPIError):
        return False
    return getattr(error.orig, "sqlstate", None) in RETRYABLE


def retrying(run: Callable[[], T], attempts: int = ATTEMPTS, pause_s: float = 0.02) -> T:
    """``run()``, run again up to ``attempts`` times in all while it fails :func:`retryable`.

    ``run`` must be a whole transaction (it opens and commits its own), so a failed
    attempt left nothing behind.
    """
    attempt = 1
    while True:
        try:
            return run()
        except sa.exc.DBAPIError as error:
            if attempt >= attempts or not retryable(error):
                raise
        time.sleep(pause_s * attempt * (1 + random.random()))  # jitter: losers part ways
        attempt += 1


class Store(Protocol):
    """What :func:`ordered_write` needs of a feature store."""

    @property
    def backend(self) -> Backend: ...

    @property
    def tables(self) -> Mapping[str, sa.Table]: ...


def ordered_write(store: Store, body: Callable[[sa.Connection], T]) -> T:
    """``body(conn)`` in a write transaction of ``store`` whose first lock is the feed
    counter (:func:`lock_feed`), run again whole while it loses a deadlock (:func:`retrying`).

    ``body`` may run more than once: it must build what it returns inside (a lost attempt's
    work is rolled back with its transaction).

    >>> from cityaware.geo.store.dialect import Backend
    >>> meta = sa.Table("store_meta", sa.MetaData(), sa.Column("key", sa.String, primary_key=True),
    ...                 sa.Column("value", sa.BigInteger))
    >>> backend = Backend(sa.create_engine("sqlite://"))
    >>> with backend.write() as conn:
    ...     meta.create(conn)
    ...     _ = conn.execute(meta.insert().values(key=VERSION_KEY, value=0))
    >>> from types import SimpleNamespace
    >>> store = SimpleNamespace(backend=backend, tables={"store_meta": meta})
    >>> ordered_write(store, lambda conn: conn.execute(
    ...     meta.update().values(value=meta.c.value + 1)).rowcount)
    1
    """

    def transaction() -> T:
        with store.backend.write() as conn:
            lock_feed(conn, store.tables["store_meta"])
            return body(conn)

    return retrying(transaction)
