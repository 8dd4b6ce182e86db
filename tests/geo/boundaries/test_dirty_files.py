"""Real-shaped dirty files (tests/data): repair keeps who covers a point, repair runs
after reprojection, gaps between top-level units, identity across a round trip."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import Transformer

from cityaware.geo.boundaries.generations import BoundaryRegistry
from cityaware.geo.boundaries.io import read_units
from cityaware.geo.boundaries.validate import validate_units

from .rings import DATA, away_from_rings, source_covers

DIRTY = DATA / "kaifeng-districts-dirty.geojson"
GK_FILE = DATA / "kaifeng-districts-gk.gpkg"
LUOYANG = DATA / "luoyang-districts-gbk.shp"
TO_GK = Transformer.from_crs("EPSG:4326", "EPSG:4547", always_xy=True)


def _samples(source: gpd.GeoDataFrame, n: int = 6000, seed: int = 12) -> tuple[np.ndarray, ...]:
    """Points spread over the file, plus points crowded around every invalid outline."""
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = source.total_bounds
    xs, ys = [rng.uniform(minx, maxx, n)], [rng.uniform(miny, maxy, n)]
    for geom in source.geometry[~source.geometry.is_valid]:
        x0, y0, x1, y1 = geom.bounds
        xs.append(rng.uniform(x0, x1, n))
        ys.append(rng.uniform(y0, y1, n))
    return np.concatenate(xs), np.concatenate(ys)


def _covers(geoms: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(units x points) coverage of valid repaired geometries, by GEOS."""
    points = shapely.points(x, y)
    return np.array([shapely.covers(g, points) for g in geoms])


def test_repair_keeps_who_covers_every_sampled_point():
    source = gpd.read_file(DIRTY, engine="pyogrio")
    assert (~source.geometry.is_valid).sum() >= 3  # the fixture is dirty
    units, repairs = read_units(DIRTY)
    assert units["code"].tolist() == source["code"].tolist()
    assert units.geometry.is_valid.all() and len(repairs) >= 3

    x, y = _samples(source)
    keep = away_from_rings(source.geometry.to_numpy(), x, y, 1e-7)
    x, y = x[keep], y[keep]
    expected = np.array([source_covers(g, x, y) for g in source.geometry])
    got = _covers(units.geometry.to_numpy(), x, y)

    assert (got == expected).all(), f"{(got != expected).sum()} unit/point disagreements"
    # so repair invents no overlap: as many units cover each point as source rings do
    assert (got.sum(axis=0) == expected.sum(axis=0)).all()


def test_the_fixture_catches_the_linework_method():
    """make_valid's default would give 禹王台区 the part of its lake spilling outside."""
    source = gpd.read_file(DIRTY, engine="pyogrio").set_index("code")
    lake_district = source.geometry["410205"]
    x, y = _samples(source.reset_index(), n=3000)
    keep = away_from_rings(np.array([lake_district]), x, y, 1e-7)
    x, y = x[keep], y[keep]
    linework = shapely.covers(shapely.make_valid(lake_district), shapely.points(x, y))

    assert (linework & ~source_covers(lake_district, x, y)).any()


def test_overlaps_reported_after_repair_are_only_the_source_overlaps():
    source = gpd.read_file(DIRTY, engine="pyogrio")
    units, repairs = read_units(DIRTY)
    report = validate_units(units, repairs=repairs)

    for finding in report.of_kind("overlap"):
        x, y = np.array([finding.location[0]]), np.array([finding.location[1]])
        assert sum(source_covers(g, x, y)[0] for g in source.geometry) >= 2


def test_a_projected_file_is_repaired_after_reprojection():
    source = gpd.read_file(GK_FILE, engine="pyogrio")
    assert source.geometry.is_valid.all()  # valid in metres ...
    assert not source.to_crs("EPSG:4326").geometry.is_valid.all()  # ... not in lon/lat

    units, repairs = read_units(GK_FILE)

    assert units.geometry.is_valid.all()
    assert [note.code for note in repairs] == ["410212"]
    lon, lat = _samples(units.set_geometry(units.geometry), n=8000)
    x, y = TO_GK.transform(lon, lat)
    keep = away_from_rings(source.geometry.to_numpy(), x, y, 10.0)  # edges bend by metres
    expected = np.array([source_covers(g, x[keep], y[keep]) for g in source.geometry])
    got = _covers(units.geometry.to_numpy(), lon[keep], lat[keep])
    assert (got == expected).all()


def test_gaps_between_top_level_units_are_reported_with_area_and_location(tmp_path):
    """Luoyang's 老城区 and 西工区 leave a hole between them; staged, the districts hang
    under their derived city (whose outline is their union) and the gap is still found."""
    source = gpd.read_file(LUOYANG, engine="pyogrio", encoding="GB18030")
    union = shapely.union_all(source.geometry.to_numpy())
    hole = shapely.Polygon(union.interiors[0])  # the oracle: the hole in the source union
    registry = BoundaryRegistry(tmp_path / "boundaries")

    report = registry.validation(registry.stage_files([LUOYANG]))

    gaps = [f for f in report["findings"] if f["kind"] == "gap"]
    assert len(gaps) == 1
    assert {"410302", "410303"} <= set(gaps[0]["codes"])
    metric = gpd.GeoSeries([hole], crs=4326).to_crs("EPSG:4547").area.iloc[0]
    assert gaps[0]["area_m2"] == pytest.approx(metric, rel=1e-3)
    assert hole.contains(shapely.Point(gaps[0]["location"]))


def test_a_gap_between_two_districts_without_a_city_is_found():
    """Two C-shaped districts enclosing land neither covers (no parent above them)."""
    notch = shapely.box(114.05, 34.02, 114.15, 34.08)
    frame = gpd.GeoDataFrame(
        {"code": ["410202", "410203"], "level": "district", "parent_code": ""},
        geometry=[
            shapely.box(114.0, 34.0, 114.1, 34.1).difference(notch),
            shapely.box(114.1, 34.0, 114.2, 34.1).difference(notch),
        ],
        crs=4326,
    )

    gaps = validate_units(frame).of_kind("gap")

    assert len(gaps) == 1 and set(gaps[0].codes) == {"410202", "410203"}
    assert notch.contains(shapely.Point(gaps[0].location))
    metric = gpd.GeoSeries([notch], crs=4326).to_crs("EPSG:4547").area.iloc[0]
    assert gaps[0].area_m2 == pytest.approx(metric, rel=1e-3)


def test_identity_survives_a_reprojection_round_trip(tmp_path):
    registry = BoundaryRegistry(tmp_path / "boundaries")
    first = registry.stage_files([GK_FILE])
    staged = registry.units(first)
    back = tmp_path / "round-trip.gpkg"
    staged.drop(columns=["unit_id", "since_generation"]).to_crs("EPSG:4547").to_file(back)

    second = registry.stage_files([back])

    diff = registry.diff(first, second)
    assert diff["changed"] == [] and diff["added"] == [] and diff["removed"] == []
    moved = shapely.hausdorff_distance(
        staged.geometry.to_numpy(), registry.units(second).geometry.to_numpy()
    )
    assert (moved > 0).any()  # the coordinates did change, by float noise only
    assert registry.units(second)["since_generation"].eq(first).all()
