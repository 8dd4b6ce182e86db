"""CQL2 filters: parse with the ``cql2`` package, compile its JSON AST to column expressions.

Never SQL from user text: the text is parsed by ``cql2`` into a JSON tree, and
the tree is compiled node by node into either pandas boolean masks
(:class:`FrameBackend`, for the in-memory boundary collections) or SQLAlchemy
expressions (:class:`SqlBackend`, for the feature store). Both backends share
Python's comparison operators, ``&``, ``|``, ``~`` and ``.between``.

>>> import pandas as pd
>>> frame = pd.DataFrame({"name": ["a", "b"], "n": [1, 5]})
>>> ast = parse_filter("n > 2 AND name LIKE 'b%'")
>>> compile_filter(ast, FrameBackend(frame, {"name", "n"})).tolist()
[False, True]
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any, Protocol

import cql2
import pandas as pd
import shapely
from shapely.geometry import shape

from cityaware.geo.errors import InvalidInput

FILTER_LANGS = ("cql2-text", "cql2-json")
_COMPARISONS: dict[str, Callable[[Any, Any], Any]] = {
    "=": lambda a, b: a == b,
    "<>": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}
SPATIAL_OPS = ("s_intersects", "s_within", "s_contains", "s_disjoint")


class Backend(Protocol):
    """What a target (pandas frame, SQL table) must provide beyond Python operators."""

    def column(self, name: str) -> Any: ...
    def like(self, column: Any, pattern: str) -> Any: ...
    def isin(self, column: Any, values: list[Any]) -> Any: ...
    def is_null(self, column: Any) -> Any: ...
    def spatial(self, op: str, geometry: shapely.Geometry) -> Any: ...
    def literal(self, prop: str | None, value: Any) -> Any: ...


def parse_filter(text: str | None, lang: str | None = None) -> dict[str, Any] | None:
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
    ast: dict[str, Any] | None, pairs: dict[str, str], fields: dict[str, dict[str, Any]]
) -> dict[str, Any] | None:
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


def compile_filter(ast: dict[str, Any], backend: Backend) -> Any:
    """Compile a CQL2 JSON AST into the backend's boolean expression."""
    return _Compiler(backend).node(ast)


class _Compiler:
    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def node(self, node: Any) -> Any:
        if isinstance(node, bool):
            return node
        if not isinstance(node, dict) or "op" not in node:
            raise InvalidInput(f"filter: expected a predicate, got {node!r}")
        op, args = node["op"].lower(), node.get("args", [])
        if op in ("and", "or"):
            parts = [self.node(arg) for arg in args]
            result = parts[0]
            for part in parts[1:]:
                result = (result & part) if op == "and" else (result | part)
            return result
        if op == "not":
            return ~self.node(args[0])
        prop = _first_property(args)
        if op in _COMPARISONS:
            left, right = self.value(args[0], prop), self.value(args[1], prop)
            try:
                return _COMPARISONS[op](left, right)
            except TypeError:
                raise InvalidInput(f"filter: cannot compare {args[0]!r} with {args[1]!r}") from None
        if op == "like":
            return self.backend.like(self.value(args[0]), str(self.value(args[1])))
        if op == "between":
            low, high = self.value(args[1], prop), self.value(args[2], prop)
            return self.value(args[0]).between(low, high)
        if op == "in":
            values = [self.value(v, prop) for v in args[1]]
            return self.backend.isin(self.value(args[0]), values)
        if op == "isnull":
            return self.backend.is_null(self.value(args[0]))
        if op in SPATIAL_OPS:
            return self.spatial(op, args)
        raise InvalidInput(f"filter: operator {node['op']!r} is not supported")

    def spatial(self, op: str, args: list[Any]) -> Any:
        prop, literal = args
        if isinstance(prop, dict) and "property" not in prop:
            prop, literal = literal, prop
            op = {"s_within": "s_contains", "s_contains": "s_within"}.get(op, op)
        if not (isinstance(prop, dict) and "property" in prop):
            raise InvalidInput(f"filter: {op} needs the geometry property and a geometry literal")
        self.backend.column(prop["property"])  # checks that it is a queryable
        return self.backend.spatial(op, _geometry(literal))

    def value(self, node: Any, prop: str | None = None) -> Any:
        if isinstance(node, dict):
            if "property" in node:
                return self.backend.column(node["property"])
            if "op" in node:
                raise InvalidInput(f"filter: {node['op']!r} cannot be used as a value")
            if "timestamp" in node:
                node = pd.Timestamp(node["timestamp"]).tz_convert("UTC")
            elif "date" in node:
                node = pd.Timestamp(node["date"], tz="UTC")
        return self.backend.literal(prop, node)


def _first_property(args: list[Any]) -> str | None:
    for arg in args:
        if isinstance(arg, dict) and "property" in arg:
            return arg["property"]
    return None


def _geometry(node: Any) -> shapely.Geometry:
    try:
        if isinstance(node, dict) and "bbox" in node:
            values = node["bbox"]
            corners = values if len(values) == 4 else [values[0], values[1], values[3], values[4]]
            return shapely.box(*corners)
        return shape(node)
    except Exception:
        raise InvalidInput(f"filter: {node!r} is not a geometry literal") from None


def like_to_regex(pattern: str) -> str:
    """Translate a CQL2 LIKE pattern (``%``, ``_``, ``\\`` escape) to a full-match regex.

    >>> like_to_regex("a_c%")
    'a.c.*'
    """
    out, escaped = [], False
    for char in pattern:
        if escaped:
            out.append(re.escape(char))
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "%":
            out.append(".*")
        elif char == "_":
            out.append(".")
        else:
            out.append(re.escape(char))
    return "".join(out)


class FrameBackend:
    """Evaluate filters as boolean masks over a (Geo)DataFrame's columns."""

    def __init__(self, frame: pd.DataFrame, queryables: Iterable[str]) -> None:
        self.frame = frame
        self.queryables = set(queryables)

    def column(self, name: str) -> Any:
        if name not in self.queryables:
            raise InvalidInput(f"filter: {name!r} is not a queryable; see /queryables")
        if name == "geometry":
            return self.frame.geometry
        return self.frame[name]

    def like(self, column: pd.Series, pattern: str) -> pd.Series:
        return column.astype("string").str.fullmatch(like_to_regex(pattern)).fillna(False)

    def isin(self, column: pd.Series, values: list[Any]) -> pd.Series:
        return column.isin(values)

    def is_null(self, column: pd.Series) -> pd.Series:
        return column.isna()

    def literal(self, prop: str | None, value: Any) -> Any:
        return value

    def spatial(self, op: str, geometry: shapely.Geometry) -> pd.Series:
        predicate = {
            "s_intersects": "intersects",
            "s_within": "within",
            "s_contains": "contains",
            "s_disjoint": "intersects",
        }[op]
        hits = self.frame.sindex.query(geometry, predicate=_reversed(predicate))
        mask = pd.Series(self.frame.index.isin(self.frame.index[hits]), index=self.frame.index)
        return ~mask if op == "s_disjoint" else mask


def _reversed(predicate: str) -> str:
    """STRtree tests ``geometry <predicate> row``; CQL2 asks ``row <predicate> geometry``."""
    return {"within": "contains", "contains": "within"}.get(predicate, predicate)


class SqlBackend:
    """Compile filters into SQLAlchemy clauses over known columns (bound parameters only).

    ``time_columns`` hold epoch milliseconds: timestamp literals compared with
    them become integers. ``spatial(op, geometry)`` builds the spatial clause.
    """

    def __init__(
        self,
        columns: dict[str, Any],
        time_columns: Iterable[str],
        spatial: Callable[[str, shapely.Geometry], Any],
    ) -> None:
        self.columns = columns
        self.time_columns = set(time_columns)
        self._spatial = spatial

    def column(self, name: str) -> Any:
        if name not in self.columns:
            raise InvalidInput(f"filter: {name!r} is not a queryable; see /queryables")
        return self.columns[name]

    def like(self, column: Any, pattern: str) -> Any:
        return column.like(pattern, escape="\\")

    def isin(self, column: Any, values: list[Any]) -> Any:
        return column.in_(values)

    def is_null(self, column: Any) -> Any:
        return column.is_(None)

    def spatial(self, op: str, geometry: shapely.Geometry) -> Any:
        return self._spatial(op, geometry)

    def literal(self, prop: str | None, value: Any) -> Any:
        if prop in self.time_columns and isinstance(value, pd.Timestamp):
            return int(value.value // 1_000_000)
        if prop in self.time_columns and isinstance(value, str):
            raise InvalidInput(f"filter: compare {prop!r} with TIMESTAMP('...') or DATE('...')")
        return value
