"""Schemathesis over the OGC and region routes: no generated request makes a server error."""

from __future__ import annotations

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from api.app import create_app

PATHS = r"^/($|conformance|collections|v1/(regions|hotspots))"
EXAMPLES = 15


@pytest.fixture(scope="module")
def operations(ctx) -> dict:
    app = create_app(ctx=ctx)
    TestClient(app)  # builds the app's middleware stack once
    schema = schemathesis.openapi.from_asgi("/api", app).include(path_regex=PATHS)
    found = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        found[f"{operation.method.upper()} {operation.path}"] = operation
    return found


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
    "GET /v1/regions/{code}",
    "GET /v1/regions/{code}/geometry",
    "GET /v1/regions/{code}/children",
    "GET /v1/regions/{code}/features",
    "GET /v1/regions/{code}/stats",
    "GET /v1/hotspots",
]


def test_every_route_is_fuzzed(operations):
    assert sorted(operations) == sorted(OPERATIONS)


@pytest.mark.parametrize("name", OPERATIONS)
def test_no_generated_request_makes_a_server_error(operations, name):
    @given(case=operations[name].as_strategy())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def call(case):
        params = case.path_parameters or {}
        if "collectionId" in params:  # a real collection, points or polygons
            params["collectionId"] = ("incidents", "grids")[len(params["collectionId"]) % 2]
        if "code" in params and len(params["code"]) % 2:  # half the time a real unit
            params["code"] = "410105001"
        response = case.call()
        assert response.status_code < 500, (
            f"{case.method} {case.formatted_path} {case.query}: {response.text[:300]}"
        )

    call()
