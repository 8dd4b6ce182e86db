"""Callbacks told each time a write transaction of this process commits.

The live event stream waits on this instead of polling (it still polls, slowly, for
the commits of other processes). A callback runs in the committing thread right after
the commit, so it must be quick and must not write (hand the news to another thread or
an event loop); one that raises is logged, never failing the write that triggered it.

>>> signal = CommitSignal()
>>> seen = []
>>> stop = signal.subscribe(lambda: seen.append(1))
>>> signal.notify(); stop(); signal.notify()
>>> seen
[1]
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class CommitSignal:
    """The listeners of one backend's commits (thread-safe)."""

    def __init__(self) -> None:
        self._listeners: tuple[Callable[[], None], ...] = ()
        self._lock = threading.Lock()

    def subscribe(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener()`` after every commit from now on; returns the unsubscribe."""
        with self._lock:
            self._listeners += (listener,)

        def unsubscribe() -> None:
            with self._lock:
                self._listeners = tuple(f for f in self._listeners if f is not listener)

        return unsubscribe

    def notify(self) -> None:
        """Tell every listener that a transaction committed."""
        for listener in self._listeners:  # a snapshot: (un)subscribing replaces the tuple
            try:
                listener()
            except Exception:
                log.exception("a commit listener failed")
