"""Build (once, cached outside the repo) a data directory with ``days`` of demo incidents.

The demo city (its boundaries, 130,000 cameras, 210,000 sensors) and ``days`` of
incidents at 12,000 a day from :mod:`geo.demo.features`, generated and bulk-imported
:data:`CHUNK_DAYS` days at a time (so memory stays bounded), ending at the start of
the current hour (``per_day`` below 12,000 scales the devices down alike). The imports
run inside :func:`geo.store.building.building` (indexes built once at the end, not row
by row: the same store, several times faster) with times as epoch milliseconds (the
same values, without parsing text).
``days=365`` is a year (4.38 million incidents); ``days=30`` is the demo the year is
compared with. The directory is
``~/.cache/cityaware/year-v<FORMAT>-<days>d`` (``CITYAWARE_BENCH_CACHE`` overrides the
parent); a finished build leaves a ``built`` marker and is reused as it is.

    .venv/bin/python -m benchmarks.year_data --days 365
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from cityaware.api.commands.demo import install_demo_city_files
from cityaware.api.context import AppContext
from cityaware.api.settings import Settings
from cityaware.geo.boundaries.io import read_hierarchy_gpkg
from cityaware.geo.demo.city import DEFAULT_SEED
from cityaware.geo.demo.features import generate_demo_features
from cityaware.geo.resources import demo_boundaries
from cityaware.geo.store.building import building

FORMAT = 1  # bump when what a build holds changes
CHUNK_DAYS = 30
PER_DAY = 12_000
DEVICES = {"cameras": 130_000, "sensors": 210_000}


def cache_dir(days: int, per_day: int = PER_DAY) -> Path:
    """Where the data directory for ``days`` of incidents is kept."""
    root = Path(os.environ.get("CITYAWARE_BENCH_CACHE", Path.home() / ".cache" / "cityaware"))
    size = "" if per_day == PER_DAY else f"-{per_day}perday"
    return root / f"year-v{FORMAT}-{days}d{size}"


def build(
    days: int,
    per_day: int = PER_DAY,
    quiet: bool = False,
    fast: bool = True,
    root: Path | None = None,
) -> Path:
    """The data directory with ``days`` of incidents, built unless already there
    (``fast=False``: without :func:`~geo.store.building.building`, as before; ``root``
    instead of the cache directory's parent)."""
    target = cache_dir(days, per_day) if root is None else root / cache_dir(days, per_day).name
    if (target / "built").exists():
        return target
    shutil.rmtree(target, ignore_errors=True)
    started = time.perf_counter()
    install_demo_city_files(target)
    ctx = AppContext(Settings(data_dir=target))
    units = read_hierarchy_gpkg(demo_boundaries())
    ctx.registry.activate(ctx.registry.stage(units, source="demo"))
    units = ctx.registry.units()
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    scale = per_day / PER_DAY  # a thinner city has fewer devices too
    cameras, sensors = (max(1, round(DEVICES[k] * scale)) for k in ("cameras", "sensors"))
    devices = generate_demo_features(units, n_cameras=cameras, n_sensors=sensors, days=1)
    times = epoch_ms if fast else _as_given
    with building(ctx.store) if fast else contextlib.nullcontext():
        for kind in DEVICES:
            ctx.store.bulk_import(kind, times(devices[kind]), strict=True)
        done = _incidents(ctx, units, days, per_day, end, times, quiet)
    ctx.store.close()
    (target / "built").write_text(f"{done} incidents in {time.perf_counter() - started:.0f} s\n")
    return target


def epoch_ms(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its datetime columns as epoch milliseconds (what the store keeps).

    >>> epoch_ms(pd.DataFrame({"at": pd.to_datetime(["1970-01-01T00:00:01.5Z"])}))["at"][0]
    1500
    """
    for name in frame.columns:
        if pd.api.types.is_datetime64_any_dtype(frame[name]):
            stamps = pd.to_datetime(frame[name], utc=True)
            frame[name] = (stamps - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(milliseconds=1)
    return frame


def _as_given(frame: pd.DataFrame) -> pd.DataFrame:
    return frame


def _incidents(
    ctx: AppContext, units: Any, days: int, per_day: int, end: datetime, times: Any, quiet: bool
) -> int:
    """Import ``days`` of incidents ending at ``end``, a chunk at a time; returns how many."""
    done = 0
    for chunk, first in enumerate(range(0, days, CHUNK_DAYS)):
        span = min(CHUNK_DAYS, days - first)
        frames = generate_demo_features(
            units, seed=DEFAULT_SEED + chunk, n_cameras=1, n_sensors=1, days=span,
            incidents_per_day=per_day, end=end - timedelta(days=first),
        )  # fmt: skip
        incidents = frames["incidents"]
        incidents["id"] = f"Y{chunk:02d}-" + incidents["id"].astype(str)
        report = ctx.store.bulk_import("incidents", times(incidents), strict=True)
        done += report.accepted
        if not quiet:
            print(f"  {done:,} incidents ({report.summary()})", flush=True)
    return done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--per-day", type=int, default=PER_DAY)
    args = parser.parse_args()
    path = build(args.days, args.per_day)
    print(f"{path}: {(path / 'built').read_text().strip()}")


if __name__ == "__main__":
    main()
