"""Schemathesis over our own OpenAPI: the operations of some paths, and response checks
(no 5xx, only documented status codes, bodies of the documented shape)."""

from __future__ import annotations

from collections.abc import Callable

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

#: what the OpenAPI promises: no 5xx, only documented statuses, bodies of the documented shape
CONFORMANCE = (
    not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.response_schema_conformance,
)


def operations_of(app, path_regex: str) -> dict:
    """The app's OpenAPI operations whose path matches, keyed ``"METHOD /path"``."""
    schema = schemathesis.openapi.from_asgi("/api", app).include(path_regex=path_regex)
    found = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        found[f"{operation.method.upper()} {operation.path}"] = operation
    return found


def assert_conforms(
    operation,
    examples: int,
    prepare: Callable | None = None,
    headers: dict | None = None,
    checks: tuple = CONFORMANCE,
) -> None:
    """Generate ``examples`` derandomised cases of ``operation``; each answer must pass
    ``checks`` (by default :data:`CONFORMANCE`).

    ``prepare(case)`` may adjust a case (e.g. point it at a real id) before the call.
    """

    @given(case=operation.as_strategy())
    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def call(case):
        if prepare is not None:
            prepare(case)
        response = case.call(headers=headers)
        case.validate_response(response, checks=list(checks), headers=headers)

    call()
