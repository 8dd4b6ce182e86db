"""locate_file on CSV, GeoPackage and GeoParquet against locate_many on the same points."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from cityaware.geo.crs import from_lonlat
from cityaware.geo.engine.files import locate_file
from cityaware.geo.engine.locator import GridLocator
from cityaware.geo.errors import InvalidInput
from tests.geo.engine.synthetic import voronoi_units

CITY = shapely.Polygon([(113.60, 34.70), (113.70, 34.69), (113.72, 34.78), (113.59, 34.77)])
N = 700


@pytest.fixture(scope="module")
def setup():
    units = voronoi_units(30, seed=8, city=CITY)
    locator = GridLocator.build(units, "files")
    rng = np.random.default_rng(2)
    lon, lat = rng.uniform(113.58, 113.73, N), rng.uniform(34.68, 34.79, N)
    return locator, lon, lat


def read_any(path):
    if path.suffix == ".csv":
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    if path.suffix == ".gpkg":
        return gpd.read_file(path)
    return gpd.read_parquet(path)


def expected_codes(locator, lon, lat, crs="WGS84"):
    return locator.locate_many(lon, lat, crs=crs).to_frame()


@pytest.mark.parametrize("source", ["csv", "gpkg", "parquet"])
@pytest.mark.parametrize("target", [".csv", ".gpkg", ".parquet"])
def test_every_format_matches_locate_many(setup, tmp_path, source, target):
    locator, lon, lat = setup
    x, y = from_lonlat(lon, lat, "GCJ-02")
    ids = [f"{i:06d}" for i in range(N)]
    if source == "csv":
        src = tmp_path / "in.csv"
        pd.DataFrame({"id": ids, "lng": x, "lat": y}).to_csv(src, index=False)
    else:
        frame = gpd.GeoDataFrame({"id": ids}, geometry=gpd.points_from_xy(x, y), crs="EPSG:4326")
        src = tmp_path / f"in.{source}"
        frame.to_file(src) if source == "gpkg" else frame.to_parquet(src)
    out = tmp_path / f"out{target}"
    ticks = []
    summary = locate_file(src, out, locator, "GCJ-02", chunk_size=128, progress=ticks.append)
    assert sum(ticks) == N and len(ticks) == -(-N // 128)
    got = read_any(out)
    want = expected_codes(locator, x, y, crs="GCJ-02")
    assert got["id"].tolist() == ids  # input columns kept, leading zeros too
    codes = got["grid_code"].replace("", None).where(got["grid_code"].notna(), None).tolist()
    assert codes == want["grid_code"].tolist()
    assert got["status"].tolist() == want["status"].tolist()
    assert got["street_code"].replace("", None).tolist() == want["street_code"].tolist()
    distance = pd.to_numeric(got["distance_m"].replace("", np.nan))
    assert np.allclose(distance, want["distance_m"], equal_nan=True)
    assert summary["points"] == N
    assert summary["inside"] == int((want["status"] == "inside").sum())


def test_bad_rows_are_kept_as_invalid_with_a_reason(setup, tmp_path):
    locator, _, _ = setup
    src = tmp_path / "bad.csv"
    src.write_text(
        "id,lon,lat\na,113.65,34.75\nb,abc,34.75\nc,34.75,113.65\nd,,34.7\ne,113.65,95\n"
    )
    out = tmp_path / "out.csv"
    summary = locate_file(src, out, locator, "WGS84")
    got = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert got["status"].tolist() == ["inside", "invalid", "invalid", "invalid", "invalid"]
    assert got["error"].tolist()[1:] == [
        "lon='abc' is not a number",
        "lon=34.75, lat=113.65: looks like latitude and longitude are swapped",
        "lon is empty",
        "lon=113.65, lat=95.0: latitude is outside [-90, 90]",
    ]
    assert summary["invalid"] == 4


def test_non_point_geometry_is_invalid_and_gauss_kruger_columns_work(setup, tmp_path):
    locator, lon, lat = setup
    x, y = from_lonlat(lon[:5], lat[:5], "EPSG:4547")
    frame = gpd.GeoDataFrame(
        {"e": x, "n": y},
        geometry=[shapely.Point(0, 0)] * 4 + [shapely.box(0, 0, 1, 1)],
        crs="EPSG:4326",
    )
    frame.to_file(tmp_path / "in.gpkg")
    locate_file(tmp_path / "in.gpkg", tmp_path / "cols.csv", locator, "EPSG:4547", "e", "n")
    by_cols = pd.read_csv(tmp_path / "cols.csv", dtype=str, keep_default_na=False)
    want = expected_codes(locator, lon[:5], lat[:5])
    assert by_cols["grid_code"].replace("", None).tolist() == want["grid_code"].tolist()
    locate_file(tmp_path / "in.gpkg", tmp_path / "geom.csv", locator, "WGS84")
    by_geom = pd.read_csv(tmp_path / "geom.csv", dtype=str, keep_default_na=False)
    assert by_geom["error"].iloc[-1] == "geometry is Polygon, not a point"


def test_errors_leave_no_partial_output(setup, tmp_path):
    locator, _, _ = setup
    src = tmp_path / "in.csv"
    src.write_text("a,b\n1,2\n")
    with pytest.raises(InvalidInput, match="no coordinate columns"):
        locate_file(src, tmp_path / "out.csv", locator, "WGS84")
    with pytest.raises(InvalidInput, match="use one of"):
        locate_file(src, tmp_path / "out.xlsx", locator, "WGS84")
    (tmp_path / "header.csv").write_text("id,lon,lat\n")
    with pytest.raises(InvalidInput, match="header.csv: no rows to locate"):
        locate_file(tmp_path / "header.csv", tmp_path / "out.csv", locator, "WGS84")
    for name in ("broken.gpkg", "broken.parquet"):
        (tmp_path / name).write_text("not really")
        with pytest.raises(InvalidInput, match=f"{name}: cannot read"):
            locate_file(tmp_path / name, tmp_path / "out.gpkg", locator, "WGS84")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(("out", "tmp"))]


def test_cli_locates_a_file_with_the_active_generation(tmp_path, capsys):
    from cityaware.api.cli import main
    from cityaware.geo.boundaries.generations import BoundaryRegistry

    units = voronoi_units(20, seed=4, city=CITY)
    registry = BoundaryRegistry(tmp_path / "boundaries")
    registry.activate(registry.stage(units, source="test"))
    src = tmp_path / "in.csv"
    src.write_text("name,lng,lat\nx,113.65,34.74\ny,34.74,113.65\n")
    out = tmp_path / "out.gpkg"
    args = ["locate", str(src), "--crs", "WGS84", "-o", str(out), "--data-dir", str(tmp_path)]
    assert main(args) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("located 2 points") and "inside 1" in line and "invalid 1" in line
    assert gpd.read_file(out)["status"].tolist() == ["inside", "invalid"]
    assert list((tmp_path / "cache").glob("grid-lookup-*/locator.json"))
    assert (
        main(["locate", str(src), "--crs", "nope", "-o", str(out), "--data-dir", str(tmp_path)])
        == 2
    )
    assert "unknown CRS 'nope'" in capsys.readouterr().err


def test_cli_locate_from_the_cache_loads_no_pandas_or_web_stack(tmp_path):
    """A file command from a cached snapshot imports only what it uses (start-up time)."""
    import json
    import subprocess
    import sys

    from cityaware.geo.boundaries.generations import BoundaryRegistry

    registry = BoundaryRegistry(tmp_path / "boundaries")
    registry.activate(registry.stage(voronoi_units(12, seed=3, city=CITY), source="test"))
    src = tmp_path / "in.csv"
    src.write_text("id,lon,lat\n1,113.65,34.74\n")
    args = ["locate", str(src), "--crs", "WGS84", "-o", str(tmp_path / "out.csv")]
    args += ["--data-dir", str(tmp_path)]
    script = (
        "import sys; from cityaware.api.cli import main; code = main(sys.argv[1:]); "
        "import json; print(json.dumps(sorted(sys.modules)))"
    )
    subprocess.run([sys.executable, "-c", script, *args], check=True, capture_output=True)
    done = subprocess.run(  # the second run opens the cached snapshot
        [sys.executable, "-c", script, *args], check=True, capture_output=True, text=True
    )
    modules = set(json.loads(done.stdout.strip().splitlines()[-1]))
    heavy = {"pandas", "geopandas", "fastapi", "sqlalchemy", "rasterio", "pyogrio", "tqdm"}
    assert not heavy & modules, heavy & modules
    assert {"numpy", "pyarrow", "shapely"} <= modules
    assert not {"pyarrow.compute", "cityaware.api.commands.serve"} & modules


def test_cli_program_exits_at_once_with_its_output_whole(tmp_path):
    """As a program, locate skips the interpreter's teardown: the summary line and the
    GeoParquet output must still be complete (compared with locate_many)."""
    import subprocess
    import sys

    from cityaware.geo.boundaries.generations import BoundaryRegistry

    units = voronoi_units(12, seed=3, city=CITY)
    registry = BoundaryRegistry(tmp_path / "boundaries")
    registry.activate(registry.stage(units, source="test"))
    rng = np.random.default_rng(5)
    lon, lat = rng.uniform(113.58, 113.73, 3000), rng.uniform(34.68, 34.79, 3000)
    src = tmp_path / "in.csv"
    pd.DataFrame({"id": np.arange(3000), "lon": lon, "lat": lat}).to_csv(src, index=False)
    out = tmp_path / "out.parquet"
    args = ["locate", str(src), "--crs", "WGS84", "-o", str(out), "--data-dir", str(tmp_path)]
    done = subprocess.run(
        [sys.executable, "-m", "cityaware.api.cli", *args],
        check=True,
        capture_output=True,
        text=True,
    )
    assert done.stdout.startswith("located 3000 points") and done.stdout.endswith("\n")
    got = gpd.read_parquet(out)
    want = GridLocator.build(units, "check").locate_many(lon, lat).to_frame()
    assert got["grid_code"].tolist() == want["grid_code"].tolist()
    assert got["status"].tolist() == want["status"].tolist()
