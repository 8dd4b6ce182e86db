"""Collections, one collection and queryables (common-2 collections, features-3 queryables)."""

from __future__ import annotations

from cityaware.api.ogc.crs import SUPPORTED_CRS

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"


def test_collections_are_listed_with_simple_ids_crs_and_extent(client):
    body = client.get("/collections").json()
    ids = [c["id"] for c in body["collections"]]
    assert ids == [
        "cities",
        "districts",
        "streets",
        "communities",
        "grids",
        "incidents",
        "cameras",
        "sensors",
    ]
    for collection in body["collections"]:
        assert collection["itemType"] == "feature"
        assert collection["storageCrs"] == CRS84
        assert collection["crs"] == list(SUPPORTED_CRS)
        assert collection["extent"]["spatial"]["crs"] == CRS84
        rels = {(link["rel"], link["type"]) for link in collection["links"]}
        assert ("items", "application/geo+json") in rels


def test_collection_extent_matches_the_data(client, ctx):
    grids = client.get("/collections/grids").json()
    units = ctx.registry.units(level="grid")
    assert grids["extent"]["spatial"]["bbox"][0] == list(units.total_bounds)
    incidents = client.get("/collections/incidents").json()
    stored = [r for batch in ctx.store.iter_features("incidents") for r in batch]
    lons, lats = [r["lon"] for r in stored], [r["lat"] for r in stored]
    assert incidents["extent"]["spatial"]["bbox"][0] == [min(lons), min(lats), max(lons), max(lats)]
    times = sorted(r["reported_at"] for r in stored)
    assert incidents["extent"]["temporal"]["interval"] == [[times[0], times[-1]]]


def test_unknown_collection_is_a_404_with_a_json_body(client):
    for path in ("/collections/nope", "/collections/nope/items", "/collections/nope/queryables"):
        response = client.get(path)
        assert response.status_code == 404
        assert response.json()["code"] == "NotFound"
    missing = client.get("/collections/grids/items/000")
    assert missing.status_code == 404 and missing.json()["status"] == 404


def test_queryables_are_a_json_schema_of_the_properties(client):
    response = client.get("/collections/incidents/queryables")
    assert response.headers["content-type"] == "application/schema+json"
    schema = response.json()
    assert schema["$id"] == "http://testserver/collections/incidents/queryables"
    assert schema["properties"]["reported_at"] == {
        "type": "string",
        "format": "date-time",
        "title": "reported_at",
    }
    assert {"geometry", "category", "status", "channel", "grid_code"} <= set(schema["properties"])
    grid_schema = client.get("/collections/grids/queryables").json()
    assert {"code", "name", "parent_code"} <= set(grid_schema["properties"])
    assert "<table>" in client.get("/collections/grids/queryables?f=html").text


def test_describedby_schema_lists_every_item_property(client):
    collection = client.get("/collections/incidents").json()
    link = next(x for x in collection["links"] if x["rel"] == "describedby")
    assert link["type"] == "application/schema+json"
    schema = client.get(link["href"].replace("http://testserver", "")).json()
    item = client.get("/collections/incidents/items?limit=1").json()["features"][0]
    assert list(schema["properties"]["properties"]["properties"]) == list(item["properties"])
