"""The committed demo city: schema, real codes, exact nesting, density, determinism.

Geometry checks use shapely in the metric CRS as the oracle; the tolerance for
"inside", "covers" and "no overlap" is 1 m² (the generator achieves 0).
"""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
import shapely

from cityaware.geo.boundaries.schema import CORE_COLUMNS, STORAGE_CRS
from cityaware.geo.crs import metric_crs_of_bounds
from cityaware.geo.demo import city
from tests.geo.demo.conftest import DEMO_GPKG, needs_shared_data

TOLERANCE_M2 = 1.0
LEVEL_OF = {
    "districts": "district",
    "streets": "street",
    "communities": "community",
    "grids": "grid",
}
CHILD_OF = {"streets": "districts", "communities": "streets", "grids": "communities"}
CORE = {"410102", "410103", "410104", "410105", "410108"}
COUNTIES = {"410106", "410122", "410181", "410182", "410183", "410184", "410185"}


def test_every_layer_is_a_units_frame(layers):
    for name, frame in layers.items():
        assert frame.crs.to_string() == STORAGE_CRS
        assert set(CORE_COLUMNS) <= set(frame.columns), name
        assert (frame.code_system == "NBS").all() and (frame.code_version == "2023").all()
        assert frame.geometry.is_valid.all(), name
        assert set(frame.geom_type) <= {"Polygon", "MultiPolygon"}
        assert frame.code.is_unique and frame.code.is_monotonic_increasing
        assert (frame.level == LEVEL_OF.get(name, "zone")).all()
        for text in frame.attributes:
            assert isinstance(json.loads(text), dict)


@needs_shared_data
def test_codes_names_and_parents_are_the_real_nbs_ones(layers, divisions):
    real = divisions.set_index("code")
    zones = set(city.ZONE_HOSTS)
    counties = divisions[(divisions.level == "county") & ~divisions.code.isin(zones)]
    districts = layers["districts"]
    assert len(districts) == 12 and set(districts.code) == set(counties.code)
    assert (districts.parent_code == "").all()
    for name, level, count in (("streets", "township", 208), ("communities", "community", 3306)):
        frame = layers[name]
        assert len(frame) == count
        assert set(frame.code) == set(divisions.code[divisions.level == level])
        assert (frame.name.to_numpy() == real.name[frame.code].to_numpy()).all()
    hosts = {zone: host for zone, (host, _) in city.ZONE_HOSTS.items()}
    streets = layers["streets"]
    expected_parent = real.parent_code[streets.code].map(lambda p: hosts.get(p, p))
    assert (streets.parent_code.to_numpy() == expected_parent.to_numpy()).all()
    communities = layers["communities"]
    assert (
        communities.parent_code.to_numpy() == real.parent_code[communities.code].to_numpy()
    ).all()


def test_grids_nest_in_communities_with_sequential_codes(layers):
    grids, communities = layers["grids"], layers["communities"]
    assert len(grids) == city.TOTAL_GRIDS == 4744
    assert set(grids.parent_code) == set(communities.code)  # every community has a grid
    assert (grids.code.str[:12] == grids.parent_code).all()
    suffix = grids.code.str[12:].astype(int)
    rank = grids.groupby("parent_code").cumcount() + 1
    assert (grids.code.str.len() == 15).all() and (suffix == rank).all()
    names = communities.set_index("code").name.map(city.community_stem)
    expected = names[grids.parent_code].to_numpy() + "第" + suffix.astype(str).to_numpy() + "网格"
    assert (grids.name.to_numpy() == expected).all()


def test_grid_attributes_match_their_flat_columns(layers):
    grids = layers["grids"]
    streets = layers["streets"].set_index("code").name
    for row in grids.itertuples():
        attributes = json.loads(row.attributes)
        assert attributes == {"worker": row.worker, "phone": row.phone, "office": row.office}
        assert re.fullmatch(r"1[3-9]\d{9}", row.phone)
        assert re.fullmatch(r"[\u4e00-\u9fff]{2,3}", row.worker)
        assert row.office.startswith(streets[row.code[:9]])
        assert row.office.endswith(("办事处", "人民政府"))


@needs_shared_data
def test_functional_zone_units_carry_their_zone(layers, divisions):
    zone_of_street = divisions.set_index("code").parent_code
    streets = layers["streets"]
    zone = zone_of_street[streets.code].where(lambda p: p.isin(list(city.ZONE_HOSTS)), "")
    assert (streets.managing_zone.to_numpy() == zone.to_numpy()).all()
    assert set(streets.managing_zone) == {"", "410171", "410172", "410173"}
    by_street = streets.set_index("code").managing_zone
    for name in ("communities", "grids"):
        frame = layers[name]
        assert (frame.managing_zone.to_numpy() == by_street[frame.code.str[:9]].to_numpy()).all()


def test_zones_are_the_union_of_their_streets(metric):
    zones = metric["zones"]
    assert list(zones.code) == sorted(city.ZONE_HOSTS)
    streets = metric["streets"]
    for row in zones.itertuples():
        mine = streets[streets.managing_zone == row.code]
        assert set(mine.parent_code) == {city.ZONE_HOSTS[row.code][0]}
        union = shapely.union_all(mine.geometry.values)
        assert shapely.symmetric_difference(union, row.geometry).area <= TOLERANCE_M2


@pytest.mark.parametrize("child", sorted(CHILD_OF))
def test_every_unit_lies_inside_its_parent(metric, child):
    units = metric[child]
    parents = metric[CHILD_OF[child]].set_index("code").geometry
    assert units.parent_code.isin(parents.index).all()
    outside = shapely.area(
        shapely.difference(units.geometry.values, parents[units.parent_code].values)
    )
    assert outside.max() <= TOLERANCE_M2


@pytest.mark.parametrize("child", sorted(CHILD_OF))
def test_children_cover_their_parent(metric, child):
    units = metric[child]
    parents = metric[CHILD_OF[child]].set_index("code").geometry
    unions = units.groupby("parent_code").geometry.apply(lambda g: shapely.union_all(g.values))
    assert set(unions.index) == set(parents.index)
    gaps = shapely.area(shapely.symmetric_difference(unions.values, parents[unions.index].values))
    assert gaps.max() <= TOLERANCE_M2


@pytest.mark.parametrize("layer", ["districts", "streets", "communities", "grids"])
def test_units_of_a_level_do_not_overlap(metric, layer):
    geoms = metric[layer].geometry.values
    left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    pair = left < right
    assert pair.sum() > 0  # neighbours touch
    overlap = shapely.area(shapely.intersection(geoms[left[pair]], geoms[right[pair]]))
    assert overlap.max() <= TOLERANCE_M2


def test_coordinates_lie_on_the_precision_grid(layers):
    coords = shapely.get_coordinates(layers["grids"].geometry.values)
    steps = coords / city.partition.GRID_SIZE
    assert np.abs(steps - np.round(steps)).max() < 1e-3


def test_units_are_small_in_the_core_and_large_in_the_counties(metric):
    for layer in ("streets", "communities", "grids"):
        frame = metric[layer]
        area = frame.area / 1e6
        core = area[frame.code.str[:6].isin(CORE)].median()
        rural = area[frame.code.str[:6].isin(COUNTIES)].median()
        assert core * 3 < rural, layer
    grids = metric["grids"]
    per_community = grids.groupby("parent_code").size()
    in_core = per_community.index.str[:6].isin(CORE)
    assert per_community[in_core].mean() > per_community[~in_core].mean()


@needs_shared_data
def test_districts_keep_the_real_outlines(metric):
    real = city.load_districts(city.DEFAULT_SHARED_DATA).to_crs(metric["districts"].crs)
    ours = metric["districts"].set_index("code").geometry[real.code]
    moved = shapely.area(shapely.symmetric_difference(ours.values, real.geometry.values))
    assert (moved <= 1e-6 * shapely.area(real.geometry.values) + TOLERANCE_M2).all()


@needs_shared_data
def test_a_subset_build_is_byte_identical_and_matches_the_committed_file(tmp_path, layers):
    paths = [tmp_path / "a.gpkg", tmp_path / "b.gpkg"]
    for path in paths:
        built = city.build_demo_boundaries(districts=["410106"])
        city.write_demo_gpkg(built, path)
    assert paths[0].read_bytes() == paths[1].read_bytes()
    for name, frame in built.items():
        committed = layers[name][layers[name].code.str[:6] == "410106"].reset_index(drop=True)
        columns = [c for c in frame.columns if c != "geometry"]
        pd.testing.assert_frame_equal(frame[columns], committed[columns], check_dtype=False)
        crs = metric_crs_of_bounds(frame.to_crs(STORAGE_CRS).total_bounds)
        ours, theirs = frame.to_crs(crs).geometry, committed.to_crs(crs).geometry
        moved = shapely.area(shapely.symmetric_difference(ours.values, theirs.values))
        # only the nodes that neighbouring districts add on the shared outline may
        # differ: snapping them bends an edge by < 1 cm
        assert (moved <= 0.01 * ours.length).all(), name


@needs_shared_data
@pytest.mark.slow
def test_the_full_build_is_byte_identical(tmp_path):
    first, second = tmp_path / "first.gpkg", tmp_path / "second.gpkg"
    assert city.main(["--out", str(first)]) == 0
    city.write_demo_gpkg(city.build_demo_boundaries(), second)
    assert first.read_bytes() == second.read_bytes()
    assert first.stat().st_size == pytest.approx(DEMO_GPKG.stat().st_size, rel=0.05)
