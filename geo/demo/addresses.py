"""Address points of the demo city: roads with house numbers, compounds and landmarks,
generated deterministically inside its boundary units (see :mod:`geo.gazetteer.points`
for the frames' columns).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import partial

import geopandas as gpd
import numpy as np
from shapely.geometry import LineString, Point
from shapely.geometry.base import BaseGeometry

from cityaware.geo.boundaries.schema import STORAGE_CRS
from cityaware.geo.crs import metric_crs_of_bounds
from cityaware.geo.frames import rows
from cityaware.geo.gazetteer.points import NUMBER_SPACING_M

_ROADS_BY_DISTRICT = {  # well-known roads of the central districts
    "410105": "纬一路 纬二路 纬三路 纬四路 纬五路 经一路 经二路 经三路 经四路 经五路 经六路 "
    "经七路 花园路 农业路 金水路 黄河路 政七街 红专路 东明路",
    "410103": "航海中路 淮河西路 兴华街 建中街 福华街 德化街",
    "410102": "中原路 伏牛路 嵩山北路 须水河路 科学大道 枫杨街 长椿路 雪松路",
    "410104": "紫荆山路 商城路 书院街 第八大街 经北一路 航海东路 南三环",
    "410108": "天河路 开元路 英才街",
    "410184": "郑港四路 新港大道 迎宾大道",
}
_ROAD_WORDS = (
    "安澜 嘉禾 锦绣 康宁 顺和 永福 长乐 兴业 富民 和谐 瑞祥 华山 泰山 黄山 庐山 天山 银杏 丁香 "
    "玉兰 海棠 紫藤 翠竹 松柏 青云 白云 明理 崇德 尚贤 博爱 育才 文明 光明 平安 幸福 振兴 建国 "
    "解放 友谊 团结 春晖 秋实 朝阳 临河 滨湖 望山 商贸 工业 学院 民主"
).split()
_ROAD_SUFFIXES = (
    "路",
    "路",
    "路",
    "街",
    "大道",
    "巷",
    "一路",
    "二路",
    "中路",
    "东路",
    "西路",
    "北路",
)
_COMPOUND_WORDS = (
    "阳光 金色 绿城 建业 正商 碧桂园 鑫苑 康桥 永威 亚星 升龙 名门 融创 万科 瀚海 保利 美景 "
    "锦艺 中海 昌建 清华园 民安 天明 国基 英协 橄榄城 联盟 宏光 朗悦 润泽 御景 盛世 翰林 书香 "
    "溪岸 锦城 丽水 金桥 东方 世纪 怡园 紫荆 棕榈 帝湖 名仕 枫林 凯旋 银河"
).split()
_COMPOUND_SUFFIXES = ("小区", "花园", "家园", "苑", "院", "公寓", "新村", "华庭")
_COMPOUND_PHASES = ("", "", "", "", "一期", "二期", "东区", "西区", "南院", "北院")
_LANDMARK_FORMS = (
    ("医院", "{}医院"),
    ("医院", "{}社区卫生服务中心"),
    ("学校", "{}小学"),
    ("学校", "{}中学"),
    ("公园", "{}公园"),
    ("广场", "{}广场"),
    ("商场", "{}购物中心"),
    ("地铁站", "{}地铁站"),
)


class _StreetRow:  # the columns read (see geo.frames)
    code: str
    parent_code: str
    name: str
    geometry: BaseGeometry


def _namespace(district_code: str) -> str:
    """Names are unique across the urban districts and within each county-level city."""
    return district_code if district_code >= "410122" else "urban"


def _pick(rng: np.random.Generator, options: Sequence[str]) -> str:
    return options[int(rng.integers(len(options)))]


def _road_name(rng: np.random.Generator) -> str:
    return _pick(rng, _ROAD_WORDS) + _pick(rng, _ROAD_SUFFIXES)


def _compound_name(rng: np.random.Generator, suffix: str) -> str:
    return _pick(rng, _COMPOUND_WORDS) + suffix + _pick(rng, _COMPOUND_PHASES)


def _fresh(taken: set[str], make: Callable[[], str], tries: int = 40) -> str | None:
    """A name from ``make()`` not yet in ``taken`` (then taken), or None."""
    for _ in range(tries):
        name = make()
        if name not in taken:
            taken.add(name)
            return name
    return None


def _interior_point(
    polygon: BaseGeometry, rng: np.random.Generator, margin_m: float = 40.0
) -> Point:
    """A random point at least ``margin_m`` inside a metric polygon (else its centre)."""
    inner = polygon.buffer(-margin_m)
    if inner.is_empty:
        return polygon.representative_point()
    minx, miny, maxx, maxy = inner.bounds
    for _ in range(50):
        candidate = Point(rng.uniform(minx, maxx), rng.uniform(miny, maxy))
        if inner.contains(candidate):
            return candidate
    return inner.representative_point()


def _road_through(
    point: Point, district: BaseGeometry, rng: np.random.Generator, half_m: float
) -> LineString:
    """A straight road through ``point`` at a random angle, clipped to the district."""
    angle = rng.uniform(0, math.pi)
    dx, dy = math.cos(angle) * half_m, math.sin(angle) * half_m
    line = LineString([(point.x - dx, point.y - dy), (point.x + dx, point.y + dy)])
    clipped = line.intersection(district)
    if hasattr(clipped, "geoms"):
        pieces = [g for g in clipped.geoms if g.geom_type == "LineString"]
        clipped = min(pieces, key=lambda g: g.distance(point)) if pieces else line
    return clipped if isinstance(clipped, LineString) and clipped.length > 200 else line


def demo_address_points(
    units: gpd.GeoDataFrame, seed: int = 8
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Generate roads, compounds and landmarks inside the demo city's units.

    Every street gets its namesake road when named after one (经八路街道 ->
    经八路, 德化街街道 -> 德化街), a few generated roads, compounds and
    landmarks; names are unique across the urban districts and within each
    county-level city, but repeat between those (as in real cities).
    Same units and seed, same points.
    """
    rng = np.random.default_rng(seed)
    metric_crs = metric_crs_of_bounds(units.to_crs(STORAGE_CRS).total_bounds)
    metric = units.to_crs(metric_crs)
    by_level = {level: metric[metric.level == level] for level in ("district", "street", "grid")}
    districts = by_level["district"]
    district_geom = dict(zip(districts.code, districts.geometry, strict=True))
    parents = dict(zip(units.code, units.parent_code, strict=True))
    grids_of_street: dict[str, list[BaseGeometry]] = {}
    for code, geom in zip(by_level["grid"].code, by_level["grid"].geometry, strict=True):
        grids_of_street.setdefault(parents.get(parents.get(code, ""), ""), []).append(geom)
    roads, places = [], []
    used: dict[str, set[str]] = {}
    known = {d: names.split() for d, names in _ROADS_BY_DISTRICT.items()}
    for street in rows(by_level["street"].sort_values("code"), _StreetRow):
        taken = used.setdefault(_namespace(street.parent_code), set())
        grids = grids_of_street.get(street.code) or [street.geometry]
        stem = street.name.split("开发区")[-1].removesuffix("街道")
        names = [stem] if stem.endswith(("路", "街", "大道")) and stem not in taken else []
        taken.update(names)
        pool = known.get(street.parent_code, [])
        for _ in range(2 if names else 3):
            name = _fresh(taken, partial(_pick, rng, pool), 8 if pool else 0)
            if name := name or _fresh(taken, partial(_road_name, rng)):
                names.append(name)
        for name in names:
            start = _interior_point(grids[int(rng.integers(len(grids)))], rng)
            district = district_geom.get(street.parent_code, street.geometry)
            line = _road_through(start, district, rng, rng.uniform(600, 1500))
            top = max(2, int(line.length / NUMBER_SPACING_M) * 2)
            roads.append(
                {"name": name, "number_from": 1, "number_to": min(top, 299), "geometry": line}
            )
        core = stem if len(stem) >= 2 else street.name
        for _ in range(int(rng.integers(5, 9))):
            suffix = _pick(rng, _COMPOUND_SUFFIXES)
            name = _fresh(taken, partial(_compound_name, rng, suffix))
            if name:
                point = _interior_point(grids[int(rng.integers(len(grids)))], rng)
                places.append(
                    {"kind": "compound", "name": name, "category": suffix, "geometry": point}
                )
        for category, form in _LANDMARK_FORMS:
            name = _fresh(taken, partial(form.format, core))
            if name and rng.random() < 0.5:
                point = _interior_point(grids[int(rng.integers(len(grids)))], rng)
                places.append(
                    {"kind": "landmark", "name": name, "category": category, "geometry": point}
                )
    roads_frame = gpd.GeoDataFrame(roads, crs=metric_crs).to_crs(STORAGE_CRS)
    places_frame = gpd.GeoDataFrame(places, crs=metric_crs).to_crs(STORAGE_CRS)
    return roads_frame, places_frame
