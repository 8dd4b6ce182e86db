"""Locators per boundary generation, built once per process and kept for the last few used.

The lookup raster of each is cached on disk (see :mod:`cityaware.geo.engine.lookup`), so
a restart loads it instead of rebuilding. Thread-safe: concurrent first uses
of one generation build it once.

>>> from pathlib import Path
>>> cache = LocatorCache(lambda generation: None, Path("/tmp/unused"))
>>> cache.limit
3
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import pandas as pd

from cityaware.geo.engine.locator import GridLocator


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
