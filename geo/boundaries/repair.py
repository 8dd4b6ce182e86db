"""Repair of boundary geometry: make invalid rings valid, keep only the polygonal parts.

Real boundary files are dirty (self-touching rings, bow-ties, holes spilling
out of their shell, stray lines in collections). Repair uses GEOS's
*structure* method: a point is covered iff it lies inside a shell ring
(even-odd for a self-crossing ring) and inside no hole ring, exactly as the
source rings say; the default *linework* method would turn a hole's part
outside its shell into area, inventing overlaps with the neighbours. Repair
runs on lon/lat coordinates, after reprojection (a ring valid in metres can
cross itself once its vertices are reprojected). Each repaired feature gets a
:class:`RepairNote` for the validation report; a feature with no area left is
refused with InvalidInput.

>>> bow_tie = shapely.Polygon([(0, 0), (1, 1), (1, 0), (0, 1)])
>>> geoms, notes = repair_geometries(np.array([bow_tie]), np.array(["990102"]), "a.shp")
>>> geoms[0].geom_type, notes[0].problem
('MultiPolygon', 'Self-intersection[0.5 0.5]')
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from cityaware.geo.arrays import ObjectArray, StrArray
from cityaware.geo.errors import InvalidInput

_POLYGONAL = {"Polygon", "MultiPolygon"}


@dataclass(frozen=True)
class RepairNote:
    """One feature whose geometry was invalid and has been repaired.

    >>> RepairNote("a.geojson", 3, "990102", "Self-intersection[101.5 30.5]", "make_valid").row
    3
    """

    source: str
    row: int  # 1-based feature number in the source layer
    code: str
    problem: str
    action: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def repair_geometries(
    geoms: ObjectArray, codes: StrArray, source: str
) -> tuple[ObjectArray, list[RepairNote]]:
    """Reject unusable geometries, repair invalid ones, keep only polygonal parts.

    ``source`` names the file in error messages and notes; rows count from 1.

    >>> bow_tie = shapely.Polygon([(0, 0), (1, 1), (1, 0), (0, 1)])
    >>> geoms, notes = repair_geometries(np.array([bow_tie]), np.array(["990102"]), "a.shp")
    >>> geoms[0].geom_type, notes[0].row
    ('MultiPolygon', 1)
    """
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if missing.any():
        row = int(np.flatnonzero(missing)[0])
        raise InvalidInput(f"{source}: feature {row + 1} (code {codes[row]}): empty geometry")
    types = shapely.get_type_id(geoms)
    # 3 Polygon, 6 MultiPolygon, 7 GeometryCollection (may hold polygons).
    not_areal = ~np.isin(types, (3, 6, 7))
    if not_areal.any():
        row = int(np.flatnonzero(not_areal)[0])
        raise InvalidInput(
            f"{source}: feature {row + 1} (code {codes[row]}): {geoms[row].geom_type} geometry; "
            "boundaries must be polygons"
        )
    geoms = shapely.force_2d(geoms)
    invalid = ~shapely.is_valid(geoms) | (types == 7)
    repairs: list[RepairNote] = []
    out = geoms.copy()
    for row in np.flatnonzero(invalid).tolist():
        problem = shapely.is_valid_reason(geoms[row])
        fixed = _polygonal_part(repair_geometry(geoms[row]))
        if fixed is None:
            raise InvalidInput(
                f"{source}: feature {row + 1} (code {codes[row]}): geometry has no area "
                f"after repair ({problem})"
            )
        out[row] = fixed
        action = "make_valid" if problem != "Valid Geometry" else "kept polygonal parts"
        repairs.append(RepairNote(source, int(row) + 1, str(codes[row]), problem, action))
    return demote_single_parts(out), repairs


def repair_geometry(geom: BaseGeometry) -> BaseGeometry:
    """A valid geometry covering exactly what the source rings cover (structure method).

    >>> spilling = shapely.Polygon(
    ...     [(0, 0), (10, 0), (10, 10), (0, 10)], [[(8, 4), (12, 4), (12, 6), (8, 6)]])
    >>> repair_geometry(spilling).area  # the hole's part outside the shell stays empty
    96.0
    """
    fixed: BaseGeometry = shapely.make_valid(geom, method="structure", keep_collapsed=False)
    return fixed


def demote_single_parts(geoms: ObjectArray) -> ObjectArray:
    """MultiPolygons of one part become Polygons (GeoPackage and Shapefile promote them).

    >>> demote_single_parts(np.array([shapely.MultiPolygon([shapely.box(0, 0, 1, 1)])]))[0]
    <POLYGON ((1 0, 1 1, 0 1, 0 0, 1 0))>
    """
    single = (shapely.get_type_id(geoms) == 6) & (shapely.get_num_geometries(geoms) == 1)
    out = np.asarray(geoms, dtype=object).copy()
    out[single] = shapely.get_geometry(out[single], 0)
    return out


def _polygonal_part(geom: BaseGeometry) -> BaseGeometry | None:
    """The Polygon/MultiPolygon made of a geometry's polygonal parts, or None."""
    if geom.geom_type in _POLYGONAL:
        return None if geom.is_empty else geom
    parts = [p for p in shapely.get_parts(geom) if p.geom_type in _POLYGONAL and not p.is_empty]
    polygons = [q for p in parts for q in shapely.get_parts(p)]
    if not polygons:
        return None
    if len(polygons) == 1:
        polygon: BaseGeometry = polygons[0]
        return polygon
    merged = shapely.MultiPolygon(polygons)
    return merged if merged.is_valid else shapely.union_all(polygons)
