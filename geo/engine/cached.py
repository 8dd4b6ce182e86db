"""Locators per boundary generation, built once per process and kept for the last few used.

The lookup raster of each is cached on disk (see :mod:`cityaware.geo.engine.snapshot`),
so a restart loads it instead of rebuilding. Thread-safe: concurrent first uses
of one generation build it once. :func:`open_locator` opens a generation's
snapshot without reading its boundaries at all (file commands).

>>> from pathlib import Path
>>> cache = LocatorCache(lambda generation: None, Path("/tmp/unused"))
>>> cache.limit
3
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from cityaware.geo.engine.locator import GridLocator

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd


class LocatorCache:
    """``get(generation)`` -> GridLocator, building from ``units_of(generation)`` (and
    ``divisions_of(generation)``, the units known without outline) on first use."""

    def __init__(
        self,
        units_of: Callable[[str], gpd.GeoDataFrame],
        cache_dir: Path,
        limit: int = 3,
        divisions_of: Callable[[str], pd.DataFrame] | None = None,
    ) -> None:
        self.units_of, self.cache_dir, self.limit = units_of, cache_dir, limit
        self.divisions_of = divisions_of
        self._locators: OrderedDict[str, GridLocator] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, generation: str) -> GridLocator:
        """The locator of ``generation`` (built, or loaded from the raster cache, once)."""
        with self._lock:
            if generation in self._locators:
                self._locators.move_to_end(generation)
                return self._locators[generation]
            divisions = self.divisions_of(generation) if self.divisions_of else None
            locator = GridLocator.build(
                self.units_of(generation), generation, cache_dir=self.cache_dir, divisions=divisions
            )
            self._locators[generation] = locator
            while len(self._locators) > self.limit:
                self._locators.popitem(last=False)
            return locator


def open_locator(
    cache_dir: Path,
    generation: str,
    sources: Sequence[Path],
    build: Callable[[], GridLocator],
) -> GridLocator:
    """The locator of ``generation`` from its snapshot while the ``sources`` it was built
    from are unchanged (same size and modification time), else ``build()`` (which
    saves a snapshot, e.g. :meth:`LocatorCache.get`) remembered for next time.

    Opening a snapshot reads no boundaries and imports neither geopandas nor pandas.
    """
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", generation)
    pointer = cache_dir / f"locator-{safe}.json"
    stamp = [[str(p), p.stat().st_size, p.stat().st_mtime_ns] for p in sources if p.exists()]
    try:
        known = json.loads(pointer.read_text(encoding="utf-8"))
        if known["sources"] == stamp:
            return GridLocator.open(cache_dir / known["folder"])
    except (OSError, ValueError, KeyError):
        pass  # no snapshot yet, a stale one, or a half-removed one: build
    locator = build()
    if locator.folder is not None:
        tmp = pointer.with_name(f".{pointer.name}.{os.getpid()}")
        tmp.write_text(json.dumps({"sources": stamp, "folder": locator.folder.name}))
        os.replace(tmp, pointer)
    return locator
