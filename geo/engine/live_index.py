"""A mutable spatial index of live features (incidents, cameras, sensors) in metres.

One rtree per kind holds points in lon/lat; inserts, moves and deletes change
it in place (no rebuild). Distances are true geodesic metres on the WGS84
ellipsoid (pyproj ``Geod``). rtree's own ``nearest`` ranks by degrees, where
a degree of longitude is shorter than one of latitude, so :meth:`nearest`
only uses it to get a first guess at the k-th distance, then re-queries a box
guaranteed to hold every point within that many metres and ranks by metres.

``insert`` on an existing (kind, id) replaces it; ``delete`` of a missing one
returns False. With ``kind=None`` queries cover all kinds and return bare ids
(give ``kind`` when ids repeat across kinds). ``where`` is called with the
feature's attrs dict.

>>> index = LiveIndex()
>>> index.insert("cameras", "c1", 114.350, 34.800, {"online": True})
>>> index.insert("cameras", "c2", 114.351, 34.800, {"online": False})
>>> index.insert("sensors", "s1", 114.350, 34.8001)
>>> [(i, round(d, 1)) for i, d in index.nearest(114.350, 34.800, k=2)]
[('c1', 0.0), ('s1', 11.1)]
>>> offline = index.nearest(114.35, 34.8, k=1, kind="cameras", where=lambda a: not a["online"])
>>> [(i, round(d, 1)) for i, d in offline]
[('c2', 91.5)]
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from rtree import index as rtree_index

from cityaware.geo.crs import geodesic_m, lonlat_problem, lonlat_problems, radius_box
from cityaware.geo.errors import InvalidInput, NotFound

# A feature's free-form attributes (JSON-like), and a filter on them.
Attrs = dict[str, Any]
Where = Callable[[Attrs], bool] | None


@dataclass
class _KindIndex:
    tree: rtree_index.Index = field(default_factory=rtree_index.Index)
    keys: dict[Hashable, int] = field(default_factory=dict)
    ids: dict[int, Hashable] = field(default_factory=dict)
    points: dict[int, tuple[float, float]] = field(default_factory=dict)
    attrs: dict[int, Attrs] = field(default_factory=dict)
    next_key: int = 0


def _checked(lon: float, lat: float) -> tuple[float, float]:
    lon, lat = float(lon), float(lat)
    problem = lonlat_problem(lon, lat)
    if problem:
        raise InvalidInput(problem)
    return lon, lat


class LiveIndex:
    """Points by kind and id, with bbox, k-nearest and radius queries in metres."""

    def __init__(self) -> None:
        self._kinds: dict[str, _KindIndex] = {}
        self._lock = threading.RLock()

    def __len__(self) -> int:
        return sum(len(k.ids) for k in self._kinds.values())

    def count(self, kind: str) -> int:
        """Number of features of one kind."""
        return len(self._kinds[kind].ids) if kind in self._kinds else 0

    def insert(
        self, kind: str, id: Hashable, lon: float, lat: float, attrs: Attrs | None = None
    ) -> None:
        """Add a feature (replacing any feature of the same kind and id)."""
        lon, lat = _checked(lon, lat)
        with self._lock:
            kind_index = self._kinds.setdefault(kind, _KindIndex())
            if id in kind_index.keys:
                key = kind_index.keys[id]
                if kind_index.points[key] == (lon, lat):  # only attributes changed: an R-tree
                    kind_index.attrs[key] = dict(attrs or {})  # delete costs milliseconds
                    return
                self._remove(kind_index, id)
            key = kind_index.next_key
            kind_index.next_key += 1
            kind_index.keys[id], kind_index.ids[key] = key, id
            kind_index.points[key] = (lon, lat)
            kind_index.attrs[key] = dict(attrs or {})
            kind_index.tree.insert(key, (lon, lat, lon, lat))

    def bulk_load(
        self,
        kind: str,
        ids: Iterable[Hashable],
        lons: Iterable[float],
        lats: Iterable[float],
        attrs: Iterable[Attrs | None] | None = None,
    ) -> int:
        """Insert many features of one kind; an empty kind is packed in one pass (STR).

        Returns the number loaded. Raises InvalidInput (nothing loaded) on a bad point.
        """
        ids, lons, lats = list(ids), np.asarray(lons, float), np.asarray(lats, float)
        attrs = [None] * len(ids) if attrs is None else list(attrs)
        if not (len(ids) == len(lons) == len(lats) == len(attrs)):
            raise InvalidInput("ids, lons, lats and attrs must have the same length")
        problems = lonlat_problems(lons, lats)
        for row in np.flatnonzero(problems != None).tolist()[:1]:  # noqa: E711
            raise InvalidInput(f"row {row}: {problems[row]}")
        with self._lock:
            current = self._kinds.get(kind)
            if current is not None and current.ids or len(set(ids)) != len(ids):
                for row in range(len(ids)):
                    self.insert(kind, ids[row], lons[row], lats[row], attrs[row])
                return len(ids)
            fresh = _KindIndex()
            stream = []
            for key, (id, lon, lat, extra) in enumerate(zip(ids, lons, lats, attrs, strict=True)):
                lon, lat = float(lon), float(lat)
                fresh.keys[id], fresh.ids[key] = key, id
                fresh.points[key] = (lon, lat)
                fresh.attrs[key] = dict(extra or {})
                stream.append((key, (lon, lat, lon, lat), None))
            fresh.next_key = len(ids)
            if stream:
                fresh.tree = rtree_index.Index(stream)
            self._kinds[kind] = fresh
            return len(ids)

    def move(self, kind: str, id: Hashable, lon: float, lat: float) -> None:
        """Move a feature to a new position (NotFound if it is not indexed)."""
        lon, lat = _checked(lon, lat)
        with self._lock:
            kind_index = self._kinds.get(kind)
            if kind_index is None or id not in kind_index.keys:
                raise NotFound(f"no {kind} {id!r} in the live index")
            key = kind_index.keys[id]
            old_lon, old_lat = kind_index.points[key]
            kind_index.tree.delete(key, (old_lon, old_lat, old_lon, old_lat))
            kind_index.points[key] = (lon, lat)
            kind_index.tree.insert(key, (lon, lat, lon, lat))

    def delete(self, kind: str, id: Hashable) -> bool:
        """Remove a feature; False when it was not there."""
        with self._lock:
            kind_index = self._kinds.get(kind)
            if kind_index is None or id not in kind_index.keys:
                return False
            self._remove(kind_index, id)
            return True

    def get(self, kind: str, id: Hashable) -> tuple[float, float, Attrs]:
        """(lon, lat, attrs) of a feature; NotFound if missing."""
        with self._lock:
            kind_index = self._kinds.get(kind)
            if kind_index is None or id not in kind_index.keys:
                raise NotFound(f"no {kind} {id!r} in the live index")
            key = kind_index.keys[id]
            return (*kind_index.points[key], dict(kind_index.attrs[key]))

    @staticmethod
    def _remove(kind_index: _KindIndex, id: Hashable) -> None:
        key = kind_index.keys.pop(id)
        lon, lat = kind_index.points.pop(key)
        kind_index.tree.delete(key, (lon, lat, lon, lat))
        del kind_index.ids[key], kind_index.attrs[key]

    def _selected(self, kind: str | None) -> list[_KindIndex]:
        if kind is None:
            return list(self._kinds.values())
        return [self._kinds[kind]] if kind in self._kinds else []

    def bbox(
        self, minlon: float, minlat: float, maxlon: float, maxlat: float, kind: str | None = None
    ) -> list[Hashable]:
        """Ids of the features inside the box (edges included)."""
        if minlon > maxlon or minlat > maxlat:
            raise InvalidInput(f"bbox {minlon},{minlat},{maxlon},{maxlat}: min exceeds max")
        with self._lock:
            return [
                k.ids[key]
                for k in self._selected(kind)
                for key in k.tree.intersection((minlon, minlat, maxlon, maxlat))
            ]

    def within(
        self, lon: float, lat: float, radius_m: float, kind: str | None = None, where: Where = None
    ) -> list[tuple[Hashable, float]]:
        """Features within ``radius_m`` metres, nearest first: [(id, metres)]."""
        lon, lat = _checked(lon, lat)
        if not radius_m >= 0:
            raise InvalidInput(f"radius {radius_m!r} must be a non-negative number of metres")
        with self._lock:
            found = self._measured(lon, lat, radius_box(lon, lat, radius_m), kind, where)
        return [(id, d) for id, d in found if d <= radius_m]

    def nearest(
        self, lon: float, lat: float, k: int = 5, kind: str | None = None, where: Where = None
    ) -> list[tuple[Hashable, float]]:
        """The ``k`` features nearest in metres, nearest first: [(id, metres)]."""
        lon, lat = _checked(lon, lat)
        if k < 1:
            raise InvalidInput(f"k={k!r}: ask for at least one nearest feature")
        with self._lock:
            selected = self._selected(kind)
            total = sum(len(s.ids) for s in selected)
            fetch = k
            while True:
                guesses = self._degree_nearest(lon, lat, fetch, selected, where)
                if len(guesses) >= k or fetch >= total:
                    break
                fetch *= 4
            if not guesses:
                return []
            reach = guesses[min(k, len(guesses)) - 1][1]
            found = self._measured(lon, lat, radius_box(lon, lat, reach), kind, where)
        return found[:k]

    def _degree_nearest(
        self, lon: float, lat: float, fetch: int, selected: list[_KindIndex], where: Where
    ) -> list[tuple[Hashable, float]]:
        """Up to ``fetch`` features per kind by rtree's degree ranking, measured in metres."""
        keys: list[tuple[_KindIndex, int]] = []
        for kind_index in selected:
            for key in kind_index.tree.nearest((lon, lat, lon, lat), num_results=fetch):
                if where is None or where(kind_index.attrs[key]):
                    keys.append((kind_index, key))
        return self._rank(lon, lat, keys)

    def _measured(
        self,
        lon: float,
        lat: float,
        box: tuple[float, float, float, float],
        kind: str | None,
        where: Where,
    ) -> list[tuple[Hashable, float]]:
        keys = [
            (kind_index, key)
            for kind_index in self._selected(kind)
            for key in kind_index.tree.intersection(box)
            if where is None or where(kind_index.attrs[key])
        ]
        return self._rank(lon, lat, keys)

    @staticmethod
    def _rank(
        lon: float, lat: float, keys: list[tuple[_KindIndex, int]]
    ) -> list[tuple[Hashable, float]]:
        points = np.array([k.points[key] for k, key in keys], dtype=float).reshape(-1, 2)
        distances = geodesic_m(lon, lat, points[:, 0], points[:, 1])
        order = np.argsort(distances, kind="stable")
        return [(keys[i][0].ids[keys[i][1]], float(distances[i])) for i in order]
