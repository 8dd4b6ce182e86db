"""Schemathesis against the OpenAPI of the service routes: no input makes a server error.

Requests carry the admin key, so writes run too (against the synthetic city).
Each operation gets a bounded, derandomised number of generated cases.
"""

from __future__ import annotations

import pytest

from tests.api.service.conftest import ADMIN_KEY
from tests.fuzzing import assert_conforms, operations_of

SERVICE_PATHS = r"^/(v1/(locate|nearest|incidents)|open311/v2/)"
EXAMPLES = 30
OPERATIONS = [
    "GET /v1/locate",
    "POST /v1/locate",
    "GET /v1/nearest",
    "POST /v1/incidents",
    "GET /v1/incidents/{incident_id}",
    "PATCH /v1/incidents/{incident_id}",
    "POST /v1/incidents/{incident_id}/reply",
    "POST /v1/incidents/{incident_id}/callback",
    "POST /v1/incidents/{incident_id}/escalate",
    *(
        f"{method} /open311/v2/{path}.{fmt}"
        for fmt in ("json", "xml")
        for method, path in (
            ("GET", "discovery"),
            ("GET", "services"),
            ("GET", "services/{service_code}"),
            ("GET", "requests"),
            ("POST", "requests"),
            ("GET", "requests/{service_request_id}"),
            ("GET", "tokens/{token}"),
        )
    ),  # fmt: skip
]


@pytest.fixture(scope="module")
def operations(app) -> dict:
    found = operations_of(app, SERVICE_PATHS)
    assert sorted(found) == sorted(OPERATIONS)  # every service route is fuzzed
    return found


@pytest.mark.parametrize("name", OPERATIONS)
def test_no_generated_request_makes_a_server_error(operations, name):
    assert_conforms(operations[name], EXAMPLES, headers={"X-API-Key": ADMIN_KEY})
