"""The collections the server publishes, each with its provider.

>>> [c for c in BOUNDARY_COLLECTIONS]
['districts', 'streets', 'communities', 'grids']
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from cityaware.api.context import AppContext
from cityaware.api.ogc.providers import BoundaryProvider, Provider
from cityaware.geo.boundaries.schema import LAYER_OF
from cityaware.geo.errors import NotFound

BOUNDARY_COLLECTIONS: dict[str, str] = {layer: level for level, layer in LAYER_OF.items()}
FEATURE_COLLECTIONS: tuple[str, ...] = ("incidents", "cameras", "sensors")
_TITLES = {
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
    """Collections by id, built lazily from the app context."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    @cached_property
    def collections(self) -> dict[str, Collection]:
        found: dict[str, Collection] = {}
        for layer, level in BOUNDARY_COLLECTIONS.items():
            description = (
                f"Boundary units of level {level!r} of the active boundary generation "
                "(ask for another with ?generation=ID)."
            )
            provider = BoundaryProvider(self.ctx.registry, level)
            found[layer] = Collection(layer, _TITLES[layer], description, provider)
        if has_store(self.ctx):
            from cityaware.api.ogc.store_provider import StoreProvider

            for kind in FEATURE_COLLECTIONS:
                provider = StoreProvider(self.ctx.store, kind)
                found[kind] = Collection(kind, _TITLES[kind], _TITLES[kind], provider)
        return found

    def get(self, collection_id: str) -> Collection:
        """The collection ``collection_id``; :class:`NotFound` otherwise."""
        try:
            return self.collections[collection_id]
        except KeyError:
            raise NotFound(
                f"no collection {collection_id!r}; known: {sorted(self.collections)}"
            ) from None


def catalog_of(ctx: AppContext) -> Catalog:
    """The one catalog of ``ctx``, shared by the OGC and region routers (one frame cache)."""
    found = ctx.__dict__.get("ogc_catalog")
    if found is None:
        found = ctx.__dict__["ogc_catalog"] = Catalog(ctx)
    return found


def has_store(ctx: AppContext) -> bool:
    """Whether this build of the server has the feature store (issue: store)."""
    return hasattr(type(ctx), "store")
