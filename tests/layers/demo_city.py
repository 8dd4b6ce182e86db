"""A small demo city for map-wall tests: the committed boundaries plus generated features.

``build_city(data_dir)`` stages and activates the demo boundaries and imports
cameras, sensors and a week of incidents from :mod:`geo.demo.features`; it returns
an :class:`AppContext`.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from api.context import AppContext
from api.settings import Settings
from geo.boundaries.io import read_hierarchy_gpkg
from geo.demo.features import generate_demo_features
from geo.store.taxonomy import TAXONOMY

DEMO_GPKG = Path(__file__).resolve().parents[2] / "data" / "boundaries" / "zhengzhou-demo.gpkg"
RENAMES = {
    "kind": "device_kind",
    "last_value": "reading_value",
    "unit": "reading_unit",
    "last_reading_at": "reading_at",
}


def store_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The generator's columns under the store's names, times as ISO text."""
    frame = frame.rename(columns=RENAMES).drop(
        columns=["category_label", "updated_at", "status"]
        if "kind" in frame
        else ["category_label", "updated_at"],
        errors="ignore",
    )
    if "category" in frame:  # the generator's categories may differ from the store taxonomy
        known = sorted(TAXONOMY.categories)
        unknown = ~frame["category"].isin(known)
        codes = pd.factorize(frame["category"])[0]
        frame.loc[unknown, "category"] = [known[c % len(known)] for c in codes[unknown]]
    for name in ("reported_at", "reading_at"):
        if name in frame:
            frame[name] = pd.to_datetime(frame[name], utc=True).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    return frame


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
        ctx.store.bulk_import(kind, store_frame(frame), strict=True)
    return ctx
