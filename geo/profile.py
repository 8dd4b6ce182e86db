"""The city profile: what the server knows about its city, from the boundaries and one TOML file.

Nothing about a particular city lives in code. Each fact has a default derived
from the active generation's units and division list, and ``<data_dir>/city.toml``
overrides or adds what cannot be derived:

==========================  ===========================================================
``[city] names``            city names (default: the ``city`` level's names)
``[city] prefixes``         words accepted before the city's own names in an address
                            (default: 中国, the province from the codes, the city names
                            and their short forms)
``[city] search_placeholder``  the map wall's search box hint
``[city] timezone``         the IANA zone "today" is counted in (default: UTC)
``[map] centre``, ``zoom``  the map's start view (default: fit the extent)
``[map] metric_crs``        default: the CGCS2000 3° Gauss-Krüger zone of the centre
``[[zones]]``               functional zones: ``code``, ``names`` (official first), and
                            for a zone without a code of its own ``host`` (district) and
                            ``streets`` (code prefix of its street offices)
==========================  ===========================================================

>>> import pandas as pd
>>> units = pd.DataFrame({"code": ["410302"], "name": ["老城区"], "level": ["district"],
...                       "parent_code": ["410300"]})
>>> divisions = pd.DataFrame({"code": ["410300"], "name": ["洛阳市"], "level": ["city"],
...                           "parent_code": [""]})
>>> profile = derive_profile(units, divisions, extent=(112.3, 34.5, 112.6, 34.8))
>>> profile.names, profile.prefixes
(('洛阳市',), ('中国', '河南省', '河南', '洛阳市', '洛阳'))
>>> profile.metric_crs, profile.centre
('EPSG:4546', None)
"""

from __future__ import annotations

import csv
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import geopandas as gpd
import pandas as pd

from cityaware.geo.crs import metric_crs_for
from cityaware.geo.errors import InvalidInput
from cityaware.geo.resources import shipped

PROFILE_NAME = "city.toml"
COUNTRY = "中国"
CITY_SUFFIXES = ("地区", "市", "盟")
Extent = tuple[float, float, float, float]


@dataclass(frozen=True)
class Zone:
    """A functional zone (开发区, 新区): its code (or a key when it has none) and names."""

    code: str
    names: tuple[str, ...]
    host: str = ""  # the district an address naming the zone lies in (its streets' district)
    streets: str = ""  # code prefix of the host's street offices that the zone manages

    @property
    def name(self) -> str:
        """The official name (the first one)."""
        return self.names[0] if self.names else self.code

    def holds_street(self, code: str) -> bool:
        """Whether the street office ``code`` is one of this zone's (by code prefix).

        >>> Zone("新区", ("新区",), host="410205", streets="4102055").holds_street("410205560")
        True
        """
        return bool(self.streets) and code.startswith(self.streets)


@dataclass(frozen=True)
class CityProfile:
    """What one server knows of its city (or cities); see the module docstring."""

    names: tuple[str, ...] = ()
    prefixes: tuple[str, ...] = (COUNTRY,)
    zones: tuple[Zone, ...] = ()
    extent: Extent | None = None
    metric_crs: str = "EPSG:4326"
    centre: tuple[float, float] | None = None  # lat, lon; None: fit the extent
    zoom: int | None = None
    search_placeholder: str = "lon,lat GCJ02 | address"
    timezone: str = "UTC"
    city_codes: tuple[str, ...] = field(default=())

    def zone(self, code: str | None) -> Zone | None:
        """The zone with ``code`` (None when unknown)."""
        return next((z for z in self.zones if code and z.code == code), None)

    def zone_of_street(self, code: str | None) -> Zone | None:
        """The code-less zone whose street offices include ``code``, if any."""
        return next((z for z in self.zones if code and z.holds_street(code)), None)

    @property
    def short_names(self) -> tuple[str, ...]:
        """The city names without their suffix (开封市 -> 开封), for names starting with them."""
        return tuple(s for s in map(short_city_name, self.names) if s)

    @property
    def city_name(self) -> str:
        """The one city's name, or '' when the server serves several or none."""
        return self.names[0] if len(self.names) == 1 else ""


def short_city_name(name: str) -> str:
    """开封市 -> 开封; 大兴安岭地区 -> 大兴安岭; '' when nothing short is left.

    >>> short_city_name("开封市"), short_city_name("市")
    ('开封', '')
    """
    for suffix in CITY_SUFFIXES:
        if name.endswith(suffix) and len(name) >= len(suffix) + 2:
            return name[: -len(suffix)]
    return ""


def provinces() -> dict[str, tuple[str, str]]:
    """GB/T 2260 province codes -> (name, short name), from ``cityaware.data``.

    >>> provinces()["41"]
    ('河南省', '河南')
    """
    with shipped("cityaware.data", "provinces.csv").open(encoding="utf-8") as handle:
        return {row["code"]: (row["name"], row["short"]) for row in csv.DictReader(handle)}


def derive_profile(
    units: pd.DataFrame,
    divisions: pd.DataFrame,
    extent: Extent | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> CityProfile:
    """The profile of a generation: defaults from its units and divisions, then ``overrides``
    (the parsed TOML; InvalidInput for a bad value)."""
    frames = [f.reindex(columns=["code", "name", "level"]) for f in (units, divisions)]
    known = pd.concat(frames, ignore_index=True).fillna("").astype(str)
    cities = known[known["level"] == "city"].drop_duplicates("code").sort_values("code")
    names = tuple(n for n in cities["name"] if n)
    codes = [c for c in known.loc[known["level"].isin(["city", "district"]), "code"] if c]
    table = provinces()
    province = sorted({table[c[:2]] for c in codes if c[:2] in table})
    centre_lon = (extent[0] + extent[2]) / 2 if extent else None
    profile = CityProfile(
        names=names,
        extent=extent,
        metric_crs=metric_crs_for(centre_lon) if centre_lon is not None else "EPSG:4326",
        city_codes=tuple(cities["code"]),
    )
    if extent:
        lon, lat = (extent[0] + extent[2]) / 2, (extent[1] + extent[3]) / 2
        profile = replace(profile, search_placeholder=f"{lon:.2f},{lat:.2f} GCJ02 | address")
    profile = _apply(profile, overrides or {})
    if not (overrides or {}).get("city", {}).get("prefixes"):
        words = [COUNTRY, *(w for pair in province for w in pair), *profile.names]
        profile = replace(profile, prefixes=_unique([*words, *profile.short_names]))
    return profile


def load_profile(
    path: Path, units: gpd.GeoDataFrame, divisions: pd.DataFrame | None = None
) -> CityProfile:
    """The profile of ``units`` (and ``divisions``) with the TOML at ``path`` applied.

    >>> empty = gpd.GeoDataFrame({"code": [], "level": []}, geometry=[], crs=4326)
    >>> load_profile(Path("/nonexistent.toml"), empty).names
    ()
    """
    empty = pd.DataFrame(columns=["code", "name", "level", "parent_code"])
    frame = empty if divisions is None else divisions
    return derive_profile(units, frame, extent_of(units.total_bounds), read_overrides(path))


def read_overrides(path: Path) -> dict[str, Any]:
    """The parsed ``city.toml`` at ``path`` ({} when there is none); InvalidInput if unreadable."""
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        return {}
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise InvalidInput(f"{path}: not a valid TOML city profile: {error}") from None


def _apply(profile: CityProfile, overrides: Mapping[str, Any]) -> CityProfile:
    """``profile`` with the TOML tables ``city``, ``map`` and ``zones`` applied."""
    city, view = _table(overrides, "city"), _table(overrides, "map")
    changes: dict[str, Any] = {}
    if "names" in city:
        changes["names"] = _strings(city["names"], "city.names")
    if "prefixes" in city:
        changes["prefixes"] = _strings(city["prefixes"], "city.prefixes")
    if "search_placeholder" in city:
        changes["search_placeholder"] = str(city["search_placeholder"])
    if "timezone" in city:
        changes["timezone"] = _timezone(city["timezone"])
    if "centre" in view:
        centre = view["centre"]
        if not (isinstance(centre, list) and len(centre) == 2):
            raise InvalidInput("city profile: map.centre must be [lat, lon]")
        changes["centre"] = (float(centre[0]), float(centre[1]))
    if "zoom" in view:
        changes["zoom"] = int(view["zoom"])
    if "metric_crs" in view:
        changes["metric_crs"] = str(view["metric_crs"])
    zones = overrides.get("zones", [])
    if not isinstance(zones, list):
        raise InvalidInput("city profile: zones must be an array of tables ([[zones]])")
    if zones:
        changes["zones"] = tuple(_zone(z) for z in zones)
    return replace(profile, **changes)


def _zone(table: object) -> Zone:
    if not isinstance(table, dict) or not table.get("code"):
        raise InvalidInput("city profile: every [[zones]] entry needs a code")
    names = _strings(table.get("names") or [table["code"]], f"zones {table['code']}.names")
    return Zone(
        str(table["code"]), names, str(table.get("host", "")), str(table.get("streets", ""))
    )


def _timezone(value: object) -> str:
    try:
        return ZoneInfo(str(value)).key
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"city profile: city.timezone {value!r} is no IANA time zone") from None


def _table(overrides: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = overrides.get(name, {})
    if not isinstance(value, dict):
        raise InvalidInput(f"city profile: [{name}] must be a table")
    return value


def _strings(value: object, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidInput(f"city profile: {key} must be a list of strings")
    return tuple(value)


def _unique(words: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(w for w in words if w))


def extent_of(bounds: Iterable[float]) -> Extent | None:
    """A (west, south, east, north) tuple, or None for an empty frame's NaN bounds.

    >>> extent_of([float("nan")] * 4) is None
    True
    """
    west, south, east, north = (float(b) for b in bounds)
    return None if west != west else (west, south, east, north)


class CityProfiles:
    """The profile of each generation, from its units and divisions and the TOML at ``path``;
    rebuilt when the file changes.

    >>> frame = pd.DataFrame({"code": ["410200"], "name": ["开封市"], "level": ["city"]})
    >>> profiles = CityProfiles(lambda g: frame, lambda g: frame, Path("/nonexistent.toml"))
    >>> profiles.get("g0001").names
    ('开封市',)
    """

    def __init__(
        self,
        units: Callable[[str], gpd.GeoDataFrame],
        divisions: Callable[[str], pd.DataFrame],
        path: Path,
    ) -> None:
        self._units, self._divisions, self.path = units, divisions, Path(path)
        self._cache: dict[tuple[str, int], CityProfile] = {}

    def get(self, generation: str) -> CityProfile:
        """The profile of ``generation`` (derived once per generation and file version)."""
        try:
            version = self.path.stat().st_mtime_ns
        except FileNotFoundError:
            version = 0
        key = (generation, version)
        if key not in self._cache:
            units = self._units(generation)
            bounds = (
                units.total_bounds if isinstance(units, gpd.GeoDataFrame) else [float("nan")] * 4
            )
            profile = derive_profile(
                units, self._divisions(generation), extent_of(bounds), read_overrides(self.path)
            )
            self._cache = {key: profile} | {
                k: v for k, v in self._cache.items() if k[0] != generation
            }
        return self._cache[key]
