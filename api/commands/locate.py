"""``cityaware locate``: add grid codes to every point of a file, or of a partitioned dataset.

    cityaware locate complaints.csv --crs GCJ-02 --lon-col lng --lat-col lat -o located.csv
    cityaware locate 'points/*.parquet' --crs WGS84 -o located/ --scheduler local:8
    cityaware locate points/ --crs WGS84 -o located/ --scheduler tcp://10.0.0.5:8786

One file without ``--scheduler`` streams in chunks (files larger than memory
work). A folder, a glob or ``--scheduler`` runs on dask.distributed
(:mod:`geo.bulk.locate`): one GeoParquet partition per input piece in the
output folder; rerun the same command to resume after a failure. Progress goes
to stderr; the run ends with a one-line summary. Rows with unusable coordinates
are kept with status ``invalid`` and the reason in the ``error`` column.
"""

from __future__ import annotations

import argparse
import os
import sys
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cityaware.api.commands import Subparsers, add_command, add_data_dir
from cityaware.api.settings import Settings

if TYPE_CHECKING:
    from cityaware.geo.engine.locator import GridLocator


def add_parser(subparsers: Subparsers) -> None:
    parser = add_command(
        subparsers,
        "locate",
        "add grid/community/street/district codes to the points of a file",
        (
            "cityaware locate complaints.csv --crs GCJ-02 --lon-col lng --lat-col lat "
            "-o located.csv",
            "cityaware locate 'points/*.parquet' --crs WGS84 -o located/ --scheduler local:8",
        ),
        "Add grid codes to every point of a file, or of a partitioned dataset. One file\n"
        "streams in chunks; a folder, a glob or --scheduler runs on dask.distributed and\n"
        "writes one GeoParquet partition per input piece (rerun to resume). Rows with\n"
        "unusable coordinates are kept with status invalid and the reason in the error\n"
        "column.",
    )
    parser.add_argument(
        "input",
        help="CSV, GeoPackage (or other OGR file), GeoParquet; or a folder or glob of "
        "GeoParquet/Parquet/CSV files (a partitioned dataset)",
    )
    parser.add_argument(
        "--crs",
        required=True,
        help="CRS of the coordinates: WGS84, CGCS2000, GCJ-02, BD-09 or EPSG:NNNN",
    )
    parser.add_argument("--lon-col", help="x column (longitude or easting)")
    parser.add_argument("--lat-col", help="y column (latitude or northing)")
    parser.add_argument("--layer", help="layer of a multi-layer input (GeoPackage)")
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        required=True,
        help="output .csv, .gpkg or .parquet; a folder for a partitioned input",
    )
    parser.add_argument(
        "--scheduler",
        help="run on dask.distributed: local:N (N worker processes here), "
        "tcp://HOST:PORT (a running scheduler; paths must be shared) or sync (this process)",
    )
    parser.add_argument("--generation", help="boundary generation (default: the active one)")
    parser.add_argument("--chunk-size", type=int, default=100_000, help="rows per chunk")
    add_data_dir(parser)
    parser.set_defaults(func=run, exit_at_once=True)  # outputs are closed when run returns


def run(args: argparse.Namespace, settings: Settings) -> int:
    # numpy's OpenBLAS starts a spinning thread per core when numpy loads (5-10 % of a
    # file's CPU time); nothing here does linear algebra. Only has effect before numpy loads.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from cityaware.geo.memory import gc_paused

    with gc_paused():  # imports and arrays make no cycles: the collector only costs CPU
        return _run(args, settings)


def _run(args: argparse.Namespace, settings: Settings) -> int:
    import glob

    from cityaware.geo.crs import normalize_crs
    from cityaware.geo.engine.files import locate_file
    from cityaware.geo.errors import InvalidInput

    normalize_crs(args.crs)  # fail on a bad CRS before building anything
    if args.chunk_size < 1:
        raise InvalidInput("--chunk-size must be at least 1")
    locator = _locator(settings, args.generation)
    if args.scheduler or Path(args.input).is_dir() or glob.has_magic(args.input):
        return _run_bulk(args, settings, locator.generation)
    with _progress(args) as bar:
        summary = locate_file(
            args.input,
            args.output,
            locator,
            args.crs,
            lon_col=args.lon_col,
            lat_col=args.lat_col,
            chunk_size=args.chunk_size,
            progress=bar.update if bar is not None else None,
            layer=args.layer,
        )
    print(
        f"located {summary['points']} points in {summary['seconds']:.1f} s "
        f"(generation {locator.generation}): inside {summary['inside']}, "
        f"on_boundary {summary['on_boundary']}, outside {summary['outside']}, "
        f"invalid {summary['invalid']} -> {args.output}"
    )
    return 0


def _progress(args: argparse.Namespace) -> AbstractContextManager[Any]:
    """A tqdm bar on a terminal; nothing (and no tqdm import) for a log or a pipe."""
    if not sys.stderr.isatty():
        return nullcontext()
    from tqdm import tqdm

    from cityaware.geo.engine.files import count_rows

    total = count_rows(args.input, args.layer) if Path(args.input).exists() else None
    return tqdm(total=total, unit="pt", unit_scale=True, file=sys.stderr)


def _locator(settings: Settings, generation: str | None) -> GridLocator:
    """The generation's locator from its cached snapshot (no boundaries read, no web
    stack loaded), built through the server's context when there is none yet."""
    from cityaware.geo.boundaries.layout import ACTIVE_FILE, generation_files, read_pointer
    from cityaware.geo.engine.cached import open_locator

    root = settings.data_dir / "boundaries"
    generation = generation or read_pointer(root, ACTIVE_FILE)

    def build() -> GridLocator:
        from cityaware.api.context import AppContext

        return AppContext(settings).geocoding.locator(generation)

    if generation is None:
        return build()  # answers NotFound: nothing is active
    return open_locator(
        settings.data_dir / "cache", generation, generation_files(root, generation), build
    )


def _run_bulk(args: argparse.Namespace, settings: Settings, generation: str) -> int:
    """The dask path: partitions in, partitions out, resumable; 1 when a partition failed."""
    from cityaware.geo.bulk.cluster import LocatorSource, open_client
    from cityaware.geo.bulk.locate import locate_dataset

    source = LocatorSource(
        str(settings.data_dir / "boundaries"), generation, str(settings.data_dir / "cache")
    )
    with open_client(args.scheduler or "local") as client:
        summary = locate_dataset(
            args.input,
            args.output,
            source,
            args.crs,
            lon_col=args.lon_col,
            lat_col=args.lat_col,
            client=client,
            progress=sys.stderr.isatty(),
        )
    counts = ", ".join(f"{status} {n}" for status, n in summary.counts.items())
    print(
        f"located {summary.located_now} points in {summary.seconds:.1f} s on "
        f"{summary.cores} cores: {summary.per_core:,.0f} points/s per core "
        f"({summary.skipped} of {summary.partitions} partitions already done); "
        f"generation {generation}, all partitions: {counts} -> {args.output}"
    )
    for _, message in summary.failed:
        print(f"failed: {message}", file=sys.stderr)
    if summary.failed:
        print(
            f"{len(summary.failed)} partition(s) failed; fix them and run the same command "
            "again (finished partitions are kept)",
            file=sys.stderr,
        )
        return 1
    return 0
