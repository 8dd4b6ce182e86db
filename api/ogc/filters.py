"""CQL2 filters of a request: bounded on their text, then parsed and validated by the
``cql2`` package (in child processes, :mod:`cityaware.api.ogc.cql2_worker`) into its JSON tree.

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

import re
from typing import Any

from cityaware.api.ogc.cql2_worker import ParseFailed, ParserPool
from cityaware.geo.errors import InvalidInput
from cityaware.geo.predicates import CqlTree, parse_instant

FILTER_LANGS = ("cql2-text", "cql2-json")
MAX_FILTER_CHARS = 8192
MAX_FILTER_DEPTH = 20  # nested parentheses (cql2-text) or predicates (cql2-json)
MAX_FILTER_OPERATORS = 100
MAX_FILTER_NOTS = 8  # the parser spends ~11 MB per NOT
_TEXT_LITERALS = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"")
_JSON_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"')
_JSON_OPS = re.compile(r'"op"\s*:\s*"([^"\\]*)"')
_TEXT_OPS = re.compile(
    r"<>|<=|>=|[=<>]|\b(?:and|or|not|like|between|in|is|[sta]_[a-z]+)\b", re.IGNORECASE
)
_PARSER = ParserPool()


def filter_shape(text: str, lang: str) -> tuple[int, int, int]:
    """(nesting depth, operators, NOTs) of a filter, measured on its text without parsing.

    >>> filter_shape("(a = 1 OR NOT (b < 2)) AND c LIKE '(x'", "cql2-text")
    (2, 6, 1)
    >>> filter_shape('{"op": "not", "args": [{"op": "=", "args": [1, 1]}]}', "cql2-json")
    (2, 2, 1)
    """
    if lang == "cql2-json":
        ops = [op.lower() for op in _JSON_OPS.findall(text)]
        skeleton = _JSON_STRINGS.sub('""', text)
        opening, closing = "{", "}"
    else:
        skeleton = _TEXT_LITERALS.sub("''", text)
        ops = [op.lower() for op in _TEXT_OPS.findall(skeleton)]
        opening, closing = "([", ")]"
    depth = deepest = 0
    for char in skeleton:
        if char in opening:
            depth += 1
            deepest = max(deepest, depth)
        elif char in closing:
            depth -= 1
    return deepest, len(ops), ops.count("not")


def check_filter_size(text: str, lang: str) -> None:
    """Refuse (400, naming the limit) a filter too long, too deep or with too many operators,
    before any parser sees it.

    >>> check_filter_size("NOT " * 100 + "1=1", "cql2-text")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    cityaware.geo.errors.InvalidInput: filter has 101 operators; at most 100 are allowed
    """
    if len(text) > MAX_FILTER_CHARS:
        raise InvalidInput(
            f"filter is {len(text)} characters long; at most {MAX_FILTER_CHARS} are allowed"
        )
    depth, operators, nots = filter_shape(text, lang)
    if depth > MAX_FILTER_DEPTH:
        raise InvalidInput(f"filter nests {depth} deep; at most {MAX_FILTER_DEPTH} levels")
    if operators > MAX_FILTER_OPERATORS:
        raise InvalidInput(
            f"filter has {operators} operators; at most {MAX_FILTER_OPERATORS} are allowed"
        )
    if nots > MAX_FILTER_NOTS:
        raise InvalidInput(f"filter has {nots} NOTs; at most {MAX_FILTER_NOTS} are allowed")


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
    check_filter_size(text, lang)
    try:
        tree: CqlTree = _PARSER.parse(text, lang)
    except ParseFailed as error:
        raise InvalidInput(f"filter is not valid {lang}: {error}") from None
    return tree


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
        return {"timestamp": parse_instant(value, name).isoformat()}
    return value
