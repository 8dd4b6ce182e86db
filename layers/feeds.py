"""Feeds that connect :class:`layers.service.MapLayers` to the boundary registry and the store.

:class:`RegistryFeed` serves the active boundary generation. :class:`StorePointFeed`
keeps a frame of one kind and follows the store's change feed: after a full read it
asks only for the features changed after the last seq it has seen (upserted by id,
deleted ones dropped) through :meth:`~geo.store.changes.ChangeReads.feature_frame`;
it reads everything again when its seq has been pruned.

:meth:`StorePointFeed.full` and :meth:`StorePointFeed.delta` are the same reads without
a frame kept here: a full read in chunks with text as Arrow strings (no Python object
per row), and the changes after a seq, for :class:`layers.service.MapLayers` to patch
its own snapshot with.

>>> StorePointFeed.COLUMNS["incidents"][:4]
('id', 'lon', 'lat', 'status')
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING

import pandas as pd

from cityaware.geo.errors import ChangesPruned
from cityaware.geo.store.changes import FrameDelta

if TYPE_CHECKING:
    import geopandas as gpd

    from cityaware.geo.boundaries.generations import BoundaryRegistry
    from cityaware.geo.store.store import FeatureStore

CHUNK_ROWS = 200_000
ARROW_TEXT = pd.StringDtype("pyarrow")


class RegistryFeed:
    """The active generation's units (all levels) from a ``BoundaryRegistry``."""

    def __init__(self, registry: BoundaryRegistry) -> None:
        self.registry = registry

    def version(self) -> str:
        return self.registry.active() or ""

    def load(self) -> gpd.GeoDataFrame:
        return self.registry.units()


class StorePointFeed:
    """One kind of the feature store as a frame with ``reported_at``/``updated_at`` in ms."""

    COLUMNS: dict[str, tuple[str, ...]] = {
        "incidents": ("id", "lon", "lat", "status", "category", "priority", "grid_code"),
        "cameras": ("id", "lon", "lat", "name", "online", "grid_code"),
        "sensors": ("id", "lon", "lat", "device_kind", "online", "alarm", "grid_code"),
    }
    TIMES = ("reported_at", "updated_at")

    def __init__(self, open_store: Callable[[], FeatureStore], kind: str) -> None:
        self._open_store = open_store
        self.kind = kind
        self._frame: pd.DataFrame | None = None
        self._seq = 0
        self._lock = threading.Lock()

    @cached_property
    def store(self) -> FeatureStore:
        """The store, opened on first use (boundary tiles never need it)."""
        return self._open_store()

    def version(self) -> str:
        return str(self.store.data_version())

    def load(self) -> pd.DataFrame:
        """The current frame (incremental after the first call)."""
        with self._lock:
            if self._frame is None:
                self._frame = self._shaped(self._read(None)).rows
            else:
                try:
                    delta = self._shaped(self._read(self._seq))
                except ChangesPruned:
                    self._frame = self._shaped(self._read(None)).rows
                else:
                    gone = self._frame["id"].isin(delta.rows["id"])
                    gone |= self._frame["id"].isin(delta.removed)
                    kept = self._frame[~gone]
                    parts = [part for part in (kept, delta.rows) if len(part)]
                    merged = pd.concat(parts, ignore_index=True) if parts else kept
                    self._frame = merged.reset_index(drop=True)
            return self._frame

    def full(self) -> FrameDelta:
        """Every feature of the kind, compact (Arrow strings), and the seq it is of."""
        names = [*self.COLUMNS[self.kind], *self.TIMES]
        delta = self.store.feature_frame(
            self.kind, names, chunk_rows=CHUNK_ROWS, convert=lambda f: compact(self._frame_of(f))
        )
        return delta

    def delta(self, after: int) -> FrameDelta:
        """The features changed after seq ``after`` and the ids deleted since (ChangesPruned
        when ``after`` is no longer kept)."""
        names = [*self.COLUMNS[self.kind], *self.TIMES]
        delta = self.store.feature_frame(self.kind, names, after=after)
        return FrameDelta(compact(self._frame_of(delta.rows)), delta.removed, delta.seq)

    def _read(self, after: int | None) -> FrameDelta:
        names = [*self.COLUMNS[self.kind], *self.TIMES]
        delta = self.store.feature_frame(self.kind, names, after=after)
        self._seq = delta.seq
        return delta

    def _shaped(self, delta: FrameDelta) -> FrameDelta:
        """Times as int64 epoch ms, flags as nullable booleans."""
        self._frame_of(delta.rows)
        return delta

    def _frame_of(self, frame: pd.DataFrame) -> pd.DataFrame:
        for name in self.TIMES:
            frame[name] = frame[name].fillna(0).astype("int64")
        for name in ("online", "alarm"):
            if name in frame:
                frame[name] = frame[name].astype("boolean")
        return frame


def compact(frame: pd.DataFrame) -> pd.DataFrame:
    """Text columns as Arrow strings (one buffer per column instead of an object per value).

    >>> compact(pd.DataFrame({"id": ["a", None], "n": [1, 2]})).dtypes.astype(str).tolist()
    ['str', 'int64']
    """
    for name in frame.columns:
        if frame[name].dtype == object:
            frame[name] = frame[name].astype(ARROW_TEXT)
    return frame
