"""A bounded, thread-safe LRU of encoded tiles keyed by ``(layer, data_version, z, x, y, filters)``.

Because the data version is part of the key, a write never serves a stale tile:
the next request misses and re-renders, and old entries age out of the LRU.

>>> cache = TileCache(max_bytes=10)
>>> cache.get_or_render(("grids", "v1", 0, 0, 0), lambda: b"abc")
b'abc'
>>> cache.get_or_render(("grids", "v1", 0, 0, 0), lambda: b"other")
b'abc'
>>> cache.stats()["hits"]
1
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable


class TileCache:
    """LRU bounded by the total size of the cached tiles in bytes."""

    def __init__(self, max_bytes: int = 256 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[Hashable, bytes] = OrderedDict()
        self._bytes = 0
        self._hits = 0
        self._misses = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> bytes | None:
        with self._lock:
            tile = self._items.get(key)
            if tile is None:
                self._misses += 1
                return None
            self._items.move_to_end(key)
            self._hits += 1
            return tile

    def put(self, key: Hashable, tile: bytes) -> None:
        with self._lock:
            if key in self._items:
                self._bytes -= len(self._items.pop(key))
            self._items[key] = tile
            self._bytes += len(tile)
            while self._bytes > self.max_bytes and len(self._items) > 1:
                _, old = self._items.popitem(last=False)
                self._bytes -= len(old)

    def get_or_render(self, key: Hashable, render: Callable[[], bytes]) -> bytes:
        """The cached tile for ``key``, rendering and storing it on a miss."""
        tile = self.get(key)
        if tile is None:
            tile = render()
            self.put(key, tile)
        return tile

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {
                "tiles": len(self._items),
                "bytes": self._bytes,
                "hits": self._hits,
                "misses": self._misses,
            }
