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

from collections.abc import Callable, Mapping
from typing import Any

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

    def lookup_many(self, codes: set[str]) -> dict[str, dict[str, Any]]:
        """Area objects of the known ``codes``, keyed by code (unknown codes left out)."""
        cache = self._cache
        for code in codes - cache.keys():
            self.area(code)
        return {code: area for code in codes if (area := cache[code]) is not None}

    def areas(self, codes: list[str] | None) -> list[dict[str, Any]] | None:
        """Area objects for ``codes``; None (not []) when there are none."""
        found = [a for a in map(self.area, codes or ()) if a is not None]
        return found or None
