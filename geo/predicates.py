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


def unknown_queryable(name: str) -> InvalidInput:
    """The error for a filter naming a property that is not a queryable.

    >>> str(unknown_queryable("colour"))
    "filter: 'colour' is not a queryable; see /queryables"
    """
    return InvalidInput(f"filter: {name!r} is not a queryable; see /queryables")


def compile_filter(tree: CqlTree, target: Target) -> Any:
    """Compile a CQL2 JSON tree into ``target``'s boolean expression.

    >>> import pandas as pd
    >>> frame = pd.DataFrame({"n": [1, 5]})
    >>> compile_filter({"op": "<", "args": [{"property": "n"}, 2]}, FrameTarget(frame, ["n"]))
    0     True
    1    False
    Name: n, dtype: bool
    """
    return _Compiler(target).node(tree)


class _Compiler:
    def __init__(self, target: Target) -> None:
        self.target = target

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
            return self.target.like(self.value(args[0]), str(self.value(args[1])))
        if op == "between":
            low, high = self.value(args[1], prop), self.value(args[2], prop)
            return self.value(args[0]).between(low, high)
        if op == "in":
            values = [self.value(v, prop) for v in args[1]]
            return self.target.isin(self.value(args[0]), values)
        if op == "isnull":
            return self.target.is_null(self.value(args[0]))
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
        self.target.column(prop["property"])  # checks that it is a queryable
        return self.target.spatial(op, _geometry(literal))

    def value(self, node: Any, prop: str | None = None) -> Any:
        if isinstance(node, dict):
            if "property" in node:
                return self.target.column(node["property"])
            if "op" in node:
                raise InvalidInput(f"filter: {node['op']!r} cannot be used as a value")
            if "timestamp" in node:
                node = pd.Timestamp(node["timestamp"]).tz_convert("UTC")
            elif "date" in node:
                node = pd.Timestamp(node["date"], tz="UTC")
        return self.target.literal(prop, node)


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
