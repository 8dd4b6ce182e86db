"""Feeds that connect :class:`layers.service.MapLayers` to the boundary registry and the store.

:class:`RegistryFeed` serves the active boundary generation. :class:`StorePointFeed`
keeps a frame of one kind and, when the store's ``data_version`` moves, reads
only what changed since (``updated_at`` with a small overlap, upserted by id);
a full read happens first and whenever the row count disagrees (a delete).
Reads are one columnar SELECT on the store's ``features`` columns (``store.columns``).

>>> StorePointFeed.COLUMNS["incidents"][:4]
('id', 'lon', 'lat', 'status')
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import cached_property

import pandas as pd
import sqlalchemy as sa

OVERLAP_MS = 5_000


class RegistryFeed:
    """The active generation's units (all levels) from a ``BoundaryRegistry``."""

    def __init__(self, registry) -> None:
        self.registry = registry

    def version(self) -> str:
        return self.registry.active() or ""

    def load(self) -> pd.DataFrame:
        return self.registry.units()


class StorePointFeed:
    """One kind of the feature store as a frame with ``reported_at``/``updated_at`` in ms."""

    COLUMNS: dict[str, tuple[str, ...]] = {
        "incidents": ("id", "lon", "lat", "status", "category", "priority", "grid_code"),
        "cameras": ("id", "lon", "lat", "name", "online", "grid_code"),
        "sensors": ("id", "lon", "lat", "device_kind", "online", "alarm", "grid_code"),
    }
    TIMES = ("reported_at", "updated_at")

    def __init__(self, open_store: Callable[[], object], kind: str) -> None:
        self._open_store = open_store
        self.kind = kind
        self._frame: pd.DataFrame | None = None
        self._lock = threading.Lock()

    @cached_property
    def store(self):
        """The store, opened on first use (boundary tiles never need it)."""
        return self._open_store()

    def version(self) -> str:
        return str(self.store.data_version())

    def load(self) -> pd.DataFrame:
        """The current frame (incremental after the first call)."""
        with self._lock:
            if self._frame is None:
                self._frame = self._read()
            else:
                since = int(self._frame["updated_at"].max()) - OVERLAP_MS if len(self._frame) else 0
                changed = self._read(since)
                if len(changed):
                    merged = pd.concat([self._frame, changed], ignore_index=True)
                    self._frame = merged.drop_duplicates("id", keep="last").reset_index(drop=True)
                if len(self._frame) != self.store.count(self.kind):
                    self._frame = self._read()
            return self._frame

    def _read(self, updated_since: int | None = None) -> pd.DataFrame:
        """One columnar SELECT over the store's ``features`` columns (times are epoch ms);
        a row-by-row read through ``iter_features`` costs about 1 ms per row."""
        cols = self.store.columns
        clauses = [cols.kind == self.kind]
        if updated_since is not None:
            clauses.append(cols.updated_at >= updated_since)
        names = [*self.COLUMNS[self.kind], *self.TIMES]
        stmt = sa.select(*(cols[n] for n in names)).where(*clauses).order_by(cols.fid)
        with self.store.backend.read() as conn:
            frame = pd.read_sql(stmt, conn)  # a frame of Row objects costs twice as long
        for name in self.TIMES:
            frame[name] = frame[name].fillna(0).astype("int64")
        for name in ("online", "alarm"):
            if name in frame:
                frame[name] = frame[name].astype("boolean")
        return frame
