"""Build the small, real-shaped boundary fixtures of tests/data (see README.md there).

    .venv/bin/python -m tests.data.build_fixtures

Deterministic (fixed seed). The outlines are generated around the real centres of
two Henan cities with their real NBS district codes and names; they are not the
real outlines. The dirt is deliberate and documented in README.md.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from pyproj import Transformer

HERE = Path(__file__).parent
GK = "EPSG:4547"  # CGCS2000 / 3-degree Gauss-Kruger CM 114E
KAIFENG = {
    "410202": "龙亭区",
    "410203": "顺河回族区",
    "410204": "鼓楼区",
    "410205": "禹王台区",
    "410212": "祥符区",
}
LUOYANG = {
    "410302": "老城区",
    "410303": "西工区",
    "410304": "瀍河回族区",
    "410305": "涧西区",
    "410311": "洛龙区",
}
# The hole of 祥符区 in the Gauss-Kruger file comes this close (m) to its straight
# northern edge: valid in metres, self-crossing once reprojected to lon/lat.
GK_HOLE_GAP_M = 0.3


def outline(lon: float, lat: float, radius: float, seed: int, flat_north: bool) -> shapely.Polygon:
    """A jagged city outline (~160 vertices); with ``flat_north`` a straight northern edge."""
    rng = np.random.default_rng(seed)
    theta = np.linspace(0, 2 * np.pi, 160, endpoint=False)
    noise = np.convolve(rng.normal(0, 0.06, 180), np.ones(8) / 8, mode="same")[:160]
    r = radius * (1 + 0.12 * np.sin(3 * theta + seed) + noise)
    x = lon + r * np.cos(theta) / np.cos(np.radians(lat))
    y = lat + r * np.sin(theta)
    if flat_north:
        keep = ~((theta > np.radians(65)) & (theta < np.radians(115)))
        top = y[(theta >= np.radians(60)) & (theta <= np.radians(120))].max()
        y = np.where((theta >= np.radians(60)) & (theta <= np.radians(120)), top, y)
        x, y = x[keep], y[keep]
    return shapely.Polygon(np.column_stack([x, y]).round(6))


def cells(region: shapely.Polygon, seeds: np.ndarray) -> list[shapely.Geometry]:
    """Voronoi cells of ``seeds`` clipped to ``region`` (neighbours share their vertices)."""
    voronoi = shapely.voronoi_polygons(shapely.MultiPoint(seeds), extend_to=region)
    parts = list(shapely.get_parts(voronoi))
    ordered = [next(p for p in parts if p.contains(shapely.Point(s))) for s in seeds]
    return [shapely.set_precision(p.intersection(region), 1e-6) for p in ordered]


def kaifeng_clean() -> list[shapely.Geometry]:
    """Four inner districts and 祥符区 around them."""
    city = outline(114.35, 34.80, 0.22, seed=2, flat_north=True)
    core = outline(114.35, 34.79, 0.05, seed=5, flat_north=False)
    seeds = np.array([(114.33, 34.81), (114.38, 34.81), (114.33, 34.77), (114.38, 34.77)])
    inner = cells(core, seeds)
    xiangfu = shapely.set_precision(city.difference(shapely.union_all(inner)), 1e-6)
    return [*inner, xiangfu]


def luoyang() -> list[shapely.Geometry]:
    """Five districts; 老城区 and 西工区 leave a 400 m square gap on their shared edge."""
    city = outline(112.45, 34.62, 0.12, seed=7, flat_north=False)
    seeds = [(112.47, 34.68), (112.42, 34.67), (112.52, 34.66), (112.36, 34.63), (112.46, 34.57)]
    districts = cells(city, np.array(seeds))
    shared = districts[0].boundary.intersection(districts[1].boundary)
    centre = shapely.line_interpolate_point(shapely.line_merge(shared), 0.5, normalized=True)
    gap = shapely.box(centre.x - 0.0022, centre.y - 0.0018, centre.x + 0.0022, centre.y + 0.0018)
    districts[0], districts[1] = districts[0].difference(gap), districts[1].difference(gap)
    return districts


def dirty(geoms: list[shapely.Geometry]) -> list[shapely.Geometry]:
    """The lon/lat Kaifeng file with the dirt of real files (see README.md)."""
    out = list(geoms)
    # 龙亭区: two consecutive vertices swapped -> a twisted, self-crossing (bow-tie) ring
    ring = np.array(out[0].exterior.coords)[:-1]
    for i in range(2, len(ring) - 2):
        twisted = ring.copy()
        twisted[[i, i + 1]] = twisted[[i + 1, i]]
        if not shapely.Polygon(twisted).is_valid:
            break
    out[0] = shapely.Polygon(twisted)
    # 顺河回族区: every vertex doubled (valid, but real files have it)
    ring = np.repeat(np.array(out[1].exterior.coords)[:-1], 2, axis=0)
    out[1] = shapely.Polygon(ring)
    # 鼓楼区: a zero-width spike (out and back) reaching 400 m into its neighbour
    ring = np.array(out[2].exterior.coords)[:-1]
    centre = np.array(out[2].centroid.coords[0])
    tip = ring[2] + (ring[2] - centre) / np.linalg.norm(ring[2] - centre) * 0.004
    out[2] = shapely.Polygon(np.vstack([ring[:3], tip, ring[2:]]))
    # 禹王台区: a "lake" hole that spills over its shell into the neighbour
    shell = out[3].exterior
    edge_point = np.array(shell.interpolate(0.3, normalized=True).coords[0])
    inward = np.array(out[3].centroid.coords[0]) - edge_point
    inward /= np.linalg.norm(inward)
    across = np.array([-inward[1], inward[0]])
    lake = [
        edge_point - 0.003 * inward + 0.002 * across,
        edge_point + 0.004 * inward + 0.002 * across,
        edge_point + 0.004 * inward - 0.002 * across,
        edge_point - 0.003 * inward - 0.002 * across,
    ]
    out[3] = shapely.Polygon(shell.coords, [lake])
    return out


def gauss_kruger(geoms: list[shapely.Geometry]) -> list[shapely.Geometry]:
    """The Kaifeng districts in metres, 祥符区 with a hole (an enclave) that comes
    GK_HOLE_GAP_M from its straight northern edge."""
    to_gk = Transformer.from_crs("EPSG:4326", GK, always_xy=True)
    metric = [
        shapely.transform(g, lambda xy: np.column_stack(to_gk.transform(*xy.T))) for g in geoms
    ]
    xiangfu = metric[-1]
    coords = np.array(xiangfu.exterior.coords)
    longest = int(np.argmax(np.hypot(*np.diff(coords, axis=0).T)))  # the straight north edge
    a, b = coords[longest], coords[longest + 1]
    middle, along = (a + b) / 2, (b - a) / np.linalg.norm(b - a)
    south = np.array([along[1], -along[0]]) if along[0] > 0 else np.array([-along[1], along[0]])
    hole = [
        middle + 600 * south - 400 * along,
        middle + 600 * south + 400 * along,
        middle + GK_HOLE_GAP_M * south,
    ]
    holes = [list(r.coords) for r in xiangfu.interiors]
    metric[-1] = shapely.Polygon(xiangfu.exterior.coords, [*holes, hole])
    return [shapely.set_precision(g, 0.001) if g is not metric[-1] else g for g in metric]


def divisions_csv() -> str:
    rows = [
        ("city", "410200", "开封市", "410000"),
        *(("county", code, name, "410200") for code, name in KAIFENG.items()),
        ("township", "410202001", "北书店街道", "410202"),
        ("township", "410202002", "午朝门街道", "410202"),
        ("township", "410202200", "柳园口乡", "410202"),
        ("community", "410202001001", "北门大街社区", "410202001"),
        ("community", "410202001002", "刘府门社区", "410202001"),
        ("village", "410202200201", "柳园口村", "410202200"),
        ("township", "410203001", "清平街道", "410203"),
        ("community", "410203001001", "清平社区", "410203001"),
        ("township", "410204001", "相国寺街道", "410204"),
        ("township", "410205001", "三里堡街道", "410205"),
        ("town", "410212100", "城关镇", "410212"),
        ("town", "410212101", "陈留镇", "410212"),
        ("village", "410212101201", "陈留村", "410212101"),
    ]
    return "level,code,name,parent_code\n" + "".join(",".join(r) + "\n" for r in rows)


def frame(names: dict[str, str], geoms: list[shapely.Geometry], crs: str) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"code": list(names), "name": list(names.values())}, geometry=geoms, crs=crs
    )


def main() -> None:
    clean = kaifeng_clean()
    frame(KAIFENG, dirty(clean), "EPSG:4326").to_file(
        HERE / "kaifeng-districts-dirty.geojson", engine="pyogrio", driver="GeoJSON"
    )
    metric = gauss_kruger(clean)
    frame(KAIFENG, metric, GK).to_file(HERE / "kaifeng-districts-gk.gpkg", engine="pyogrio")
    swapped = [shapely.transform(g, lambda xy: xy[:, ::-1]) for g in metric]
    frame(KAIFENG, swapped, GK).to_file(
        HERE / "kaifeng-districts-gk-northfirst.gpkg", engine="pyogrio"
    )
    (HERE / "kaifeng-divisions.csv").write_text(divisions_csv(), encoding="utf-8")
    luoyang_frame = frame(LUOYANG, luoyang(), "EPSG:4326")
    luoyang_frame["备注"] = ["城区"] * len(LUOYANG)
    shp = HERE / "luoyang-districts-gbk.shp"
    luoyang_frame.to_file(shp, engine="pyogrio", encoding="GBK")
    shp.with_suffix(".cpg").unlink()
    print(json.dumps(sorted(p.name for p in HERE.iterdir() if p.suffix != ".py")))


if __name__ == "__main__":
    main()
