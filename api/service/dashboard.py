"""The wall's panel figures (``GET /v1/dashboard``), below the router.

For one region (the city when none) and one window (1h, 24h, 7d, 30d, all; it
bounds ``reported_at`` as the map's filters do):

* ``kpi``: ``intake_today`` (reported since local midnight, in the city profile's
  time zone), ``open`` and ``overdue`` (open past the resolve deadline) in the
  window, ``resolved_today`` (resolved or closed, replied since midnight),
  ``on_time_rate`` and ``satisfaction`` of the window's cases (as 考评 counts
  them), ``escalated`` (cases escalated, 督办 to the level above, in the window: by the
  time of the escalation), ``sensors_in_alarm`` and ``devices_offline`` (now);
* ``ranking``: open and overdue per child unit (districts of the city, streets of
  a district, ...), most open first, with each unit's bbox for click-to-zoom;
* ``newest``: the newest cases of the window, the newest open alarms and the newest
  ``supervision`` events of the window (deadline near, overdue, escalated);
* ``intake_by_hour``: today's 24 local hours against the same day last week;
* ``category_mix``: cases of the window per category.

>>> local_midnight(86_400_000 + 3_600_000, "Asia/Shanghai")  # 1970-01-02 09:00 in Shanghai
57600000
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pandas as pd

from cityaware.geo.boundaries.levels import is_city_code
from cityaware.geo.errors import NotFound
from cityaware.geo.hotline.evaluation import RESOLVED, case_columns
from cityaware.geo.store import FeatureFilter
from cityaware.geo.store.casework import case_frame
from cityaware.geo.store.dashboard import (
    device_figures,
    escalated_cases,
    hourly_counts,
    open_alarms,
    replied_since,
    supervision_events,
)
from cityaware.geo.store.taxonomy import OPEN_STATUSES
from cityaware.geo.store.times import from_ms, now_ms
from cityaware.layers.service import WINDOWS, TileFilters

if TYPE_CHECKING:
    from cityaware.geo.boundaries.generations import BoundaryRegistry
    from cityaware.geo.profile import CityProfile
    from cityaware.geo.store.store import FeatureStore
    from cityaware.layers.service import MapLayers

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
NEWEST = 20
MAX_AGE_MS = 10_000  # an unchanged store's answer is reused this long (time moves the window)
KEPT = 512  # answers kept (region x window)
RANKED = 20
CHILD_LEVEL = {"city": "district", "district": "street", "street": "community",
               "community": "grid"}  # fmt: skip
CHILD_COLUMN = {"district": "district_code", "street": "street_code",
                "community": "community_code", "grid": "grid_code"}  # fmt: skip
CASE_FIELDS = ("id", "title", "category", "status", "lon", "lat", "grid_code", "address")


def local_midnight(at_ms: int, timezone: str) -> int:
    """Epoch ms of the last local midnight at or before ``at_ms`` in ``timezone``."""
    moment = datetime.fromtimestamp(at_ms / 1000, ZoneInfo(timezone))
    midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return int(midnight.timestamp() * 1000)


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


class Dashboard:
    """The panel figures from the store, the boundaries and the city profile."""

    def __init__(
        self,
        store: FeatureStore,
        registry: BoundaryRegistry,
        layers: MapLayers,
        profile: Any,
    ) -> None:
        self.store, self.registry, self.layers = store, registry, layers
        self._profile = profile  # a callable: generation -> CityProfile
        self._bounds: dict[tuple[str, str], pd.DataFrame] = {}
        self._answers: dict[tuple[str, str], tuple[tuple[int, str], int, dict[str, Any]]] = {}
        self._locks: dict[tuple[str, str], threading.Lock] = {}

    def profile(self) -> CityProfile:
        """The active generation's city profile."""
        profile: CityProfile = self._profile(self.registry.active())
        return profile

    def current(self, region: str = "", window: str = "24h") -> dict[str, Any]:
        """:meth:`figures` now, or the last answer for ``region`` and ``window`` while the
        store's data version and the boundary generation are unchanged and it is under
        :data:`MAX_AGE_MS` old (exact as of its ``at``: every write moves the version).
        Screens asking at once wait for one computation.

        >>> Dashboard(store, registry, layers, profiles.get).current("990105")  # doctest: +SKIP
        {'region': {'code': '990105', ...}, 'at': '2026-12-02T05:40:01.120Z', ...}
        """
        TileFilters.parse(window)
        self.region(region)  # NotFound before a lock is kept for the key
        key = (region, window)
        if len(self._locks) > KEPT:  # many regions asked: start again (bounded memory)
            self._locks, self._answers = {}, {}
        with self._locks.setdefault(key, threading.Lock()):
            version = (self.store.data_version(), self.registry.active() or "")
            now, kept = now_ms(), self._answers.get(key)
            if kept and kept[0] == version and now - kept[1] < MAX_AGE_MS:
                return kept[2]
            body = self.figures(region, window, now)
            self._answers[key] = (version, now, body)
            return body

    def figures(
        self, region: str = "", window: str = "24h", now: int | None = None
    ) -> dict[str, Any]:
        """Every panel's figures; InvalidInput for a bad window, NotFound for a bad region.

        >>> Dashboard(store, registry, layers, profiles.get).figures("990105")  # doctest: +SKIP
        {'region': {'code': '990105', ...}, 'kpi': {'intake_today': 231, ...}, ...}
        """
        TileFilters.parse(window)
        now = now_ms() if now is None else now
        unit = self.region(region)
        scope = region or None  # the whole city when no region
        seconds = WINDOWS[window]
        since = None if seconds is None else now - int(seconds * 1000)
        cases = case_frame(self.store, FeatureFilter(since=since, until=now, region=scope))
        midnight = local_midnight(now, self.profile().timezone)
        region_only = FeatureFilter(region=scope)
        today = hourly_counts(self.store, region_only, midnight, now)
        week_ago = hourly_counts(self.store, region_only, midnight - 7 * DAY_MS, now)
        devices = device_figures(self.store, FeatureFilter(region=scope))
        flags = case_columns(cases, now)
        open_ = cases["status"].isin(OPEN_STATUSES).to_numpy()
        return {
            "region": unit,
            "window": window,
            "at": from_ms(now),
            "today_start": from_ms(midnight),
            "kpi": {
                "intake_today": sum(today),
                "open": int(open_.sum()),
                "overdue": int(flags["overdue"].sum()),
                "resolved_today": replied_since(self.store, region_only, RESOLVED, midnight),
                "on_time_rate": _rate(int(flags["on_time"].sum()), int(flags["resolved"].sum())),
                "satisfaction": _rate(int(flags["positive"].sum()), int(flags["called"].sum())),
                "escalated": escalated_cases(self.store, FeatureFilter(region=scope), since, now),
                "sensors_in_alarm": devices.sensors_in_alarm,
                "devices_offline": devices.devices_offline,
                "offline": devices.offline,
            },
            "ranking": self.ranking(unit, cases, flags["overdue"].to_numpy(), open_),
            "newest": {
                "cases": self.newest_cases(FeatureFilter(since=since, until=now, region=scope)),
                "alarms": open_alarms(self.store, FeatureFilter(region=scope), NEWEST),
                "supervision": supervision_events(
                    self.store, FeatureFilter(region=scope), since, NEWEST
                ),
            },
            "intake_by_hour": {
                "today": today,
                "last_week": week_ago,
                "hours_elapsed": int((now - midnight) // HOUR_MS) + 1,
            },
            "category_mix": self.category_mix(cases),
        }

    def region(self, code: str) -> dict[str, Any]:
        """The region's code, name, level and bbox (the city when ``code`` is empty or the
        city's; its bbox is None: the wall fits the whole extent)."""
        if not code or is_city_code(code):
            return {"code": code or None, "name": self.profile().city_name, "level": "city",
                    "bbox": None}  # fmt: skip
        unit = self.layers.unit(code)  # NotFound for an unknown code
        units = self.units(unit["level"])
        bbox = units.loc[units["code"] == code, "bbox"]
        return {"code": code, "name": unit["name"], "level": unit["level"],
                "chain": unit["chain"], "bbox": bbox.iloc[0] if len(bbox) else None}  # fmt: skip

    def units(self, level: str) -> pd.DataFrame:
        """The units of ``level`` (code, name, parent, bbox), cached per generation."""
        key = (self.registry.active() or "", level)
        if key not in self._bounds:
            units = self.registry.units(level=level)
            bounds = units.geometry.bounds.round(6)
            self._bounds[key] = pd.DataFrame(
                {"code": units["code"].to_numpy(), "name": units["name"].to_numpy(),
                 "parent": units["parent_code"].to_numpy(),
                 "bbox": bounds[["minx", "miny", "maxx", "maxy"]].to_numpy().tolist()})  # fmt: skip
        return self._bounds[key]

    def children(self, region: dict[str, Any]) -> pd.DataFrame:
        """The child units of ``region`` (code, name, bbox)."""
        level = CHILD_LEVEL.get(region["level"])
        if level is None:
            raise NotFound(f"a {region['level']} has no smaller units to rank")
        frame = self.units(level)
        if region["code"] and region["level"] == "city":
            return frame[frame["code"].str.startswith(region["code"][:4])]
        return frame[frame["parent"] == region["code"]] if region["code"] else frame

    def ranking(
        self, region: dict[str, Any], cases: pd.DataFrame, overdue: Any, open_: Any
    ) -> dict[str, Any]:
        """Open and overdue cases per child unit of ``region``, most open first."""
        if region["level"] == "grid":
            return {"level": None, "units": []}
        children = self.children(region)
        level = CHILD_LEVEL[region["level"]]
        counts = pd.DataFrame({"code": cases[CHILD_COLUMN[level]].to_numpy(),
                               "open": open_, "overdue": overdue})  # fmt: skip
        sums = counts.groupby("code")[["open", "overdue"]].sum()
        table = children.set_index("code").join(sums).fillna({"open": 0, "overdue": 0})
        table = table.sort_values(["open", "overdue"], ascending=False, kind="stable")
        units = [
            {
                "code": code,
                "name": row["name"],
                "open": int(row["open"]),
                "overdue": int(row["overdue"]),
                "bbox": row["bbox"],
            }  # fmt: skip
            for code, row in table.head(RANKED).iterrows()
        ]
        return {"level": level, "units": units, "of": len(table)}

    def newest_cases(self, filters: FeatureFilter) -> list[dict[str, Any]]:
        """The window's newest cases, newest first (the fields a list row shows)."""
        page = self.store.query("incidents", filters, limit=NEWEST, sortby=["-reported_at"])
        fields = (*CASE_FIELDS, "reported_at")
        return [{name: item.get(name) for name in fields} for item in page.items]

    def category_mix(self, cases: pd.DataFrame) -> list[dict[str, Any]]:
        """Cases per category (id and Chinese name), largest first."""
        taxonomy = self.store.taxonomy
        counts = cases["category"].fillna("").value_counts()
        return [
            {"category": c, "name": _name(taxonomy, str(c)), "count": int(n)}
            for c, n in counts.items()
        ]


def _name(taxonomy: Any, category: str) -> str:
    try:
        return str(taxonomy.node(category).name)
    except NotFound:  # a category outside the taxonomy keeps its id as name
        return category
