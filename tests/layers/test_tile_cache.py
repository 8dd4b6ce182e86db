"""The tile LRU: bounded by bytes, least recently used out first, keyed by data version."""

from __future__ import annotations

from cityaware.layers.tile_cache import TileCache


def test_evicts_least_recently_used_beyond_the_byte_bound():
    cache = TileCache(max_bytes=10)
    cache.put("a", b"1234")
    cache.put("b", b"1234")
    assert cache.get("a") == b"1234"  # a is now the most recent
    cache.put("c", b"1234")  # 12 bytes > 10: b goes
    assert cache.get("b") is None
    assert cache.get("a") == b"1234" and cache.get("c") == b"1234"
    assert cache.stats()["bytes"] == 8


def test_a_new_data_version_misses_and_renders_again():
    cache = TileCache()
    renders = []

    def render(version):
        renders.append(version)
        return version.encode()

    for version in ("v1", "v1", "v2", "v1"):
        cache.get_or_render(("incidents", version, 14, 1, 2), lambda v=version: render(v))
    assert renders == ["v1", "v2"]
    assert cache.stats()["hits"] == 2
