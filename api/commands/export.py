"""``cityaware export``: write a collection to GeoJSON, CSV, GeoPackage or GeoParquet.

    cityaware export incidents -o noise.gpkg --region 410202 --category noise --since 2026-11-01
    cityaware export grids -o grids.parquet

Features (incidents, cameras, sensors) are streamed from the configured store
in batches, with the same filters as the API. Boundary layers (districts,
streets, communities, grids) come from the active generation, unfiltered.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from cityaware.api.commands import Subparsers, add_command, add_data_dir, progress_bar
from cityaware.api.settings import Settings
from cityaware.geo.boundaries.schema import LAYER_OF

if TYPE_CHECKING:
    from cityaware.api.context import AppContext

FEATURES = ("incidents", "cameras", "sensors")
BOUNDARIES = tuple(LAYER_OF.values())
FORMATS = ("geojson", "csv", "gpkg", "parquet")
SUFFIX_FORMAT = {".geojson": "geojson", ".json": "geojson", ".csv": "csv", ".gpkg": "gpkg"}
SUFFIX_FORMAT[".parquet"] = "parquet"
FILTERS = ("bbox", "region", "category", "status", "channel", "since", "until")
DESCRIPTION = """Write a collection to GeoJSON, CSV, GeoPackage or GeoParquet.

Features (incidents, cameras, sensors) are streamed from the configured store in
batches, with the same filters as the API. Boundary layers (districts, streets,
communities, grids) come from the active generation, unfiltered."""
EXAMPLES = (
    "cityaware export incidents -o noise.gpkg --region 990105 --category noise --since 2026-11-01",
    "cityaware export grids -o grids.parquet",
)


def add_parser(subparsers: Subparsers) -> None:
    parser = add_command(
        subparsers, "export", "export features or boundaries to a file", EXAMPLES, DESCRIPTION
    )
    parser.add_argument("collection", choices=FEATURES + BOUNDARIES)
    parser.add_argument("--format", choices=FORMATS, help="default: from the -o suffix")
    parser.add_argument("-o", "--output", type=Path, required=True, help="the file to write")
    parser.add_argument("--bbox", help="minlon,minlat,maxlon,maxlat (WGS84)")
    parser.add_argument("--region", help="district, street, community, grid or zone code")
    for name in ("category", "status", "channel"):
        parser.add_argument(f"--{name}", help=f"{name} (comma-separated for several)")
    parser.add_argument("--since", help="reported at or after (ISO 8601)")
    parser.add_argument("--until", help="reported at or before (ISO 8601)")
    add_data_dir(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from cityaware.api.context import AppContext
    from cityaware.geo.errors import InvalidInput

    fmt = args.format or SUFFIX_FORMAT.get(args.output.suffix.lower())
    if fmt is None:
        raise InvalidInput(f"cannot tell the format of {args.output}; give --format")
    ctx = AppContext(settings)
    if args.collection in BOUNDARIES:
        if any(getattr(args, name) for name in FILTERS):
            raise InvalidInput("filters apply to incidents, cameras and sensors only")
        count = _export_boundaries(ctx, args.collection, args.output, fmt)
    else:
        count = _export_features(ctx, args, fmt)
    print(f"exported {count} {args.collection} to {args.output} ({fmt})")
    return 0


def _export_features(ctx: AppContext, args: argparse.Namespace, fmt: str) -> int:
    from cityaware.geo.errors import InvalidInput
    from cityaware.geo.store import FeatureFilter
    from cityaware.geo.store.export import write_features

    def many(value: str | None) -> list[str] | None:
        return [v.strip() for v in value.split(",") if v.strip()] if value else None

    bbox = None
    if args.bbox:
        try:
            west, south, east, north = (float(v) for v in args.bbox.split(","))
        except ValueError as error:
            raise InvalidInput(f"--bbox must be 4 numbers, got {args.bbox!r}") from error
        bbox = (west, south, east, north)
    filters = FeatureFilter(
        bbox=bbox, region=args.region, category=many(args.category), status=many(args.status),
        channel=many(args.channel), since=args.since, until=args.until,
    )  # fmt: skip
    store = ctx.store
    total = store.count(args.collection, filters)
    with progress_bar(total=total, unit="row", unit_scale=True) as bar:
        return write_features(
            store, args.collection, args.output, fmt, filters, progress=bar.update
        )


def _export_boundaries(ctx: AppContext, layer: str, path: Path, fmt: str) -> int:
    from cityaware.geo.boundaries.schema import LEVEL_OF_LAYER

    units = ctx.registry.units(level=LEVEL_OF_LAYER[layer])
    if path.exists():
        path.unlink()
    if fmt == "csv":
        units.assign(wkt=units.geometry.to_wkt()).drop(columns="geometry").to_csv(path, index=False)
    elif fmt == "parquet":
        units.to_parquet(path)
    else:
        driver = {"geojson": "GeoJSON", "gpkg": "GPKG"}[fmt]
        units.to_file(path, driver=driver, layer=layer if fmt == "gpkg" else None)
    return len(units)
