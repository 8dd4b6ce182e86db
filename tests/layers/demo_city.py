"""A small demo city for map-wall tests: the committed boundaries plus generated features.

``build_city(data_dir)`` stages and activates the demo boundaries and imports
cameras, sensors and a week of incidents from :mod:`geo.demo.features`; it returns
an :class:`AppContext`.
"""

from __future__ import annotations

from pathlib import Path

from cityaware.api.context import AppContext
from cityaware.api.settings import Settings
from cityaware.geo.boundaries.io import read_hierarchy_gpkg
from cityaware.geo.demo.features import generate_demo_features
from cityaware.geo.resources import demo_boundaries

DEMO_GPKG = demo_boundaries()


def build_city(
    data_dir: Path,
    cameras: int = 2000,
    sensors: int = 3000,
    days: int = 7,
    per_day: int = 500,
    admin_key: str = "",
) -> AppContext:
    ctx = AppContext(Settings(data_dir=data_dir, admin_key=admin_key))
    generation = ctx.registry.stage(read_hierarchy_gpkg(DEMO_GPKG), source="demo")
    ctx.registry.activate(generation)
    features = generate_demo_features(
        ctx.registry.units(),
        n_cameras=cameras,
        n_sensors=sensors,
        days=days,
        incidents_per_day=per_day,
    )
    for kind, frame in features.items():
        ctx.store.bulk_import(kind, frame, strict=True)
    return ctx
