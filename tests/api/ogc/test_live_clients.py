"""Real OGC clients against a live uvicorn: GDAL's OAPIF driver (via pyogrio) and OWSLib."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from urllib.parse import quote

import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from owslib.ogcapi.features import Features
from pyproj import Transformer

from cityaware.api.context import AppContext
from cityaware.api.settings import Settings
from cityaware.api.testing import live_server
from cityaware.geo.store import FeatureFilter
from tests.api.ogc.conftest import hierarchy, incidents_frame, staged

# one live server per worker: with --dist loadgroup (scripts/test.sh) these share a worker
pytestmark = pytest.mark.xdist_group("ogc-live")
BOUNDARY_LAYERS = ["cities", "districts", "streets", "communities", "grids"]
COLLECTIONS = [*BOUNDARY_LAYERS, "incidents", "cameras", "sensors"]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """(base URL, store) of a live server over a small hierarchy and 60 incidents."""
    data_dir = staged(tmp_path_factory.mktemp("live"))
    ctx = AppContext(Settings(data_dir=data_dir))
    ctx.store.bulk_import("incidents", incidents_frame(), crs="EPSG:4326")
    with live_server(data_dir) as url:
        yield url, ctx.store


def test_gdal_lists_every_collection(served):
    url, _ = served
    layers = pyogrio.list_layers("OAPIF:" + url)
    assert sorted(layers[:, 0]) == sorted(COLLECTIONS)


def test_gdal_pages_through_all_incidents_and_counts_match_the_store(served):
    url, store = served
    frame = pyogrio.read_dataframe("OAPIF:" + url, layer="incidents", PAGE_SIZE=7)
    assert len(frame) == store.count("incidents") == 60  # 9 pages of 7
    assert set(frame["id"]) == {f"inc{i:03d}" for i in range(60)}
    # typed from the collection's describedby JSON Schema, not guessed from a page
    assert pd.api.types.is_datetime64_any_dtype(frame["reported_at"])
    assert pd.api.types.is_float_dtype(frame["distance_m"])


def test_gdal_bbox_and_cql2_filter_match_the_store(served):
    url, store = served
    bbox = (113.60, 34.70, 113.65, 34.75)
    frame = pyogrio.read_dataframe(
        "OAPIF:" + url, layer="incidents", PAGE_SIZE=3, bbox=bbox, where="category = 'noise'"
    )
    expected = store.count("incidents", FeatureFilter(bbox=bbox, category="noise"))
    assert expected > 3  # more than one page
    assert len(frame) == expected
    assert set(frame["category"]) == {"noise"}
    assert shapely.contains_xy(shapely.box(*bbox), frame.geometry.x, frame.geometry.y).all()


def test_gdal_pages_through_a_cql2_filter_in_the_connection_url(served):
    url, store = served
    text = "status = 'closed' AND reported_at < TIMESTAMP('2026-01-20T00:00:00Z')"
    frame = pyogrio.read_dataframe(
        f"OAPIF:{url}/collections/incidents?filter={quote(text)}", PAGE_SIZE=4
    )
    expected = store.count(
        "incidents", FeatureFilter(status="closed", until="2026-01-19T23:59:59.999Z")
    )
    assert len(frame) == expected > 4
    assert set(frame["status"]) == {"closed"}


def test_gdal_reads_a_projected_crs(served):
    url, store = served
    frame = pyogrio.read_dataframe("OAPIF:" + url, layer="incidents", PAGE_SIZE=25, CRS="EPSG:4547")
    assert frame.crs.to_epsg() == 4547
    stored = {r["id"]: (r["lon"], r["lat"]) for b in store.iter_features("incidents") for r in b}
    lon, lat = np.array([stored[i] for i in frame["id"]]).T
    east, north = Transformer.from_crs("EPSG:4326", "EPSG:4547", always_xy=True).transform(lon, lat)
    np.testing.assert_allclose(frame.geometry.x, east, atol=0.01)
    np.testing.assert_allclose(frame.geometry.y, north, atol=0.01)


def test_gdal_reads_boundary_polygons(served):
    url, _ = served
    frame = pyogrio.read_dataframe("OAPIF:" + url, layer="grids", PAGE_SIZE=3)
    expected = hierarchy().query("level == 'grid'").set_index("code")
    assert sorted(frame["code"]) == sorted(expected.index)
    for code, geometry in zip(frame["code"], frame.geometry, strict=True):
        assert geometry.equals(expected.loc[code, "geometry"])


def test_owslib_reads_landing_conformance_collections_and_items(served):
    url, store = served
    client = Features(url)
    assert any(link["rel"] == "service-desc" for link in client.links)
    conforms = client.conformance()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in conforms
    assert sorted(client.feature_collections()) == sorted(COLLECTIONS)
    assert client.collection("incidents")["itemType"] == "feature"
    page = client.collection_items("incidents", limit=5, filter="status = 'closed'")
    assert page["numberMatched"] == store.count("incidents", FeatureFilter(status="closed"))
    assert len(page["features"]) == 5
    assert {f["properties"]["status"] for f in page["features"]} == {"closed"}


@pytest.mark.skipif(shutil.which("ogr2ogr") is None, reason="Debian gdal-bin not installed")
def test_debian_ogr2ogr_copies_a_filtered_reprojected_layer(served, tmp_path):
    url, store = served
    out = tmp_path / "copy.gpkg"
    bbox = ("113.6", "34.7", "113.65", "34.75")
    command = ["ogr2ogr", "-f", "GPKG", str(out), "OAPIF:" + url, "incidents",
               "-oo", "PAGE_SIZE=5", "-spat", *bbox, "-where", "category = 'noise'",
               "-t_srs", "EPSG:4547"]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    frame = pyogrio.read_dataframe(out)
    expected = store.count("incidents", FeatureFilter(bbox=(113.6, 34.7, 113.65, 34.75),
                                                      category="noise"))  # fmt: skip
    assert len(frame) == expected > 0
    assert frame.crs.to_epsg() == 4547 and frame.total_bounds[0] > 400_000


@pytest.mark.skipif(shutil.which("ogrinfo") is None, reason="Debian gdal-bin not installed")
def test_debian_ogrinfo_counts_a_bbox_on_default_options_in_seconds(served):
    url, store = served
    bbox = (113.6, 34.7, 113.65, 34.75)
    command = ["ogrinfo", "-ro", "-so", "-spat", *map(str, bbox), "OAPIF:" + url, "incidents"]
    started = time.perf_counter()
    done = subprocess.run(command, check=True, capture_output=True, text=True, timeout=120)
    elapsed = time.perf_counter() - started
    count = int(re.search(r"Feature Count: (\d+)", done.stdout).group(1))
    assert count == store.count("incidents", FeatureFilter(bbox=bbox)) > 0
    assert elapsed < 30  # it used to page through every match, 10 at a time


@pytest.mark.skipif(shutil.which("ogrinfo") is None, reason="Debian gdal-bin not installed")
def test_debian_ogrinfo_types_fields_from_the_schema_and_one_geometry_type(served):
    """distance_m is null on every served incident: only the schema can make it Real."""
    url, store = served
    assert store.frame("incidents", ["distance_m"])["distance_m"].isna().all()

    def ogrinfo(layer: str) -> str:
        command = ["ogrinfo", "-ro", "-so", "OAPIF:" + url, layer]
        done = subprocess.run(command, check=True, capture_output=True, text=True, timeout=60)
        return done.stdout

    incidents = ogrinfo("incidents")
    assert re.search(r"^distance_m: Real", incidents, re.M), incidents
    assert re.search(r"^reported_at: DateTime", incidents, re.M)
    sensors = ogrinfo("sensors")
    assert re.search(r"^reading_value: Real", sensors, re.M), sensors
    assert re.search(r"^online: Integer\(Boolean\)", sensors, re.M), sensors
    for layer in ("districts", "grids"):
        assert "Geometry: Multi Polygon" in ogrinfo(layer)
