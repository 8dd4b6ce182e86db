"""Checks on values decoded from JSON (request bodies, OpenAPI documents).

>>> is_number(1), is_number(2.5), is_number(True), is_number("3")
(True, True, False, False)
"""

from __future__ import annotations

from typing import TypeGuard


def is_number(value: object) -> TypeGuard[float]:
    """Whether ``value`` is a JSON number (``True`` and ``False`` are not, though Python's
    ``bool`` is an ``int``)."""
    return isinstance(value, int | float) and not isinstance(value, bool)
