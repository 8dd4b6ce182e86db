"""Numbers typed as numbers, one geometry type per collection (clients type layers from them)."""

from __future__ import annotations

import sqlite3

import pandas as pd
import pytest
import shapely
from fastapi.testclient import TestClient

from cityaware.api.app import create_app
from tests.api.ogc.conftest import hierarchy, populated
from tests.units import staged

POLYGON_LAYERS = ["districts", "streets", "communities", "grids"]
ISLAND = shapely.box(113.71, 34.70, 113.715, 34.705)  # a second part outside the rectangle
JSON_TYPES = {"number": (int, float), "boolean": (bool,), "string": (str,)}


def mixed() -> pd.DataFrame:
    """:func:`hierarchy` with the district and one grid made MultiPolygons."""
    units = hierarchy()
    for code in ("410105", "41010500100101"):
        row = units.index[units["code"] == code][0]
        units.loc[row, "geometry"] = shapely.MultiPolygon([units.loc[row, "geometry"], ISLAND])
    return units


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    context = populated(staged(tmp_path_factory.mktemp("typed"), mixed()))
    outside = pd.DataFrame({"lon": [113.705], "lat": [34.75], "category": ["noise"]})
    context.store.bulk_import("incidents", outside, crs="EPSG:4326")  # has a distance_m
    return context


@pytest.fixture(scope="module")
def client(ctx):
    return TestClient(create_app(ctx=ctx))


def test_schema_types_follow_the_stored_column_types(client, ctx):
    path = ctx.store.backend.engine.url.database
    with sqlite3.connect(path) as db:  # the declared types of the SQLite table itself
        declared = {row[1]: row[2] for row in db.execute("PRAGMA table_info(features)")}
    expect = {"FLOAT": "number", "BOOLEAN": "boolean", "TEXT": "string"}
    for kind in ("incidents", "cameras", "sensors"):
        schema = client.get(f"/collections/{kind}/schema").json()
        properties = schema["properties"]["properties"]["properties"]
        for name, spec in properties.items():
            if spec.get("format") == "date-time":
                assert declared[name] == "BIGINT"  # epoch milliseconds
            else:
                assert spec["type"] == expect[declared[name]], name
        assert properties["distance_m"]["type"] == "number"
        queryables = client.get(f"/collections/{kind}/queryables").json()["properties"]
        assert {n: s["type"] for n, s in queryables.items() if "type" in s} == {
            n: s["type"] for n, s in properties.items()
        }


@pytest.mark.parametrize("kind", ["incidents", "cameras", "sensors"])
def test_item_properties_are_json_values_of_their_declared_type(client, kind):
    schema = client.get(f"/collections/{kind}/schema").json()["properties"]["properties"]
    schema = schema["properties"]
    features = client.get(f"/collections/{kind}/items?limit=1000").json()["features"]
    seen = set()
    for feature in features:
        for name, value in feature["properties"].items():
            if value is None:
                continue
            assert isinstance(value, JSON_TYPES[schema[name]["type"]]), (name, value)
            assert not (schema[name]["type"] == "number" and isinstance(value, bool))
            seen.add(name)
    set_number = {"incidents": "distance_m", "sensors": "reading_value"}.get(kind)
    assert set_number is None or set_number in seen  # the outside incident's distance


@pytest.mark.parametrize("layer", POLYGON_LAYERS)
def test_polygon_collections_declare_and_serve_one_geometry_type(client, ctx, layer):
    schema = client.get(f"/collections/{layer}/schema").json()
    assert schema["properties"]["geometry"]["format"] == "geometry-multipolygon"
    queryables = client.get(f"/collections/{layer}/queryables").json()
    assert queryables["properties"]["geometry"]["format"] == "geometry-multipolygon"
    features = client.get(f"/collections/{layer}/items?limit=1000").json()["features"]
    stored = ctx.registry.units(level=layer[:-1] if layer != "communities" else "community")
    stored = stored.set_index("code")
    assert sorted(f["id"] for f in features) == sorted(stored.index)
    assert {f["geometry"]["type"] for f in features} == {"MultiPolygon"}
    for feature in features:
        served = shapely.geometry.shape(feature["geometry"])
        assert served.area == pytest.approx(stored.loc[feature["id"], "geometry"].area, rel=1e-12)
        assert served.equals(stored.loc[feature["id"], "geometry"])


def test_the_fixture_really_mixes_polygons_and_multipolygons(ctx):
    types = set(ctx.registry.units(level="grid").geom_type)
    assert types == {"Polygon", "MultiPolygon"}


def test_exports_promote_too(client):
    exported = client.get("/collections/grids/export?f=geojson").json()["features"]
    assert {f["geometry"]["type"] for f in exported} == {"MultiPolygon"}
