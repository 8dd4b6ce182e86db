"""The objects one running server shares: settings, boundaries, engine, store.

Routes get it through the :func:`get_context` dependency; each part is built
on first use, so a command that needs only the store never builds the engine.

>>> ctx = AppContext(Settings())
>>> ctx.settings.data_dir.name
'cityaware-data'
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from functools import cached_property

from fastapi import Request

from cityaware.api.settings import Settings

LOG = logging.getLogger(__name__)


class shared_part(cached_property):
    """A ``cached_property`` built once even when threads race for it (the warm-up
    threads and the first requests; Python 3.12 dropped cached_property's own lock)."""

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        with instance._building:
            return super().__get__(instance, owner)


@dataclass
class AppContext:
    """Lazily built server state; one per app (tests build their own)."""

    settings: Settings
    _building: threading.RLock = field(
        default_factory=threading.RLock, init=False, repr=False, compare=False
    )

    @shared_part
    def registry(self):
        """The boundary generations under ``data_dir`` (issue: foundation)."""
        from cityaware.geo.boundaries.generations import BoundaryRegistry

        return BoundaryRegistry(self.settings.data_dir / "boundaries")

    @shared_part
    def store(self):
        """The feature store: <data_dir>/features.sqlite, or PostGIS by database_url (issue: store).

        Writes are assigned with the active generation's locator (followed on each write).
        """
        from cityaware.geo.store import open_store

        settings = self.settings
        return open_store(
            settings.database_url,
            settings.data_dir,
            lambda: self.locator,
            retention_days=settings.changes_retention_days,
        )

    @property
    def locator(self):
        """GridLocator of the active generation, following activation (issue: engine)."""
        from cityaware.geo.errors import NotFound

        active = self.registry.active()
        if active is None:
            raise NotFound("no active boundary generation: import and activate boundaries first")
        return self.locator_for(active)

    def locator_for(self, generation: str):
        """GridLocator of one generation (last 3 kept; raster cached under data_dir/cache)."""
        from cityaware.geo.engine.cached import locators_of

        return locators_of(self).get(generation)

    @shared_part
    def keys(self):
        """The API key store (hashed keys under ``data_dir``; issue: service API)."""
        from cityaware.api.service.auth import key_store_for

        return key_store_for(self.settings)

    @shared_part
    def duty_list(self):
        """The incident routing rules (``data_dir/duty-list.csv`` or the demo list)."""
        from cityaware.api.service.routing import DutyList

        return DutyList.load(self.settings.data_dir)

    @shared_part
    def geocoding(self):
        """Point/address → grid answers over all generations (issue: service API)."""
        from cityaware.api.service.geocoding import Geocoding

        return Geocoding(self)

    @shared_part
    def gazetteer(self):
        """Address → place/grid matcher of the active generation (issue: gazetteer).

        ``.geocode(text)`` -> GeocodeResult; rebuilt when the active generation
        changes, cached on disk under ``data_dir/cache``.
        """
        from cityaware.geo.gazetteer.active import ActiveGazetteer

        def source(generation: str) -> str:
            meta = [g for g in self.registry.generations() if g["id"] == generation]
            return meta[0].get("source", "") if meta else ""

        return ActiveGazetteer(
            lambda: self.locator, self.registry.units, source, self.settings.data_dir
        )

    @shared_part
    def map_layers(self):
        """Map-wall tiles and aggregates from the boundaries and the store (issue: map wall)."""
        from cityaware.layers.feeds import RegistryFeed, StorePointFeed
        from cityaware.layers.service import POINT_LAYERS, MapLayers

        feeds = {kind: StorePointFeed(lambda: self.store, kind) for kind in POINT_LAYERS}
        return MapLayers(RegistryFeed(self.registry), feeds)


def warm_up(ctx: AppContext) -> None:
    """Build the engine, the store, the area catalog and the gazetteer now, not on the
    first request (a server without boundaries skips it). Run in a daemon thread."""
    from cityaware.geo.errors import CityAwareError

    try:
        ctx.geocoding.catalog(ctx.locator)
        ctx.store.data_version()
        ctx.gazetteer.current()
    except CityAwareError as error:
        LOG.info("no warm-up (%s)", error)


def get_context(request: Request) -> AppContext:
    """FastAPI dependency: the app's :class:`AppContext`."""
    return request.app.state.ctx
