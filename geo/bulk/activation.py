"""Crash-safe activation of a boundary generation: the pointer moves only after the features.

:func:`activate` runs, under a lock file (one activation at a time, across
processes):

1. record the intent (``<boundaries>/ACTIVATING``, durable) -- step ``intent``;
2. re-assign every stored feature to the new generation in batches, each
   committed on its own (:mod:`geo.store.reassign`) -- step ``reassigned``;
   readers still see the old active generation, live writes still use it;
3. switch the ``ACTIVE`` pointer atomically -- step ``switched``;
4. re-assign what live writes stored with the old generation between 2 and 3,
   then forget the intent -- step ``done``.

A crash (even ``kill -9``) at any point leaves the intent behind, and
:func:`finish_pending` (run when the server or the command line starts) does the
rest: the batches are idempotent (rows already on the target are skipped), so
every feature ends on the new generation, with one history row and one
``reassign`` change per move, and the pointer agreeing.

``CITYAWARE_ACTIVATION_HOLD=<step>`` makes :func:`activate` stop (sleep) right
after that step, for the crash tests.

>>> STEPS
('intent', 'reassigned', 'switched', 'done')
"""

from __future__ import annotations

import fcntl
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from cityaware.geo.boundaries.generations import BoundaryRegistry
from cityaware.geo.engine.locator import GridLocator

if TYPE_CHECKING:
    from cityaware.geo.store.store import FeatureStore

STEPS = ("intent", "reassigned", "switched", "done")
HOLD_VARIABLE = "CITYAWARE_ACTIVATION_HOLD"
LOCK_FILE = ".activation.lock"

Reassign = Callable[[GridLocator], int]


def activate(
    registry: BoundaryRegistry,
    generation: str,
    store: FeatureStore | None,
    locator_of: Callable[[str], GridLocator],
    reassign: Reassign | None = None,
) -> int:
    """Activate ``generation`` and move the stored features to it; returns the count moved.

    ``reassign`` moves the bulk (default: ``store.reassign`` in this process; e.g. the
    dask path of :func:`geo.bulk.reassign.reassign_on_cluster`).

    >>> activate(registry, "g0002", store, ctx.locators.get)  # doctest: +SKIP
    1204
    """
    with _locked(registry):
        return _activate(registry, generation, store, locator_of, reassign)


def finish_pending(
    registry: BoundaryRegistry,
    store: FeatureStore | None,
    locator_of: Callable[[str], GridLocator],
) -> str | None:
    """Finish an activation a crash interrupted; the generation it finished, or None.

    >>> finish_pending(registry, store, ctx.locators.get)  # doctest: +SKIP
    'g0002'
    """
    if registry.pending_activation() is None:
        return None
    with _locked(registry):
        generation = registry.pending_activation()  # another process may have finished it
        if generation is not None:
            _activate(registry, generation, store, locator_of, None)
        return generation


def _activate(
    registry: BoundaryRegistry,
    generation: str,
    store: FeatureStore | None,
    locator_of: Callable[[str], GridLocator],
    reassign: Reassign | None,
) -> int:
    registry.begin_activation(generation)
    _step("intent")
    moved = 0
    if store is not None:
        locator = locator_of(generation)
        moved = (reassign or store.reassign)(locator)
    _step("reassigned")
    registry.activate(generation)
    _step("switched")
    if store is not None:
        moved += store.reassign(locator)  # stored meanwhile on the old generation
    registry.end_activation()
    _step("done")
    return moved


def _step(name: str) -> None:
    print(f"activation: {name}", file=sys.stderr, flush=True)
    if os.environ.get(HOLD_VARIABLE) == name:
        while True:  # held for a crash test: killed here
            time.sleep(60)


@contextmanager
def _locked(registry: BoundaryRegistry) -> Iterator[None]:
    registry.root.mkdir(parents=True, exist_ok=True)
    with open(registry.root / LOCK_FILE, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
