"""``cityaware locate``: add grid codes to every point of a CSV, GeoPackage or GeoParquet file.

    cityaware locate complaints.csv --crs GCJ-02 --lon-col lng --lat-col lat -o located.csv

Streams the file in chunks (files larger than memory work), shows progress on
stderr and ends with a one-line summary. Rows with unusable coordinates are
kept with status ``invalid`` and the reason in the ``error`` column.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cityaware.api.commands import add_data_dir
from cityaware.api.settings import Settings


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "locate",
        help="add grid/community/street/district codes to the points of a file",
        description=__doc__.split("\n")[0],
    )
    parser.add_argument("input", type=Path, help="CSV, GeoPackage (or other OGR file), GeoParquet")
    parser.add_argument(
        "--crs",
        required=True,
        help="CRS of the coordinates: WGS84, CGCS2000, GCJ-02, BD-09 or EPSG:NNNN",
    )
    parser.add_argument("--lon-col", help="x column (longitude or easting)")
    parser.add_argument("--lat-col", help="y column (latitude or northing)")
    parser.add_argument("--layer", help="layer of a multi-layer input (GeoPackage)")
    parser.add_argument(
        "-o", "--output", type=Path, required=True, help="output .csv, .gpkg or .parquet"
    )
    parser.add_argument("--generation", help="boundary generation (default: the active one)")
    parser.add_argument("--chunk-size", type=int, default=100_000, help="rows per chunk")
    add_data_dir(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from tqdm import tqdm

    from cityaware.api.context import AppContext
    from cityaware.geo.crs import normalize_crs
    from cityaware.geo.engine.files import count_rows, locate_file
    from cityaware.geo.errors import InvalidInput

    normalize_crs(args.crs)  # fail on a bad CRS before building anything
    if args.chunk_size < 1:
        raise InvalidInput("--chunk-size must be at least 1")
    ctx = AppContext(settings)
    locator = ctx.geocoding.locator(args.generation)
    with tqdm(
        total=count_rows(args.input, args.layer) if args.input.exists() else None,
        unit="pt",
        unit_scale=True,
        file=sys.stderr,
        disable=None,
    ) as bar:
        summary = locate_file(
            args.input,
            args.output,
            locator,
            args.crs,
            lon_col=args.lon_col,
            lat_col=args.lat_col,
            chunk_size=args.chunk_size,
            progress=bar.update,
            layer=args.layer,
        )
    print(
        f"located {summary['points']} points in {summary['seconds']:.1f} s "
        f"(generation {locator.generation}): inside {summary['inside']}, "
        f"on_boundary {summary['on_boundary']}, outside {summary['outside']}, "
        f"invalid {summary['invalid']} -> {args.output}"
    )
    return 0
