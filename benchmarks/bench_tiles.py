"""Benchmark: map-wall vector tiles at full demo scale, cold and cached, against a naive baseline.

The whole demo city (4,744 grids; 130,000 cameras, 210,000 sensors and 30 days
of incidents at 12,000 a day from :mod:`geo.demo.features`) is loaded into
:class:`layers.service.MapLayers` through in-memory feeds (the store is not
what is measured here). For each layer and zoom the densest tiles are rendered:

* cold: cache cleared before every render (clip/transform/cap/bin + encode);
* cached: the same tiles again (LRU hit);
* baseline, in the same run: every point of the tile encoded as its own
  feature, unclipped and uncapped (what a server without bins would send);
  skipped when the tile holds more than ``--baseline-max`` points.

Prints p50/p95 in milliseconds, features per tile, and the median per-tile ratio
baseline/cold. The first tile of a zoom also pays for simplifying the boundaries
to that zoom (once per zoom; it shows in the grids' cold p95).

    .venv/bin/python -m benchmarks.bench_tiles            # full scale
    .venv/bin/python -m benchmarks.bench_tiles --scale 0.1
"""

from __future__ import annotations

import argparse
import time

import mapbox_vector_tile
import numpy as np
import pandas as pd

from cityaware.geo.boundaries.io import read_hierarchy_gpkg
from cityaware.geo.demo.features import generate_demo_features
from cityaware.geo.resources import demo_boundaries
from cityaware.layers.service import MapLayers, TileFilters
from cityaware.layers.tiles import TileBox, points_in

DEMO = demo_boundaries()
ZOOMS = (10, 12, 14, 16)
EPOCH = pd.Timestamp(0, tz="UTC")


class FrameFeed:
    """A fixed frame as a feed (version never changes)."""

    def __init__(self, frame: pd.DataFrame, version: str = "bench") -> None:
        self.frame, self._version = frame, version

    def version(self) -> str:
        return self._version

    def load(self) -> pd.DataFrame:
        return self.frame


def point_frames(units, scale: float) -> dict[str, pd.DataFrame]:
    features = generate_demo_features(
        units,
        n_cameras=int(130_000 * scale),
        n_sensors=int(210_000 * scale),
        days=30,
        incidents_per_day=int(12_000 * scale),
    )
    frames = {}
    for kind, frame in features.items():
        if kind == "incidents":
            reported = pd.to_datetime(frame["reported_at"], utc=True)
            frame["reported_at"] = (reported - EPOCH) // pd.Timedelta(milliseconds=1)
            frame["grid_code"] = ""
        if kind == "sensors":
            value = frame["reading_value"]
            frame["alarm"] = (value > frame["alarm_high"]) | (value < frame["alarm_low"])
        frames[kind] = frame
    return frames


def percentiles(samples: list[float]) -> tuple[float, float]:
    ms = np.array(samples) * 1000
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 95))


def baseline(layers: MapLayers, layer: str, tile: tuple[int, int, int]) -> float:
    """Encode every point of the tile as a feature, no bins, no cap (seconds)."""
    source = layers.snapshot(layer).source
    box = TileBox.of(*tile)
    idx = points_in(box, source.x, source.y)
    px, py = box.to_pixels(source.x[idx], source.y[idx])
    started = time.perf_counter()
    feats = [
        {"geometry": f"POINT ({a:.0f} {b:.0f})", "properties": {"id": str(i)}}
        for a, b, i in zip(px, py, idx, strict=True)
    ]
    mapbox_vector_tile.encode(
        [{"name": layer, "features": feats}], default_options={"y_coord_down": True}
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the full demo")
    parser.add_argument("--tiles", type=int, default=8, help="densest tiles per layer and zoom")
    parser.add_argument("--rounds", type=int, default=3, help="cold renders per tile")
    parser.add_argument("--baseline-max", type=int, default=20_000)
    args = parser.parse_args()

    started = time.perf_counter()
    units = read_hierarchy_gpkg(DEMO)
    frames = point_frames(units, args.scale)
    layers = MapLayers(FrameFeed(units), {k: FrameFeed(v) for k, v in frames.items()})
    for kind in frames:
        layers.snapshot(kind)
    layers.data_version("grids")
    sizes = ", ".join(f"{len(v):,} {k}" for k, v in frames.items())
    print(f"demo city loaded in {time.perf_counter() - started:.1f} s: 4,744 grids, {sizes}")
    filters = TileFilters.parse("30d", "all", "")
    print(
        f"{'layer':<10}{'z':>3}{'points':>9}{'feats':>7}{'cold p50':>10}{'p95':>8}"
        f"{'cached p50':>12}{'p95':>8}{'baseline':>10}{'ratio':>7}"
    )
    for layer in ("incidents", "sensors", "cameras", "grids"):
        density_layer = "sensors" if layer == "grids" else layer
        for z in ZOOMS:
            tiles = layers.densest_tiles(density_layer, z, args.tiles)
            cold, hot, base, ratios, points, feats = [], [], [], [], [], []
            for tile in tiles:
                tile_cold = []
                for _ in range(args.rounds):
                    layers.cache.clear()
                    t0 = time.perf_counter()
                    body = layers.tile(layer, *tile, filters)
                    tile_cold.append(time.perf_counter() - t0)
                cold.extend(tile_cold)
                for _ in range(20):
                    t0 = time.perf_counter()
                    layers.tile(layer, *tile, filters)
                    hot.append(time.perf_counter() - t0)
                decoded = mapbox_vector_tile.decode(body) if body else {}
                feats.append(sum(len(v["features"]) for v in decoded.values()))
                src = layers.snapshot(density_layer).source
                n = len(points_in(TileBox.of(*tile), src.x, src.y))
                points.append(n)
                if layer != "grids" and n <= args.baseline_max:
                    base.append(baseline(layers, layer, tile))
                    ratios.append(base[-1] / float(np.median(tile_cold)))
            c50, c95 = percentiles(cold)
            h50, h95 = percentiles(hot)
            if base:
                b50 = percentiles(base)[0]
                base_text, ratio = f"{b50:9.1f}", f"{np.median(ratios):6.1f}x"
            else:
                base_text, ratio = "   (skip)" if layer != "grids" else "        -", "      -"
            print(
                f"{layer:<10}{z:>3}{max(points):>9,}{max(feats):>7}{c50:>10.1f}{c95:>8.1f}"
                f"{h50:>12.3f}{h95:>8.3f} {base_text}{ratio:>7}"
            )
    print(
        "ms per tile; points = most points in one of the tiles (sensors for grids);"
        " feats = most features sent; baseline = same points encoded one by one, unclipped,"
        " uncapped, on the tiles with at most --baseline-max points; ratio = median over those"
        " tiles of baseline / cold"
    )


if __name__ == "__main__":
    main()
