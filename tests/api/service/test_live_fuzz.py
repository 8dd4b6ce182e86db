"""Schemathesis against the live-city routes: no generated input makes a server error.

Requests carry the admin key, so writes run too (thresholds, fences, deletions).
Hook creation is left out: a generated URL would be delivered to.
"""

from __future__ import annotations

import pytest

from tests.api.service.conftest import ADMIN_KEY
from tests.fuzzing import assert_conforms, operations_of

LIVE_PATHS = r"^/v1/(readings|thresholds|alarms|sensors|positions|objects|fences|hooks)"
EXAMPLES = 25
SKIPPED = ("POST /v1/hooks",)


@pytest.fixture(scope="module")
def operations(app) -> dict:
    return {k: v for k, v in operations_of(app, LIVE_PATHS).items() if k not in SKIPPED}


def test_every_live_route_is_fuzzed(operations):
    assert len(operations) >= 16


@pytest.mark.slow
def test_no_generated_request_makes_a_server_error(operations):
    for _, operation in sorted(operations.items()):
        assert_conforms(operation, EXAMPLES, headers={"X-API-Key": ADMIN_KEY})
