"""CQL2 filters of a request: parsed and validated by the ``cql2`` package into its JSON tree.

Never SQL from user text: the tree goes down as it is, compiled by
:func:`geo.predicates.compile_filter` to pandas masks (boundary collections)
or by the store to its own columns (``FeatureFilter(cql2=tree)``, see
:mod:`geo.store.cql2`).

>>> import pandas as pd
>>> from cityaware.geo.predicates import FrameTarget, compile_filter
>>> frame = pd.DataFrame({"name": ["a", "b"], "n": [1, 5]})
>>> tree = parse_filter("n > 2 AND name LIKE 'b%'")
>>> compile_filter(tree, FrameTarget(frame, {"name", "n"})).tolist()
[False, True]
"""

from __future__ import annotations

from typing import Any

import cql2

from cityaware.geo.errors import InvalidInput
from cityaware.geo.predicates import CqlTree

FILTER_LANGS = ("cql2-text", "cql2-json")


def parse_filter(text: str | None, lang: str | None = None) -> CqlTree | None:
    """Parse a ``filter`` parameter into the CQL2 JSON AST (``None`` when empty).

    >>> parse_filter("status = 'open'")
    {'op': '=', 'args': [{'property': 'status'}, 'open']}
    """
    if text is None or not text.strip():
        return None
    lang = lang or "cql2-text"
    if lang not in FILTER_LANGS:
        raise InvalidInput(f"filter-lang {lang!r} is not supported; use one of {FILTER_LANGS}")
    try:
        expr = cql2.parse_json(text) if lang == "cql2-json" else cql2.parse_text(text)
        expr.validate()
        return expr.to_json()
    except Exception as error:  # cql2 raises plain Exception, ParseError or ValidationError
        first_lines = " ".join(str(error).split())[:300]
        raise InvalidInput(f"filter is not valid {lang}: {first_lines}") from None


def with_equalities(
    ast: CqlTree | None, pairs: dict[str, str], fields: dict[str, dict[str, Any]]
) -> CqlTree | None:
    """AND ``name = value`` for each query parameter named after a queryable (Part 3
    queryables-query-parameters), typed by the queryable's JSON Schema.

    >>> with_equalities(None, {"n": "2"}, {"n": {"type": "number"}})
    {'op': '=', 'args': [{'property': 'n'}, 2.0]}
    """
    terms = [
        {"op": "=", "args": [{"property": name}, _typed(name, value, fields[name])]}
        for name, value in pairs.items()
        if name in fields
    ]
    if ast is not None:
        terms.insert(0, ast)
    if len(terms) <= 1:
        return terms[0] if terms else None
    return {"op": "and", "args": terms}


def _typed(name: str, value: str, schema: dict[str, Any]) -> Any:
    kind = schema.get("type")
    try:
        if kind == "number":
            return float(value)
        if kind == "integer":
            return int(value)
    except ValueError:
        raise InvalidInput(f"{name}={value!r} is not a {kind}") from None
    if kind == "boolean":
        if value.lower() not in ("true", "false"):
            raise InvalidInput(f"{name}={value!r} must be true or false")
        return value.lower() == "true"
    if schema.get("format") == "date-time":
        return {"timestamp": value}
    return value
