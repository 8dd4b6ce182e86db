"""Schemathesis over the OGC and region routes: no generated request makes a server error."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from cityaware.api.app import create_app
from tests.fuzzing import assert_conforms, operations_of

PATHS = r"^/($|conformance|collections|tileMatrixSets|styles|v1/(regions|hotspots))"
EXAMPLES = 15


@pytest.fixture(scope="module")
def operations(ctx) -> dict:
    app = create_app(ctx=ctx)
    TestClient(app)  # builds the app's middleware stack once
    return operations_of(app, PATHS)


OPERATIONS = [
    "GET /",
    "GET /conformance",
    "GET /collections",
    "GET /collections/{collectionId}",
    "GET /collections/{collectionId}/queryables",
    "GET /collections/{collectionId}/schema",
    "GET /collections/{collectionId}/items",
    "GET /collections/{collectionId}/items/{featureId}",
    "GET /collections/{collectionId}/export",
    "POST /collections/{collectionId}/items",  # Part 4 (api/routes/devices.py)
    "PUT /collections/{collectionId}/items/{featureId}",
    "PATCH /collections/{collectionId}/items/{featureId}",
    "DELETE /collections/{collectionId}/items/{featureId}",
    "GET /v1/regions/{code}",
    "GET /v1/regions/{code}/geometry",
    "GET /v1/regions/{code}/children",
    "GET /v1/regions/{code}/features",
    "GET /v1/regions/{code}/stats",
    "GET /v1/hotspots",
    "GET /collections/incidents/items",  # one path per collection, typed queryables (QGIS)
    "GET /collections/grids/items",
    # OGC API - Tiles, TileJSON and styles (api/ogc/tiles.py)
    "GET /tileMatrixSets",
    "GET /tileMatrixSets/{tileMatrixSetId}",
    "GET /collections/{collectionId}/tiles",
    "GET /collections/{collectionId}/tiles/{tileMatrixSetId}",
    "GET /collections/{collectionId}/tiles/{tileMatrixSetId}/tilejson.json",
    "GET /collections/{collectionId}/tiles/{tileMatrixSetId}/style.json",
    "GET /collections/{collectionId}/tiles/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}",
    "GET /styles/wall/style.json",
]
# the other collections' own items paths: the same handler as the two fuzzed above
SAME_HANDLER = [
    f"GET /collections/{c}/items"
    for c in ("cities", "districts", "streets", "communities", "cameras", "sensors")
]


def test_every_route_is_fuzzed(operations):
    assert sorted(operations) == sorted(OPERATIONS + SAME_HANDLER)


def _real_targets(case) -> None:
    params = case.path_parameters or {}
    if "collectionId" in params:  # a real collection, points or polygons
        params["collectionId"] = ("incidents", "grids")[len(params["collectionId"]) % 2]
    if "tileMatrixSetId" in params and len(params["tileMatrixSetId"]) % 2:
        params["tileMatrixSetId"] = "WebMercatorQuad"
    if "code" in params and len(params["code"]) % 2:  # half the time a real unit
        params["code"] = "410105001"


@pytest.mark.parametrize("name", OPERATIONS)
def test_no_generated_request_makes_a_server_error(operations, name):
    assert_conforms(operations[name], EXAMPLES, prepare=_real_targets)
