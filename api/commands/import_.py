"""``cityaware import``: bulk-import incidents, cameras or sensors into the configured store.

    cityaware import incidents calls.csv --crs GCJ-02 --lon-col lng --lat-col lat
    cityaware import cameras cameras.gpkg          # the file's own CRS

Every point is pinned to its grid (active boundary generation). Rows that
cannot be used are skipped and listed with their reason in a report file
(``--rejected``, default ``<file>.rejected.csv`` beside the input), named in full in
the summary; an import whose every row is rejected exits 1. ``--strict`` imports
nothing when any row is rejected. Each row keeps its own ``channel`` (ids, codes and
Chinese names alike). All or nothing, written in
short steps that live writes interleave with: a failed or killed import leaves
nothing behind (see :mod:`geo.store.imports`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cityaware.api.commands import Subparsers, add_command, add_data_dir, progress_bar
from cityaware.api.settings import Settings

KINDS = ("incidents", "cameras", "sensors")
DESCRIPTION = """Bulk-import incidents, cameras or sensors into the configured store.

Every point is pinned to its grid in the active boundary generation. Rows that
cannot be used are skipped and listed with their reason in a report file beside
the input (FILE.rejected.csv), whose full path the summary line names. An import
whose every row is rejected exits with status 1. Each row keeps its own channel
column (ids, codes and Chinese names alike). Nothing is written when the import
fails or is interrupted."""
EXAMPLES = (
    "cityaware import incidents calls.csv --crs GCJ-02 --lon-col lng --lat-col lat",
    "cityaware import cameras cameras.gpkg",
    "cityaware import incidents cases.csv --crs WGS84 --strict --rejected /tmp/bad-rows.csv",
)


def add_parser(subparsers: Subparsers) -> None:
    parser = add_command(
        subparsers,
        "import",
        "bulk-import incidents, cameras or sensors (CSV, GeoJSON, GeoPackage)",
        EXAMPLES,
        DESCRIPTION,
    )
    parser.add_argument("kind", choices=KINDS)
    parser.add_argument("file", type=Path, help="CSV with lon/lat columns, GeoJSON, GeoPackage")
    parser.add_argument(
        "--crs",
        help="CRS of the coordinates: WGS84, CGCS2000, GCJ-02, BD-09 or EPSG:NNNN "
        "(required for CSV; default for GeoJSON/GeoPackage: the file's CRS)",
    )
    parser.add_argument("--lon-col", default="lon", help="x column of a CSV (default lon)")
    parser.add_argument("--lat-col", default="lat", help="y column of a CSV (default lat)")
    parser.add_argument("--strict", action="store_true", help="import nothing if any row is bad")
    parser.add_argument(
        "--rejected",
        type=Path,
        help="where to write the rejected-rows report (default: FILE.rejected.csv beside FILE)",
    )
    add_data_dir(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from cityaware.api.context import AppContext
    from cityaware.geo.crs import normalize_crs
    from cityaware.geo.errors import InvalidInput
    from cityaware.geo.store.bulk import CSV_SUFFIXES

    if args.crs:
        normalize_crs(args.crs)  # fail on a bad CRS before reading anything
    elif args.file.suffix.lower() in CSV_SUFFIXES:
        raise InvalidInput("a CSV file needs --crs (e.g. --crs WGS84 or --crs GCJ-02)")
    store = AppContext(settings).store
    with progress_bar(unit="row", unit_scale=True) as bar:
        report = store.bulk_import(
            args.kind,
            args.file,
            crs=args.crs,
            lon_col=args.lon_col,
            lat_col=args.lat_col,
            strict=args.strict,
            progress=lambda done: bar.update(done - bar.n),
        )
    line = report.summary()
    if report.rejected:
        target = (args.rejected or rejected_path(args.file)).resolve()
        report.write_rejected(target)
        line += f"; rejected rows in {target}"
    print(line)
    if report.rejected and not report.accepted:
        print(f"error: every row of {args.file} was rejected", file=sys.stderr)
        return 1
    return 0


def rejected_path(source: Path) -> Path:
    """The rejected-rows report of ``source``: beside it, named after it.

    >>> rejected_path(Path("/data/in/cases.csv"))
    PosixPath('/data/in/cases.rejected.csv')
    """
    return source.with_name(f"{source.stem}.rejected.csv")
