"""Schemathesis against the OpenAPI of the service routes: no input makes a server error.

Requests carry the admin key, so writes run too (against the synthetic city).
Each operation gets a bounded, derandomised number of generated cases.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.api.service.conftest import ADMIN_KEY

SERVICE_PATHS = r"^/(v1/(locate|nearest|incidents)|open311/v2/)"
EXAMPLES = 30


@pytest.fixture(scope="module")
def operations(app):
    schema = schemathesis.openapi.from_asgi("/api", app).include(path_regex=SERVICE_PATHS)
    found = [result.ok() for result in schema.get_all_operations()]
    assert len(found) >= 10  # locate x2, nearest, incidents x3, open311 x5
    return found


def test_no_generated_request_makes_a_server_error(operations):
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def call(case):
            response = case.call(headers={"X-API-Key": ADMIN_KEY})
            assert response.status_code < 500, (
                f"{case.method} {case.formatted_path} {case.query} {case.body!r}: {response.text}"
            )

        call()
