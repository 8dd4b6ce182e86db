"""The gazetteer of a data directory's active boundary generation.

Address points come from, in order: ``<data_dir>/addresses.gpkg``, a folder
``<data_dir>/addresses/`` (roads.csv + places.csv), generated demo points
when the generation was imported from the demo file, else none (units only).
The gazetteer is rebuilt when the active generation changes and cached on
disk under ``<data_dir>/cache``.

>>> address_points_source(Path("/nonexistent"), "zhengzhou-demo.gpkg")
'demo'
>>> address_points_source(Path("/nonexistent"), "grids.gpkg") is None
True
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import pandas as pd

from cityaware.geo.boundaries.schema import DEMO_GPKG_NAME
from cityaware.geo.engine.protocol import Locator
from cityaware.geo.gazetteer.build import DEMO_POINTS, Gazetteer
from cityaware.geo.gazetteer.result import GeocodeResult
from cityaware.geo.profile import CityProfile


def address_points_source(data_dir: Path, generation_source: str) -> str | Path | None:
    """Where the address points of a data directory come from (see the module docstring)."""
    for candidate in (data_dir / "addresses.gpkg", data_dir / "addresses"):
        if candidate.exists():
            return candidate
    return DEMO_POINTS if DEMO_GPKG_NAME in (generation_source or "") else None


class ActiveGazetteer:
    """Geocodes against the gazetteer of whichever generation is active now.

    ``locator()`` returns the active generation's Locator; ``units(g)`` and
    ``source(g)`` give that generation's units frame and import source;
    ``divisions(g)`` its units known without outline and ``profile(g)`` its city
    profile (both optional).
    """

    def __init__(
        self,
        locator: Callable[[], Locator],
        units: Callable[[str], gpd.GeoDataFrame],
        source: Callable[[str], str],
        data_dir: Path,
        divisions: Callable[[str], pd.DataFrame] | None = None,
        profile: Callable[[str], CityProfile] | None = None,
    ) -> None:
        self._locator, self._units, self._source = locator, units, source
        self._divisions, self._profile = divisions, profile
        self.data_dir = Path(data_dir)
        self._current: Gazetteer | None = None
        self._lock = threading.Lock()

    def current(self) -> Gazetteer:
        """The active generation's gazetteer (built or loaded on first use)."""
        locator = self._locator()
        current = self._current
        if current is not None and current.generation == locator.generation:
            return current
        with self._lock:
            if self._current is None or self._current.generation != locator.generation:
                generation = locator.generation
                self._current = Gazetteer.load_or_build(
                    self._units(generation),
                    locator,
                    generation,
                    self.data_dir / "cache",
                    address_points_source(self.data_dir, self._source(generation)),
                    self._profile(generation) if self._profile else None,
                    self._divisions(generation) if self._divisions else None,
                )
                # It lives as long as the process: keep its objects out of the cyclic
                # GC's full scans, which would otherwise stall single lookups.
                gc.freeze()
            return self._current

    def geocode(self, text: str, limit: int = 5) -> GeocodeResult:
        """:meth:`Gazetteer.geocode` on the active generation."""
        return self.current().geocode(text, limit)
