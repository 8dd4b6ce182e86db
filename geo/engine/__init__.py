"""The grid engine: which grid (and chain) holds a point, for one boundary generation.

:class:`Locator` is what the rest of the code may rely on;
:class:`~cityaware.geo.engine.locator.GridLocator` implements it.
"""

from cityaware.geo.engine.protocol import Locator

__all__ = ["Locator"]
