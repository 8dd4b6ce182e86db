"""The demo city: Zhengzhou's real districts, generated streets, communities and grids.

District outlines and every name and code are real (see data/boundaries/README.md);
all polygons below district level are GENERATED.  Each district is split into
its real streets, each street into its real communities and each community
into grids by density-weighted Voronoi cells (:mod:`geo.demo.partition`), so
the urban core around downtown gets small units and the counties large ones.
All cut lines of a district are noded once, so the four levels nest exactly.

Run ``python -m cityaware.geo.demo.city --out data/boundaries/zhengzhou-demo.gpkg``
(``make demo-boundaries``).

>>> float(population_density(np.array([DOWNTOWN[0]]), np.array([DOWNTOWN[1]]))[0]) > 1.0
True
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry

from cityaware.geo.arrays import FloatArray, IntArray, ObjectArray
from cityaware.geo.boundaries.schema import CORE_COLUMNS, LAYER_OF, STORAGE_CRS
from cityaware.geo.demo import partition
from cityaware.geo.frames import rows as frame_rows

# The source files (real district outlines, NBS division list) sit beside the repository
# as ../shared/data; set CITYAWARE_SHARED_DATA to read them elsewhere.
DEFAULT_SHARED_DATA = Path(os.environ.get("CITYAWARE_SHARED_DATA", "../shared/data"))
DISTRICTS_FILE = "zhengzhou-districts.geojson"
DIVISIONS_FILE = "zhengzhou-divisions.csv"
DEFAULT_SEED = 2023
TOTAL_GRIDS = 4744
CODE_SYSTEM, CODE_VERSION = "NBS", "2023"
LAYER_ORDER = (*LAYER_OF.values(), "zones")
# GDAL stamps "now" into GeoPackage metadata; a fixed date keeps output byte-identical.
FIXED_GPKG_DATE = "2024-01-01T00:00:00.000Z"
GPKG_VERSION = "1.2"  # opens without warnings in older GDAL/QGIS too

DOWNTOWN = (113.65, 34.75)
# Town centres (county seats, the airport city) with their relative weight.
TOWN_CENTRES = np.array(
    [
        (113.03, 34.75, 0.30),  # 巩义
        (113.05, 34.46, 0.25),  # 登封
        (113.38, 34.53, 0.25),  # 新密
        (113.38, 34.79, 0.30),  # 荥阳
        (113.30, 34.80, 0.35),  # 上街
        (113.74, 34.39, 0.30),  # 新郑
        (113.84, 34.52, 0.45),  # 航空港
        (113.98, 34.72, 0.30),  # 中牟
        (113.76, 34.73, 0.40),  # 经开区 / 郑东新区
    ]
)
# Functional zone -> (host district, direction of the zone inside the host, east/north).
ZONE_HOSTS: dict[str, tuple[str, tuple[float, float]]] = {
    "410171": ("410104", (1.0, -0.6)),  # 经开区: south-east of 管城回族区
    "410172": ("410102", (-1.0, 0.4)),  # 高新区: west of 中原区
    "410173": ("410184", (1.0, 0.5)),  # 航空港区: east of 新郑市
}


def population_density(lon: FloatArray, lat: FloatArray) -> FloatArray:
    """Relative population density: a downtown peak, town centres and a rural floor.

    >>> d = population_density(np.array([113.65, 113.0]), np.array([34.75, 34.3]))
    >>> bool(d[0] > 20 * d[1])
    True
    """
    xy = partition.to_km(lon, lat)
    core = partition.to_km(np.array([DOWNTOWN[0]]), np.array([DOWNTOWN[1]]))[0]
    density: FloatArray = 0.02 + 1.5 * np.exp(-np.hypot(*(xy - core).T) / 6.0)
    towns = partition.to_km(TOWN_CENTRES[:, 0], TOWN_CENTRES[:, 1])
    for (tx, ty), weight in zip(towns, TOWN_CENTRES[:, 2], strict=True):
        density += weight * np.exp(-np.hypot(xy[:, 0] - tx, xy[:, 1] - ty) / 2.5)
    return density


Item = TypeVar("Item")


class _DivisionRow:  # the columns read (see geo.frames)
    code: str
    name: str


class _OutlineRow:
    code: str
    name: str
    geometry: BaseGeometry


@dataclass
class Unit:
    """A node of the generation tree; ``level`` 'region' is an internal split only."""

    code: str
    name: str
    level: str
    parent_code: str
    managing_zone: str = ""
    cell: BaseGeometry | None = None
    children: list[Unit] = field(default_factory=list)
    child_seeds: FloatArray | None = None
    lines: BaseGeometry | None = None
    faces: IntArray | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    uid: int = -1  # position among all units of a build
    leaf: int = -1  # position among the leaves (grids) of a build

    @property
    def geometry(self) -> BaseGeometry:
        """``cell``, which the build sets before anything reads it."""
        if self.cell is None:
            raise RuntimeError(f"demo city: unit {self.code} {self.name} has no cell yet")
        return self.cell

    def street(self, code: str) -> Unit:
        """The street with ``code`` in this district."""
        for region in self.children:
            for street in region.children:
                if street.code == code:
                    return street
        raise KeyError(code)

    def split(self, rng: np.random.Generator) -> None:
        """Cut ``cell`` among the children, sorted north to south."""
        cut = partition.split_polygon(self.geometry, len(self.children), rng, population_density)
        order = [0]
        if cut.seeds_km is not None:
            order = np.lexsort((cut.seeds_km[:, 0], -cut.seeds_km[:, 1])).tolist()
            self.child_seeds = cut.seeds_km[order]
        self.lines = cut.lines
        for child, index in zip(self.children, order, strict=True):
            child.cell = cut.cells[index]


def _rng(seed: int, code: str, salt: int = 0) -> np.random.Generator:
    return np.random.default_rng([seed, int(code), salt])


def load_divisions(shared_data: Path) -> pd.DataFrame:
    """The real NBS divisions (level, code, name, parent_code) as strings."""
    return pd.read_csv(shared_data / DIVISIONS_FILE, dtype=str, keep_default_na=False)


def load_districts(shared_data: Path) -> gpd.GeoDataFrame:
    """Repaired district outlines; overlaps go to the lower code; snapped to the grid."""
    frame = gpd.read_file(shared_data / DISTRICTS_FILE).sort_values("code").reset_index(drop=True)
    taken: BaseGeometry = shapely.Polygon()
    outlines = []
    for geom in frame.geometry:
        repaired = _polygonal(shapely.make_valid(geom))
        own = _polygonal(shapely.difference(repaired, taken, grid_size=partition.GRID_SIZE))
        outlines.append(own)
        taken = shapely.union(taken, own, grid_size=partition.GRID_SIZE)
    return gpd.GeoDataFrame(frame[["code", "name"]], geometry=outlines, crs=STORAGE_CRS)


def _polygonal(geom: BaseGeometry) -> BaseGeometry:
    parts = [p for p in shapely.get_parts(geom) if p.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts, grid_size=partition.GRID_SIZE)


def plan_district(
    code: str, name: str, outline: BaseGeometry, divisions: pd.DataFrame, seed: int
) -> Unit:
    """District -> regions (host/zone) -> streets -> communities, with approximate cells."""
    district = Unit(code, name, "district", "", cell=outline)
    zones = [zone for zone, (host, _) in ZONE_HOSTS.items() if host == code]
    regions = [Unit(code, name, "region", code)]
    zone_names = divisions.set_index("code").name
    regions += [Unit(zone, zone_names[zone], "zone", code, managing_zone=zone) for zone in zones]
    district.children = regions
    if zones:
        _split_host(district, ZONE_HOSTS[zones[0]][1], divisions, seed)
    else:
        regions[0].cell = outline
    for region in regions:
        rows = divisions[divisions.parent_code == region.code].sort_values("code")
        region.children = [
            Unit(r.code, r.name, "street", code, managing_zone=region.managing_zone)
            for r in frame_rows(rows, _DivisionRow)
        ]
        region.split(_rng(seed, region.code, 1))
        for street in region.children:
            rows = divisions[divisions.parent_code == street.code].sort_values("code")
            street.children = [
                Unit(r.code, r.name, "community", street.code, managing_zone=street.managing_zone)
                for r in frame_rows(rows, _DivisionRow)
            ]
            street.split(_rng(seed, street.code, 2))
    return district


def _split_host(
    district: Unit, direction: tuple[float, float], divisions: pd.DataFrame, seed: int
) -> None:
    """Cut a host district across ``direction`` so the zone gets its share of people."""
    rest, zone = district.children
    counts = [int((divisions.parent_code == r.code).sum()) for r in (rest, zone)]
    lon, lat = partition.sample_points(
        district.geometry, 2000, _rng(seed, district.code, 3), population_density
    )
    unit = np.asarray(direction) / np.hypot(*direction)
    cut = float(np.quantile(partition.to_km(lon, lat) @ unit, counts[0] / sum(counts)))
    seeds = np.array([(cut - 0.5) * unit, (cut + 0.5) * unit])
    split = partition.split_by_seeds(district.geometry, seeds)
    district.child_seeds, district.lines = seeds, split.lines
    rest.cell, zone.cell = split.cells


def _district_grid_quotas(outlines: gpd.GeoDataFrame, divisions: pd.DataFrame) -> dict[str, int]:
    """Grids per district: one per community, the rest by the district's population."""
    district_of = {c: c for c in outlines.code}
    district_of.update({zone: host for zone, (host, _) in ZONE_HOSTS.items()})
    streets = divisions[divisions.level == "township"].set_index("code").parent_code
    communities = divisions[divisions.level == "community"]
    owner = streets[communities.parent_code].map(district_of)
    minimum = owner.value_counts().reindex(outlines.code).to_numpy()
    counts = partition.apportion(
        partition.lattice_totals(list(outlines.geometry), population_density), TOTAL_GRIDS, minimum
    )
    return dict(zip(outlines.code, counts.tolist(), strict=True))


def _communities(district: Unit) -> Iterable[Unit]:
    for region in district.children:
        for street in region.children:
            yield from street.children


def _plan_grids(community: Unit, count: int, office: str, seed: int) -> None:
    stem = community_stem(community.name)
    staff = grid_staff(count, office, _rng(seed, community.code, 4))
    community.children = [
        Unit(
            f"{community.code}{i + 1:03d}",
            f"{stem}第{i + 1}网格",
            "grid",
            community.code,
            managing_zone=community.managing_zone,
            attributes=staff[i],
        )
        for i in range(count)
    ]
    community.split(_rng(seed, community.code, 5))


def community_stem(name: str) -> str:
    """A community's short name, without the committee suffix.

    >>> community_stem("碧沙岗社区居委会"), community_stem("木楼村委会")
    ('碧沙岗社区', '木楼村')
    """
    for suffix, keep in (
        ("居民委员会", ""),
        ("居委会", ""),
        ("村民委员会", "村"),
        ("村委会", "村"),
    ):
        if name.endswith(suffix):
            return name.removesuffix(suffix) + keep
    return name


def _office(street: Unit) -> str:
    return street.name + ("人民政府" if street.name.endswith(("镇", "乡")) else "办事处")


# Leaf chains hold (district, region, street, community, grid) ids; detached
# pieces merge level by level, each within its parent (street within district).
FRAGMENT_LEVELS = [(2, 0), (3, 2), (4, 3)]


def _number(plans: list[Unit]) -> tuple[list[Unit], IntArray]:
    """Give every unit an id; return all units and each leaf's chain of ids."""
    units: list[Unit] = []
    chains: list[list[int]] = []

    def walk(unit: Unit, chain: list[int]) -> None:
        unit.uid = len(units)
        units.append(unit)
        if unit.children:
            for child in unit.children:
                walk(child, [*chain, unit.uid])
        else:
            unit.leaf = len(chains)
            chains.append([*chain, unit.uid])

    for plan in plans:
        walk(plan, [])
    return units, np.array(chains)


def _assign(unit: Unit, points: FloatArray, index: IntArray, leaf: IntArray) -> None:
    """Send faces down the tree to the nearest child seed; record each face's leaf."""
    if not unit.children:
        leaf[index] = unit.leaf
        return
    if unit.child_seeds is None:
        owner = np.zeros(len(index), dtype=int)
    else:
        owner = partition.nearest_seed(points[index], unit.child_seeds)
    for i, child in enumerate(unit.children):
        _assign(child, points, index[owner == i], leaf)


def _attach_faces(units: list[Unit], chains: IntArray, leaf: IntArray) -> None:
    for unit in units:
        unit.faces = np.empty(0, dtype=int)
    for column in range(chains.shape[1]):
        ids = chains[leaf, column]
        order = np.argsort(ids, kind="stable")
        uids, starts = np.unique(ids[order], return_index=True)
        for uid, index in zip(uids, np.split(order, starts[1:]), strict=True):
            units[uid].faces = np.sort(index)


def _records(district: Unit, faces: ObjectArray) -> dict[str, list[dict[str, Any]]]:
    rows: dict[str, list[dict[str, Any]]] = {layer: [] for layer in LAYER_ORDER}

    def add(
        layer: str, unit: Unit, parent_code: str, attributes: dict[str, Any] | None = None
    ) -> None:
        if unit.faces is None or len(unit.faces) == 0:
            raise RuntimeError(f"demo city: unit {unit.code} {unit.name} got no area")
        geom = shapely.union_all(faces[unit.faces])
        row = {
            "code": unit.code,
            "name": unit.name,
            "level": unit.level,
            "parent_code": parent_code,
            "code_system": CODE_SYSTEM,
            "code_version": CODE_VERSION,
            "managing_zone": unit.managing_zone,
            "attributes": json.dumps(attributes or {}, ensure_ascii=False),
            "geometry": geom,
        }
        if layer == "grids":
            row.update(attributes or {})
        rows[layer].append(row)

    add("districts", district, "")
    for region in district.children:
        if region.managing_zone:
            add("zones", region, "", {"host_district": district.code})
        for street in region.children:
            add("streets", street, district.code)
            for community in street.children:
                add("communities", community, street.code)
                for grid in community.children:
                    add("grids", grid, community.code, grid.attributes)
    return rows


SURNAMES = list(
    "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭"
)
GIVEN = list(
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国志文斌辉鹏宇浩然晨阳欣怡梓涵子轩佳琪雨桐思远嘉豪"
)
PHONE_PREFIXES = np.array([130, 131, 132, 133, 135, 136, 137, 138, 139, 150, 151, 152, 155, 156,
                           157, 158, 159, 166, 173, 175, 176, 177, 180, 181, 182, 183, 185, 186,
                           187, 188, 189, 191, 193, 195, 198, 199])  # fmt: skip


def grid_staff(count: int, office: str, rng: np.random.Generator) -> list[dict[str, str]]:
    """``count`` generated grid workers: a Chinese name, a mobile number and the office.

    >>> staff = grid_staff(2, "林山寨街道办事处", np.random.default_rng(0))
    >>> len(staff), len(staff[0]["phone"]), staff[0]["office"]
    (2, 11, '林山寨街道办事处')
    """
    surname = rng.integers(0, len(SURNAMES), count)
    given = rng.integers(0, len(GIVEN), (count, 2))
    two_chars = rng.random(count) < 0.7
    prefix = PHONE_PREFIXES[rng.integers(0, len(PHONE_PREFIXES), count)]
    number = rng.integers(0, 100_000_000, count)
    return [
        {
            "worker": SURNAMES[surname[i]]
            + "".join(GIVEN[g] for g in given[i, : 1 + two_chars[i]]),
            "phone": f"{prefix[i]}{number[i]:08d}",
            "office": office,
        }
        for i in range(count)
    ]


def build_demo_boundaries(
    shared_data: Path = DEFAULT_SHARED_DATA,
    seed: int = DEFAULT_SEED,
    districts: Iterable[str] | None = None,
    progress: bool = False,
) -> dict[str, gpd.GeoDataFrame]:
    """Generate the demo hierarchy; ``districts`` limits the output to some district codes.

    A subset yields exactly the rows the full build has for those districts.

    >>> layers = build_demo_boundaries(districts=["410106"])  # doctest: +SKIP
    >>> sorted(layers)  # doctest: +SKIP
    ['communities', 'districts', 'grids', 'streets', 'zones']
    """
    divisions = load_divisions(Path(shared_data))
    outlines = load_districts(Path(shared_data))
    quotas = _district_grid_quotas(outlines, divisions)
    wanted = set(districts) if districts is not None else set(outlines.code)
    chosen = outlines[outlines.code.isin(wanted)]
    plans = []
    for row in _progress(list(frame_rows(chosen, _OutlineRow)), progress):
        plan = plan_district(row.code, row.name, row.geometry, divisions, seed)
        communities = list(_communities(plan))
        populations = [
            c.geometry.area
            * float(population_density(*_xy(shapely.point_on_surface(c.geometry)))[0])
            for c in communities
        ]
        counts = partition.apportion(populations, quotas[row.code])
        for community, count in zip(communities, counts, strict=True):
            office = _office(plan.street(community.parent_code))
            _plan_grids(community, int(count), office, seed)
        plans.append(plan)
    lines = [line for plan in plans for line in _all_lines(plan)]
    faces, owner = partition.arrangement([plan.geometry for plan in plans], lines)
    units, chains = _number(plans)
    leaf = np.full(len(faces), -1)
    points = partition.face_points_km(faces)
    for index, plan in enumerate(plans):
        _assign(plan, points, np.flatnonzero(owner == index), leaf)
    leaf = partition.merge_fragments(faces, leaf, chains, FRAGMENT_LEVELS)
    _attach_faces(units, chains, leaf)
    rows: dict[str, list[dict[str, Any]]] = {layer: [] for layer in LAYER_ORDER}
    for plan in plans:
        for layer, records in _records(plan, faces).items():
            rows[layer].extend(records)
    return {layer: _frame(records) for layer, records in rows.items()}


def _xy(point: Point) -> tuple[FloatArray, FloatArray]:
    return np.array([point.x]), np.array([point.y])


def _all_lines(unit: Unit) -> list[BaseGeometry]:
    lines = [unit.lines] if unit.lines is not None else []
    for child in unit.children:
        lines.extend(_all_lines(child))
    return lines


def _frame(records: list[dict[str, Any]]) -> gpd.GeoDataFrame:
    frame = pd.DataFrame(records, columns=None if records else [*CORE_COLUMNS, "geometry"])
    frame = frame.sort_values("code", kind="stable").reset_index(drop=True)
    return gpd.GeoDataFrame(frame, geometry="geometry", crs=STORAGE_CRS)


def _progress(items: list[Item], enabled: bool) -> Iterable[Item]:
    if not enabled:
        return items
    from tqdm import tqdm

    return tqdm(items, desc="demo city", unit="district", file=sys.stderr)


def write_demo_gpkg(layers: dict[str, gpd.GeoDataFrame], path: Path) -> None:
    """Write the layers to a fresh GeoPackage, byte-identical for identical input.

    >>> write_demo_gpkg(build_demo_boundaries(), Path("demo.gpkg"))  # doctest: +SKIP
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.partial{path.suffix}")
    tmp.unlink(missing_ok=True)
    previous = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": FIXED_GPKG_DATE})
    try:
        for layer in LAYER_ORDER:
            if layer in layers:
                pyogrio.write_dataframe(
                    layers[layer],
                    tmp,
                    layer=layer,
                    driver="GPKG",
                    promote_to_multi=True,
                    dataset_options={"VERSION": GPKG_VERSION},
                )
        tmp.replace(path)
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": previous})
        tmp.unlink(missing_ok=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: build the demo boundaries and write the GeoPackage."""
    parser = argparse.ArgumentParser(
        prog="python -m cityaware.geo.demo.city", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--out", type=Path, required=True, help="output GeoPackage")
    parser.add_argument("--shared-data", type=Path, default=DEFAULT_SHARED_DATA)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        layers = build_demo_boundaries(args.shared_data, args.seed, progress=True)
        write_demo_gpkg(layers, args.out)
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    counts = ", ".join(f"{len(frame)} {name}" for name, frame in layers.items())
    print(f"wrote {args.out}: {counts} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
