"""Demo features for the demo city: cameras, IoT sensors and 12345 incidents.

Everything is placed where people live: a grid is drawn with a weight equal to
its area times the demo population density at the grid (raised to
:data:`FEATURE_CLUSTERING`), then a point is drawn uniformly inside that grid.
Fully vectorized and deterministic for a given ``seed`` and ``end``; the full
sizes take a few seconds.

>>> from datetime import datetime, timezone
>>> import geopandas as gpd, shapely
>>> grids = gpd.GeoDataFrame({"code": ["410102001002001"], "name": ["碧沙岗社区第1网格"],
...     "parent_code": ["410102001002"], "office": ["林山寨街道办事处"]},
...     geometry=[shapely.box(113.6, 34.7, 113.61, 34.71)], crs="EPSG:4326")
>>> out = generate_demo_features(grids, n_cameras=5, n_sensors=5, days=1, incidents_per_day=10,
...                              end=datetime(2024, 1, 2, tzinfo=timezone.utc))
>>> sorted(out), len(out["incidents"])
(['cameras', 'incidents', 'sensors'], 10)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from cityaware.geo.arrays import IntArray, ObjectArray, StrArray
from cityaware.geo.demo.city import DEFAULT_SEED, population_density
from cityaware.geo.errors import InvalidInput
from cityaware.geo.store.taxonomy import DEFAULT_CATEGORIES, PRIORITIES, STATUSES

LOCAL_TZ = "Asia/Shanghai"


@dataclass(frozen=True)
class IncidentCategory:
    """One 12345 hotline category (a store taxonomy slug), its share of all incidents, titles.

    The Chinese names live with the service definitions (``api/service/services.csv``).
    """

    slug: str
    share: float
    titles: tuple[str, ...]
    sensor_related: bool = False


# The 12345 taxonomy of the store (geo.store.taxonomy.DEFAULT_CATEGORIES) with
# each category's share of all incidents (adding up to 1) and typical titles.
INCIDENT_CATEGORIES: tuple[IncidentCategory, ...] = (
    IncidentCategory("road_damage", 0.07, ("道路坑洼破损", "人行道地砖松动", "路面塌陷")),
    IncidentCategory("manhole_cover", 0.03, ("井盖缺失", "井盖破损下沉", "井盖异响"), True),
    IncidentCategory("street_light", 0.05, ("路灯不亮", "路灯白天常亮", "灯杆倾斜")),
    IncidentCategory(
        "sanitation", 0.14, ("垃圾清运不及时", "小区楼道堆放杂物", "公共厕所无人保洁")
    ),
    IncidentCategory(
        "illegal_parking",
        0.08,
        ("机动车违停堵塞道路", "共享单车乱停放", "占用消防通道停车"),
    ),
    IncidentCategory("noise", 0.11, ("夜间施工噪声扰民", "广场舞音响声音过大", "商铺高音喇叭扰民")),
    IncidentCategory(
        "water_supply", 0.09, ("小区停水未通知", "自来水水质发黄", "供水管道漏水"), True
    ),
    IncidentCategory("drainage", 0.05, ("路面积水未清理", "下水道堵塞返味", "雨水篦子堵塞"), True),
    IncidentCategory(
        "greenery", 0.04, ("树木倾斜有倒伏风险", "绿地被占用", "行道树枝叶遮挡信号灯")
    ),
    IncidentCategory("construction", 0.06, ("工地夜间施工", "楼顶私搭乱建", "违规扩建门面房")),
    IncidentCategory(
        "street_vendor",
        0.07,
        ("流动摊贩占道经营", "店外经营占用人行道", "夜市摊点占道"),
    ),
    IncidentCategory("air_pollution", 0.06, ("餐馆油烟扰民", "工地扬尘严重", "露天焚烧垃圾"), True),
    IncidentCategory(
        "public_safety",
        0.05,
        ("楼道电动车充电", "燃气管道异味", "消防通道被占用"),
        True,
    ),
    IncidentCategory(
        "elderly_care", 0.03, ("独居老人需要帮助", "社区养老服务不到位", "老人走失求助")
    ),
    IncidentCategory("other", 0.07, ("其他诉求", "政策咨询", "意见建议")),
)
assert {c.slug for c in INCIDENT_CATEGORIES} == set(DEFAULT_CATEGORIES)

CHANNELS: tuple[str, ...] = ("hotline_12345", "photo_app", "web", "grid_patrol", "sensor_alarm")
CHANNEL_SHARES = np.array([0.58, 0.16, 0.07, 0.15, 0.04])
# Mean hours spent in each status before the next one (exponential).
STATUS_MEAN_HOURS = np.array([0.5, 3.0, 30.0, 36.0])
PRIORITY_SHARES = np.array([0.22, 0.60, 0.14, 0.04])
# Relative incident rate by local hour 0..23: low at night, peaks around 10 and 15.
HOURLY_PROFILE = np.array([0.6, 0.3, 0.2, 0.15, 0.15, 0.3, 0.8, 2.0, 4.0, 6.0, 6.6, 5.8,
                           4.0, 4.2, 5.4, 6.2, 5.8, 4.8, 3.6, 3.2, 3.0, 2.4, 1.6, 1.0])  # fmt: skip

CAMERA_KINDS: tuple[tuple[str, str, float], ...] = (
    ("dome", "球机", 0.45),
    ("bullet", "枪机", 0.35),
    ("ptz", "云台", 0.12),
    ("anpr", "卡口", 0.08),
)
# kind, share, unit, typical value, spread, alarm_low, alarm_high (NaN: no threshold)
SENSOR_KINDS: tuple[tuple[str, float, str, float, float, float, float], ...] = (
    ("smoke", 0.30, "%obs/m", 0.5, 0.4, np.nan, 4.0),
    ("water_meter", 0.20, "m3/h", 0.4, 0.3, np.nan, 6.0),
    ("manhole_cover", 0.14, "deg", 1.0, 1.0, np.nan, 15.0),
    ("water_level", 0.09, "m", 0.3, 0.2, np.nan, 1.5),
    ("air_quality", 0.09, "ug/m3", 45.0, 20.0, np.nan, 150.0),
    ("gas", 0.07, "%LEL", 1.0, 1.0, np.nan, 20.0),
    ("noise", 0.06, "dB", 55.0, 8.0, np.nan, 75.0),
    ("water_pressure", 0.05, "MPa", 0.35, 0.06, 0.15, 0.60),
)
ONLINE_SHARE = 0.95
FEATURE_CLUSTERING = 1.5  # features per km² grow as population density ** this
SENSOR_ALARM_SHARE = 0.015


def generate_demo_features(
    units: dict[str, gpd.GeoDataFrame] | gpd.GeoDataFrame,
    seed: int = DEFAULT_SEED,
    n_cameras: int = 130_000,
    n_sensors: int = 210_000,
    days: int = 30,
    incidents_per_day: int = 12_000,
    end: datetime | None = None,
) -> dict[str, pd.DataFrame]:
    """Cameras, sensors and ``days`` of incidents ending at ``end`` (default: this hour, UTC).

    ``units`` is the demo layers dict, a units frame, or just the grids (with
    ``code``, ``name``, ``parent_code``); names of districts and streets, when
    present, go into the incident addresses.
    """
    grids, names = _grids_and_names(units)
    end = (
        _utc(end)
        if end is not None
        else datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    )
    rng = np.random.default_rng([seed, 7])
    places = _Places(grids, names)
    return {
        "cameras": _cameras(places, n_cameras, rng),
        "sensors": _sensors(places, n_sensors, end, rng),
        "incidents": _incidents(places, days * incidents_per_day, days, end, rng),
    }


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _grids_and_names(
    units: dict[str, gpd.GeoDataFrame] | gpd.GeoDataFrame,
) -> tuple[gpd.GeoDataFrame, dict[str, str]]:
    frames = list(units.values()) if isinstance(units, dict) else [units]
    for frame in frames:
        missing = {"code", "name", "parent_code", "geometry"} - set(frame.columns)
        if missing:
            raise InvalidInput(f"demo features: units lack the columns {sorted(missing)}")
    if isinstance(units, dict):
        grids = units.get("grids", gpd.GeoDataFrame())
    elif "level" in units.columns:
        grids = units[units["level"] == "grid"]
    else:
        grids = units
    if len(grids) == 0 or shapely.area(grids.geometry.values).sum() <= 0:
        raise InvalidInput("demo features: there are no grids with an area to place features in")
    names = {c: n for frame in frames for c, n in zip(frame["code"], frame["name"], strict=True)}
    return grids.sort_values("code").reset_index(drop=True), names


class _Places:
    """Grids with their weights and address texts, and a point sampler."""

    def __init__(self, grids: gpd.GeoDataFrame, names: dict[str, str]) -> None:
        self.geoms = np.asarray(grids.geometry.values)
        shapely.prepare(self.geoms)
        inner = shapely.point_on_surface(self.geoms)
        lon, lat = shapely.get_x(inner), shapely.get_y(inner)
        # cameras, sensors and complaints cluster even more than residents do
        self.weight = population_density(lon, lat) ** FEATURE_CLUSTERING * shapely.area(self.geoms)
        self.weight /= self.weight.sum()
        self.bounds = shapely.bounds(self.geoms)
        self.stem = np.array([n.rsplit("第", 1)[0] for n in grids["name"]], dtype=object)
        community = grids["parent_code"].astype(str)
        street = community.str[:9]
        district = community.str[:6]
        self.address = np.array(
            [
                "郑州市" + names.get(d, "") + names.get(s, "") + c_name
                for d, s, c_name in zip(district, street, self.stem, strict=True)
            ],
            dtype=object,
        )

    def sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
        """``n`` points: grid index, lon, lat; grid drawn by weight, point uniform in it."""
        grid = rng.choice(len(self.weight), size=n, p=self.weight)
        lon = np.empty(n)
        lat = np.empty(n)
        todo = np.arange(n)
        while len(todo):
            box = self.bounds[grid[todo]]
            x = rng.uniform(box[:, 0], box[:, 2])
            y = rng.uniform(box[:, 1], box[:, 3])
            hit = shapely.contains_xy(self.geoms[grid[todo]], x, y)
            lon[todo[hit]], lat[todo[hit]] = x[hit], y[hit]
            todo = todo[~hit]
        return grid, lon, lat


def _ids(prefix: str, n: int, width: int = 6) -> StrArray:
    return np.char.add(prefix, np.char.zfill(np.arange(1, n + 1).astype(str), width))


def _cameras(places: _Places, n: int, rng: np.random.Generator) -> pd.DataFrame:
    grid, lon, lat = places.sample(n, rng)
    kind = rng.choice(len(CAMERA_KINDS), size=n, p=[k[2] for k in CAMERA_KINDS])
    slugs = np.array([k[0] for k in CAMERA_KINDS], dtype=object)
    labels = np.array([k[1] for k in CAMERA_KINDS], dtype=object)
    seq = pd.Series(grid).groupby(grid).cumcount().to_numpy() + 1
    names = places.stem[grid] + labels[kind] + pd.Series(seq).astype(str).to_numpy() + "号"
    return pd.DataFrame(
        {
            "id": _ids("CAM-", n),
            "lon": lon,
            "lat": lat,
            "name": names,
            "device_kind": slugs[kind],
            "online": rng.random(n) < ONLINE_SHARE,
        }
    )


def _sensors(places: _Places, n: int, end: datetime, rng: np.random.Generator) -> pd.DataFrame:
    grid, lon, lat = places.sample(n, rng)
    table = pd.DataFrame(
        SENSOR_KINDS, columns=["kind", "share", "unit", "typical", "spread", "low", "high"]
    )
    kind = rng.choice(len(table), size=n, p=table["share"].to_numpy())
    spec = table.iloc[kind].reset_index(drop=True)
    low = spec["low"].to_numpy()
    high = spec["high"].to_numpy()
    floor = np.where(np.isnan(low), 0.0, low)
    value = np.abs(rng.normal(spec["typical"], spec["spread"]))
    value = np.clip(value, floor, high * 0.95)
    alarm = rng.random(n) < SENSOR_ALARM_SHARE
    too_low = alarm & ~np.isnan(low) & (rng.random(n) < 0.5)
    value = np.where(alarm, high * rng.uniform(1.05, 1.6, n), value)
    value = np.where(too_low, low * rng.uniform(0.3, 0.9, n), value)
    online = rng.random(n) < ONLINE_SHARE
    age_s = np.where(online, rng.uniform(0, 600, n), rng.exponential(86_400 * 2, n) + 3_600)
    return pd.DataFrame(
        {
            "id": _ids("SEN-", n),
            "lon": lon,
            "lat": lat,
            "device_kind": spec["kind"].to_numpy(),
            "online": online,
            "reading_value": np.round(value, 3),
            "reading_unit": spec["unit"].to_numpy(),
            "reading_at": pd.Timestamp(end) - pd.to_timedelta(np.round(age_s), unit="s"),
            "alarm_low": low,
            "alarm_high": high,
        }
    )


def incident_times(n: int, days: int, end: datetime, rng: np.random.Generator) -> pd.DatetimeIndex:
    """``n`` UTC report times in the ``days`` before ``end``, following the local daily rhythm.

    >>> t = incident_times(1000, 2, datetime(2024, 1, 3, tzinfo=UTC), np.random.default_rng(0))
    >>> start, end = pd.Timestamp("2024-01-01", tz="UTC"), pd.Timestamp("2024-01-03", tz="UTC")
    >>> bool(t.min() >= start), bool(t.max() < end)
    (True, True)
    """
    end_ts = pd.Timestamp(end)
    hours = pd.date_range(end=end_ts.floor("h"), periods=days * 24 + 1, freq="h", inclusive="left")
    hours = hours[hours >= end_ts - timedelta(days=days)]
    weight = HOURLY_PROFILE[hours.tz_convert(LOCAL_TZ).hour]
    span = np.minimum((end_ts - hours).total_seconds().to_numpy(), 3600.0)
    weight = weight * span / 3600.0
    pick = rng.choice(len(hours), size=n, p=weight / weight.sum())
    offset = np.floor(rng.uniform(0.0, span[pick]))
    times: pd.DatetimeIndex = hours[pick] + pd.to_timedelta(offset, unit="s")
    return times


def _incidents(
    places: _Places, n: int, days: int, end: datetime, rng: np.random.Generator
) -> pd.DataFrame:
    reported = incident_times(n, days, end, rng).sort_values()
    grid, lon, lat = places.sample(n, rng)
    shares = np.array([c.share for c in INCIDENT_CATEGORIES])
    category = rng.choice(len(INCIDENT_CATEGORIES), size=n, p=shares / shares.sum())
    channel = _channels(category, rng)
    titles, title_of = _titles()
    title = titles[title_of[category] + _title_offset(category, rng)]
    priority = rng.choice(len(PRIORITIES), size=n, p=PRIORITY_SHARES)
    urgent_kind = np.isin(
        category, [i for i, c in enumerate(INCIDENT_CATEGORIES) if c.sensor_related]
    )
    priority = np.where(urgent_kind & (channel == CHANNELS.index("sensor_alarm")), 3, priority)
    status, updated = _lifecycle(reported, end, rng)
    number = rng.integers(1, 200, n).astype(str)
    address = places.address[grid] + number + "号附近"
    channels = np.array(CHANNELS, dtype=object)
    return pd.DataFrame(
        {
            "id": _ids("INC-", n, 7),
            "lon": lon,
            "lat": lat,
            "category": np.array([c.slug for c in INCIDENT_CATEGORIES], dtype=object)[category],
            "title": title,
            "description": "市民反映：" + address + "，" + title + "，请相关部门尽快处理。",
            "channel": channels[channel],
            "status": np.array(STATUSES, dtype=object)[status],
            "priority": np.array(PRIORITIES, dtype=object)[priority],
            "address": address,
            "reported_at": reported,
            "updated_at": updated,
        }
    )


def _channels(category: IntArray, rng: np.random.Generator) -> IntArray:
    """Intake channel per incident; sensor alarms only for sensor-related categories."""
    sensor = np.array([c.sensor_related for c in INCIDENT_CATEGORIES])
    shares = np.array([c.share for c in INCIDENT_CATEGORIES])
    probs = np.tile(CHANNEL_SHARES, (len(INCIDENT_CATEGORIES), 1))
    probs[:, -1] = np.where(sensor, CHANNEL_SHARES[-1] / shares[sensor].sum(), 0.0)
    probs[:, :-1] *= (1.0 - probs[:, -1:]) / CHANNEL_SHARES[:-1].sum()
    cumulative = probs.cumsum(axis=1)[category]
    chosen = (rng.random(len(category))[:, None] > cumulative).sum(axis=1)
    return np.asarray(chosen.clip(max=len(CHANNELS) - 1), dtype=np.int64)


def _titles() -> tuple[ObjectArray, IntArray]:
    titles = np.array([t for c in INCIDENT_CATEGORIES for t in c.titles], dtype=object)
    first = np.cumsum([0] + [len(c.titles) for c in INCIDENT_CATEGORIES])[:-1]
    return titles, first


def _title_offset(category: IntArray, rng: np.random.Generator) -> IntArray:
    count = np.array([len(c.titles) for c in INCIDENT_CATEGORIES])[category]
    return np.asarray(rng.random(len(category)) * count, dtype=np.float64).astype(np.int64)


def _lifecycle(
    reported: pd.DatetimeIndex, end: datetime, rng: np.random.Generator
) -> tuple[StrArray, pd.DatetimeIndex]:
    """Status and last update: each step takes an exponential time; older gets further."""
    n = len(reported)
    steps = rng.exponential(STATUS_MEAN_HOURS, (n, len(STATUS_MEAN_HOURS))) * 3600.0
    reached = np.concatenate([np.zeros((n, 1)), steps.cumsum(axis=1)], axis=1)
    age = (pd.Timestamp(end) - reported).total_seconds().to_numpy()
    status = (reached <= age[:, None]).sum(axis=1) - 1
    since = reached[np.arange(n), status]
    return status, reported + pd.to_timedelta(np.round(since), unit="s")
