"""A ``dask.distributed`` client for a scheduler spec, and locators loaded once per worker.

``local:N`` starts a LocalCluster of N single-threaded worker processes on this
machine; ``tcp://host:port`` connects to a running scheduler (its workers must
see the data directory and the input and output folders at the same paths: a
shared file system). A scheduler that does not answer within ``timeout``
seconds is an :class:`~geo.errors.Unavailable` error that names it.

Workers do not receive the locator in their tasks: a task carries a small
:class:`LocatorSource` (paths and a generation id), and :func:`load_locator`
builds the locator from the generation's files and the lookup raster cached on
disk, once per worker process.

>>> LocatorSource("/srv/ca/boundaries", "g0002", "/srv/ca/cache").generation
'g0002'
>>> parse_scheduler("local:4"), parse_scheduler("tcp://10.0.0.5:8786")
(('local', 4), ('tcp', 'tcp://10.0.0.5:8786'))
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from cityaware.geo.boundaries.generations import BoundaryRegistry
from cityaware.geo.engine.locator import GridLocator
from cityaware.geo.errors import InvalidInput, Unavailable

DEFAULT_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class LocatorSource:
    """Where a worker finds a generation: the boundaries folder and the raster cache."""

    boundaries: str
    generation: str
    cache_dir: str

    def load(self) -> GridLocator:
        """The locator (built from disk at the first call in this process, then kept)."""
        return load_locator(self)


@lru_cache(maxsize=4)
def load_locator(source: LocatorSource) -> GridLocator:
    """Build the locator of ``source`` from its files (the lookup raster from its cache)."""
    units = BoundaryRegistry(Path(source.boundaries)).units(source.generation)
    return GridLocator.build(units, source.generation, cache_dir=Path(source.cache_dir))


def parse_scheduler(spec: str) -> tuple[str, int | str]:
    """``('local', N)``, ``('tcp', address)`` or ``('sync', 1)`` (this process, no cluster)."""
    if spec == "sync":
        return "sync", 1
    if spec.startswith("local"):
        _, _, count = spec.partition(":")
        workers = int(count) if count.isdigit() else os.cpu_count() or 1
        if workers < 1:
            raise InvalidInput("--scheduler local:N needs N >= 1")
        return "local", workers
    if spec.startswith(("tcp://", "tls://")):
        return "tcp", spec
    raise InvalidInput(
        f"--scheduler {spec!r}: use local:N (a LocalCluster), tcp://HOST:PORT or sync"
    )


@contextmanager
def open_client(spec: str, timeout: float = DEFAULT_TIMEOUT_S) -> Iterator[object | None]:
    """A ``distributed.Client`` for ``spec`` (None for ``sync``), closed at the end."""
    from distributed import Client, LocalCluster

    kind, value = parse_scheduler(spec)
    if kind == "sync":
        yield None
        return
    if kind == "local":
        assert isinstance(value, int)
        cluster = LocalCluster(
            n_workers=value, threads_per_worker=1, processes=True, dashboard_address=None
        )
        with cluster, Client(cluster) as client:
            yield client
        return
    try:
        client = Client(str(value), timeout=timeout)
    except (OSError, TimeoutError) as error:
        raise Unavailable(
            f"cannot reach the dask scheduler at {value} within {timeout:g} s ({error}); "
            "is it running, and is the address right?"
        ) from None
    with client:
        yield client
