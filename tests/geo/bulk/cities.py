"""A data directory with the synthetic city as its active generation, and point files."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from cityaware.geo.boundaries.generations import BoundaryRegistry
from tests.geo.store import synthetic


def data_dir(root: Path, shift: float = 0.0) -> tuple[Path, str]:
    """``root/data`` with the synthetic city staged and active; (data dir, generation)."""
    registry = BoundaryRegistry(root / "data" / "boundaries")
    generation = registry.stage(synthetic.units(shift), source="synthetic")
    registry.activate(generation)
    return root / "data", generation


def points(n: int, seed: int) -> pd.DataFrame:
    """n points over the city and a margin around it, a few on grid edges, some unusable."""
    rng = np.random.default_rng(seed)
    span = 4 * synthetic.CELL
    lon = synthetic.WEST + rng.uniform(-0.1, 1.1, n) * span
    lat = synthetic.SOUTH + rng.uniform(-0.1, 1.1, n) * span
    lon[: n // 20] = synthetic.WEST + synthetic.CELL  # on the first inner edge
    frame = pd.DataFrame({"pid": [f"p{seed}-{k}" for k in range(n)], "lon": lon, "lat": lat})
    frame.loc[n - 1, "lat"] = 95.0  # out of range: kept as invalid
    return frame


def write_dataset(folder: Path, files: int, rows: int) -> Path:
    """A Hive-partitioned dataset: Parquet, GeoParquet (multi row group) and CSV files."""
    for k in range(files):
        frame = points(rows, seed=k)
        part = folder / f"batch={k % 2}"
        part.mkdir(parents=True, exist_ok=True)
        if k % 3 == 0:
            frame.to_csv(part / f"f{k}.csv", index=False)
        elif k % 3 == 1:
            frame.to_parquet(part / f"f{k}.parquet", index=False)
        else:
            shapes = gpd.GeoDataFrame(
                frame[["pid"]], geometry=gpd.points_from_xy(frame.lon, frame.lat), crs=4326
            )
            shapes.to_parquet(part / f"f{k}.parquet", index=False, row_group_size=rows // 2)
    return folder
