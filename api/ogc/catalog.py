"""The collections the server publishes, each with its provider.

>>> list(TITLES)[:5]
['cities', 'districts', 'streets', 'communities', 'grids']
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from cityaware.api.ogc.providers import BoundaryProvider, Provider
from cityaware.geo.boundaries.schema import LEVEL_OF_LAYER
from cityaware.geo.errors import NotFound
from cityaware.geo.store.taxonomy import KINDS

if TYPE_CHECKING:
    from cityaware.geo.boundaries.generations import BoundaryRegistry
    from cityaware.geo.store.store import FeatureStore

# The published collections: boundary layers (geo.boundaries.schema) and feature kinds.
TITLES: dict[str, str] = {
    "cities": "Cities (地级市)",
    "districts": "Districts (区县)",
    "streets": "Streets and townships (街道/乡镇)",
    "communities": "Communities and villages (社区/村)",
    "grids": "Governance grids (网格)",
    "incidents": "Incidents: citizen complaints and alarms",
    "cameras": "Video cameras",
    "sensors": "IoT sensors",
}


@dataclass(frozen=True)
class Collection:
    """One published collection."""

    id: str
    title: str
    description: str
    provider: Provider


class Catalog:
    """Collections by id, built on first use: the boundary layers of ``registry`` and,
    when ``open_store`` is given, the feature kinds of the store it opens (only then).
    """

    def __init__(
        self,
        registry: BoundaryRegistry,
        open_store: Callable[[], FeatureStore] | None = None,
    ) -> None:
        self.registry, self.open_store = registry, open_store

    @cached_property
    def collections(self) -> dict[str, Collection]:
        """Every published collection by id (boundary layers first)."""
        found: dict[str, Collection] = {}
        for layer, level in LEVEL_OF_LAYER.items():
            description = (
                f"Boundary units of level {level!r} of the active boundary generation "
                "(ask for another with ?generation=ID)."
            )
            provider = BoundaryProvider(self.registry, level)
            found[layer] = Collection(layer, TITLES[layer], description, provider)
        if self.open_store is not None:
            from cityaware.api.ogc.store_provider import StoreProvider

            store = self.open_store()
            for kind in KINDS:
                found[kind] = Collection(
                    kind, TITLES[kind], TITLES[kind], StoreProvider(store, kind)
                )
        return found

    def get(self, collection_id: str) -> Collection:
        """The collection ``collection_id``; :class:`NotFound` otherwise."""
        try:
            return self.collections[collection_id]
        except KeyError:
            raise NotFound(
                f"no collection {collection_id!r}; known: {sorted(self.collections)}"
            ) from None
