"""One uniform shape for every area object (MapIt's ``Area.as_dict``, AMap layering).

Every grid, community, street, district, city and managing zone in any answer is
``{code, name, level, type_name, code_system, parent_code}``; absent parts
are ``null``, never ``[]`` or ``""``.

>>> area_object({"code": "410202", "name": "龙亭区", "level": "district",
...              "code_system": "NBS", "code_version": "2023", "parent_code": ""})
... # doctest: +NORMALIZE_WHITESPACE
{'code': '410202', 'name': '龙亭区', 'level': 'district', 'type_name': '区',
 'code_system': 'NBS-2023', 'parent_code': None}
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
import orjson

from cityaware.geo.arrays import IntArray, ObjectArray
from cityaware.geo.errors import NotFound

TYPE_NAMES: dict[str, str] = {
    "grid": "网格",
    "community": "社区",
    "street": "街道",
    "district": "区",
    "city": "市",
    "zone": "功能区",
}


def area_object(unit: Mapping[str, Any]) -> dict[str, Any]:
    """The uniform area dict of a unit record (as ``GridLocator.unit`` returns it)."""
    level = str(unit.get("level") or "")
    return {
        "code": str(unit["code"]),
        "name": unit.get("name") or None,
        "level": level or None,
        "type_name": TYPE_NAMES.get(level),
        "code_system": _code_system(unit),
        "parent_code": unit.get("parent_code") or None,
    }


def _code_system(unit: Mapping[str, Any]) -> str | None:
    system, version = unit.get("code_system") or "", unit.get("code_version") or ""
    return (f"{system}-{version}" if version else system) or None


def zone_object(code: str, name: str | None) -> dict[str, Any]:
    """The uniform area dict of a functional (managing) zone (names come from the city profile).

    >>> zone_object("410271", "开发区")["type_name"]
    '功能区'
    """
    return {
        "code": code,
        "name": name,
        "level": "zone",
        "type_name": TYPE_NAMES["zone"],
        "code_system": "NBS-2023",
        "parent_code": None,
    }


class AreaCatalog:
    """Area objects by code, built once per code from a unit lookup; ``zones`` maps the
    functional zones' codes to their names (zones have no outline of their own).

    >>> units = {"1": {"code": "1", "name": "A", "level": "district", "parent_code": ""}}
    >>> AreaCatalog(units.get).area("1")["type_name"]
    '区'
    >>> AreaCatalog(units.get).area(None) is None
    True
    """

    def __init__(
        self,
        lookup: Callable[[str], Mapping[str, Any] | None],
        zones: Mapping[str, str] | None = None,
    ) -> None:
        self._lookup = lookup
        self._zones = dict(zones or {})
        self._cache: dict[str, dict[str, Any] | None] = {}
        self._pieces: dict[str, bytes] = {}  # code -> b'"code":{area JSON}' (b"" unknown)
        self._chain_ids: tuple[ObjectArray, IntArray, dict[str, int], ObjectArray] | None = None

    def area(self, code: str | None) -> dict[str, Any] | None:
        """The area object of ``code``; None for no code or an unknown one."""
        if not code:
            return None
        try:
            return self._cache[code]
        except KeyError:
            pass
        if code in self._zones:
            found: dict[str, Any] | None = zone_object(code, self._zones[code])
        else:
            try:
                unit = self._lookup(code)
            except (LookupError, NotFound):
                unit = None
            found = area_object(unit) if unit else None
        self._cache[code] = found
        return found

    def areas(self, codes: list[str] | None) -> list[dict[str, Any]] | None:
        """Area objects for ``codes``; None (not []) when there are none."""
        found = [a for a in map(self.area, codes or ()) if a is not None]
        return found or None

    def json_object(
        self, chains: ObjectArray, rows: IntArray, extra: Iterable[str] = ()
    ) -> bytes | None:
        """The JSON object ``{code: area}`` of every known code in ``chains[rows, :6]``
        (a chain table: one row of codes per leaf unit) plus the ``extra`` codes; None
        when there is none. Joined from JSON pieces serialised once per code, so a
        batch answer does not serialise thousands of area objects again.

        >>> units = {c: {"code": c, "level": "grid", "parent_code": ""} for c in "ab"}
        >>> chains = np.array([["a", None, None, None, None, None]], dtype=object)
        >>> orjson.loads(AreaCatalog(units.get).json_object(chains, np.array([0]), ["b", "x"]))
        ... # doctest: +NORMALIZE_WHITESPACE
        {'a': {'code': 'a', 'name': None, 'level': 'grid', 'type_name': '网格',
               'code_system': None, 'parent_code': None},
         'b': {'code': 'b', 'name': None, 'level': 'grid', 'type_name': '网格',
               'code_system': None, 'parent_code': None}}
        """
        ids, id_of, pieces = self._ids_of(chains)
        mentioned = np.zeros(len(pieces) + 1, dtype=bool)  # the last: no code (-1)
        mentioned[ids[rows].ravel()] = True
        others = []
        for code in set(extra):
            if (k := id_of.get(code)) is None:
                others.append(code)
            else:
                mentioned[k] = True
        parts = pieces[np.flatnonzero(mentioned[:-1])].tolist()
        parts = [part for part in parts + list(map(self._piece, others)) if part]
        return b"{" + b",".join(parts) + b"}" if parts else None

    def _ids_of(self, chains: ObjectArray) -> tuple[IntArray, dict[str, int], ObjectArray]:
        """(per row of ``chains``: an id per code column, -1 for none; the id of each
        code; JSON pieces by id), made once per chain table."""
        if self._chain_ids is None or self._chain_ids[0] is not chains:
            table = chains[:, :6]
            present = table != None  # noqa: E711 - elementwise
            codes, inverse = np.unique(table[present].astype(str), return_inverse=True)
            ids = np.full(table.shape, -1, dtype=np.int64)
            ids[present] = inverse
            code_list = codes.tolist()
            pieces = np.empty(len(code_list), dtype=object)
            pieces[:] = [self._piece(code) for code in code_list]
            id_of = {code: k for k, code in enumerate(code_list)}
            self._chain_ids = (chains, ids, id_of, pieces)
        return self._chain_ids[1:]

    def _piece(self, code: str) -> bytes:
        """``"code":{area}`` as JSON bytes, b"" for an unknown code."""
        if code not in self._pieces:
            area = self.area(code)
            self._pieces[code] = b"" if area is None else orjson.dumps({code: area})[1:-1]
        return self._pieces[code]
