"""Compile a parsed CQL2 JSON tree, node by node, into a target's boolean expression.

The tree comes from the ``cql2`` parser (the API parses and validates the
request text); this module never sees user text. A :class:`Target` turns
properties, literals and the operators Python has no syntax for into its
own expressions: :class:`FrameTarget` gives pandas boolean masks (in-memory
boundary frames), :class:`cityaware.geo.store.cql2.SqlTarget` gives SQL
clauses over the feature store's columns. Both share Python's comparison
operators, ``&``, ``|``, ``~`` and ``.between``.

>>> import pandas as pd
>>> frame = pd.DataFrame({"name": ["a", "b"], "n": [1, 5]})
>>> tree = {"op": "and", "args": [{"op": ">", "args": [{"property": "n"}, 2]},
...         {"op": "like", "args": [{"property": "name"}, "b%"]}]}
>>> compile_filter(tree, FrameTarget(frame, {"name", "n"})).tolist()
[False, True]
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any, Protocol

import pandas as pd
import shapely
from shapely.geometry import shape

from cityaware.geo.errors import InvalidInput

CqlTree = dict[str, Any]
SPATIAL_OPS = ("s_intersects", "s_within", "s_contains", "s_disjoint")
_COMPARISONS: dict[str, Callable[[Any, Any], Any]] = {
    "=": lambda a, b: a == b,
    "<>": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


class Target(Protocol):
    """What a target (pandas frame, SQL table) must provide beyond Python operators."""

    def column(self, name: str) -> Any: ...
    def like(self, column: Any, pattern: str) -> Any: ...
    def isin(self, column: Any, values: list[Any]) -> Any: ...
    def is_null(self, column: Any) -> Any: ...
    def spatial(self, op: str, geometry: shapely.Geometry) -> Any: ...
    def literal(self, prop: str | None, value: Any) -> Any: ...
    def constant(self, value: bool) -> Any: ...


def unknown_queryable(name: str) -> InvalidInput:
    """The error for a filter naming a property that is not a queryable.

    >>> str(unknown_queryable("colour"))
    "filter: 'colour' is not a queryable; see /queryables"
    """
    return InvalidInput(f"filter: {name!r} is not a queryable; see /queryables")


MIN_YEAR, MAX_YEAR = 1900, 2200


def parse_instant(text: object, what: str = "datetime") -> pd.Timestamp:
    """An RFC 3339 date or date-time (naive means UTC) within years 1900-2200, in UTC; else
    a clear InvalidInput (never a pandas overflow further down).

    >>> parse_instant("2026-12-01T08:00:00+08:00").isoformat()
    '2026-12-01T00:00:00+00:00'
    >>> parse_instant("9999-12-31")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    cityaware.geo.errors.InvalidInput: datetime '9999-12-31' must lie between the years 1900 ...
    """
    try:
        stamp = pd.Timestamp(str(text))
    except (ValueError, OverflowError):
        raise InvalidInput(f"{what} {text!r} is not an RFC 3339 date or date-time") from None
    if pd.isna(stamp) or not MIN_YEAR <= stamp.year <= MAX_YEAR:
        raise InvalidInput(f"{what} {text!r} must lie between the years {MIN_YEAR} and {MAX_YEAR}")
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.as_unit("ns")


def compile_filter(tree: CqlTree, target: Target) -> Any:
    """Compile a CQL2 JSON tree into ``target``'s boolean expression.

    >>> import pandas as pd
    >>> frame = pd.DataFrame({"n": [1, 5]})
    >>> compile_filter({"op": "<", "args": [{"property": "n"}, 2]}, FrameTarget(frame, ["n"]))
    0     True
    1    False
    Name: n, dtype: bool
    """
    compiled = _Compiler(target).node(tree)
    return target.constant(compiled) if isinstance(compiled, bool) else compiled


class _Compiler:
    def __init__(self, target: Target) -> None:
        self.target = target

    def node(self, node: Any) -> Any:
        """The expression of one predicate; a plain ``bool`` when it has no property
        (``1=1``), folded away by ``and``/``or``/``not``."""
        if isinstance(node, bool):
            return node
        if not isinstance(node, dict) or "op" not in node:
            raise InvalidInput(f"filter: expected a predicate, got {node!r}")
        op, args = str(node["op"]).lower(), node.get("args", [])
        if op in ("and", "or"):
            return _fold(op, [self.node(arg) for arg in args])
        if op == "not":
            inner = self.node(args[0])
            return (not inner) if isinstance(inner, bool) else ~inner
        prop = _first_property(args)
        if prop == "geometry" and op not in SPATIAL_OPS:
            raise InvalidInput(f"filter: the geometry takes only {', '.join(SPATIAL_OPS)}")
        if op in _COMPARISONS:
            left, right = self.value(args[0], prop), self.value(args[1], prop)
            try:
                result = _COMPARISONS[op](left, right)
            except TypeError:
                raise InvalidInput(f"filter: cannot compare {args[0]!r} with {args[1]!r}") from None
            return bool(result) if prop is None else result
        if op in ("like", "between", "in", "isnull"):
            return self.property_op(op, args, prop)
        if op in SPATIAL_OPS:
            return self.spatial(op, args)
        raise InvalidInput(f"filter: operator {node['op']!r} is not supported")

    def property_op(self, op: str, args: list[Any], prop: str | None) -> Any:
        """LIKE, BETWEEN, IN and IS NULL: their first operand must be a property."""
        first = args[0] if args else None
        if not (isinstance(first, dict) and "property" in first):
            raise InvalidInput(f"filter: {op.upper()} needs a property on its left, got {first!r}")
        column = self.value(first)
        if op == "like":
            return self.target.like(column, str(self.value(args[1])))
        if op == "between":
            return column.between(self.value(args[1], prop), self.value(args[2], prop))
        if op == "in":
            if not isinstance(args[1], list):
                raise InvalidInput(f"filter: IN needs a list, got {args[1]!r}")
            return self.target.isin(column, [self.value(v, prop) for v in args[1]])
        return self.target.is_null(column)

    def spatial(self, op: str, args: list[Any]) -> Any:
        prop, literal = args
        if isinstance(prop, dict) and "property" not in prop:
            prop, literal = literal, prop
            op = {"s_within": "s_contains", "s_contains": "s_within"}.get(op, op)
        if not (isinstance(prop, dict) and "property" in prop):
            raise InvalidInput(f"filter: {op} needs the geometry property and a geometry literal")
        self.target.column(prop["property"])  # checks that it is a queryable
        return self.target.spatial(op, _geometry(literal))

    def value(self, node: Any, prop: str | None = None) -> Any:
        if isinstance(node, dict):
            if "property" in node:
                return self.target.column(node["property"])
            if "op" in node:
                raise InvalidInput(f"filter: {node['op']!r} cannot be used as a value")
            if "timestamp" in node:
                node = parse_instant(node["timestamp"], "filter: TIMESTAMP")
            elif "date" in node:
                node = parse_instant(node["date"], "filter: DATE")
        return self.target.literal(prop, node)


def _fold(op: str, parts: list[Any]) -> Any:
    """AND/OR of ``parts``, with the constant (``bool``) ones folded in.

    >>> _fold("and", [True, True]), _fold("or", [False, "x"])
    (True, 'x')
    """
    absorbing = op == "or"  # True absorbs an OR, False an AND
    if any(part is absorbing for part in parts):
        return absorbing
    rest = [part for part in parts if not isinstance(part, bool)]
    if not rest:
        return not absorbing
    result = rest[0]
    for part in rest[1:]:
        result = (result | part) if absorbing else (result & part)
    return result


def _first_property(args: list[Any]) -> str | None:
    for arg in args:
        if isinstance(arg, dict) and "property" in arg:
            return str(arg["property"])
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


class FrameTarget:
    """Evaluate filters as boolean masks over a (Geo)DataFrame's columns.

    >>> import pandas as pd
    >>> FrameTarget(pd.DataFrame({"n": [1, 2]}), ["n"]).column("n").tolist()
    [1, 2]
    """

    def __init__(self, frame: pd.DataFrame, queryables: Iterable[str]) -> None:
        self.frame = frame
        self.queryables = set(queryables)

    def column(self, name: str) -> Any:
        if name not in self.queryables:
            raise unknown_queryable(name)
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

    def constant(self, value: bool) -> pd.Series:
        return pd.Series(value, index=self.frame.index)

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
