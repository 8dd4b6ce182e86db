"""Unit identity across generations: same code and the same outline within a tolerance.

A unit keeps its ``unit_id`` when its code is unchanged and its outline moved
by no more than :data:`TOLERANCE_M` (the noise of a reproject-and-back round
trip or of a file format's digits is far below it); otherwise it gets a new
id, a hash of its code and normalised outline.

>>> a = shapely.box(101.5, 30.5, 101.6, 30.6)
>>> same_outline(a, shapely.box(101.5 + 1e-9, 30.5, 101.6, 30.6)), same_outline(a, a.buffer(1e-4))
(True, False)
"""

from __future__ import annotations

import hashlib

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from cityaware.geo.arrays import StrArray

TOLERANCE_M = 0.01  # outlines closer than 1 cm everywhere are the same outline
# Degrees to metres, upper bound (a degree of latitude; a degree of longitude is
# shorter), so a distance in degrees times this is never an underestimate.
_METRES_PER_DEGREE = 111_320.0


def same_outline(
    a: shapely.Geometry, b: shapely.Geometry, tolerance_m: float = TOLERANCE_M
) -> bool:
    """Whether two lon/lat outlines are equal within ``tolerance_m`` metres (Hausdorff).

    >>> same_outline(shapely.box(0, 0, 1, 1), shapely.box(0, 0, 1, 1).reverse())
    True
    """
    tolerance = tolerance_m / _METRES_PER_DEGREE
    a, b = shapely.normalize(a), shapely.normalize(b)
    if shapely.equals_exact(a, b, tolerance):
        return True
    if abs(shapely.area(a) - shapely.area(b)) > tolerance * max(shapely.length(a), 1e-12):
        return False
    return bool(shapely.hausdorff_distance(a, b) <= tolerance)


def unit_ids(units: gpd.GeoDataFrame) -> StrArray:
    """A fresh id per unit: a hash of its code and its normalised outline rounded to 1e-7°.

    >>> frame = gpd.GeoDataFrame({"code": ["410202"]}, geometry=[shapely.box(0, 0, 1, 1)])
    >>> unit_ids(frame)[0]
    'u-51ddd82ed0fb2ab7'
    """
    rounded = shapely.transform(units.geometry.to_numpy(), lambda xy: np.round(xy, 7))
    wkbs = shapely.to_wkb(shapely.normalize(rounded), output_dimension=2)
    out = np.empty(len(units), dtype=object)
    for row, (code, wkb) in enumerate(zip(units["code"], wkbs, strict=True)):
        digest = hashlib.blake2b(str(code).encode() + b"\0" + wkb, digest_size=8)
        out[row] = "u-" + digest.hexdigest()
    return out


def carried_ids(units: gpd.GeoDataFrame, previous: gpd.GeoDataFrame | None) -> StrArray:
    """Unit ids for ``units``: the ``previous`` generation's id where the code is the same and
    the outline is the same within the tolerance, a fresh one elsewhere.

    >>> old = gpd.GeoDataFrame({"code": ["1"], "unit_id": ["u-old"]},
    ...                        geometry=[shapely.box(0, 0, 1, 1)])
    >>> carried_ids(old.drop(columns="unit_id"), old).tolist()
    ['u-old']
    """
    ids = unit_ids(units)
    if previous is None or previous.empty:
        return ids
    before = pd.Index(previous["code"].astype(str).to_numpy())
    rows = before.get_indexer(pd.Index(units["code"].astype(str)))
    matched = np.flatnonzero(rows >= 0)
    new_geoms = shapely.normalize(units.geometry.to_numpy()[matched])
    old_geoms = shapely.normalize(previous.geometry.to_numpy()[rows[matched]])
    exact = shapely.equals_exact(new_geoms, old_geoms, TOLERANCE_M / _METRES_PER_DEGREE)
    for k in np.flatnonzero(~exact):
        exact[k] = same_outline(new_geoms[k], old_geoms[k])
    ids[matched[exact]] = previous["unit_id"].to_numpy()[rows[matched[exact]]]
    return ids
