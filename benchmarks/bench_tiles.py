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
import gc
import os
import time

import mapbox_vector_tile
import numpy as np
import pandas as pd
import shapely

from benchmarks.tiles_postgis import PostgisTiles
from cityaware.geo.boundaries.io import read_hierarchy_gpkg
from cityaware.geo.demo.features import generate_demo_features
from cityaware.geo.resources import demo_boundaries
from cityaware.layers.service import POINT_LAYERS, POLYGON_CAP, MapLayers, TileFilters
from cityaware.layers.tiles import BUFFER_PX, EXTENT, TileBox, binned_features, points_in

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


# (label, layer, zoom): the encoder comparison's cases (points, bins, polygons)
CASES = (
    ("cameras z16 points", "cameras", 16),
    ("sensors z16 points", "sensors", 16),
    ("incidents z16 points", "incidents", 16),
    ("incidents z12 bins", "incidents", 12),
    ("sensors z12 bins", "sensors", 12),
    ("grids z10 polygons", "grids", 10),
)
ALL = TileFilters.parse("all", "all", "")  # every row, so PostGIS holds the same rows


def old_tile(layers: MapLayers, layer: str, box: TileBox) -> bytes:
    """The tile as before the columnar encoder: per-row dicts (pandas ``to_dict`` records,
    shapely points, per-bin dicts), then ``mapbox_vector_tile.encode``."""
    if layer == "grids":
        source = layers._boundary_state()[1]["grids"]
        geoms, bounds = source.geometries_at(box.z), box.buffered()
        hits = source.tree.query(shapely.box(*bounds), predicate="intersects")
        if len(hits) > POLYGON_CAP:
            hits = hits[np.argsort(-shapely.area(geoms[hits]), kind="stable")[:POLYGON_CAP]]
        hits = np.sort(hits)
        clipped = shapely.clip_by_rect(geoms[hits], *bounds)
        pixels = shapely.transform(clipped, lambda c: np.column_stack(box.to_pixels(*c.T)))
        keep = ~shapely.is_empty(pixels)
        columns = {k: v.to_numpy() for k, v in source.columns.items()}
        feats = [
            {"geometry": g, "properties": {k: v[i] for k, v in columns.items()}}
            for g, i in zip(pixels[keep], hits[keep], strict=True)
        ]
    else:
        spec = POINT_LAYERS[layer]
        sources = layers.snapshot(layer).sources()
        inside = [points_in(box, s.x, s.y, 0, x_sorted=True) for s in sources]
        if box.z >= spec.detail_zoom and sum(len(i) for i in inside) <= spec.cap:
            feats = []
            for source in sources:
                near = points_in(box, source.x, source.y, BUFFER_PX, x_sorted=True)
                table = source.attributes.iloc[near][list(source.columns)]
                px, py = box.to_pixels(source.x[near], source.y[near])
                feats += [
                    {"geometry": shapely.Point(a, b), "properties": _clean(r)}
                    for a, b, r in zip(
                        px.round(), py.round(), table.to_dict("records"), strict=True
                    )
                ]
        else:
            x = np.concatenate([s.x[i] for s, i in zip(sources, inside, strict=True)])
            y = np.concatenate([s.y[i] for s, i in zip(sources, inside, strict=True)])
            sums = {n: np.concatenate([s.attributes[n].to_numpy()[i]
                                       for s, i in zip(sources, inside, strict=True)])
                    for n in spec.sums}  # fmt: skip
            bins = binned_features(box, x, y, sums)
            feats = [
                {"geometry": shapely.Point(bins.x[i], bins.y[i]),
                 "properties": {k: int(v[i]) for k, v in bins.columns.items()}}
                for i in range(len(bins))
            ]  # fmt: skip
    if not feats:
        return b""
    options = {"y_coord_down": True, "extents": EXTENT}
    return mapbox_vector_tile.encode([{"name": layer, "features": feats}], default_options=options)


def _clean(record: dict) -> dict:
    """The per-row encoder's properties: no missing values, plain Python values."""
    out = {}
    for key, value in record.items():
        if value is None or (not isinstance(value, str) and pd.isna(value)):
            continue
        value = value.item() if isinstance(value, np.generic) else value
        out[key] = value if isinstance(value, (str, int, float, bool)) else str(value)
    return out


def load_postgis(url: str, layers: MapLayers) -> PostgisTiles:
    """The same rows in PostGIS: every point kind, and the grids simplified for z10."""
    pg = PostgisTiles(url)
    for kind, spec in POINT_LAYERS.items():
        source = layers.snapshot(kind).merged()
        names = list(dict.fromkeys([*spec.columns, *spec.sums]))
        pg.load_points(kind, source.x, source.y, source.attributes[names])
    grids = layers._boundary_state()[1]["grids"]
    columns = pd.DataFrame({k: v.to_numpy() for k, v in grids.columns.items()})
    pg.load_polygons("grids", grids.geometries_at(10), columns)
    return pg


def postgis_tile(pg: PostgisTiles, layers: MapLayers, layer: str, box: TileBox):
    """ST_AsMVT of the rows our tile shows: points, bins or polygons as ours decides."""
    if layer == "grids":
        return pg.clipped_tile("grids", box, list(layers._boundary_state()[1]["grids"].columns))
    spec = POINT_LAYERS[layer]
    inside = sum(len(points_in(box, s.x, s.y, 0, x_sorted=True))
                 for s in layers.snapshot(layer).sources())  # fmt: skip
    if box.z >= spec.detail_zoom and inside <= spec.cap:
        return pg.clipped_tile(layer, box, spec.columns)
    return pg.bins_tile(layer, box, spec.sums)


def compare_encoders(layers: MapLayers, pg: PostgisTiles | None, tiles: int, rounds: int) -> None:
    """Ours (cold render, columnar) vs ST_AsMVT vs the per-row encoder on the same rows."""
    print(
        f"{'case':<22}{'feats':>6}{'pg':>6}{'ours p50':>10}{'p95':>7}{'ST_AsMVT':>10}{'p95':>7}"
        f"{'old':>8}{'p95':>7}{'ST/ours':>9}{'old/ours':>9}"
    )
    for label, layer, z in CASES:
        density = "sensors" if layer == "grids" else layer
        ours, theirs, old, feats, pg_feats = [], [], [], [], []
        for tile in layers.densest_tiles(density, z, tiles):
            box = TileBox.of(*tile)
            for _ in range(rounds):
                gc.collect()  # nobody pays for the garbage of the encoder timed before it
                t0 = time.perf_counter()
                body = layers.render(layer, box, ALL)
                ours.append(time.perf_counter() - t0)
                gc.collect()
                t0 = time.perf_counter()
                old_body = old_tile(layers, layer, box)
                old.append(time.perf_counter() - t0)
                if pg is not None:
                    pg_body, seconds = postgis_tile(pg, layers, layer, box)
                    theirs.append(seconds)
            feats.append(_features(body))
            if _decoded(body) != _decoded(old_body):
                raise AssertionError(f"{label} {tile}: our tile differs from the per-row encoder's")
            if pg is not None:
                pg_feats.append(_features(pg_body))
        o50, o95 = percentiles(ours)
        d50, d95 = percentiles(old)
        if theirs:
            t50, t95 = percentiles(theirs)
            pg_text = f"{max(pg_feats):>6}{t50:>10.2f}{t95:>7.2f}"
            st_ratio = f"{t50 / o50:>8.1f}x"
        else:
            pg_text, st_ratio = f"{'-':>6}{'-':>10}{'-':>7}", f"{'-':>9}"
        print(
            f"{label:<22}{max(feats):>6}{pg_text[:6]}{o50:>10.2f}{o95:>7.2f}{pg_text[6:]}"
            f"{d50:>8.2f}{d95:>7.2f}{st_ratio}{d50 / o50:>8.1f}x"
        )
    print(
        "ms per tile, cold (no cache), every row (window all, status all); feats/pg = most "
        "features in one tile, ours/ST_AsMVT; ST/ours and old/ours = ratio of p50s (>1: ours "
        "is faster); old = per-row dicts + mapbox_vector_tile.encode, decoded equal to ours"
    )


def _decoded(body: bytes) -> dict:
    return mapbox_vector_tile.decode(body, default_options={"y_coord_down": True}) if body else {}


def _features(body: bytes) -> int:
    return sum(len(v["features"]) for v in _decoded(body).values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the full demo")
    parser.add_argument("--tiles", type=int, default=8, help="densest tiles per layer and zoom")
    parser.add_argument("--rounds", type=int, default=3, help="cold renders per tile")
    parser.add_argument("--baseline-max", type=int, default=20_000)
    parser.add_argument(
        "--postgis-url",
        default=os.environ.get("CITYAWARE_BENCH_DATABASE_URL"),
        help="PostGIS for ST_AsMVT on the same rows (a fresh schema; default "
        "$CITYAWARE_BENCH_DATABASE_URL; without it the ST_AsMVT column is left out)",
    )
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
    print("== encoders on the same rows: ours vs PostGIS ST_AsMVT vs the per-row encoder")
    pg = load_postgis(args.postgis_url, layers) if args.postgis_url else None
    try:
        compare_encoders(layers, pg, args.tiles, args.rounds)
    finally:
        if pg is not None:
            pg.close()


if __name__ == "__main__":
    main()
