"""Address points: demo generation, house numbering, import from CSV / GeoPackage, units-only."""

from __future__ import annotations

import math

import geopandas as gpd
import pytest
import shapely
from shapely.geometry import LineString

from cityaware.geo.crs import metric_crs_of_bounds
from cityaware.geo.demo.addresses import demo_address_points
from cityaware.geo.engine.locator import GridLocator
from cityaware.geo.errors import InvalidInput
from cityaware.geo.gazetteer.active import ActiveGazetteer, address_points_source
from cityaware.geo.gazetteer.build import Gazetteer
from cityaware.geo.gazetteer.points import numbered_points, read_address_points

ERQI = "410103"


@pytest.fixture(scope="module")
def erqi(units):
    """二七区 alone: its district, streets, communities and grids."""
    return units[units["code"].str.startswith(ERQI)].reset_index(drop=True)


@pytest.fixture(scope="module")
def erqi_points(erqi):
    return demo_address_points(erqi, seed=5)


def test_numbers_alternate_sides_and_advance():
    line = LineString([(0, 0), (300, 0)])
    points = numbered_points(line, 1, 10, offset_m=12.0)
    assert [n for n, _, _ in points] == list(range(1, 11))
    for number, x, y in points:
        assert math.isclose(abs(y), 12.0)
        assert (y > 0) == (number % 2 == 1)  # odd left of the direction of travel
        assert 0 <= x <= 300
    xs = [x for n, x, _ in points if n % 2]
    assert xs == sorted(xs)


def test_demo_points_are_deterministic_and_inside_the_units(erqi, erqi_points):
    again = demo_address_points(erqi, seed=5)
    roads, places = erqi_points
    assert roads["name"].tolist() == again[0]["name"].tolist()
    assert shapely.equals(places.geometry.values, again[1].geometry.values).all()
    outline = erqi[erqi.level == "district"].geometry.union_all()
    assert outline.buffer(1e-9).contains(places.geometry).all()
    assert set(places["kind"]) == {"compound", "landmark"}
    assert not places.duplicated(["name"]).any()  # unique within one namespace


def test_csv_import_builds_the_same_answers_as_the_engine(tmp_path, erqi, erqi_points):
    roads, places = erqi_points
    folder = tmp_path / "addresses"
    folder.mkdir()
    roads.assign(wkt=roads.geometry.to_wkt()).drop(columns="geometry").to_csv(
        folder / "roads.csv", index=False
    )
    places.assign(lon=places.geometry.x, lat=places.geometry.y).drop(columns="geometry").to_csv(
        folder / "places.csv", index=False
    )
    locator = GridLocator.build(erqi, "erqi")
    gazetteer = Gazetteer.build(erqi, locator, "erqi", folder)
    road = gazetteer.entries[next(i for i, e in enumerate(gazetteer.entries) if e.kind == "road")]
    number, row = sorted(road.numbers.items())[len(road.numbers) // 2]
    metric_crs = metric_crs_of_bounds(erqi.total_bounds)  # the CRS the demo numbers in
    source = roads[roads["name"] == road.name].to_crs(metric_crs).iloc[0]
    numbered = numbered_points(source.geometry, source.number_from, source.number_to)
    expected = [p for p in numbered if p[0] == number][0]
    lon, lat = (
        gpd.GeoSeries.from_xy([expected[1]], [expected[2]], crs=metric_crs)
        .to_crs(4326)[0]
        .coords[0]
    )
    result = gazetteer.geocode(f"二七区{road.name}{number}号")
    assert result.level == "address"
    assert result.grid_code == locator.locate(lon, lat).grid_code


def test_gpkg_import_and_missing_columns(tmp_path, erqi_points):
    roads, places = erqi_points
    path = tmp_path / "addresses.gpkg"
    roads.to_file(path, layer="roads")
    places.to_file(path, layer="places")
    read_roads, read_places = read_address_points(path)
    assert read_roads["name"].tolist() == roads["name"].tolist()
    assert len(read_places) == len(places)
    broken = tmp_path / "broken.gpkg"
    roads.drop(columns="number_to").to_file(broken, layer="roads")
    places.to_file(broken, layer="places")
    with pytest.raises(InvalidInput, match="number_to"):
        read_address_points(broken)
    with pytest.raises(InvalidInput):
        read_address_points(tmp_path / "addresses.txt")


def test_units_only_gazetteer_answers_units_never_grids_of_addresses(erqi):
    locator = GridLocator.build(erqi, "units-only")
    gazetteer = Gazetteer.build(erqi, locator, "units-only", None)
    assert not any(e.kind in ("road", "compound", "landmark") for e in gazetteer.entries)
    result = gazetteer.geocode("二七区德化街街道德化街88号")
    assert result.grid_code is None
    assert result.level == "street"


def test_points_source_rules(tmp_path):
    assert address_points_source(tmp_path, "zhengzhou-demo.gpkg") == "demo"
    assert address_points_source(tmp_path, "survey-2024.gpkg") is None
    (tmp_path / "addresses.gpkg").write_bytes(b"")
    assert address_points_source(tmp_path, "zhengzhou-demo.gpkg") == tmp_path / "addresses.gpkg"


def test_active_gazetteer_follows_the_locator_generation(units, locator, gazetteer, cache_dir):
    active = ActiveGazetteer(
        lambda: locator, lambda generation: units, lambda g: "zhengzhou-demo.gpkg", cache_dir.parent
    )
    road = next(e for e in gazetteer.entries if e.kind == "road" and e.district)
    number, row = next(iter(road.numbers.items()))
    text = f"{gazetteer.unit_names[road.district]}{road.name}{number}号"
    assert active.current().generation == locator.generation
    assert active.geocode(text).to_dict() == gazetteer.geocode(text).to_dict()
