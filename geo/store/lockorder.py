"""The store's one lock order, and running a transaction again that lost a deadlock.

Every writing transaction takes the change-feed counter row first (:func:`lock_feed`; see
"Lock order" in :mod:`geo.store.changes`), so writers of this store do not deadlock each
other on feature or count rows. A transaction can still lose to something else (another
program, a writer that does not take the counter, a lock PostgreSQL takes itself).
PostgreSQL then aborts it whole (SQLSTATE ``40P01`` deadlock, ``40001``
serialization failure) and it is safe to run again. :func:`retrying` does so a bounded
number of times, with a short growing pause; any other error, and the last failure, goes
to the caller. SQLite never raises these (its writers are serial).

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
from collections.abc import Callable
from typing import TypeVar

import sqlalchemy as sa

T = TypeVar("T")
VERSION_KEY = "data_version"  # store_meta: the change-feed counter (the newest seq)
RETRYABLE = frozenset({"40P01", "40001"})  # deadlock detected, serialization failure
ATTEMPTS = 5


def lock_feed(conn: sa.Connection, meta: sa.Table) -> None:
    """Lock the change-feed counter row (in ``store_meta``) until ``conn``'s transaction
    ends: ``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite leaves FOR UPDATE out (its write
    transactions are serial). Taking it again in the same transaction is one indexed read."""
    conn.execute(sa.select(meta.c.value).where(meta.c.key == VERSION_KEY).with_for_update())


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
