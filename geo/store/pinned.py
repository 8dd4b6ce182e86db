"""A locator that answers with a location the caller already computed.

An incident POST locates its point once (for routing) and hands that
:class:`~geo.engine.results.Location` to the store, which stores exactly that
answer instead of locating again with a locator handle that may have moved on
to another generation meanwhile.

>>> from cityaware.geo.engine.results import Location
>>> here = Location("inside", "g1", "c1", "s1", "d1", None, "gen1", 114.3, 34.8)
>>> batch = PinnedLocator(here).locate_lonlat([114.3], [34.8])
>>> batch.grid_code.tolist(), batch.generation
(['g1'], 'gen1')
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cityaware.geo.engine.results import COLUMNS, Location, LocationBatch
from cityaware.geo.errors import InvalidInput


class PinnedLocator:
    """Answers every point with ``location`` (which must be the point's own)."""

    def __init__(self, location: Location) -> None:
        self.location = location
        self.generation = location.generation

    def locate_lonlat(
        self, lon: Sequence[float] | np.ndarray, lat: Sequence[float] | np.ndarray
    ) -> LocationBatch:
        """A batch of ``location`` for each given point (InvalidInput for another point)."""
        lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
        here = self.location
        elsewhere = np.abs(lon - here.lon) > 1e-9
        if np.any(elsewhere | (np.abs(lat - here.lat) > 1e-9)):
            raise InvalidInput("the given location is not the location of this point")
        batch = LocationBatch.empty(self.generation, len(lon))
        for name in COLUMNS:
            column = getattr(batch, name)
            for i in range(len(lon)):
                column[i] = getattr(here, name)
        return batch
