"""Check a units frame: nesting, sibling overlaps, coverage gaps, codes and attributes.

Overlays run in lon/lat, where neighbours share their vertices exactly (so
no projection slivers appear); the resulting pieces are measured in a metric
CRS chosen from the units' own longitude (the CGCS2000 Gauss-Krüger zone of
their centre, :func:`geo.crs.metric_crs_of_bounds`) and reported in m². Locations are lon/lat points
inside the problem area. Everything is vectorised
(one STRtree query per level, one union per parent), so the 4,744 demo grids
with their parents validate in a few seconds.

>>> report = validate_units(units)  # doctest: +SKIP
>>> report.summary()  # doctest: +SKIP
'8310 units: 2 overlaps (41.5 m²), 1 gap (12.0 m²)'
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer

from cityaware.geo.arrays import FloatArray, IntArray, ObjectArray, StrArray
from cityaware.geo.boundaries.repair import RepairNote, repair_geometry
from cityaware.geo.boundaries.schema import LEVELS, PARENT_LEVEL, STORAGE_CRS
from cityaware.geo.crs import metric_crs_of_bounds

KINDS: tuple[str, ...] = (
    "outside_parent",
    "overlap",
    "gap",
    "duplicate_code",
    "orphan",
    "missing_attribute",
    "invalid_geometry",
    "repaired",
    "implausible",
)
_LABELS = {
    "outside_parent": "outside parent",
    "overlap": "overlaps",
    "gap": "gaps",
    "duplicate_code": "duplicate codes",
    "orphan": "orphans",
    "missing_attribute": "missing attributes",
    "invalid_geometry": "invalid geometries",
    "repaired": "repaired",
    "implausible": "implausible",
}
GRID_ATTRIBUTES: tuple[str, ...] = ("worker", "phone", "office")


@dataclass(frozen=True)
class Finding:
    """One problem: its kind, the unit codes involved, and where and how big it is.

    >>> Finding("gap", ("990102001",), "uncovered", 12.5, (101.5, 30.5)).to_dict()["area_m2"]
    12.5
    """

    kind: str
    codes: tuple[str, ...]
    message: str
    area_m2: float | None = None
    location: tuple[float, float] | None = None  # lon, lat

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "codes": list(self.codes),
            "message": self.message,
            "area_m2": self.area_m2,
            "location": list(self.location) if self.location is not None else None,
        }


@dataclass
class ValidationReport:
    """All findings for one units frame, with counts per kind and a one-line summary."""

    units: int
    levels: dict[str, int]
    tolerance_m2: float
    sliver_width_m: float
    metric_crs: str
    findings: list[Finding] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(KINDS, 0)
        for finding in self.findings:
            counts[finding.kind] += 1
        return counts

    def of_kind(self, kind: str) -> list[Finding]:
        return [f for f in self.findings if f.kind == kind]

    def summary(self) -> str:
        """E.g. ``'12 units: 1 overlaps (35.2 m²), 12 repaired'``."""
        parts = []
        for kind, count in self.counts.items():
            if not count:
                continue
            area = sum(f.area_m2 or 0.0 for f in self.of_kind(kind))
            suffix = f" ({area:,.1f} m²)" if kind in ("outside_parent", "overlap", "gap") else ""
            parts.append(f"{count} {_LABELS[kind]}{suffix}")
        return f"{self.units} units: " + (", ".join(parts) if parts else "no problems")

    def to_dict(self) -> dict[str, Any]:
        return {
            "summary": self.summary(),
            "units": self.units,
            "levels": self.levels,
            "tolerance_m2": self.tolerance_m2,
            "sliver_width_m": self.sliver_width_m,
            "metric_crs": self.metric_crs,
            "counts": self.counts,
            "findings": [f.to_dict() for f in self.findings],
        }


def validate_units(
    units: gpd.GeoDataFrame,
    tolerance_m2: float = 1.0,
    repairs: Sequence[RepairNote] | None = None,
    sliver_width_m: float = 0.1,
    divisions: pd.DataFrame | None = None,
) -> ValidationReport:
    """Validate a units frame; overlaps, gaps and parts outside the parent smaller than
    ``tolerance_m2``, or thinner than ``sliver_width_m``, are ignored.

    ``repairs`` are the :class:`~geo.boundaries.repair.RepairNote` s from reading;
    ``divisions`` (code, level) are units without outline that may be parents.
    Gaps are reported under each parent and between the top-level units (holes
    in their union).

    >>> report = validate_units(units, tolerance_m2=1.0)  # doctest: +SKIP
    >>> report.counts["overlap"]  # doctest: +SKIP
    0
    """
    units = units.reset_index(drop=True)
    if units.crs is not None and not units.crs.equals(CRS.from_user_input(STORAGE_CRS)):
        units = units.to_crs(STORAGE_CRS)
    metric_crs = metric_crs_of_bounds(units.total_bounds)
    geoms = units.geometry.to_numpy()
    codes, levels = _text(units, "code"), _text(units, "level")
    report = ValidationReport(
        units=len(units),
        levels={lv: int((levels == lv).sum()) for lv in LEVELS if (levels == lv).any()},
        tolerance_m2=tolerance_m2,
        sliver_width_m=sliver_width_m,
        metric_crs=metric_crs,
    )
    invalid = ~shapely.is_valid(geoms)
    for row in np.flatnonzero(invalid):
        report.findings.append(
            Finding("invalid_geometry", (codes[row],), shapely.is_valid_reason(geoms[row]))
        )
    geoms = geoms.copy()
    geoms[invalid] = [repair_geometry(g) for g in geoms[invalid]]
    parent_codes = _text(units, "parent_code")
    parent_index = _parent_index(codes, parent_codes)
    context = _Context(geoms, codes, levels, parent_index, tolerance_m2, sliver_width_m, metric_crs)
    report.findings += _outside_parent(context)
    report.findings += _overlaps(context)
    report.findings += _gaps(context)
    report.findings += _top_gaps(context)
    report.findings += _duplicates(units)
    report.findings += _orphans(context, parent_codes, _division_levels(divisions))
    report.findings += _missing_attributes(units)
    report.findings += [
        Finding("repaired", (note.code,), f"{note.source} feature {note.row}: {note.problem}")
        for note in repairs or ()
    ]
    return report


@dataclass(frozen=True)
class _Context:
    geoms: ObjectArray  # lon/lat, valid
    codes: StrArray
    levels: StrArray
    parent_index: IntArray  # row of the parent, -1 when missing
    tolerance: float
    sliver_width: float
    metric_crs: str

    def pieces(self, results: ObjectArray) -> tuple[ObjectArray, IntArray, FloatArray]:
        """Metric polygon pieces of lon/lat overlay results, slivers removed: (pieces, owner, m²).

        Slivers — strips thinner than ``sliver_width``, such as those left where a
        vertex of one outline lies on an edge of another — are removed by a
        morphological opening (shrink by half the width, grow back, mitred), which
        also splits pieces joined only by such strips.
        """
        parts, owner = shapely.get_parts(results, return_index=True)
        polygonal = (shapely.get_type_id(parts) == 3) & (shapely.area(parts) > 0)
        parts, owner = parts[polygonal], owner[polygonal]
        if not len(parts):
            return parts, owner, np.zeros(0)
        metric = gpd.GeoSeries(parts, crs=STORAGE_CRS).to_crs(self.metric_crs).to_numpy()
        if self.sliver_width > 0:
            half = self.sliver_width / 2
            shrunk = shapely.buffer(metric, -half, join_style="mitre")
            metric = shapely.buffer(shrunk, half, join_style="mitre")
            metric, index = shapely.get_parts(metric, return_index=True)
            owner = owner[index]
        areas = shapely.area(metric)
        solid = areas > 0
        return metric[solid], owner[solid], areas[solid]

    def per_result(self, results: ObjectArray) -> list[tuple[int, float, tuple[float, float]]]:
        """(result index, total m², location in its largest piece) for results above tolerance."""
        parts, owner, areas = self.pieces(results)
        if not len(parts):
            return []
        totals = np.bincount(owner, weights=areas, minlength=len(results))
        order = np.lexsort((-areas, owner))
        largest = order[np.r_[True, owner[order][1:] != owner[order][:-1]]]
        largest = largest[totals[owner[largest]] > self.tolerance]
        locations = self.locations(parts[largest])
        return [
            (int(owner[k]), float(totals[owner[k]]), location)
            for k, location in zip(largest, locations, strict=True)
        ]

    def locations(self, metric_pieces: ObjectArray) -> list[tuple[float, float]]:
        """A lon/lat point inside each metric piece."""
        points = shapely.point_on_surface(metric_pieces)
        transformer = Transformer.from_crs(self.metric_crs, STORAGE_CRS, always_xy=True)
        lon, lat = transformer.transform(shapely.get_x(points), shapely.get_y(points))
        return [(round(float(x), 7), round(float(y), 7)) for x, y in zip(lon, lat, strict=True)]


def _parent_index(codes: StrArray, parent_codes: StrArray) -> IntArray:
    """Row of each unit's parent (first unit with that code), -1 when there is none."""
    index = pd.Index(codes)
    first_rows = pd.Series(np.arange(len(codes)), index=index)[~index.duplicated()]
    rows: IntArray = first_rows.reindex(parent_codes).fillna(-1).to_numpy(dtype=np.int64)
    return rows


def _outside_parent(ctx: _Context) -> list[Finding]:
    child = np.flatnonzero(ctx.parent_index >= 0)
    parent = ctx.parent_index[child]
    shapely.prepare(ctx.geoms[parent])
    suspect = ~shapely.covers(ctx.geoms[parent], ctx.geoms[child])
    child, parent = child[suspect], parent[suspect]
    outside = shapely.difference(ctx.geoms[child], ctx.geoms[parent])
    return [
        Finding(
            "outside_parent",
            (ctx.codes[child[k]], ctx.codes[parent[k]]),
            f"{ctx.codes[child[k]]} extends {area:,.1f} m² outside its parent "
            f"{ctx.codes[parent[k]]}",
            round(area, 2),
            location,
        )
        for k, area, location in ctx.per_result(outside)
    ]


def _overlaps(ctx: _Context) -> list[Finding]:
    findings = []
    for level in LEVELS:
        rows = np.flatnonzero(ctx.levels == level)
        if len(rows) < 2:
            continue
        tree = shapely.STRtree(ctx.geoms[rows])
        left, right = tree.query(ctx.geoms[rows], predicate="intersects")
        pairs = left < right
        a, b = rows[left[pairs]], rows[right[pairs]]
        interiors_meet = shapely.relate_pattern(ctx.geoms[a], ctx.geoms[b], "T********")
        a, b = a[interiors_meet], b[interiors_meet]
        shared = shapely.intersection(ctx.geoms[a], ctx.geoms[b])
        for k, area, location in ctx.per_result(shared):
            i, j = a[k], b[k]
            same = ctx.parent_index[i] == ctx.parent_index[j]
            relation = "siblings" if same else f"{level}s of different parents"
            findings.append(
                Finding(
                    "overlap",
                    (ctx.codes[i], ctx.codes[j]),
                    f"{ctx.codes[i]} and {ctx.codes[j]} ({relation}) overlap by {area:,.1f} m²",
                    round(area, 2),
                    location,
                )
            )
    return findings


def _gaps(ctx: _Context) -> list[Finding]:
    """Parts of a parent covered by none of its children (only parents that have children)."""
    child = np.flatnonzero(ctx.parent_index >= 0)
    if not len(child):
        return []
    order = child[np.argsort(ctx.parent_index[child], kind="stable")]
    parents, starts = np.unique(ctx.parent_index[order], return_index=True)
    groups = np.split(order, starts[1:])
    unions = np.array([shapely.union_all(ctx.geoms[g]) for g in groups], dtype=object)
    shapely.prepare(unions)
    open_parents = ~shapely.covers(unions, ctx.geoms[parents])
    parents, unions = parents[open_parents], unions[open_parents]
    uncovered = shapely.difference(ctx.geoms[parents], unions)
    pieces, owner, areas = ctx.pieces(uncovered)
    keep = areas > ctx.tolerance
    pieces, owner, areas = pieces[keep], owner[keep], areas[keep]
    return [
        Finding(
            "gap",
            (ctx.codes[parents[o]],),
            f"{area:,.1f} m² of {ctx.codes[parents[o]]} is covered by none of its children",
            round(float(area), 2),
            location,
        )
        for o, area, location in zip(owner, areas, ctx.locations(pieces), strict=True)
    ]


def _top_gaps(ctx: _Context) -> list[Finding]:
    """Holes in the union of the top-level units (those without a parent unit): land
    enclosed by them that none covers, e.g. between two districts, or two cities, or
    inside a city whose outline is the union of its districts."""
    roots = np.flatnonzero(ctx.parent_index < 0)
    if not len(roots):
        return []
    polygons = shapely.get_parts(shapely.union_all(ctx.geoms[roots]))
    holes = np.array(
        [shapely.Polygon(ring) for polygon in polygons for ring in shapely.get_rings(polygon)[1:]],
        dtype=object,
    )
    if not len(holes):
        return []
    pieces, owner, areas = ctx.pieces(holes)
    keep = areas > ctx.tolerance
    pieces, owner, areas = pieces[keep], owner[keep], areas[keep]
    # name the top-level units around a hole and their children (the districts of a city)
    near = np.flatnonzero(np.isin(ctx.parent_index, roots) | (ctx.parent_index < 0))
    tree = shapely.STRtree(ctx.geoms[near])
    findings = []
    for hole, area, location in zip(owner, areas, ctx.locations(pieces), strict=True):
        around = tuple(sorted(ctx.codes[near[tree.query(holes[hole], predicate="intersects")]]))
        findings.append(
            Finding(
                "gap",
                around,
                f"{area:,.1f} m² enclosed by the top-level units is covered by none of them "
                f"(around {', '.join(around)})",
                round(float(area), 2),
                location,
            )
        )
    return findings


def _duplicates(units: gpd.GeoDataFrame) -> list[Finding]:
    counts = units["code"].value_counts()
    findings = []
    for code, count in counts[counts > 1].items():
        rows = units.index[units["code"] == code]
        names = ", ".join(sorted({str(n) for n in units.loc[rows, "name"]}))
        findings.append(
            Finding(
                "duplicate_code",
                (str(code),),
                f"code {code} is used by {count} units ({names}; rows "
                f"{', '.join(str(row + 1) for row in rows)})",
            )
        )
    return findings


def _division_levels(divisions: pd.DataFrame | None) -> dict[str, str]:
    if divisions is None or divisions.empty:
        return {}
    return dict(zip(divisions["code"].astype(str), divisions["level"].astype(str), strict=True))


def _orphans(
    ctx: _Context, parent_codes: StrArray, division_levels: dict[str, str]
) -> list[Finding]:
    """Units whose parent is missing or not of the next level above that the units (or
    divisions) have: a level missing altogether is skipped (grids on streets in a city
    without communities). Cities, and districts without a parent code, are roots."""
    present = set(ctx.levels) | set(division_levels.values())
    expected_of = {
        level: next((above for above in LEVELS[:i][::-1] if above in present), LEVELS[i - 1])
        for i, level in enumerate(LEVELS)
        if i
    }
    findings = []
    for row in range(len(ctx.codes)):
        code, parent_code, level = ctx.codes[row], parent_codes[row], ctx.levels[row]
        expected = PARENT_LEVEL.get(level)
        if expected is None or (level == "district" and not parent_code):
            continue
        if ctx.parent_index[row] >= 0:
            actual = str(ctx.levels[ctx.parent_index[row]])
        else:
            actual = division_levels.get(parent_code, "")
        if not actual:
            why = f"parent {parent_code} does not exist" if parent_code else "has no parent code"
        elif actual != expected_of[level]:
            why = f"parent {parent_code} is a {actual}, expected a {expected_of[level]}"
        else:
            continue
        findings.append(Finding("orphan", (code,), f"{level} {code}: {why}"))
    return findings


def _missing_attributes(units: gpd.GeoDataFrame) -> list[Finding]:
    findings = []
    names, attributes = _text(units, "name"), _text(units, "attributes")
    levels, codes = _text(units, "level"), _text(units, "code")
    for row in range(len(units)):
        missing = [] if names[row] else ["name"]
        if levels[row] == "grid":
            found = _json_object(attributes[row])
            missing += [key for key in GRID_ATTRIBUTES if not str(found.get(key) or "").strip()]
        if missing:
            code = codes[row]
            findings.append(
                Finding("missing_attribute", (code,), f"{code}: missing {', '.join(missing)}")
            )
    return findings


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text) if text else {}
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _text(units: gpd.GeoDataFrame, column: str) -> StrArray:
    """A column as stripped strings ('' for NULL or when the column is absent)."""
    if column not in units.columns:
        return np.full(len(units), "", dtype=object)
    values = units[column].astype(object).where(units[column].notna(), "")
    return np.array([str(v).strip() for v in values], dtype=object)
