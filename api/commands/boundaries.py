"""``cityaware boundaries``: import, validate, list, activate and compare boundary generations.

cityaware boundaries import grids.gpkg --activate --note "2024 survey"
cityaware boundaries import streets.shp --level street --crs EPSG:4543
cityaware boundaries import districts.shp divisions.csv --encoding GBK --activate
cityaware boundaries validate districts.geojson -o report.json
cityaware boundaries list
cityaware boundaries activate g0002
cityaware boundaries diff g0001 g0002
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from cityaware.api.commands import Subparsers, add_command, add_data_dir, progress_bar
from cityaware.api.settings import Settings

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd

    from cityaware.api.context import AppContext
    from cityaware.geo.boundaries.repair import RepairNote
    from cityaware.geo.engine.locator import GridLocator

DEFAULT_BATCH = 50_000


def add_parser(subparsers: Subparsers) -> None:
    parser = add_command(
        subparsers,
        "boundaries",
        "import and manage boundary generations",
        ("cityaware boundaries import grids.gpkg --activate", "cityaware boundaries list"),
        "Import, validate, list, activate and compare boundary generations.",
    )
    actions = parser.add_subparsers(dest="action", required=True)

    importer = add_command(actions, "import", "stage boundary files as a new generation", (
        'cityaware boundaries import grids.gpkg --activate --note "2024 survey"',
        "cityaware boundaries import streets.shp --level street --crs EPSG:4543",
        "cityaware boundaries import districts.shp divisions.csv --encoding GBK --activate",
    ))  # fmt: skip
    _add_read_options(importer)
    importer.add_argument("--activate", action="store_true", help="make it the live generation")
    importer.add_argument("--note", default="", help="free text stored with the generation")
    importer.add_argument(
        "--force",
        action="store_true",
        help="import implausible outlines anyway (outside China, far from the rest or from "
        "the active generation); they are listed as warnings",
    )
    add_data_dir(importer)
    importer.set_defaults(func=run_import)

    validator = add_command(
        actions,
        "validate",
        "check boundary files, write a JSON report",
        ("cityaware boundaries validate districts.geojson -o report.json",),
    )
    _add_read_options(validator)
    validator.add_argument("-o", "--output", help="write the report here (default: stdout)")
    validator.add_argument(
        "--tolerance", type=float, default=1.0, help="ignore overlaps/gaps below this many m²"
    )
    validator.set_defaults(func=run_validate)

    lister = add_command(
        actions, "list", "list the generations", ("cityaware boundaries list --json",)
    )
    lister.add_argument("--json", action="store_true", help="print JSON")
    add_data_dir(lister)
    lister.set_defaults(func=run_list)

    activator = add_command(actions, "activate", "switch the live generation", (
        "cityaware boundaries activate g0002",
        "cityaware boundaries activate g0002 --scheduler tcp://sched:8786",
    ))  # fmt: skip
    activator.add_argument("generation", help="the generation id, e.g. g0002")
    activator.add_argument(
        "--scheduler",
        help="re-assign the stored features on dask: local:N or tcp://HOST:PORT "
        "(default: in this process)",
    )
    activator.add_argument(
        "--batch-size", type=int, default=DEFAULT_BATCH, help="features per committed batch"
    )
    add_data_dir(activator)
    activator.set_defaults(func=run_activate)

    differ = add_command(actions, "diff", "codes added, removed, changed between generations",
                         ("cityaware boundaries diff g0001 g0002",))  # fmt: skip
    differ.add_argument("generation_a", help="the older generation")
    differ.add_argument("generation_b", help="the newer generation")
    differ.add_argument("--json", action="store_true", help="print every code as JSON")
    add_data_dir(differ)
    differ.set_defaults(func=run_diff)


def _add_read_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        type=Path,
        help="outline files, and division lists (CSV: level,code,name,parent_code)",
    )
    parser.add_argument("--level", help="level of every unit (district|street|community|grid)")
    parser.add_argument(
        "--layer", help="layer to read (default: the hierarchy layers or the first)"
    )
    parser.add_argument("--crs", help="CRS of the coordinates, e.g. EPSG:4543 (overrides the file)")
    parser.add_argument(
        "--column",
        action="append",
        default=[],
        metavar="SOURCE=TARGET",
        help="read column SOURCE as TARGET, e.g. --column 网格编码=code (repeatable)",
    )
    parser.add_argument("--code-system", default="NBS", help="code system when not in the file")
    parser.add_argument("--code-version", default="", help="code version, e.g. 2023")
    parser.add_argument(
        "--encoding",
        help="text encoding of Shapefiles without .cpg, e.g. GBK (default: detected)",
    )
    parser.add_argument(
        "--swap-axes", action="store_true", help="the coordinates are northing (latitude) first"
    )


def _read(args: argparse.Namespace) -> tuple[gpd.GeoDataFrame, list[RepairNote], pd.DataFrame]:
    """The outlines (with their repair notes) and the division lists among ``args.files``."""
    from cityaware.geo.boundaries.divisions import (
        concat_divisions,
        is_division_list,
        read_divisions,
    )
    from cityaware.geo.boundaries.io import read_many

    column_map = {}
    for pair in args.column:
        source, separator, target = pair.partition("=")
        if not separator or not source or not target:
            raise ValueError(f"--column wants SOURCE=TARGET, got '{pair}'")
        column_map[source] = target
    outlines = [path for path in args.files if not is_division_list(path)]
    divisions = concat_divisions(
        [read_divisions(path) for path in args.files if is_division_list(path)]
    )
    progress = progress_bar(iterable=outlines, desc="reading", unit="file", leave=False)
    units, repairs = read_many(
        outlines,
        level=args.level,
        layer=args.layer,
        crs=args.crs,
        code_system=args.code_system,
        code_version=args.code_version,
        column_map=column_map or None,
        progress=progress,
        encoding=args.encoding,
        swap_axes=args.swap_axes,
        force=getattr(args, "force", False),
    )
    return units, repairs, divisions


def run_import(args: argparse.Namespace, settings: Settings) -> int:
    from cityaware.geo.boundaries.generations import BoundaryRegistry

    units, repairs, divisions = _read(args)
    print(
        f"read {len(units)} units and {len(divisions)} divisions from {len(args.files)} "
        "file(s); validating",
        file=sys.stderr,
    )
    registry = BoundaryRegistry(settings.data_dir / "boundaries")
    source = ", ".join(path.name for path in args.files)
    generation = registry.stage(
        units,
        source=source,
        note=args.note,
        repairs=repairs,
        divisions=divisions,
        force=args.force,
    )
    for warning in next(g for g in registry.generations() if g["id"] == generation)["forced"]:
        print(f"WARNING (imported with --force): {warning}", file=sys.stderr)
    if args.activate:
        from cityaware.api.context import AppContext

        _activate(AppContext(settings), generation, None, DEFAULT_BATCH)
    state = (
        "active"
        if args.activate
        else f"inactive (activate: cityaware boundaries activate {generation})"
    )
    summary = registry.validation(generation)["summary"]
    print(f"staged {generation}, {state}; {summary}")
    return 0


def run_validate(args: argparse.Namespace, settings: Settings) -> int:
    from cityaware.geo.boundaries.plausibility import implausible_units
    from cityaware.geo.boundaries.validate import validate_units

    units, repairs, divisions = _read(args)
    report = validate_units(
        units, tolerance_m2=args.tolerance, repairs=repairs, divisions=divisions
    )
    report.findings += implausible_units(units)
    text = json.dumps(report.to_dict(), ensure_ascii=False, indent=1)
    if args.output:
        Path(args.output).write_text(text + "\n", encoding="utf-8")
        print(f"{report.summary()}; report written to {args.output}")
    else:
        print(text)
        print(report.summary(), file=sys.stderr)
    return 0


def run_list(args: argparse.Namespace, settings: Settings) -> int:
    from cityaware.geo.boundaries.generations import BoundaryRegistry

    generations = BoundaryRegistry(settings.data_dir / "boundaries").generations()
    if args.json:
        print(json.dumps(generations, ensure_ascii=False, indent=1))
        return 0
    if not generations:
        print(f"no boundary generations in {settings.data_dir / 'boundaries'}")
        return 0
    for gen in generations:
        counts = " ".join(f"{level}={n}" for level, n in gen["counts"].items() if n)
        marker = "*" if gen["active"] else " "
        problems = ", ".join(f"{n} {kind}" for kind, n in gen.get("validation", {}).items() if n)
        note = f"  {gen['note']}" if gen["note"] else ""
        print(
            f"{marker} {gen['id']}  {gen['created']}  {counts}  [{gen['source']}]"
            f"  validation: {problems or 'clean'}{note}"
        )
    return 0


def run_activate(args: argparse.Namespace, settings: Settings) -> int:
    from cityaware.api.context import AppContext

    ctx = AppContext(settings)
    previous = ctx.registry.active()
    _activate(ctx, args.generation, args.scheduler, args.batch_size)
    print(f"active boundary generation: {args.generation} (was {previous or 'none'})")
    return 0


def _activate(ctx: AppContext, generation: str, scheduler: str | None, batch_size: int) -> None:
    """Activate crash-safely (geo.bulk.activation), re-assigning the stored features in
    batches here or, with ``scheduler``, on dask (geo.bulk.reassign). An activation a
    crash interrupted is finished first."""
    from contextlib import nullcontext

    from cityaware.api.context import existing_store, finish_activation
    from cityaware.geo.bulk.activation import activate
    from cityaware.geo.bulk.cluster import LocatorSource, open_client
    from cityaware.geo.bulk.reassign import reassign_on_cluster

    if ctx.registry.pending_activation() not in (None, generation):
        finish_activation(ctx)  # another activation was interrupted: finish it first
    settings = ctx.settings
    store = existing_store(ctx)

    def report(moved: int) -> None:
        print(f"activation: batch committed ({moved:,} moved)", file=sys.stderr, flush=True)

    with open_client(scheduler) if scheduler else nullcontext() as client:

        def reassign(locator: GridLocator) -> int:
            assert store is not None
            if not scheduler:
                return store.reassign(locator, batch_size, on_batch=report)
            data = settings.data_dir
            source = LocatorSource(str(data / "boundaries"), generation, str(data / "cache"))
            return reassign_on_cluster(
                store, source, data / "reassign", client, batch_size, sys.stderr.isatty()
            )

        moved = activate(ctx.registry, generation, store, ctx.locators.get, reassign)
    if moved:
        print(f"re-assigned {moved:,} stored features to {generation}", file=sys.stderr)


def run_diff(args: argparse.Namespace, settings: Settings) -> int:
    from cityaware.geo.boundaries.generations import BoundaryRegistry

    registry = BoundaryRegistry(settings.data_dir / "boundaries")
    diff = registry.diff(args.generation_a, args.generation_b)
    if args.json:
        print(json.dumps(diff, ensure_ascii=False, indent=1))
    else:
        for kind, codes in diff.items():
            shown = " ".join(codes[:20]) + (f" ... (+{len(codes) - 20})" if len(codes) > 20 else "")
            print(f"{kind}: {shown}" if codes else f"{kind}: -")
    counts = ", ".join(f"{len(codes)} {kind}" for kind, codes in diff.items())
    print(f"{args.generation_a} -> {args.generation_b}: {counts}")
    return 0
