"""Synthetic grid hierarchies for the engine tests: Voronoi partitions of a city polygon.

>>> units = voronoi_units(12, seed=1)
>>> sorted(units["level"].unique())
['community', 'district', 'grid', 'street']
"""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import shapely

CITY = shapely.Polygon([(113.0, 34.3), (114.1, 34.25), (114.2, 34.9), (113.6, 35.0), (112.9, 34.8)])


def voronoi_units(
    n_grids: int, seed: int = 0, city: shapely.Geometry = CITY, hole: bool = True
) -> gpd.GeoDataFrame:
    """A units frame: one district, one street, one community per 10 grids, n Voronoi grids.

    With ``hole`` a lake in the middle belongs to no grid, and the grid around
    it is a polygon with a hole; the last grid gets a detached island part
    (a MultiPolygon).
    """
    rng = np.random.default_rng(seed)
    west, south, east, north = city.bounds
    # Denser seeds near the core, like a real city.
    core = np.array([(west + east) / 2, (south + north) / 2])
    spread = np.array([east - west, north - south])
    seeds = core + rng.normal(0, 0.2, (n_grids * 3, 2)) * spread
    seeds = seeds[shapely.contains_xy(city, seeds[:, 0], seeds[:, 1])][:n_grids]
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=city))
    cells = shapely.intersection(cells, city)
    cells = cells[~shapely.is_empty(cells)]
    if hole:
        # A lake inside the first seed's cell: closer to it than half the nearest seed.
        gap = np.sort(np.hypot(*(seeds[1:] - seeds[0]).T))[0]
        lake = shapely.Point(*seeds[0]).buffer(0.3 * gap)
        cells = shapely.difference(cells, lake)
        cells = cells[~shapely.is_empty(cells)]
    island = shapely.box(east + 0.01, south, east + 0.03, south + 0.02)
    cells[-1] = shapely.union(cells[-1], island)
    n = len(cells)
    community = [f"410105001{1 + i // 10:03d}" for i in range(n)]
    rows = [
        ("410105", "金水区", "district", "", CITY),
        ("410105001", "某街道", "street", "410105", CITY),
    ]
    for code in sorted(set(community)):
        members = [cells[i] for i in range(n) if community[i] == code]
        rows.append(
            (code, f"社区{code[-3:]}", "community", "410105001", shapely.union_all(members))
        )
    for i in range(n):
        rows.append((f"{community[i]}{i:03d}", f"网格{i}", "grid", community[i], cells[i]))
    codes, names, levels, parents, geoms = zip(*rows, strict=True)
    return gpd.GeoDataFrame(
        {
            "code": codes,
            "name": names,
            "level": levels,
            "parent_code": parents,
            "code_system": "NBS",
            "code_version": "2023",
            "managing_zone": [
                "410171" if lvl == "grid" and k % 7 == 0 else "" for k, lvl in enumerate(levels)
            ],
            "attributes": [json.dumps({"worker": f"w{k}"}) for k in range(len(rows))],
        },
        geometry=list(geoms),
        crs="EPSG:4326",
    )
