"""What the store, the gazetteer and the services need from a locator.

:class:`~cityaware.geo.engine.locator.GridLocator` is the implementation; the
feature store (``records.prepare_rows``, ``FeatureStore.reassign``) and the
answer builders rely on this much of it and nothing more, so a test double or
another engine can stand in.

>>> isinstance(object(), Locator)
False
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import ArrayLike

    from cityaware.geo.engine.results import Location, LocationBatch


class LonLatLocator(Protocol):
    """What row preparation needs: WGS84 points to a batch of one generation."""

    generation: str

    def locate_lonlat(self, lon: np.ndarray, lat: np.ndarray) -> LocationBatch:
        """Already validated WGS84 points (NaN rows come back ``invalid``)."""
        ...


@runtime_checkable
class Locator(LonLatLocator, Protocol):
    """Pins points to the grids (and their chain) of one boundary generation."""

    def locate(self, x: float, y: float, crs: str = ...) -> Location:
        """One point given in ``crs``; InvalidInput for unusable coordinates."""
        ...

    def locate_many(self, x: ArrayLike, y: ArrayLike, crs: str = ...) -> LocationBatch:
        """Many points given in ``crs``; InvalidInput names the first bad row."""
        ...

    def unit(self, code: str) -> dict[str, Any]:
        """The record of any unit of the generation; NotFound for an unknown code."""
        ...

    def chain(self, grid_code: str) -> dict[str, dict[str, Any]]:
        """A grid's record and its ancestors', keyed by level."""
        ...
