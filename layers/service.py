"""The map wall's layers: tiles, grid counts, heat points and unit chains from live feeds.

:class:`MapLayers` turns two kinds of feed into tiles:

* a :class:`BoundaryFeed` (the active boundary generation: districts, streets,
  communities, grids), rebuilt when the active generation changes;
* one :class:`PointFeed` per kind (incidents, cameras, sensors), snapshotted
  into numpy arrays and re-read when the feed's version changes (at most once
  per ``refresh_seconds``, so a burst of writes costs one reload).

Every tile is cached under ``(layer, data_version, z, x, y, filters)``; the
version is the generation for boundary layers and the snapshot's feed version
for point layers, so a write is never hidden behind a stale tile.

>>> MapLayers.layer_names()
('districts', 'streets', 'communities', 'grids', 'boundaries', 'incidents', 'cameras', 'sensors')
"""

from __future__ import annotations

import gzip
import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import numpy as np
import pandas as pd
import shapely

from cityaware.geo.boundaries.schema import LEVEL_OF_LAYER
from cityaware.geo.errors import ChangesPruned, InvalidInput, NotFound
from cityaware.geo.store.changes import FrameDelta
from cityaware.geo.store.taxonomy import OPEN_STATUSES
from cityaware.layers.mvt import encode_layers
from cityaware.layers.sources import PointSource, PolygonSource, features_of
from cityaware.layers.tile_cache import TileCache
from cityaware.layers.tiles import TileBox, lonlat_to_mercator

if TYPE_CHECKING:
    import geopandas as gpd

# tile layer → (units level, min zoom)
MIN_ZOOMS: dict[str, int] = {"districts": 0, "streets": 11, "communities": 13, "grids": 10}
BOUNDARY_LEVELS: dict[str, tuple[str, int]] = {
    layer: (LEVEL_OF_LAYER[layer], zoom) for layer, zoom in MIN_ZOOMS.items()
}
# one tile with several boundary layers: the dark base map
COMPOSITES: dict[str, tuple[str, ...]] = {"boundaries": ("districts", "streets", "communities")}
WINDOWS: dict[str, float | None] = {
    "1h": 3600.0,
    "24h": 86400.0,
    "7d": 7 * 86400.0,
    "30d": 30 * 86400.0,
    "all": None,
}
T = TypeVar("T")
POLYGON_CAP = 3000
EXTRA_ROWS = 50_000  # rows written since the last full read before the next one
HEAT_CAP = 4000


@dataclass(frozen=True)
class PointLayerSpec:
    """How one point kind is tiled: what each point carries and what bins sum."""

    columns: tuple[str, ...]
    sums: tuple[str, ...]
    detail_zoom: int
    cap: int = 500


POINT_LAYERS: dict[str, PointLayerSpec] = {
    "incidents": PointLayerSpec(
        ("id", "status", "category", "priority", "grid_code"), ("open",), detail_zoom=14
    ),
    "cameras": PointLayerSpec(("id", "name", "online"), ("offline",), detail_zoom=15),
    "sensors": PointLayerSpec(("id", "device_kind", "online", "alarm"), ("alarm",), detail_zoom=15),
}


class BoundaryFeed(Protocol):
    def version(self) -> str: ...
    def load(self) -> gpd.GeoDataFrame: ...


class PointFeed(Protocol):
    """``load()`` returns a frame with ``id, lon, lat`` plus attribute columns
    (incidents: ``status, category, priority, grid_code, reported_at`` in epoch ms;
    sensors: ``alarm, online, device_kind``; cameras: ``name, online``). A feed that also
    has ``full() -> FrameDelta`` and ``delta(after) -> FrameDelta`` (as
    :class:`~layers.feeds.StorePointFeed`) is read in full once and then patched with
    the rows written since (see :class:`_Snapshot`)."""

    def version(self) -> str: ...
    def load(self) -> pd.DataFrame: ...


@dataclass(frozen=True)
class TileFilters:
    """Incident filters carried by a tile URL; part of the cache key.

    >>> TileFilters.parse("24h", "open", "").key()
    ('24h', 'open', '')
    """

    window: str = "all"
    status: str = "open"
    category: str = ""

    @classmethod
    def parse(cls, window: str = "all", status: str = "open", category: str = "") -> TileFilters:
        if window not in WINDOWS:
            raise InvalidInput(f"window must be one of {', '.join(WINDOWS)}, not {window!r}")
        if status not in ("open", "all"):
            raise InvalidInput(f"status must be 'open' or 'all', not {status!r}")
        return cls(window, status, category.strip())

    def key(self) -> tuple[str, str, str]:
        return (self.window, self.status, self.category)

    def mask(self, frame: pd.DataFrame, now_ms: float) -> np.ndarray:
        """Which incident rows pass the filters."""
        return self.mask_at(frame, np.arange(len(frame)), now_ms)

    def mask_at(self, frame: pd.DataFrame, rows: np.ndarray, now_ms: float) -> np.ndarray:
        """Which of the incident ``rows`` (positions in ``frame``) pass the filters; reads
        only those rows (``open`` and a categorical ``category`` make it cheap).

        >>> frame = _with_derived("incidents", pd.DataFrame({"status": ["received", "closed"],
        ...     "category": ["noise", "noise"], "reported_at": [0, 0]}))
        >>> TileFilters().mask_at(frame, np.array([0, 1]), 0).tolist()
        [True, False]
        """
        keep = np.ones(len(rows), dtype=bool)
        seconds = WINDOWS[self.window]
        if seconds is not None and "reported_at" in frame:
            times = frame["reported_at"].to_numpy(dtype="float64")[rows]
            keep &= times >= now_ms - seconds * 1000
        if self.status == "open":
            if "open" in frame:
                keep &= frame["open"].to_numpy()[rows] == 1
            else:
                keep &= frame["status"].iloc[rows].isin(OPEN_STATUSES).to_numpy()
        if self.category:
            category = frame["category"]
            if isinstance(category.dtype, pd.CategoricalDtype):
                categories = category.cat.categories
                code = categories.get_loc(self.category) if self.category in categories else -2
                keep &= category.cat.codes.to_numpy()[rows] == code
            else:
                keep &= (category.iloc[rows] == self.category).to_numpy()
        return keep


@dataclass
class _Snapshot:
    """One kind at one feed version: a base (``source``, its ``frame`` in the same order, by
    longitude) read in full at ``seq``, and ``extra``, the rows written since (a feed with
    deltas): replaced base rows have a NaN ``y``, so tiles never show them twice."""

    version: str
    frame: pd.DataFrame
    source: PointSource
    loaded: float
    seq: int | None = None
    extra: PointSource | None = None
    ids: pd.Index | None = None
    dead: int = 0

    def sources(self) -> list[PointSource]:
        """The base and, when any, the rows written since (for tiles)."""
        extra = self.extra
        return [self.source] if extra is None or not len(extra) else [self.source, extra]

    def parts(self) -> list[tuple[PointSource, np.ndarray]]:
        """Each source with the mask of its current rows (replaced base rows are dead), so
        counts, heat and hits read the parts as they are, never one merged copy."""
        return [(source, ~np.isnan(source.y)) for source in self.sources()]


@dataclass
class MapLayers:
    """Tiles and aggregates for the map wall, built from feeds (see module doc)."""

    boundaries: BoundaryFeed
    points: dict[str, PointFeed] = field(default_factory=dict)
    cache: TileCache = field(default_factory=TileCache)
    refresh_seconds: float = 1.0
    clock: Callable[[], float] = time.time
    _polygons: tuple[str, dict[str, PolygonSource], dict[str, dict[str, Any]]] | None = None
    _snapshots: dict[str, _Snapshot] = field(default_factory=dict)
    _memos: dict[tuple[Any, ...], Any] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)

    @staticmethod
    def layer_names() -> tuple[str, ...]:
        return (*BOUNDARY_LEVELS, *COMPOSITES, *POINT_LAYERS)

    # -- boundaries -------------------------------------------------------
    def _boundary_state(self) -> tuple[str, dict[str, PolygonSource], dict[str, dict[str, Any]]]:
        version = self.boundaries.version()
        with self._lock:
            if self._polygons is None or self._polygons[0] != version:
                units = self.boundaries.load()
                sources = {
                    name: PolygonSource.from_units(units[units["level"] == lvl], name, zoom)
                    for name, (lvl, zoom) in BOUNDARY_LEVELS.items()
                }
                cols = [c for c in units.columns if c != "geometry"]
                records: dict[str, dict[str, Any]] = {
                    str(r["code"]): {str(k): v for k, v in r.items()}
                    for r in units[cols].to_dict("records")
                }
                self._polygons = (version, sources, records)
            return self._polygons

    def unit(self, code: str) -> dict[str, Any]:
        """A unit's record (attributes parsed) with its chain up to the district.

        Raises :class:`NotFound` for an unknown code.
        """
        _, _, records = self._boundary_state()
        if code not in records:
            raise NotFound(f"no boundary unit with code {code!r}")
        chain, current = [], records.get(code)
        while current is not None:
            chain.append({k: current.get(k, "") for k in ("code", "name", "level")})
            current = records.get(current.get("parent_code") or "")
        return {**_plain(records[code]), "chain": chain[::-1]}

    # -- points -----------------------------------------------------------
    def snapshot(self, kind: str) -> _Snapshot:
        """The current snapshot of ``kind``, re-read when its feed changed."""
        feed = self.points.get(kind)
        if feed is None:
            raise NotFound(f"no point feed for {kind!r}")
        with self._lock:
            snap = self._snapshots.get(kind)
            now = time.monotonic()
            if snap is not None and now - snap.loaded < self.refresh_seconds:
                return snap
            version = feed.version()
            if snap is None or snap.version != version:
                snap = self._reload(kind, feed, snap, version, now)
            else:
                snap.loaded = now
            self._snapshots[kind] = snap
            return snap

    def _reload(
        self, kind: str, feed: PointFeed, snap: _Snapshot | None, version: str, now: float
    ) -> _Snapshot:
        """The snapshot at ``version``: the old one patched with the rows written since when
        the feed has deltas and few rows changed, else a full read."""
        spec = POINT_LAYERS[kind]
        if snap is not None and snap.seq is not None and hasattr(feed, "delta"):
            try:
                patched = _patched(kind, snap, feed.delta(snap.seq), version, now)
            except ChangesPruned:
                patched = None
            if patched is not None:
                return patched
        if hasattr(feed, "full"):
            read = feed.full()
            frame, seq = read.rows, read.seq
        else:
            frame, seq = feed.load(), None
        source = PointSource.from_frame(kind, _with_derived(kind, frame), spec.columns, spec.sums)
        return _Snapshot(version, source.attributes, source, now, seq)

    def _incidents(self, filters: TileFilters) -> list[tuple[PointSource, np.ndarray]]:
        """The incident parts, each with the mask of its current rows that pass ``filters``."""
        now_ms = self.clock() * 1000
        parts = self.snapshot("incidents").parts()
        return [(src, alive & filters.mask(src.attributes, now_ms)) for src, alive in parts]

    def _memo(self, name: str, filters: TileFilters, compute: Callable[[], T]) -> T:
        """``compute()`` kept per incidents snapshot, ``name``, filters and minute."""
        key = (name, self.snapshot("incidents").version, filters.key(), int(self.clock() // 60))
        with self._lock:
            if key not in self._memos:
                if len(self._memos) >= 16:
                    self._memos.pop(next(iter(self._memos)))
                self._memos[key] = compute()
            value: T = self._memos[key]
            return value

    def grid_counts(self, filters: TileFilters) -> dict[str, dict[str, int]]:
        """Incident counts per grid under ``filters``: ``{grid: {"total": n, category: n}}``."""

        def count() -> dict[str, dict[str, int]]:
            sizes = sum_counts(
                src.attributes.loc[keep, ["grid_code", "category"]].value_counts(sort=False)
                for src, keep in self._incidents(filters)
            )
            out: dict[str, dict[str, int]] = {}
            for (code, category), n in zip(sizes.index, sizes.to_numpy(), strict=True):
                if not code or n == 0:
                    continue
                grid = out.setdefault(str(code), {"total": 0})
                grid[str(category)] = int(n)
                grid["total"] += int(n)
            return out

        return self._memo("counts", filters, count)

    def heat(
        self, filters: TileFilters, bbox: tuple[float, float, float, float], zoom: int
    ) -> list[list[float]]:
        """``[[lat, lon, count], ...]`` of incidents in ``bbox``: bins of about 8 screen pixels
        at ``zoom`` (at their members' mean position), the HEAT_CAP fullest."""
        minlon, minlat, maxlon, maxlat = bbox
        x0, y0 = lonlat_to_mercator(np.array([minlon]), np.array([minlat]))
        x1, y1 = lonlat_to_mercator(np.array([maxlon]), np.array([maxlat]))
        lons, lats = [], []
        for src, keep in self._incidents(filters):
            inside = keep & (src.x >= x0[0]) & (src.x <= x1[0])
            inside &= (src.y >= y0[0]) & (src.y <= y1[0])
            lons.append(src.attributes["lon"].to_numpy()[inside])
            lats.append(src.attributes["lat"].to_numpy()[inside])
        lon, lat = np.concatenate(lons), np.concatenate(lats)
        cell = 360.0 / 2 ** (zoom + 8) * 8  # about 8 screen pixels
        keys = np.floor(lat / cell) * 1e7 + np.floor(lon / cell)
        cells, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
        mean_lat = np.bincount(inverse, weights=lat, minlength=len(cells)) / counts
        mean_lon = np.bincount(inverse, weights=lon, minlength=len(cells)) / counts
        order = np.argsort(-counts, kind="stable")[:HEAT_CAP]
        return [[round(mean_lat[i], 6), round(mean_lon[i], 6), int(counts[i])] for i in order]

    def hit(
        self,
        lon: float,
        lat: float,
        zoom: int,
        kinds: Sequence[str],
        pixels: float = 8,
        filters: TileFilters | None = None,
    ) -> tuple[str, dict[str, Any]] | None:
        """The nearest point of ``kinds`` within ``pixels`` screen pixels at ``zoom``:
        ``(kind, record)`` or None. Only from each kind's detail zoom on (below it the
        tiles show bins); incidents only among those ``filters`` show."""
        x, y = lonlat_to_mercator(np.array([lon]), np.array([lat]))
        tolerance = pixels * TileBox.of(0, 0, 0).size / (256 * 2**zoom)
        for kind in kinds:
            if kind not in POINT_LAYERS or zoom < POINT_LAYERS[kind].detail_zoom:
                continue
            nearest: tuple[float, PointSource, int] | None = None
            for source, keep in self.snapshot(kind).parts():
                if kind == "incidents" and filters is not None:
                    keep = keep & filters.mask(source.attributes, self.clock() * 1000)
                d = np.where(keep, np.hypot(source.x - x[0], source.y - y[0]), np.inf)
                best = int(np.argmin(d)) if len(d) else -1
                if best >= 0 and (nearest is None or d[best] < nearest[0]):
                    nearest = (float(d[best]), source, best)
            if nearest is not None and nearest[0] <= tolerance:
                _, source, best = nearest
                record = source.attributes.iloc[best].to_dict()
                return kind, _plain({str(k): v for k, v in record.items()})
        return None

    # -- tiles ------------------------------------------------------------
    def data_version(self, layer: str) -> str:
        """The version a tile of ``layer`` is rendered from (part of its cache key)."""
        if layer in BOUNDARY_LEVELS or layer in COMPOSITES:
            return self._boundary_state()[0]
        if layer in POINT_LAYERS:
            return self.snapshot(layer).version
        raise NotFound(f"no tile layer {layer!r}; layers: {', '.join(self.layer_names())}")

    def tile_tag(self, layer: str, z: int, x: int, y: int, filters: TileFilters) -> str:
        """A short tag of what tile ``layer/z/x/y`` under ``filters`` shows now (an ETag):
        it changes with the layer's data version (filters count for incidents only).

        >>> # etag = f'"{layers.tile_tag("incidents", 14, 13421, 6510, TileFilters())}"'
        """
        version = self.data_version(layer)
        shown = filters.key() if layer == "incidents" else ""
        return hashlib.sha1(f"{layer}/{version}/{z}/{x}/{y}/{shown}".encode()).hexdigest()[:20]

    def tile(
        self,
        layer: str,
        z: int,
        x: int,
        y: int,
        filters: TileFilters | None = None,
        compress: bool = False,
    ) -> bytes:
        """The encoded MVT of ``layer`` at ``z/x/y`` (cached; gzipped when ``compress``).

        Raises :class:`NotFound` for an unknown layer, :class:`InvalidInput` for a bad tile.
        """
        filters = filters or TileFilters()
        box = TileBox.of(z, x, y)
        version = self.data_version(layer)
        key_filters = filters.key() if layer == "incidents" else ()
        key = (layer, version, z, x, y, key_filters, compress)

        def render() -> bytes:
            body = self.render(layer, box, filters)
            return gzip.compress(body, compresslevel=5) if compress else body

        return self.cache.get_or_render(key, render)

    def render(self, layer: str, box: TileBox, filters: TileFilters) -> bytes:
        """Render one tile without the cache."""
        if layer in BOUNDARY_LEVELS or layer in COMPOSITES:
            polygons = self._boundary_state()[1]
            names = COMPOSITES.get(layer, (layer,))
            return encode_layers({n: polygons[n].features(box, POLYGON_CAP) for n in names})
        spec = POINT_LAYERS[layer]
        sources = self.snapshot(layer).sources()
        keep = None
        if layer == "incidents":
            now_ms = self.clock() * 1000
            keep = lambda source, rows: filters.mask_at(source.attributes, rows, now_ms)  # noqa: E731
        return encode_layers({layer: features_of(sources, box, spec.cap, spec.detail_zoom, keep)})

    def warm(self, zooms: Sequence[int] = (10, 11), filters: TileFilters | None = None) -> int:
        """Load every snapshot and render (gzipped, as served) all tiles over the city at
        ``zooms``, so the first wall page after a start does not wait. Returns tiles made."""
        grids = self._boundary_state()[1]["grids"]
        if not len(grids.geoms):
            return 0
        minx, miny, maxx, maxy = shapely.total_bounds(grids.geoms)
        world = TileBox.of(0, 0, 0)
        made = 0
        for z in zooms:
            size = world.size / 2**z
            xs = range(int((minx - world.minx) // size), int((maxx - world.minx) // size) + 1)
            ys = range(int((world.maxy - maxy) // size), int((world.maxy - miny) // size) + 1)
            for layer in ("boundaries", "grids", *self.points):
                for x in xs:
                    for y in ys:
                        self.tile(layer, z, x, y, filters, compress=True)
                        made += 1
        return made

    def densest_tiles(self, layer: str, z: int, n: int = 3) -> list[tuple[int, int, int]]:
        """The ``n`` tiles at zoom ``z`` holding the most points of ``layer`` (benchmarks)."""
        parts = self.snapshot(layer).parts()
        x = np.concatenate([src.x[alive] for src, alive in parts])
        y = np.concatenate([src.y[alive] for src, alive in parts])
        world = TileBox.of(0, 0, 0)
        size = world.size / 2**z
        tx = np.floor((x - world.minx) / size).astype("int64")
        ty = np.floor((world.maxy - y) / size).astype("int64")
        tiles, counts = np.unique(np.column_stack([tx, ty]), axis=0, return_counts=True)
        best = np.argsort(-counts, kind="stable")[:n]
        return [(z, int(tiles[i, 0]), int(tiles[i, 1])) for i in best]


def sum_counts(parts: Iterable[pd.Series]) -> pd.Series:
    """Counts of the same index added up (absent keys count 0).

    >>> sum_counts([pd.Series({"a": 1}), pd.Series({"a": 2, "b": 1})]).to_dict()
    {'a': 3, 'b': 1}
    """
    total: pd.Series | None = None
    for part in parts:
        total = part if total is None else total.add(part, fill_value=0)
    return (total if total is not None else pd.Series(dtype="int64")).astype("int64")


def _with_derived(kind: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Add the 0/1 columns bins sum (``open``, ``offline``, ``alarm``)."""
    frame = frame.reset_index(drop=True)
    if kind == "incidents":
        frame["open"] = frame["status"].isin(OPEN_STATUSES).astype("int8")
        frame["category"] = frame["category"].astype("category")
    if kind in ("cameras", "sensors"):
        frame["online"] = frame["online"].fillna(True).astype(bool)
        frame["offline"] = (~frame["online"]).astype("int8")
    if kind == "sensors":
        frame["alarm"] = frame["alarm"].fillna(False).astype(bool)
    return frame


def _patched(
    kind: str, snap: _Snapshot, change: FrameDelta, version: str, now: float
) -> _Snapshot | None:
    """``snap`` with the rows of ``change``: replaced or deleted base rows get a NaN ``y``,
    changed rows go to a small sorted ``extra``; None when a full read is due (the extra
    grew past :data:`EXTRA_ROWS`, or a tenth of the base is replaced)."""
    spec = POINT_LAYERS[kind]
    touched = pd.Index([*change.rows["id"].astype(str), *map(str, change.removed)])
    ids = snap.ids if snap.ids is not None else pd.Index(snap.frame["id"].astype(str))
    positions = ids.get_indexer(touched) if ids.is_unique else np.flatnonzero(ids.isin(touched))
    positions = positions[positions >= 0]
    fresh = positions[~np.isnan(snap.source.y[positions])]
    dead = snap.dead + len(fresh)
    old = snap.extra.attributes if snap.extra is not None else snap.frame.iloc[:0]
    old = old[~old["id"].astype(str).isin(touched)]
    parts = [p for p in (old, _with_derived(kind, change.rows)) if len(p)]
    rows = pd.concat(parts, ignore_index=True) if parts else old
    if len(rows) > EXTRA_ROWS or dead > len(snap.frame) // 10:
        return None
    snap.source.y[fresh] = np.nan  # the base is shared: older snapshots are never read again
    extra = PointSource.from_frame(kind, _with_derived(kind, rows), spec.columns, spec.sums)
    return _Snapshot(version, snap.frame, snap.source, now, change.seq, extra, ids, dead)


def _plain(record: dict[str, Any]) -> dict[str, Any]:
    """A unit record for JSON: no NaN, ``attributes`` parsed."""
    out = {
        k: (v.item() if isinstance(v, np.generic) else v)
        for k, v in record.items()
        if not isinstance(v, float) or v == v
    }
    if isinstance(out.get("attributes"), str):
        try:
            out["attributes"] = json.loads(out["attributes"])
        except ValueError:
            pass
    return out
