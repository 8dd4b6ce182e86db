"""Reading boundary files: formats, CRSs, axis order, repairs, codes, and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import Transformer

from cityaware.geo.boundaries.io import read_hierarchy_gpkg, read_many, read_units
from cityaware.geo.errors import InvalidInput
from cityaware.geo.resources import demo_boundaries

from .builders import box_m, to_lonlat, units_frame

FORMATS = {"GeoJSON": "geojson", "GPKG": "gpkg", "ESRI Shapefile": "shp", "FlatGeobuf": "fgb"}


def _sample_lonlat() -> gpd.GeoDataFrame:
    """A district with a hole, a two-part street, and a plain community (leading-zero codes)."""
    district = shapely.Polygon(
        box_m(0, 0, 2000, 2000).exterior.coords, [box_m(800, 800, 1200, 1200).exterior.coords]
    )
    street = shapely.MultiPolygon([box_m(0, 0, 500, 500), box_m(1500, 1500, 2000, 2000)])
    community = box_m(0, 0, 250, 250)
    frame = gpd.GeoDataFrame(
        {
            "code": ["010102", "010102003", "010102003007"],
            "name": ["中原区", "林山寨街道", "建设路社区"],
            "worker": ["", "", "李雷"],
            "geometry": [to_lonlat(g) for g in (district, street, community)],
        },
        crs="EPSG:4326",
    )
    return frame


def _same_shape(a: shapely.Geometry, b: shapely.Geometry, tolerance_deg: float = 1e-9) -> bool:
    return shapely.equals_exact(shapely.normalize(a), shapely.normalize(b), tolerance_deg)


@pytest.mark.parametrize("driver", FORMATS)
def test_every_format_keeps_codes_holes_and_multipolygons(tmp_path, driver):
    original = _sample_lonlat()
    path = tmp_path / f"units.{FORMATS[driver]}"
    original.to_file(path, driver=driver, engine="pyogrio")

    units, repairs = read_units(path, code_version="2023")
    units = units.sort_values("code", ignore_index=True)  # FlatGeobuf reorders features

    assert repairs == []
    assert units.crs == "EPSG:4326"
    assert units["code"].tolist() == ["010102", "010102003", "010102003007"]
    assert units["level"].tolist() == ["district", "street", "community"]
    assert units["parent_code"].tolist() == ["", "010102", "010102003"]
    assert units["code_system"].tolist() == ["NBS"] * 3
    assert set(units["code_version"]) == {"2023"}
    assert units.geometry.iloc[0].geom_type == "Polygon"
    assert len(units.geometry.iloc[0].interiors) == 1  # the hole survived
    assert units.geometry.iloc[1].geom_type == "MultiPolygon"
    for got, want in zip(units.geometry, original.geometry, strict=True):
        assert _same_shape(got, want)
    assert json.loads(units["attributes"].iloc[2]) == {"worker": "李雷"}


def test_numeric_codes_become_exact_digit_strings(tmp_path):
    frame = gpd.GeoDataFrame(
        {
            "code": [410102001001.0, 410102001002.0],
            "parent_code": [410102001, 410102001],
            "geometry": [to_lonlat(box_m(0, 0, 10, 10)), to_lonlat(box_m(10, 0, 20, 10))],
        },
        crs="EPSG:4326",
    )
    path = tmp_path / "numeric.gpkg"
    frame.to_file(path, engine="pyogrio")

    units, _ = read_units(path)

    assert units["code"].tolist() == ["410102001001", "410102001002"]
    assert units["parent_code"].tolist() == ["410102001", "410102001"]
    assert units["level"].tolist() == ["community", "community"]


def _lonlat_polygons() -> list[shapely.Polygon]:
    return [
        shapely.Polygon([(113.60, 34.70), (113.70, 34.70), (113.70, 34.80), (113.60, 34.70)]),
        shapely.Polygon(
            [(113.62, 34.72), (113.66, 34.72), (113.66, 34.76), (113.62, 34.76)],
            [[(113.63, 34.73), (113.64, 34.73), (113.64, 34.74), (113.63, 34.73)]],
        ),
    ]


def _project_north_first(polygon: shapely.Polygon, epsg: str) -> shapely.Polygon:
    """Project with the authority axis order (lat, lon in; northing, easting out), then
    store as (easting, northing) the way GIS files do."""
    transformer = Transformer.from_crs("EPSG:4326", epsg)  # authority order, not always_xy

    def project(xy: np.ndarray) -> np.ndarray:
        northing, easting = transformer.transform(xy[:, 1], xy[:, 0])
        return np.column_stack([easting, northing])

    assert Transformer.from_crs("EPSG:4326", epsg).target_crs.axis_info[0].direction == "north"
    return shapely.transform(polygon, project)


@pytest.mark.parametrize("epsg", ["EPSG:4547", "EPSG:4526"])
@pytest.mark.parametrize("suffix", ["gpkg", "geojson", "shp"])
def test_gauss_kruger_north_first_lands_at_the_right_lon_lat(tmp_path, epsg, suffix):
    lonlat = _lonlat_polygons()
    projected = [_project_north_first(p, epsg) for p in lonlat]
    assert projected[0].exterior.coords[0][0] > projected[0].exterior.coords[0][1] / 100  # sanity
    frame = gpd.GeoDataFrame({"code": ["410102", "410103"]}, geometry=projected, crs=epsg)
    path = tmp_path / f"gk.{suffix}"
    frame.to_file(path, engine="pyogrio")

    units, _ = read_units(path)

    to_metric = Transformer.from_crs("EPSG:4326", "EPSG:4547", always_xy=True)
    for got, want in zip(units.geometry, lonlat, strict=True):
        assert 113.5 < got.centroid.x < 113.8 and 34.6 < got.centroid.y < 34.9
        got_m = shapely.transform(got, lambda xy: np.column_stack(to_metric.transform(*xy.T)))
        want_m = shapely.transform(want, lambda xy: np.column_stack(to_metric.transform(*xy.T)))
        assert shapely.hausdorff_distance(got_m, want_m) < 0.03  # metres


def test_cgcs2000_geographic_file(tmp_path):
    lonlat = _lonlat_polygons()
    frame = gpd.GeoDataFrame({"code": ["410102", "410103"]}, geometry=lonlat, crs="EPSG:4490")
    path = tmp_path / "cgcs.gpkg"
    frame.to_file(path, engine="pyogrio")

    units, _ = read_units(path)

    for got, want in zip(units.geometry, lonlat, strict=True):
        assert _same_shape(got, want, tolerance_deg=1e-6)


def test_file_without_crs_needs_one(tmp_path):
    projected = [_project_north_first(p, "EPSG:4547") for p in _lonlat_polygons()]
    frame = gpd.GeoDataFrame({"code": ["410102", "410103"]}, geometry=projected)
    path = tmp_path / "nocrs.shp"
    with pytest.warns(UserWarning, match="'crs' was not provided"):
        frame.to_file(path, engine="pyogrio")

    with pytest.raises(InvalidInput, match="no CRS"):
        read_units(path)
    units, _ = read_units(path, crs="EPSG:4547")
    assert 113.5 < units.geometry.iloc[0].centroid.x < 113.8


def test_geojson_in_metres_without_crs_member_is_refused(tmp_path):
    path = tmp_path / "metres.geojson"
    square = [[[468000, 3846000], [468100, 3846000], [468100, 3846100], [468000, 3846000]]]
    path.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"code": "410102"},
                        "geometry": {"type": "Polygon", "coordinates": square},
                    }
                ],
            }
        )
    )
    with pytest.raises(InvalidInput, match="do not fit CRS"):
        read_units(path)
    units, _ = read_units(path, crs="EPSG:4547")
    assert 113.6 < units.geometry.iloc[0].centroid.x < 113.7


def test_invalid_rings_are_repaired_and_noted(tmp_path):
    bow_tie = shapely.Polygon([(0, 0), (100, 100), (100, 0), (0, 100), (0, 0)])
    # The ring touches itself at (50, 50): a self-touching "inverted hole".
    self_touching = shapely.Polygon(
        [(0, 0), (100, 0), (100, 100), (50, 50), (60, 80), (40, 80), (50, 50), (0, 100), (0, 0)]
    )
    raw = [
        shapely.affinity.translate(g, *box_m(0, 0, 1, 1).bounds[:2])
        for g in (bow_tie, self_touching, shapely.box(0, 0, 10, 10))
    ]
    lonlat = [to_lonlat(g) for g in raw]
    assert not lonlat[0].is_valid and not lonlat[1].is_valid
    frame = gpd.GeoDataFrame(
        {"code": ["410102", "410103", "410104"]}, geometry=lonlat, crs="EPSG:4326"
    )
    path = tmp_path / "dirty.geojson"
    frame.to_file(path, engine="pyogrio")

    units, repairs = read_units(path)

    assert units.geometry.is_valid.all()
    assert set(units.geom_type) <= {"Polygon", "MultiPolygon"}
    assert [(r.row, r.code) for r in repairs] == [(1, "410102"), (2, "410103")]
    assert "Self-intersection" in repairs[0].problem
    for got, dirty in zip(units.geometry[:2], lonlat[:2], strict=True):
        assert got.area == pytest.approx(shapely.make_valid(dirty).area, rel=1e-9)
    assert units.geometry.iloc[0].geom_type == "MultiPolygon"  # two triangles of the bow-tie


def _write(path: Path, codes: list, geoms: list, **columns) -> Path:
    gpd.GeoDataFrame({"code": codes, **columns}, geometry=geoms, crs="EPSG:4326").to_file(
        path, engine="pyogrio"
    )
    return path


SQUARE = shapely.box(113.6, 34.7, 113.61, 34.71)


@pytest.mark.parametrize(
    ("codes", "geoms", "message"),
    [
        (["410102", "410103"], [SQUARE, None], "feature 2 \\(code 410103\\): empty geometry"),
        (["410102", "410103"], [SQUARE, shapely.Point(113.6, 34.7)], "feature 2 .*Point"),
        (["410102", None], [SQUARE, SQUARE], "feature 2: empty code"),
        (["410102", "4101"], [SQUARE, SQUARE], "feature 2: cannot infer the level"),
        (
            ["410102", "410103"],
            [SQUARE, shapely.LineString([(113.6, 34.7), (113.7, 34.7)])],
            "feature 2 .*LineString",
        ),
    ],
)
def test_unusable_rows_are_named(tmp_path, codes, geoms, message):
    path = _write(tmp_path / "bad.gpkg", codes, geoms)
    with pytest.raises(InvalidInput, match=message):
        read_units(path)


def test_unusable_files(tmp_path):
    no_code = tmp_path / "nocode.gpkg"
    gpd.GeoDataFrame({"id": [1]}, geometry=[SQUARE], crs="EPSG:4326").to_file(no_code)
    with pytest.raises(InvalidInput, match="no 'code' column \\(found: id\\)"):
        read_units(no_code)
    units, _ = read_units(no_code, column_map={"id": "code"}, level="district")
    assert units["code"].tolist() == ["1"]

    garbage = tmp_path / "garbage.geojson"
    garbage.write_text("this is not json")
    with pytest.raises(InvalidInput, match="garbage.geojson: cannot read"):
        read_units(garbage)
    with pytest.raises(InvalidInput, match="no such file"):
        read_units(tmp_path / "missing.gpkg")
    with pytest.raises(InvalidInput, match="no layer 'streets'"):
        read_units(no_code, layer="streets")
    with pytest.raises(InvalidInput, match="unknown CRS"):
        read_units(no_code, column_map={"id": "code"}, level="district", crs="EPSG:999999")
    with pytest.raises(InvalidInput, match="unknown level"):
        read_units(no_code, column_map={"id": "code"}, level="hamlet")


def _hierarchy(tmp_path: Path) -> tuple[Path, gpd.GeoDataFrame]:
    units = units_frame(
        [
            ("410102", "district", "", box_m(0, 0, 100, 100)),
            ("410102001", "street", "410102", box_m(0, 0, 100, 100)),
            ("410102001001", "community", "410102001", box_m(0, 0, 100, 100)),
            ("410102001001001", "grid", "410102001001", box_m(0, 0, 50, 100)),
            ("410102001001002", "grid", "410102001001", box_m(50, 0, 100, 100)),
        ]
    )
    path = tmp_path / "hierarchy.gpkg"
    for level, layer in [
        ("district", "districts"),
        ("street", "streets"),
        ("community", "communities"),
        ("grid", "grids"),
    ]:
        units[units.level == level].to_file(path, layer=layer, engine="pyogrio")
    units[units.level == "district"].to_file(path, layer="zones", engine="pyogrio")
    return path, units


def test_hierarchy_gpkg_reads_all_four_layers(tmp_path):
    path, original = _hierarchy(tmp_path)

    units = read_hierarchy_gpkg(path)

    assert units["code"].tolist() == original["code"].tolist()
    assert units["level"].tolist() == original["level"].tolist()
    assert units["parent_code"].tolist() == original["parent_code"].tolist()
    assert json.loads(units["attributes"].iloc[3])["worker"] == "王芳"
    assert units["code_version"].eq("2023").all()


@pytest.mark.filterwarnings("ignore:Column names longer than 10")
def test_read_many_combines_per_level_files(tmp_path):
    path, original = _hierarchy(tmp_path)
    districts = tmp_path / "districts.fgb"
    original[original.level == "district"].to_file(districts, engine="pyogrio")
    grids = tmp_path / "grids.shp"
    with pytest.warns(RuntimeWarning):  # laundered field names
        original[original.level == "grid"].drop(columns="level").to_file(grids, engine="pyogrio")

    units, _ = read_many([districts, grids])

    assert units["code"].tolist() == ["410102", "410102001001001", "410102001001002"]
    assert units["level"].tolist() == ["district", "grid", "grid"]
    # Shapefile cut the column names to 10 characters; they are recognised anyway.
    assert units["parent_code"].tolist() == ["", "410102001001", "410102001001"]
    assert units["code_version"].tolist() == ["2023"] * 3
    assert json.loads(units["attributes"].iloc[1])["office"] == "网格办"
    whole, _ = read_many([path])
    assert len(whole) == 5


def test_committed_demo_hierarchy_reads_whole():
    demo = demo_boundaries()

    units = read_hierarchy_gpkg(demo)

    assert units.groupby("level").size().to_dict() == {
        "district": 12,
        "street": 208,
        "community": 3306,
        "grid": 4744,
    }
    assert units.geometry.is_valid.all()
    grids = units[units.level == "grid"]
    assert (grids["code"].str[:12] == grids["parent_code"]).all()
    assert json.loads(grids["attributes"].iloc[0]).keys() >= {"worker", "phone", "office"}
