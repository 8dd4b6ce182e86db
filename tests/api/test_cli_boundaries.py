"""``cityaware boundaries``: import, list, activate, diff, validate, and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from cityaware.api.cli import main
from cityaware.geo.boundaries.generations import BoundaryRegistry


def _write_units(path, codes, boxes):
    geoms = [shapely.box(113.6 + x0, 34.7, 113.6 + x1, 34.71) for x0, x1 in boxes]
    frame = gpd.GeoDataFrame({"code": codes, "name": codes}, geometry=geoms, crs="EPSG:4326")
    frame.to_file(path, engine="pyogrio")
    return path


@pytest.fixture
def files(tmp_path):
    district = _write_units(tmp_path / "district.geojson", ["410102"], [(0, 0.02)])
    streets = _write_units(
        tmp_path / "streets.gpkg", ["410102001", "410102002"], [(0, 0.012), (0.01, 0.02)]
    )
    return district, streets


def test_import_list_activate_diff(tmp_path, files, capsys):
    data = str(tmp_path / "data")
    district, streets = files

    assert main(["boundaries", "import", str(district), str(streets), "--data-dir", data]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1].startswith("staged g0001, inactive")
    assert "4 units: 1 overlaps" in out[-1]  # and the city 410100, derived

    args = ["boundaries", "import", str(district), "--activate", "--note", "only D"]
    assert main([*args, "--data-dir", data]) == 0
    assert capsys.readouterr().out.strip().startswith("staged g0002, active")

    registry = BoundaryRegistry(tmp_path / "data" / "boundaries")
    assert registry.active() == "g0002"
    assert registry.generations()[1]["note"] == "only D"

    assert main(["boundaries", "list", "--data-dir", data]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing[0].startswith("  g0001") and listing[1].startswith("* g0002")

    assert main(["boundaries", "activate", "g0001", "--data-dir", data]) == 0
    assert "g0001 (was g0002)" in capsys.readouterr().out
    assert registry.active() == "g0001"

    assert main(["boundaries", "diff", "g0001", "g0002", "--json", "--data-dir", data]) == 0
    out = capsys.readouterr().out
    diff = json.loads(out[: out.rindex("}") + 1])
    assert diff["removed"] == ["410102001", "410102002"] and diff["added"] == []
    assert (
        out.strip().splitlines()[-1] == "g0001 -> g0002: 0 added, 2 removed, 0 changed, 0 updated"
    )


def test_validate_writes_a_json_report(tmp_path, files, capsys):
    report_path = tmp_path / "report.json"
    district, streets = files

    assert (
        main(["boundaries", "validate", str(district), str(streets), "-o", str(report_path)]) == 0
    )
    report = json.loads(report_path.read_text())
    assert report["counts"]["overlap"] == 1
    overlap = shapely.box(113.61, 34.7, 113.612, 34.71)
    assert overlap.contains(shapely.Point(report["findings"][0]["location"]))
    assert capsys.readouterr().out.startswith("3 units: 1 overlaps")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["boundaries", "import", "{tmp}/missing.gpkg"], "missing.gpkg: no such file"),
        (["boundaries", "activate", "g0007"], "boundary generation 'g0007' not found"),
        (["boundaries", "diff", "g0001", "g0002"], "'g0001' not found"),
        (["boundaries", "validate", "{tmp}/district.geojson", "--level", "zone"], "unknown level"),
    ],
)
def test_errors_are_one_line(tmp_path, files, capsys, argv, message):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert main([*argv, *(["--data-dir", str(tmp_path)] if argv[1] != "validate" else [])]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and message in err[-1]
    assert not any("Traceback" in line for line in err)


def test_import_maps_columns_and_code_version(tmp_path, capsys):
    square = shapely.box(113.6, 34.7, 113.61, 34.71)
    frame = gpd.GeoDataFrame({"网格编码": ["410102"], "名称": ["中原区"]}, geometry=[square])
    path = tmp_path / "renamed.gpkg"
    frame.set_crs("EPSG:4326").to_file(path, engine="pyogrio")
    argv = ["boundaries", "import", str(path), "--column", "网格编码=code", "--column", "名称=name"]
    data = ["--code-version", "2023", "--data-dir", str(tmp_path / "data")]

    assert main([*argv, *data]) == 0

    units = BoundaryRegistry(tmp_path / "data" / "boundaries").units("g0001")
    assert units[["code", "name", "code_version"]].values.tolist() == [
        ["410102", "中原区", "2023"],
        ["410100", "", "2023"],  # the derived city: no name without a division list
    ]
    assert main(["boundaries", "import", str(path), "--column", "oops"]) == 2
    assert "--column wants SOURCE=TARGET" in capsys.readouterr().err


def test_activation_reassigns_stored_features(tmp_path, capsys):
    """Features keep the grid they were routed with until a new generation is activated."""
    from cityaware.api.context import AppContext
    from cityaware.api.settings import Settings

    data = tmp_path / "data"
    old = _write_units(tmp_path / "old.gpkg", ["410102001001001"], [(0, 0.02)])
    new = _write_units(
        tmp_path / "new.gpkg", ["410102001001002", "410102001001003"], [(0, 0.01), (0.01, 0.02)]
    )
    assert main(["boundaries", "import", str(old), "--activate", "--data-dir", str(data)]) == 0
    store = AppContext(Settings(data_dir=data)).store
    added = store.add("cameras", {"id": "c1", "lon": 113.605, "lat": 34.705})
    assert (added["grid_code"], added["generation"]) == ("410102001001001", "g0001")

    assert main(["boundaries", "import", str(new), "--data-dir", str(data)]) == 0
    assert store.get("cameras", "c1")["grid_code"] == "410102001001001"  # staged: not yet live
    assert main(["boundaries", "activate", "g0002", "--data-dir", str(data)]) == 0
    assert "re-assigned 1 stored features" in capsys.readouterr().err

    expected = AppContext(Settings(data_dir=data)).locator.locate(113.605, 34.705).grid_code
    moved = store.get("cameras", "c1")
    assert (moved["grid_code"], moved["generation"]) == (expected, "g0002")
    assert expected == "410102001001002"
    history = store.history("cameras", "c1")["assignments"]
    assert history[-1]["grid_code"] == "410102001001001"


DATA = Path(__file__).resolve().parents[1] / "data"


def test_outlines_and_a_division_list_import_as_one_generation(tmp_path, capsys):
    """Two cities' files (one a GBK Shapefile without .cpg) and an NBS division list."""
    data = str(tmp_path / "data")
    files = [DATA / "kaifeng-districts-gk.gpkg", DATA / "luoyang-districts-gbk.shp"]
    argv = ["boundaries", "import", *map(str, files), str(DATA / "kaifeng-divisions.csv")]

    assert main([*argv, "--activate", "--data-dir", data]) == 0

    assert capsys.readouterr().out.startswith("staged g0001, active")
    registry = BoundaryRegistry(tmp_path / "data" / "boundaries")
    cities = registry.units(level="city").set_index("code")["name"].to_dict()
    assert cities == {"410200": "开封市", "410300": ""}
    divisions = pd.read_csv(DATA / "kaifeng-divisions.csv", dtype=str)
    below = divisions[~divisions["level"].isin(["city", "county"])]
    assert sorted(registry.divisions()["code"]) == sorted(below["code"])


def test_a_north_first_file_is_refused_with_a_hint_and_read_with_swap_axes(tmp_path, capsys):
    data = str(tmp_path / "data")
    north_first = str(DATA / "kaifeng-districts-gk-northfirst.gpkg")

    assert main(["boundaries", "import", north_first, "--data-dir", data]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error: ") and "northing-first" in err and "--swap-axes" in err

    assert main(["boundaries", "import", north_first, "--swap-axes", "--data-dir", data]) == 0
    assert capsys.readouterr().out.startswith("staged g0001")


def test_implausible_outlines_need_force_and_then_warn(tmp_path, capsys):
    data = str(tmp_path / "data")
    pacific = _write_units(tmp_path / "pacific.geojson", ["410102"], [(60.0, 60.1)])

    assert main(["boundaries", "import", str(pacific), "--data-dir", data]) == 2
    err = capsys.readouterr().err
    assert "outside China" in err and "--force" in err
    assert (
        not (tmp_path / "data" / "boundaries").exists()
        or not BoundaryRegistry(tmp_path / "data" / "boundaries").generations()
    )

    assert main(["boundaries", "import", str(pacific), "--force", "--data-dir", data]) == 0
    assert "WARNING (imported with --force): 410102 lies outside China" in capsys.readouterr().err


def test_a_wrong_encoding_is_a_clear_error(tmp_path, capsys):
    shp = str(DATA / "luoyang-districts-gbk.shp")
    assert main(["boundaries", "validate", shp, "--encoding", "UTF-8"]) == 2
    assert "not UTF-8" in capsys.readouterr().err
    assert (
        main(["boundaries", "validate", shp, "--encoding", "GBK", "-o", str(tmp_path / "r")]) == 0
    )
