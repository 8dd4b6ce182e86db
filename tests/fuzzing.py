"""Schemathesis over our own OpenAPI: the operations of some paths, and a no-5xx check."""

from __future__ import annotations

from collections.abc import Callable

import schemathesis
from hypothesis import HealthCheck, given, settings


def operations_of(app, path_regex: str) -> dict:
    """The app's OpenAPI operations whose path matches, keyed ``"METHOD /path"``."""
    schema = schemathesis.openapi.from_asgi("/api", app).include(path_regex=path_regex)
    found = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        found[f"{operation.method.upper()} {operation.path}"] = operation
    return found


def assert_no_server_error(
    operation, examples: int, prepare: Callable | None = None, headers: dict | None = None
) -> None:
    """Generate ``examples`` derandomised cases of ``operation``; none may answer 5xx.

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
        assert response.status_code < 500, (
            f"{case.method} {case.formatted_path} {case.query} {case.body!r}: {response.text[:300]}"
        )

    call()
