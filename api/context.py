"""The objects one running server shares: settings, boundaries, engine, store, services.

Routers get it through their ``build_router(ctx)`` factory and pull their
collaborators off it when a request comes; every service below them takes
the parts it uses, never the context. Each part is a typed member built on
first use, once (also when threads race), so a command that needs only the
store never builds the engine.

>>> ctx = AppContext(Settings())
>>> ctx.settings.data_dir.name
'cityaware-data'
>>> "store" in vars(ctx)  # nothing opened yet
False
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast, overload

from cityaware.api.settings import Settings

if TYPE_CHECKING:
    from cityaware.api.ogc.catalog import Catalog
    from cityaware.api.service.alarms import Alarms
    from cityaware.api.service.auth import Access, KeyStore
    from cityaware.api.service.dashboard import Dashboard
    from cityaware.api.service.emergency import Emergency
    from cityaware.api.service.geocoding import Geocoding
    from cityaware.api.service.hooks import LiveWorker
    from cityaware.api.service.incidents import Incidents
    from cityaware.api.service.intake import TextReader
    from cityaware.api.service.live_events import LiveFeed
    from cityaware.api.service.open311 import Open311
    from cityaware.api.service.routing import DutyList
    from cityaware.api.service.rules import LiveRules
    from cityaware.api.service.wall import MapWall
    from cityaware.geo.boundaries.generations import BoundaryRegistry
    from cityaware.geo.engine.cached import LocatorCache
    from cityaware.geo.engine.locator import GridLocator
    from cityaware.geo.gazetteer.active import ActiveGazetteer
    from cityaware.geo.hotline.deadlines import DeadlineTable
    from cityaware.geo.profile import CityProfiles
    from cityaware.geo.store.hooks import HookStore
    from cityaware.geo.store.live import LiveDevices
    from cityaware.geo.store.positions import PositionStore
    from cityaware.geo.store.readings import ReadingStore
    from cityaware.geo.store.store import FeatureStore
    from cityaware.layers.service import MapLayers

LOG = logging.getLogger(__name__)
T = TypeVar("T")


class shared_part(cached_property[T]):
    """A typed ``cached_property`` of :class:`AppContext`, built once even when threads race
    for it (the warm-up threads and the first requests; Python 3.12 dropped
    cached_property's own lock)."""

    @overload
    def __get__(self, instance: None, owner: type[Any] | None = None) -> Self: ...

    @overload
    def __get__(self, instance: object, owner: type[Any] | None = None) -> T: ...

    def __get__(self, instance: object | None, owner: type[Any] | None = None) -> T | Self:
        if instance is None:
            return self
        with cast(AppContext, instance)._building:  # only AppContext declares shared parts
            return super().__get__(instance, owner)


@dataclass
class AppContext:
    """Lazily built server state; one per app (tests build their own)."""

    settings: Settings
    _building: threading.RLock = field(
        default_factory=threading.RLock, init=False, repr=False, compare=False
    )

    @shared_part
    def registry(self) -> BoundaryRegistry:
        """The boundary generations under ``data_dir``."""
        from cityaware.geo.boundaries.generations import BoundaryRegistry

        return BoundaryRegistry(self.settings.data_dir / "boundaries")

    @shared_part
    def locators(self) -> LocatorCache:
        """Locators per generation (last 3 kept; lookup rasters cached under data_dir/cache)."""
        from cityaware.geo.engine.cached import LocatorCache

        registry = self.registry
        return LocatorCache(
            registry.units, self.settings.data_dir / "cache", divisions_of=registry.divisions
        )

    @shared_part
    def profiles(self) -> CityProfiles:
        """The city profile per generation: derived from its boundaries, plus
        ``data_dir/city.toml`` (``cityaware demo`` installs the demo city's)."""
        from cityaware.geo.profile import PROFILE_NAME, CityProfiles

        registry = self.registry
        return CityProfiles(
            registry.units, registry.divisions, self.settings.data_dir / PROFILE_NAME
        )

    @property
    def locator(self) -> GridLocator:
        """The active generation's locator, following activation (NotFound without one)."""
        from cityaware.api.service.geocoding import active_locator

        return active_locator(self.registry, self.locators)

    @shared_part
    def store(self) -> FeatureStore:
        """The feature store: <data_dir>/features.sqlite, or PostGIS by ``database_url``.

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

    @shared_part
    def live_devices(self) -> LiveDevices:
        """The store's cameras and sensors in a live index following its change feed
        (nearest-device queries)."""
        from cityaware.geo.store.live import LiveDevices

        return LiveDevices(self.store)

    @shared_part
    def keys(self) -> KeyStore:
        """The API key store (hashed keys under ``data_dir``)."""
        from cityaware.api.service.auth import key_store_for

        return key_store_for(self.settings)

    @shared_part
    def access(self) -> Access:
        """Who may read and write: the key store and the ``public_read`` setting."""
        from cityaware.api.service.auth import Access

        return Access(self.keys, self.settings.public_read)

    @shared_part
    def duty_list(self) -> DutyList:
        """The incident routing rules (``data_dir/duty-list.csv`` or the demo list)."""
        from cityaware.api.service.routing import DutyList

        return DutyList.load(self.settings.data_dir)

    @shared_part
    def gazetteer(self) -> ActiveGazetteer:
        """Address → place/grid matcher of the active generation.

        ``.geocode(text)`` -> GeocodeResult; rebuilt when the active generation
        changes, cached on disk under ``data_dir/cache``.
        """
        from cityaware.geo.gazetteer.active import ActiveGazetteer

        registry = self.registry

        def source(generation: str) -> str:
            meta = [g for g in registry.generations() if g["id"] == generation]
            return meta[0].get("source", "") if meta else ""

        return ActiveGazetteer(
            lambda: self.locator,
            registry.units,
            source,
            self.settings.data_dir,
            divisions=registry.divisions,
            profile=self.profiles.get,
        )

    @shared_part
    def geocoding(self) -> Geocoding:
        """Point/address → grid answers over all generations."""
        from cityaware.api.service.geocoding import Geocoding

        return Geocoding(
            self.registry,
            self.locators,
            self.gazetteer,
            self.profiles,
            self.settings.city_margin_m,
        )

    @shared_part
    def incidents(self) -> Incidents:
        """Incident intake, views and lifecycle (REST and Open311 share it)."""
        from cityaware.api.service.incidents import Incidents
        from cityaware.geo.hotline.matters import MatterRule

        settings = self.settings
        matters = MatterRule(settings.matter_radius_m, settings.matter_window_days)
        return Incidents(
            self.store,
            self.geocoding,
            self.duty_list,
            self.live_devices,
            self.text_reader,
            self.deadlines,
            matters,
        )

    @shared_part
    def text_reader(self) -> TextReader:
        """Free-text complaints -> place (gazetteer) and category (classifier cached under
        ``data_dir/cache``)."""
        from cityaware.api.service.intake import TextReader

        return TextReader(self.gazetteer, self.store.taxonomy, self.settings.data_dir / "cache")

    @shared_part
    def deadlines(self) -> DeadlineTable:
        """Time to respond and to resolve per category and level (``duty-deadlines.csv``)."""
        from cityaware.geo.hotline.deadlines import DeadlineTable

        return DeadlineTable.load(self.settings.data_dir)

    @shared_part
    def open311(self) -> Open311:
        """The Open311 GeoReport v2 view of the incidents."""
        from cityaware.api.service.open311 import Open311

        return Open311(self.store, self.incidents)

    @shared_part
    def catalog(self) -> Catalog:
        """The OGC collections, shared by the OGC and region routers (one frame cache).

        Built with the routers: the store is opened when a feature collection is first used.
        """
        from cityaware.api.ogc.catalog import Catalog

        return Catalog(self.registry, self._open_store)

    @shared_part
    def map_layers(self) -> MapLayers:
        """Map-wall tiles and aggregates from the boundaries and the store."""
        from cityaware.layers.feeds import RegistryFeed, StorePointFeed
        from cityaware.layers.service import POINT_LAYERS, MapLayers, PointFeed

        feeds: dict[str, PointFeed] = {
            kind: StorePointFeed(self._open_store, kind) for kind in POINT_LAYERS
        }
        return MapLayers(RegistryFeed(self.registry), feeds)

    @shared_part
    def map_wall(self) -> MapWall:
        """What the map wall's JSON helpers answer (grids, incidents, clicks, search)."""
        from cityaware.api.service.wall import MapWall

        return MapWall(self.map_layers, self.store, self.geocoding, self.live_devices)

    @shared_part
    def dashboard(self) -> Dashboard:
        """The wall's panel figures (``/v1/dashboard``)."""
        from cityaware.api.service.dashboard import Dashboard

        return Dashboard(self.store, self.registry, self.map_layers, self.profiles.get)

    @shared_part
    def emergency(self) -> Emergency:
        """The wall's emergency mode (平急联动) and replay."""
        from cityaware.api.service.emergency import Emergency

        return Emergency(self.dashboard, self.live_devices, self.positions)

    @shared_part
    def readings(self) -> ReadingStore:
        """Sensor readings, thresholds and alarms (in the feature store's database)."""
        from cityaware.geo.store.changes import DAY_MS
        from cityaware.geo.store.readings import ReadingStore

        live = self.settings.live
        retention = int(live.readings_retention_days * DAY_MS)
        return ReadingStore(self.store, retention, int(live.alarm_sync_s * 1000))

    @shared_part
    def alarms(self) -> Alarms:
        """Readings in, alarm incidents out (through the incident service)."""
        from cityaware.api.service.alarms import Alarms

        return Alarms(self.readings, self.incidents)

    @shared_part
    def positions(self) -> PositionStore:
        """Moving objects, tracks and fences (region fences follow the active generation)."""
        from cityaware.geo.store.changes import DAY_MS
        from cityaware.geo.store.positions import PositionStore

        registry = self.registry
        shapes: dict[str, dict[str, Any]] = {}

        def region_shapes(generation: str) -> dict[str, Any]:
            if generation not in shapes:
                units = registry.units(generation)
                shapes.clear()  # one generation at a time
                shapes[generation] = dict(zip(units["code"], units.geometry, strict=True))
            return shapes[generation]

        retention = int(self.settings.live.tracks_retention_days * DAY_MS)
        return PositionStore(self.store, region_shapes, retention)

    @shared_part
    def live_feed(self) -> LiveFeed:
        """The change feed as typed live events (alarms, fence events, grid changes)."""
        from cityaware.api.service.live_events import LiveFeed

        return LiveFeed(self.store, self.readings, self.positions)

    @shared_part
    def hooks(self) -> HookStore:
        """Webhook subscriptions, cursors and dead letters."""
        from cityaware.geo.store.hooks import HookStore

        lease_s = 2 * self.settings.live.hook_timeout_s + 5  # longer than one delivery
        return HookStore(self.store, int(lease_s * 1000))

    @shared_part
    def live_worker(self) -> LiveWorker:
        """The background thread delivering webhooks and sweeping alarms."""
        from cityaware.api.service.hooks import Deliverer, LiveWorker

        live = self.settings.live
        deliverer = Deliverer(self.hooks, self.live_feed, live)
        return LiveWorker(deliverer, self.alarms, live, self.live_rules)

    @shared_part
    def live_rules(self) -> LiveRules:
        """The built-in live rules (``<data_dir>/rules.toml`` or the shipped defaults)."""
        from cityaware.api.service.rules import LiveRules
        from cityaware.geo.store.rules import RuleStore

        registry = self.registry
        return LiveRules(
            RuleStore(self.store),
            registry.units,
            registry.active,
            self.profiles,
            self.positions.region_shapes,
            self.settings.data_dir,
        )

    def _open_store(self) -> FeatureStore:
        """The store, handed as a callable to parts that must not open it until they need it."""
        return self.store


def warm_up(ctx: AppContext) -> None:
    """Build the engine, the store, the area catalog and the gazetteer now, not on the
    first request (a server without boundaries skips it). Run in a daemon thread."""
    from cityaware.geo.errors import CityAwareError

    try:
        locator = ctx.locator
        ctx.geocoding.catalog(locator)
        ctx.store.data_version()
        ctx.live_devices.current()
        ctx.incidents.recent.warm()
        ctx.gazetteer.current()
    except CityAwareError as error:
        LOG.info("no warm-up (%s)", error)


def finish_activation(ctx: AppContext) -> str | None:
    """Finish a boundary activation a crash interrupted (see :mod:`geo.bulk.activation`):
    the features move to its generation, then the pointer. Returns it, or None."""
    from cityaware.geo.bulk.activation import finish_pending

    registry = ctx.registry
    if registry.pending_activation() is None:
        return None
    generation = finish_pending(registry, existing_store(ctx), ctx.locators.get)
    LOG.warning("finished the interrupted activation of %s", generation)
    return generation


def existing_store(ctx: AppContext) -> FeatureStore | None:
    """The store when there is one (a PostGIS URL, or the SQLite file exists), else None."""
    settings = ctx.settings
    if settings.database_url or (settings.data_dir / "features.sqlite").exists():
        return ctx.store
    return None
