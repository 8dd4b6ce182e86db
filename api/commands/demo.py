"""``cityaware demo``: build the demo city in a data directory, if missing.

Stages and activates the committed demo boundaries
(``data/boundaries/zhengzhou-demo.gpkg``), installs the demo city's profile and
duty list (``data/zhengzhou/``) into the data directory, then generates the demo cameras,
sensors and 30 days of incidents and loads them into the configured store.
Each step is skipped when its data is already there, so ``make run`` is
cheap after the first time.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

from cityaware.api.commands import Subparsers, add_command, add_data_dir, progress_bar
from cityaware.api.context import AppContext
from cityaware.api.settings import Settings
from cityaware.geo.resources import demo_boundaries, demo_city_files

FEATURE_KINDS = ("cameras", "sensors", "incidents")


def add_parser(subparsers: Subparsers) -> None:
    parser = add_command(
        subparsers,
        "demo",
        "build the demo city (boundaries and features)",
        ("cityaware demo --data-dir ./cityaware-data", "cityaware demo --scale 0.1"),
        "Stage and activate the demo boundaries, install the demo city's profile and duty\n"
        "list, and load generated cameras, sensors and 30 days of incidents. Each step is\n"
        "skipped when its data is already there.",
    )
    add_data_dir(parser)
    parser.add_argument("--seed", type=int, default=None, help="feature generator seed")
    parser.add_argument(
        "--scale", type=float, default=1.0, help="fraction of the full demo feature counts"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    started = time.perf_counter()
    ctx = AppContext(settings)
    generation = ensure_boundaries(ctx)
    loaded = ensure_features(ctx, seed=args.seed, scale=args.scale)
    counts = ", ".join(f"{ctx.store.count(kind):,} {kind}" for kind in FEATURE_KINDS)
    what = "built" if loaded else "already there"
    print(
        f"demo city {what} in {settings.data_dir}: generation {generation}, {counts} "
        f"({time.perf_counter() - started:.1f} s)"
    )
    return 0


def ensure_boundaries(ctx: AppContext) -> str:
    """Stage and activate the demo boundaries unless a generation is active; return its id."""
    install_demo_city_files(ctx.settings.data_dir)
    registry = ctx.registry
    active = registry.active()
    if active is not None:
        return active
    print(f"staging demo boundaries from {demo_boundaries().name} ...", file=sys.stderr)
    generation = registry.stage_files([demo_boundaries()], note="demo city")
    registry.activate(generation)
    return generation


def install_demo_city_files(data_dir: Path) -> None:
    """Copy the demo city's ``city.toml`` and ``duty-list.csv`` into ``data_dir`` unless it
    has its own."""
    data_dir.mkdir(parents=True, exist_ok=True)
    for source in demo_city_files():
        if not (data_dir / source.name).exists():
            shutil.copyfile(source, data_dir / source.name)


def ensure_features(ctx: AppContext, seed: int | None = None, scale: float = 1.0) -> bool:
    """Generate and load the demo features into an empty store; True when loaded."""
    from cityaware.geo.demo.city import DEFAULT_SEED
    from cityaware.geo.demo.features import generate_demo_features

    store = ctx.store
    if any(store.count(kind) for kind in FEATURE_KINDS):
        return False
    print("generating demo cameras, sensors and incidents ...", file=sys.stderr)
    frames = generate_demo_features(
        ctx.registry.units(),
        seed=DEFAULT_SEED if seed is None else seed,
        n_cameras=round(130_000 * scale),
        n_sensors=round(210_000 * scale),
        incidents_per_day=round(12_000 * scale),
    )
    for kind in FEATURE_KINDS:
        frame = frames[kind]
        with progress_bar(total=len(frame), desc=f"loading {kind}", unit=" rows") as bar:
            report = store.bulk_import(
                kind, frame, crs="EPSG:4326", progress=lambda done: bar.update(done - bar.n)
            )
        if report.rejected:
            raise ValueError(f"demo {kind}: {report.summary()}")
    return True
