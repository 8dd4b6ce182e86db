"""Random incidents in and around the synthetic city, with an independent oracle."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cityaware.geo.store.taxonomy import DEFAULT_CATEGORIES, DEFAULT_CHANNELS, STATUSES
from tests.geo.store import synthetic

START = pd.Timestamp("2026-11-01T00:00:00Z")


def incidents(n: int, seed: int = 7) -> pd.DataFrame:
    """n incidents: 95% inside the 4x4 block, the rest just outside; ids i0..i{n-1}."""
    rng = np.random.default_rng(seed)
    span = 4 * synthetic.CELL
    lon = synthetic.WEST + rng.uniform(-0.1, 1.1, n) * span
    lat = synthetic.SOUTH + rng.uniform(-0.1, 1.1, n) * span
    minutes = rng.integers(0, 20 * 24 * 60, n)
    return pd.DataFrame(
        {
            "id": [f"i{k}" for k in range(n)],
            "lon": lon.round(7),
            "lat": lat.round(7),
            "category": rng.choice(DEFAULT_CATEGORIES[:5], n),
            "channel": rng.choice(DEFAULT_CHANNELS[:4], n),
            "status": rng.choice(STATUSES, n),
            "title": [f"case {k}" for k in range(n)],
            "reported_at": [(START + pd.Timedelta(minutes=int(m))).isoformat() for m in minutes],
        }
    )


def oracle_grid(lon: np.ndarray, lat: np.ndarray) -> list[str | None]:
    """The grid of each point by arithmetic on the block layout (None outside)."""
    cells = {
        (
            round((c["geometry"].bounds[0] - synthetic.WEST) / synthetic.CELL),
            round((c["geometry"].bounds[1] - synthetic.SOUTH) / synthetic.CELL),
        ): c["grid"]
        for c in synthetic.grid_cells()
    }
    i = np.floor((np.asarray(lon) - synthetic.WEST) / synthetic.CELL).astype(int)
    j = np.floor((np.asarray(lat) - synthetic.SOUTH) / synthetic.CELL).astype(int)
    return [cells.get((a, b)) for a, b in zip(i, j, strict=True)]
