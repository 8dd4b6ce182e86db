"""``cityaware import`` and ``cityaware export`` against a data directory (the store's CLI)."""

from __future__ import annotations

import json

import geopandas as gpd
import pandas as pd
import pyarrow.parquet as pq
import pyogrio
import pytest

from cityaware.api.cli import main
from tests.geo.store import sample, synthetic
from tests.units import staged


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("CITYAWARE_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    return staged(tmp_path, synthetic.units())


def test_import_then_export_every_format(data_dir, capsys):
    frame = sample.incidents(120)
    frame.loc[3, "category"] = "ufo"
    frame.rename(columns={"lon": "lng"}).to_csv(data_dir / "calls.csv", index=False)
    code = main(
        [
            "import",
            "incidents",
            str(data_dir / "calls.csv"),
            "--crs",
            "WGS84",
            "--lon-col",
            "lng",
            "--data-dir",
            str(data_dir),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "imported 119 incidents, rejected 1" in out and "calls.rejected.csv" in out
    rejected = pd.read_csv(data_dir / "calls.rejected.csv")
    assert list(rejected.row) == [4] and "unknown category 'ufo'" in rejected.reason[0]

    kept = frame.drop(index=3)
    grids = pd.Series(sample.oracle_grid(kept.lon, kept.lat), index=kept.index).fillna("")
    expected = set(kept.id[grids.str.startswith("410105") & (kept.category == "road_damage")])
    assert expected
    for fmt in ("geojson", "csv", "gpkg", "parquet"):
        target = data_dir / f"out.{fmt}"
        code = main(
            [
                "export",
                "incidents",
                "-o",
                str(target),
                "--region",
                "410105",
                "--category",
                "road_damage",
                "--data-dir",
                str(data_dir),
            ]
        )
        assert code == 0
        assert f"exported {len(expected)} incidents" in capsys.readouterr().out
        readers = {"csv": pd.read_csv, "parquet": gpd.read_parquet}
        read = readers.get(fmt, pyogrio.read_dataframe)(target)
        assert set(read["id"]) == expected, fmt
        assert set(read["district_code"].astype(str)) == {"410105"}
    geo = json.loads((data_dir / "out.geojson").read_text())
    assert geo["features"][0]["geometry"]["type"] == "Point"
    parquet = gpd.read_parquet(data_dir / "out.parquet")
    assert parquet.crs.to_epsg() == 4326 or "CRS84" in parquet.crs.to_string()
    assert pq.read_schema(data_dir / "out.parquet").field("reported_at").type.unit == "ms"


def test_export_boundaries_and_errors(data_dir, capsys):
    assert (
        main(["export", "grids", "-o", str(data_dir / "g.gpkg"), "--data-dir", str(data_dir)]) == 0
    )
    assert len(pyogrio.read_dataframe(data_dir / "g.gpkg")) == 16
    capsys.readouterr()
    assert (
        main(
            [
                "import",
                "incidents",
                str(data_dir / "none.csv"),
                "--crs",
                "WGS84",
                "--data-dir",
                str(data_dir),
            ]
        )
        == 2
    )
    assert "no such file" in capsys.readouterr().err
    assert main(["import", "cameras", str(data_dir / "x.csv"), "--data-dir", str(data_dir)]) == 2
    assert "needs --crs" in capsys.readouterr().err
    assert (
        main(["export", "incidents", "-o", str(data_dir / "o.txt"), "--data-dir", str(data_dir)])
        == 2
    )
    assert "--format" in capsys.readouterr().err
