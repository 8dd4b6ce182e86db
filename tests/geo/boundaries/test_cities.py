"""Cities derived from district codes, division lists, grid-only updates, parent links."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from cityaware.geo.boundaries.divisions import DIVISION_COLUMNS, read_divisions
from cityaware.geo.boundaries.io import read_units
from cityaware.geo.errors import InvalidInput

from .builders import box_m, units_frame
from .rings import DATA

KAIFENG = DATA / "kaifeng-districts-dirty.geojson"
LUOYANG = DATA / "luoyang-districts-gbk.shp"
DIVISIONS = DATA / "kaifeng-divisions.csv"


def test_two_cities_imported_together_are_two_cities(registry):
    generation = registry.stage_files([KAIFENG, LUOYANG, DIVISIONS])
    units = registry.units(generation)
    districts = units[units["level"] == "district"]
    cities = units[units["level"] == "city"].set_index("code")

    assert sorted(cities.index) == ["410200", "410300"]
    assert cities.loc["410200", "name"] == "开封市"  # from the division list
    assert (districts["parent_code"] == districts["code"].str[:4] + "00").all()
    for code, city in cities.iterrows():
        members = districts[districts["parent_code"] == code].geometry.to_numpy()
        union = shapely.union_all(members)
        assert shapely.symmetric_difference(city.geometry, union).area < 1e-12 * union.area
    chain = registry.validation(generation)
    assert chain["counts"]["orphan"] == 0


def test_divisions_without_outline_are_stored_per_generation(registry):
    generation = registry.stage_files([KAIFENG, DIVISIONS])
    listed = pd.read_csv(DIVISIONS, dtype=str, keep_default_na=False)
    outlined = set(registry.units(generation)["code"])

    divisions = registry.divisions(generation)

    assert divisions.columns.tolist() == list(DIVISION_COLUMNS)
    expected = listed[~listed["code"].isin(outlined)]
    assert sorted(divisions["code"]) == sorted(expected["code"])
    by_code = divisions.set_index("code")
    # NBS / civil-affairs level names are aliases of ours
    assert by_code.loc["410202001", "level"] == "street"  # township
    assert by_code.loc["410212100", "level"] == "street"  # town
    assert by_code.loc["410202200201", "level"] == "community"  # village
    assert by_code.loc["410202001001", "parent_code"] == "410202001"
    assert registry.validation(generation)["counts"]["orphan"] == 0


def test_a_generation_without_division_list_has_an_empty_divisions_frame(registry):
    generation = registry.stage_files([LUOYANG])
    divisions = registry.divisions(generation)
    assert divisions.empty and divisions.columns.tolist() == list(DIVISION_COLUMNS)


def test_a_bad_division_list_is_a_clear_error(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("level,code,name\nhamlet,410202001,x\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="bad.csv: row 2: unknown level 'hamlet'"):
        read_divisions(path)
    path.write_text("code,name\n410202,x\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="missing level"):
        read_divisions(path)


def test_a_gbk_division_list_is_read(tmp_path):
    path = tmp_path / "gbk.csv"
    path.write_bytes(DIVISIONS.read_text(encoding="utf-8").encode("gbk"))
    assert read_divisions(path).equals(read_divisions(DIVISIONS))


def _full_city():
    district, street, community = "410102", "410102001", "410102001001"
    return units_frame(
        [
            (district, "district", "", box_m(0, 0, 200, 100), "中原区"),
            (street, "street", district, box_m(0, 0, 200, 100), "林山寨街道"),
            (community, "community", street, box_m(0, 0, 200, 100), "建设路社区"),
            (community + "001", "grid", community, box_m(0, 0, 200, 100), "网格1"),
        ]
    )


def test_a_grid_only_update_takes_its_parents_from_the_active_generation(registry):
    first = registry.stage(_full_city())
    registry.activate(first)
    grids = units_frame(
        [
            ("410102001001001", "grid", "410102001001", box_m(0, 0, 100, 100), "网格1"),
            ("410102001001002", "grid", "410102001001", box_m(100, 0, 200, 100), "网格2"),
        ]
    )

    second = registry.stage(grids, source="grids.gpkg")

    old, new = registry.units(first), registry.units(second)
    assert registry.validation(second)["counts"]["orphan"] == 0
    above = old[old["level"] != "grid"].set_index("code")
    kept = new[new["level"] != "grid"].set_index("code")
    assert kept.index.tolist() == above.index.tolist()
    assert (kept["unit_id"] == above["unit_id"]).all()  # the streets stay, same identity
    assert sorted(new.loc[new["level"] == "grid", "code"]) == sorted(grids["code"])


def test_grids_of_a_city_without_communities_hang_on_their_street(tmp_path, registry):
    """Parents come from links: no community code is made up from a grid code prefix."""
    frame = units_frame(
        [
            ("410102", "district", "", box_m(0, 0, 200, 100), "中原区"),
            ("410102001", "street", "410102", box_m(0, 0, 200, 100), "林山寨街道"),
            ("410102001001001", "grid", "", box_m(0, 0, 200, 100), "网格1"),
        ]
    ).drop(columns="parent_code")
    path = tmp_path / "no-communities.gpkg"
    frame.to_file(path, engine="pyogrio")

    generation = registry.stage_files([path])

    units = registry.units(generation).set_index("code")
    assert units.loc["410102001001001", "parent_code"] == "410102001"
    assert units.loc["410102", "parent_code"] == "410100"
    assert registry.validation(generation)["counts"]["orphan"] == 0


def test_a_gbk_shapefile_without_cpg_is_detected_and_can_be_named():
    assert not LUOYANG.with_suffix(".cpg").exists()
    expected = gpd.read_file(LUOYANG, engine="pyogrio", encoding="GB18030")

    units, _ = read_units(LUOYANG)
    named, _ = read_units(LUOYANG, encoding="GBK")

    assert units["name"].tolist() == expected["name"].tolist() == named["name"].tolist()
    assert "老城区" in units["name"].tolist()
    assert all("备注" in attributes for attributes in units["attributes"])


def test_a_city_given_in_the_file_is_kept(registry):
    frame = units_frame(
        [
            ("410100", "city", "", box_m(-10, -10, 300, 200), "某市"),
            ("410102", "district", "", box_m(0, 0, 200, 100), "中原区"),
        ]
    )
    units = registry.units(registry.stage(frame)).set_index("code")
    assert units.loc["410100", "name"] == "某市"
    assert units.loc["410102", "parent_code"] == "410100"
    assert len(units) == 2


def test_outlines_without_names_take_them_from_the_division_list(tmp_path, registry):
    source = gpd.read_file(DATA / "kaifeng-districts-gk.gpkg", engine="pyogrio")
    path = tmp_path / "codes-only.gpkg"
    source.drop(columns="name").to_file(path, engine="pyogrio")
    listed = read_divisions(DIVISIONS).set_index("code")["name"]

    units = registry.units(registry.stage_files([path, DIVISIONS])).set_index("code")

    for code in source["code"]:
        assert units.loc[code, "name"] == listed[code]
