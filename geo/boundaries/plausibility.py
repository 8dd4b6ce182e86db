"""Plausibility of imported outlines: inside China, near each other, near the active city.

A file read with the wrong CRS or axis order still transforms to *some*
lon/lat, often in the sea. These checks find such outlines: units outside
China's extent, units far from every other unit, and a generation whose
extent jumps far from the active one. The importer refuses them unless
forced (and then warns). :func:`axis_swap_hint` tells when swapping x and
y of the source coordinates would land inside China (a northing-first file).

>>> from shapely import box
>>> pacific = gpd.GeoDataFrame({"code": ["410202"]}, geometry=[box(170, 20, 171, 21)], crs=4326)
>>> [f.message[:40] for f in implausible_units(pacific)]
['410202 lies outside China (lon 73–136, l']
"""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS, Transformer

from cityaware.geo.arrays import FloatArray
from cityaware.geo.boundaries.schema import STORAGE_CRS
from cityaware.geo.boundaries.validate import Finding
from cityaware.geo.crs import WGS84_GEOD
from cityaware.geo.errors import InvalidInput

CHINA_EXTENT: tuple[float, float, float, float] = (73.0, 3.0, 136.0, 54.0)  # lon/lat box
FAR_FROM_REST_M = 50_000.0  # a unit this far from every other unit of its level is a stray
JUMP_M = 200_000.0  # a generation whose centre moved this far from the active one


def in_china(lon: FloatArray, lat: FloatArray) -> np.ndarray:
    """Which lon/lat points lie in China's extent (a box; coarse on purpose).

    >>> in_china(np.array([101.5, 170.0]), np.array([30.5, 20.0])).tolist()
    [True, False]
    """
    west, south, east, north = CHINA_EXTENT
    inside: np.ndarray = (lon >= west) & (lon <= east) & (lat >= south) & (lat <= north)
    return inside


def axis_swap_hint(xy: FloatArray, crs: CRS) -> str | None:
    """A sentence when ``xy`` (source coordinates in ``crs``) lands in China only with
    x and y swapped, i.e. the file is northing-first (latitude-first); else None.

    >>> gk = CRS.from_epsg(4549)  # CGCS2000 Gauss-Krüger CM 120°E
    >>> axis_swap_hint(np.array([[3_708_314.0, 453_538.0]]), gk)[:40]
    'the coordinates look northing-first (x a'
    """
    if not len(xy):
        return None
    sample = xy[:: max(1, len(xy) // 500)]
    to_lonlat = Transformer.from_crs(crs, STORAGE_CRS, always_xy=True)
    with np.errstate(all="ignore"):
        as_given = in_china(*to_lonlat.transform(sample[:, 0], sample[:, 1]))
        swapped = in_china(*to_lonlat.transform(sample[:, 1], sample[:, 0]))
    if as_given.mean() >= 0.5 or swapped.mean() < 0.9:
        return None
    x, y = float(np.median(sample[:, 0])), float(np.median(sample[:, 1]))
    return (
        f"the coordinates look northing-first (x and y swapped: x≈{x:,.0f}, y≈{y:,.0f} land "
        f"inside China only when swapped); fix the file or import it with --swap-axes"
    )


def implausible_units(
    units: gpd.GeoDataFrame, active: gpd.GeoDataFrame | None = None
) -> list[Finding]:
    """Findings of kind ``implausible``: units outside China or far from all others of
    their level, and
    (given the ``active`` generation's units) an extent far from the active one.

    >>> from shapely import box
    >>> here = gpd.GeoDataFrame({"code": ["1"]}, geometry=[box(113, 34, 114, 35)], crs=4326)
    >>> far = gpd.GeoDataFrame({"code": ["2"]}, geometry=[box(120, 30, 121, 31)], crs=4326)
    >>> implausible_units(far, active=here)[0].message[:33]
    'the outlines moved 793 km from th'
    """
    if units.empty:
        return []
    geoms = units.geometry.to_numpy()
    codes = units["code"].astype(str).to_numpy()
    findings = _outside_china(geoms, codes)
    levels = units["level"].to_numpy() if "level" in units.columns else np.zeros(len(units))
    # a stray among its own level (not inside its own city); cities may lie apart
    for level in np.unique(levels[levels != "city"]):
        same = levels == level
        findings += _far_from_rest(geoms[same], codes[same])
    if active is not None and not active.empty:
        findings += _jump(units, active)
    return findings


def refuse_unless_forced(findings: Sequence[Finding], force: bool) -> list[str]:
    """Raise InvalidInput naming the implausible findings, unless ``force``; return their
    messages (the warnings to show when forced).

    >>> refuse_unless_forced([], force=False)
    []
    """
    messages = [f.message for f in findings if f.kind == "implausible"]
    if messages and not force:
        shown = "; ".join(messages[:3]) + (
            f"; and {len(messages) - 3} more" if len(messages) > 3 else ""
        )
        raise InvalidInput(
            f"implausible boundaries: {shown}. Check the CRS and axis order (--crs, "
            "--swap-axes); import anyway with --force"
        )
    return messages


def _outside_china(geoms: np.ndarray, codes: np.ndarray) -> list[Finding]:
    points = shapely.point_on_surface(geoms)
    lon, lat = shapely.get_x(points), shapely.get_y(points)
    outside = np.flatnonzero(~in_china(lon, lat))
    return [
        Finding(
            "implausible",
            (str(codes[row]),),
            f"{codes[row]} lies outside China (lon 73–136, lat 3–54) at "
            f"{lon[row]:.4f}, {lat[row]:.4f}",
            location=(round(float(lon[row]), 7), round(float(lat[row]), 7)),
        )
        for row in outside
    ]


def _far_from_rest(geoms: np.ndarray, codes: np.ndarray) -> list[Finding]:
    if len(geoms) < 2:
        return []
    tree = shapely.STRtree(geoms)
    pairs = tree.query_nearest(geoms, exclusive=True, all_matches=False)
    first = np.unique(pairs[0], return_index=True)[1]
    rows, nearest = pairs[0][first], pairs[1][first]
    lines = shapely.shortest_line(geoms[rows], geoms[nearest])
    start, end = shapely.get_point(lines, 0), shapely.get_point(lines, 1)
    _, _, metres = WGS84_GEOD.inv(
        shapely.get_x(start), shapely.get_y(start), shapely.get_x(end), shapely.get_y(end)
    )
    findings = []
    for row, other, gap in zip(rows, nearest, metres, strict=True):
        if gap > FAR_FROM_REST_M:
            spot = shapely.point_on_surface(geoms[row])
            findings.append(
                Finding(
                    "implausible",
                    (str(codes[row]),),
                    f"{codes[row]} lies {gap / 1000:,.0f} km from every other unit of its level "
                    f"(nearest {codes[other]})",
                    location=(round(spot.x, 7), round(spot.y, 7)),
                )
            )
    return findings


def _jump(units: gpd.GeoDataFrame, active: gpd.GeoDataFrame) -> list[Finding]:
    new, old = units.total_bounds, active.total_bounds
    if shapely.intersects(shapely.box(*new), shapely.box(*old)):
        return []
    new_x, new_y = (new[0] + new[2]) / 2, (new[1] + new[3]) / 2
    old_x, old_y = (old[0] + old[2]) / 2, (old[1] + old[3]) / 2
    metres = float(WGS84_GEOD.inv(old_x, old_y, new_x, new_y)[2])
    if metres <= JUMP_M:
        return []
    return [
        Finding(
            "implausible",
            (),
            f"the outlines moved {metres / 1000:,.0f} km from the active generation's "
            f"(centre {old_x:.3f}, {old_y:.3f} -> {new_x:.3f}, {new_y:.3f})",
            location=(round(float(new_x), 7), round(float(new_y), 7)),
        )
    ]
