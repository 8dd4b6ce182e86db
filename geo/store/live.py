"""The store's cameras and sensors in memory: a :class:`~geo.engine.live_index.LiveIndex`
that follows the store's change feed.

:meth:`LiveDevices.current` builds the index once from
``store.feature_frame(kind, columns)`` (the rows and the seq they are consistent
with); later calls first read which device kinds changed since (one read of the feed's
newest rows: writes of other kinds cost nothing more), and apply
``store.feature_frame(kind, columns, after=seq)`` for those (rows changed: replaced;
ids removed: dropped). Every process follows the same feed, so two servers on one
database answer alike after a write in either. When the seq it holds has been pruned
from the feed it reads everything again.

>>> LiveDevices.COLUMNS["cameras"]
('id', 'lon', 'lat', 'name', 'device_kind', 'online', 'grid_code')
>>> rows = pd.DataFrame({"online": [1, None], "reading_value": [2.5, None], "name": ["a", None]})
>>> device_attrs(rows)[1]
{'online': None, 'reading_value': None, 'name': None}
>>> device_attrs(rows)[0]
{'online': True, 'reading_value': 2.5, 'name': 'a'}
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Protocol

import numpy as np
import pandas as pd

from cityaware.geo.arrays import ObjectArray
from cityaware.geo.engine.live_index import Attrs, LiveIndex
from cityaware.geo.errors import ChangesPruned
from cityaware.geo.store.changes import FrameDelta

DEVICE_KINDS: tuple[str, ...] = ("cameras", "sensors")
_FLAGS = ("online", "alarm")


class FeatureFeed(Protocol):
    """What the follower reads: the store's newest seq and its frames of changed rows."""

    def data_version(self) -> int: ...

    def changed_kinds(self, kinds: Sequence[str], after: int) -> tuple[set[str], int]: ...

    def feature_frame(
        self, kind: str, columns: Sequence[str], after: int | None = None
    ) -> FrameDelta: ...


def device_attrs(rows: pd.DataFrame) -> list[Attrs]:
    """Each row's values as its record holds them: Python values, flags as bools, NaN/NULL
    as None (column by column: a full build converts a few hundred thousand rows)."""
    columns: list[ObjectArray] = []
    for name in rows.columns:
        values = rows[name].to_numpy(dtype=object, copy=True)
        missing = pd.isna(values)
        if name in _FLAGS:
            values = np.where(missing, False, values).astype(bool).astype(object)
        values[missing] = None
        columns.append(values)
    names = [str(n) for n in rows.columns]
    return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]


class LiveDevices:
    """An in-memory index of the store's devices kept in step with its change feed."""

    COLUMNS: dict[str, tuple[str, ...]] = {
        "cameras": ("id", "lon", "lat", "name", "device_kind", "online", "grid_code"),
        "sensors": (
            *("id", "lon", "lat", "name", "device_kind", "online"),
            *("reading_value", "reading_unit", "alarm", "grid_code"),
        ),
    }

    def __init__(self, store: FeatureFeed, kinds: Sequence[str] = DEVICE_KINDS) -> None:
        self.store = store
        self.kinds = tuple(kinds)
        self._index = LiveIndex()
        self._seqs: dict[str, int] | None = None  # per kind: the seq its rows are as of
        self._caught_up = 0.0  # monotonic time the feed was last read from
        self._lock = threading.Lock()

    def current(self, max_age_s: float = 0.0) -> LiveIndex:
        """The index, caught up with every change committed before this call (or, with
        ``max_age_s``, before a catch-up at most that many seconds ago: no read of the feed
        for an answer that may lag, such as the cameras near a new incident).

        Features are indexed by kind and id; their attrs hold the ``COLUMNS`` besides
        ``id``, ``lon`` and ``lat``.
        """
        with self._lock:
            if self._seqs is None:
                self._index, self._seqs = self._full()
                self._caught_up = time.monotonic()
                return self._index
            if max_age_s > 0 and time.monotonic() - self._caught_up < max_age_s:
                return self._index
            after = min(self._seqs.values())
            started = time.monotonic()
        try:  # outside the lock: one read, and concurrent callers do not queue for it
            news: tuple[set[str], int] | None = self.store.changed_kinds(self.kinds, after)
        except ChangesPruned:
            news = None
        with self._lock:
            try:
                if news is None or self._seqs is None:
                    raise ChangesPruned("read everything again")
                self._apply(self._seqs, *news)
            except ChangesPruned:  # too far behind the feed: read everything again
                self._index, self._seqs = self._full()
            self._caught_up = max(self._caught_up, started)
            return self._index

    def _full(self) -> tuple[LiveIndex, dict[str, int]]:
        index, seqs = LiveIndex(), {}
        for kind in self.kinds:
            delta = self.store.feature_frame(kind, self.COLUMNS[kind])
            rows = delta.rows
            attrs = device_attrs(rows.drop(columns=["id", "lon", "lat"]))
            index.bulk_load(kind, rows["id"].tolist(), rows["lon"], rows["lat"], attrs)
            seqs[kind] = delta.seq
        return index, seqs

    def _apply(self, seqs: dict[str, int], changed: set[str], head: int) -> None:
        """Read the ``changed`` kinds' rows changed since their seq; the others are as of
        ``head`` (no change of theirs up to it)."""
        for kind in self.kinds:
            if kind not in changed:
                seqs[kind] = max(seqs[kind], head)
        deltas = {k: self.store.feature_frame(k, self.COLUMNS[k], after=seqs[k]) for k in changed}
        for kind, delta in deltas.items():
            for id in delta.removed:
                self._index.delete(kind, id)
            for attrs in device_attrs(delta.rows):
                id, lon, lat = attrs.pop("id"), attrs.pop("lon"), attrs.pop("lat")
                self._index.insert(kind, id, lon, lat, attrs)
            seqs[kind] = delta.seq
