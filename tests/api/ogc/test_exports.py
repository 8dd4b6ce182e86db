"""Exports of any collection and filter, read back with pyogrio (GeoParquet: geopandas, since
the pyogrio wheel's GDAL has no Parquet driver)."""

from __future__ import annotations

import io
import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest

from cityaware.api.ogc import exports

FILTER = {"filter": "category = 'noise'"}


@pytest.fixture(scope="module")
def noise(ctx) -> pd.DataFrame:
    rows = [r for b in ctx.store.iter_features("incidents") for r in b if r["category"] == "noise"]
    return pd.DataFrame(rows).set_index("id")


@pytest.fixture(autouse=True)
def small_batches(monkeypatch):
    """Force several batches so appending and streaming across batches is exercised."""
    monkeypatch.setattr(exports, "BATCH_SIZE", 4)


def _check_points(frame: gpd.GeoDataFrame, noise: pd.DataFrame) -> None:
    assert sorted(frame["id"]) == sorted(noise.index)
    assert set(frame["category"]) == {"noise"}
    expected = noise.loc[frame["id"]]
    np.testing.assert_allclose(frame.geometry.x, expected["lon"], atol=1e-9)
    np.testing.assert_allclose(frame.geometry.y, expected["lat"], atol=1e-9)


def test_gpkg_export_reads_back_with_pyogrio(client, noise, tmp_path):
    response = client.get("/collections/incidents/items", params={**FILTER, "f": "gpkg"})
    assert response.headers["content-type"] == "application/geopackage+sqlite3"
    path = tmp_path / "out.gpkg"
    path.write_bytes(response.content)
    assert pyogrio.list_layers(path)[:, 0].tolist() == ["incidents"]
    frame = pyogrio.read_dataframe(path)
    assert frame.crs.to_epsg() == 4326
    _check_points(frame, noise)


def test_csv_export_reads_back_with_pyogrio(client, noise, tmp_path):
    response = client.get("/collections/incidents/export", params={**FILTER, "f": "csv"})
    assert response.headers["content-type"].startswith("text/csv")
    assert response.text.count("\nid,") == 0  # one header line across batches
    path = tmp_path / "out.csv"
    path.write_bytes(response.content)
    frame = pyogrio.read_dataframe(path, GEOM_POSSIBLE_NAMES="wkt", KEEP_GEOM_COLUMNS="NO")
    _check_points(frame, noise)


def test_parquet_export_is_geoparquet(client, noise, tmp_path):
    response = client.get("/collections/incidents/items", params={**FILTER, "f": "parquet"})
    path = tmp_path / "out.parquet"
    path.write_bytes(response.content)
    frame = gpd.read_parquet(path)
    assert frame.crs.to_epsg() == 4326
    _check_points(frame, noise)
    assert str(frame["reported_at"].dtype).startswith("datetime64")


def test_geojson_export_streams_every_match(client, noise, tmp_path):
    response = client.get("/collections/incidents/export", params=FILTER)
    assert response.headers["content-type"] == "application/geo+json"
    assert response.headers["content-crs"] == "<http://www.opengis.net/def/crs/OGC/1.3/CRS84>"
    path = tmp_path / "out.geojson"
    path.write_bytes(response.content)
    _check_points(pyogrio.read_dataframe(path), noise)
    assert len(json.loads(response.content)["features"]) == len(noise)


def test_exports_honour_crs_and_boundary_filters(client, tmp_path):
    response = client.get(
        "/collections/grids/export",
        params={"f": "gpkg", "crs": "EPSG:4547", "filter": "parent_code = '410105001001'"},
    )
    path = tmp_path / "grids.gpkg"
    path.write_bytes(response.content)
    frame = pyogrio.read_dataframe(path)
    assert frame.crs.to_epsg() == 4547
    assert sorted(frame["code"]) == ["41010500100101", "41010500100102"]
    assert frame.total_bounds[0] > 400_000  # easting first: GIS order in files


def test_empty_export_still_has_a_schema(client, tmp_path):
    response = client.get("/collections/incidents/items", params={"f": "csv", "filter": "1 = 0"})
    header = pd.read_csv(io.StringIO(response.text))
    assert len(header) == 0 and {"id", "category", "wkt"} <= set(header.columns)
    gpkg = client.get("/collections/incidents/items", params={"f": "gpkg", "filter": "1 = 0"})
    path = tmp_path / "empty.gpkg"
    path.write_bytes(gpkg.content)
    assert len(pyogrio.read_dataframe(path)) == 0
    geojson = client.get("/collections/incidents/export", params={"filter": "1 = 0"})
    assert json.loads(geojson.content) == {"type": "FeatureCollection", "features": []}


def test_export_of_unknown_format_is_a_400(client):
    response = client.get("/collections/incidents/export", params={"f": "shp"})
    assert response.status_code == 400
    assert "export format" in response.json()["description"]


@pytest.mark.parametrize("fmt", ["geojson", "csv", "gpkg", "parquet"])
def test_bad_filter_fails_before_streaming(client, fmt):
    response = client.get("/collections/incidents/export", params={"f": fmt, "filter": "nope = 1"})
    assert response.status_code == 400
    assert "queryable" in response.json()["description"]
