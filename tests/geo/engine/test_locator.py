"""GridLocator against an oracle built on shapely covers/distance, point by point.

The oracle is brute force over every grid (no index, no raster): ``covers`` in
lon/lat decides containment, smallest code breaks ties, distances are
measured on the grids projected to EPSG:4547.
"""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cityaware.geo.crs import from_lonlat, to_lonlat
from cityaware.geo.engine.locator import GridLocator
from cityaware.geo.errors import InvalidInput, NotFound
from cityaware.geo.resources import demo_boundaries
from tests.geo.engine.synthetic import voronoi_units

SMALL_CITY = shapely.Polygon(
    [(113.60, 34.70), (113.70, 34.69), (113.72, 34.78), (113.65, 34.80), (113.59, 34.77)]
)
NEAR_M = 10.0
TOLERANCE_M = 500.0
DEMO = demo_boundaries()


class Oracle:
    def __init__(self, units) -> None:
        grids = units[units["level"] == "grid"].sort_values("code")
        self.codes = grids["code"].tolist()
        self.geoms = grids.geometry.to_numpy()
        self.metric = grids.to_crs("EPSG:4547").geometry.to_numpy()

    def answer(self, lon: float, lat: float) -> dict:
        point = shapely.Point(lon, lat)
        covering = [c for c, g in zip(self.codes, self.geoms, strict=True) if g.covers(point)]
        x, y = from_lonlat(lon, lat, "EPSG:4547")
        distances = shapely.distance(self.metric, shapely.Point(x, y))
        grid = min(covering) if covering else None
        near = sorted(c for c, d in zip(self.codes, distances, strict=True) if d <= NEAR_M)
        others = [c for c in near if c != grid] or None
        answer = {"grid": grid, "candidates": others, "nearest": None, "distance": None}
        if grid is None:
            status = "outside"
            best = int(np.argmin(distances))
            if distances[best] <= TOLERANCE_M:
                answer["nearest"], answer["distance"] = self.codes[best], distances[best]
        elif self.geoms[self.codes.index(grid)].contains(point):
            status = "inside"
        else:
            status = "on_boundary"
        answer["status"] = status
        return answer


@pytest.fixture(scope="module")
def city():
    units = voronoi_units(40, seed=5, city=SMALL_CITY)
    locator = GridLocator.build(units, "test", near_m=NEAR_M, outside_tolerance_m=TOLERANCE_M)
    return units, locator, Oracle(units)


def check(locator: GridLocator, oracle: Oracle, lon: np.ndarray, lat: np.ndarray) -> None:
    """The full answer, then the containment-only one (no candidates), against the oracle."""
    check_answers(locator.locate_many(lon, lat), oracle, lon, lat, candidates=True)
    lean = locator.locate_lonlat(lon, lat, candidates=False)
    check_answers(lean, oracle, lon, lat, candidates=False)


def check_answers(batch, oracle: Oracle, lon, lat, candidates: bool) -> None:
    for i in range(len(lon)):
        expected = oracle.answer(float(lon[i]), float(lat[i]))
        got = batch[i]
        where = f"point {i} ({lon[i]!r}, {lat[i]!r}), candidates={candidates}"
        assert got.status == expected["status"], where
        assert got.grid_code == expected["grid"], where
        assert got.candidates == (expected["candidates"] if candidates else None), where
        assert got.nearest_grid == expected["nearest"], where
        if expected["distance"] is None:
            assert np.isnan(got.distance_m), where
        else:
            assert got.distance_m == pytest.approx(expected["distance"], abs=1e-6), where
        if got.grid_code is not None:
            assert got.community_code == got.grid_code[:12]
            assert (got.street_code, got.district_code) == ("410105001", "410105")


def boundary_points(units, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Vertices, points interpolated along edges, and points just off edges."""
    grids = units[units["level"] == "grid"].geometry.to_numpy()
    rng = np.random.default_rng(seed)
    vertices = shapely.get_coordinates(grids)
    picks = vertices[rng.integers(0, len(vertices), n)]
    rings = shapely.boundary(grids[rng.integers(0, len(grids), n)])
    along = shapely.get_coordinates(
        shapely.line_interpolate_point(rings, rng.uniform(0, 1, n), normalized=True)
    )
    jitter = along + rng.normal(0, 5e-5, along.shape)  # within ~5 m: candidates
    xy = np.vstack([picks, along, jitter])
    return xy[:, 0], xy[:, 1]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.integers(0, 2**32 - 1))
def test_random_points_match_the_oracle(city, seed):
    units, locator, oracle = city
    rng = np.random.default_rng(seed)
    west, south, east, north = SMALL_CITY.buffer(0.02).bounds
    lon, lat = rng.uniform(west, east, 30), rng.uniform(south, north, 30)
    check(locator, oracle, lon, lat)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.integers(0, 2**32 - 1))
def test_points_on_edges_and_vertices_match_the_oracle(city, seed):
    units, locator, oracle = city
    lon, lat = boundary_points(units, 15, seed)
    check(locator, oracle, lon, lat)


def test_vertices_get_exactly_one_grid_the_smallest_code(city):
    units, locator, oracle = city
    lon, lat = boundary_points(units, 200, seed=11)
    batch = locator.locate_many(lon[:200], lat[:200])
    assert set(batch.status) == {"on_boundary"}
    for i in range(200):
        point = shapely.Point(lon[i], lat[i])
        covering = [c for c, g in zip(oracle.codes, oracle.geoms, strict=True) if g.covers(point)]
        assert batch.grid_code[i] == min(covering)
        assert set(batch.candidates[i] or []) >= set(covering) - {min(covering)}


def test_holes_and_multipolygon_islands(city):
    units, locator, oracle = city
    grids = units[units["level"] == "grid"]
    holed = grids[shapely.get_num_interior_rings(grids.geometry.values) > 0]
    island = grids[grids.geom_type == "MultiPolygon"]
    assert len(holed) and len(island)
    lake = shapely.polygons(shapely.get_interior_ring(holed.geometry.values[0], 0))
    in_lake = shapely.get_coordinates(shapely.centroid(lake))
    on_island = shapely.get_coordinates(
        shapely.get_geometry(island.geometry.values[0], -1).centroid
    )
    lon = np.r_[in_lake[:, 0], on_island[:, 0]]
    lat = np.r_[in_lake[:, 1], on_island[:, 1]]
    check(locator, oracle, lon, lat)
    lake_answer, island_answer = locator.locate_many(lon, lat)[0], locator.locate_many(lon, lat)[1]
    assert lake_answer.status == "outside" and lake_answer.nearest_grid is not None
    assert island_answer.grid_code == island["code"].iloc[0]


def test_far_outside_has_no_nearest_grid(city):
    _, locator, _ = city
    far = locator.locate(114.5, 34.0)
    assert (far.status, far.grid_code, far.nearest_grid) == ("outside", None, None)
    assert np.isnan(far.distance_m)


def test_single_point_equals_batch_and_other_crs_agree(city):
    units, locator, oracle = city
    rng = np.random.default_rng(3)
    lon, lat = rng.uniform(113.60, 113.70, 50), rng.uniform(34.70, 34.78, 50)
    batch = locator.locate_many(lon, lat)
    for crs in ("GCJ-02", "BD-09", "EPSG:4547"):
        x, y = from_lonlat(lon, lat, crs)
        converted = locator.locate_many(x, y, crs=crs)
        assert converted.grid_code.tolist() == batch.grid_code.tolist(), crs
        one = locator.locate(float(x[7]), float(y[7]), crs=crs)
        assert one.grid_code == batch.grid_code[7]
    for i in range(50):
        assert locator.locate(lon[i], lat[i]).to_dict() == batch[i].to_dict()
    frame = batch.to_frame()
    assert len(frame) == 50 and frame["grid_code"].tolist() == batch.grid_code.tolist()


def test_bad_input_is_rejected(city):
    _, locator, _ = city
    with pytest.raises(InvalidInput, match="swapped"):
        locator.locate(34.75, 113.65)
    with pytest.raises(InvalidInput, match="row 1: .*latitude"):
        locator.locate_many([113.65, 113.65], [34.75, 134.6])
    with pytest.raises(InvalidInput, match="unknown CRS"):
        locator.locate(113.65, 34.75, crs="WGS-84-ish")


def test_unit_and_chain(city):
    units, locator, _ = city
    grid = units[units["level"] == "grid"].iloc[0]
    chain = locator.chain(grid["code"])
    assert list(chain) == ["grid", "community", "street", "district"]
    assert chain["community"]["code"] == grid["parent_code"]
    assert locator.unit(grid["code"])["attributes"]["worker"].startswith("w")
    with pytest.raises(NotFound):
        locator.unit("nope")


def test_cache_hit_skips_the_rebuild(tmp_path):
    units = voronoi_units(15, seed=2, city=SMALL_CITY)
    first = GridLocator.build(units, "gen-1", cache_dir=tmp_path)
    files = list(tmp_path.glob("grid-lookup-gen-1-*"))
    assert not first.from_cache and len(files) == 1
    second = GridLocator.build(units, "gen-1", cache_dir=tmp_path)
    assert second.from_cache
    assert np.array_equal(second.table.fine, first.table.fine)
    moved = units.copy()
    moved.loc[moved["level"] == "grid", "geometry"] = moved[moved["level"] == "grid"].translate(
        1e-4
    )
    (tmp_path / "grid-lookup-gen-1-x-0123456789abcdef0123.npz").write_bytes(b"other gen")
    (tmp_path / "grid-lookup-gen-1-0123456789abcdef0123.npz").write_bytes(b"old format")
    assert not GridLocator.build(moved, "gen-1", cache_dir=tmp_path).from_cache
    remaining = sorted(p.name for p in tmp_path.glob("grid-lookup-*"))
    assert files[0].name not in remaining and len(remaining) == 2  # stale ones replaced
    opened = GridLocator.open(tmp_path / remaining[0])  # without the units
    rng = np.random.default_rng(5)
    lon, lat = rng.uniform(113.58, 113.73, 2000), rng.uniform(34.68, 34.81, 2000)
    fresh = GridLocator.build(moved, "gen-1", cache_dir=None)
    assert opened.from_cache and opened.generation == "gen-1"
    validity = shapely.is_valid(fresh.exact.geometries).tolist()
    assert opened.exact.valid.tolist() == validity  # saved, not recomputed
    (tmp_path / remaining[0] / "valid.npy").unlink()  # a folder saved before valid.npy
    assert GridLocator.open(tmp_path / remaining[0]).exact.valid.tolist() == validity
    for name in ("status", "grid_code", "district_code", "nearest_grid", "candidates"):
        assert (
            getattr(opened.locate_lonlat(lon, lat), name).tolist()
            == getattr(fresh.locate_lonlat(lon, lat), name).tolist()
        )


@pytest.mark.skipif(not DEMO.exists(), reason="demo boundaries not generated")
def test_demo_city_matches_covers_oracle(tmp_path):
    from cityaware.geo.boundaries.io import read_hierarchy_gpkg

    units = read_hierarchy_gpkg(DEMO)
    locator = GridLocator.build(units, "demo", cache_dir=tmp_path)
    grids = units[units["level"] == "grid"].sort_values("code")
    codes = grids["code"].to_numpy(dtype=object)
    rng = np.random.default_rng(0)
    west, south, east, north = grids.total_bounds
    lon, lat = rng.uniform(west, east, 20_000), rng.uniform(south, north, 20_000)
    vertices = shapely.get_coordinates(grids.geometry.values)[::50]
    lon, lat = np.r_[lon, vertices[:, 0]], np.r_[lat, vertices[:, 1]]
    tree = shapely.STRtree(grids.geometry.values)
    point_idx, grid_idx = tree.query(shapely.points(lon, lat), predicate="covered_by")
    expected = np.full(len(lon), None, dtype=object)
    order = np.argsort(grid_idx)[::-1]
    expected[point_idx[order]] = codes[grid_idx[order]]
    batch = locator.locate_many(lon, lat)
    assert (batch.grid_code == expected).all()
    assert (batch.status[-len(vertices) :] == "on_boundary").all()
    lean = locator.locate_lonlat(lon, lat, candidates=False)
    assert (lean.grid_code == expected).all() and (lean.status == batch.status).all()
    chain = locator.chain(batch.grid_code[-1])
    assert chain["street"]["code"] == batch.street_code[-1]


def test_overlapping_and_nested_grids_still_match_the_oracle():
    """Bad data (overlaps, a grid inside another, a sliver) gets the covers answer too."""
    import geopandas as gpd

    big = shapely.box(113.60, 34.70, 113.64, 34.74)
    shapes = {
        "g1": big,
        "g2": shapely.box(113.63, 34.70, 113.67, 34.74),  # overlaps g1 by ~900 m
        "g3": shapely.box(113.61, 34.71, 113.612, 34.712),  # inside g1
        "g4": shapely.box(113.6399, 34.70, 113.6401, 34.74),  # ~20 m sliver inside both
    }
    units = gpd.GeoDataFrame(
        {"code": list(shapes), "level": "grid", "parent_code": "", "managing_zone": ""},
        geometry=list(shapes.values()),
        crs="EPSG:4326",
    )
    locator = GridLocator.build(units, "bad", near_m=NEAR_M, outside_tolerance_m=TOLERANCE_M)
    oracle = Oracle(units)
    rng = np.random.default_rng(9)
    lon = np.r_[rng.uniform(113.595, 113.675, 400), rng.uniform(113.6395, 113.6405, 200)]
    lat = np.r_[rng.uniform(34.695, 34.745, 400), rng.uniform(34.70, 34.74, 200)]
    edges = shapely.get_coordinates(
        shapely.line_interpolate_point(
            shapely.boundary(np.array(list(shapes.values()))[rng.integers(0, 4, 200)]),
            rng.uniform(0, 1, 200),
            normalized=True,
        )
    )  # on edges, some of them inside another grid
    lon, lat = np.r_[lon, edges[:, 0]], np.r_[lat, edges[:, 1]]
    for candidates in (True, False):
        batch = locator.locate_lonlat(lon, lat, candidates=candidates)
        for i in range(len(lon)):
            expected = oracle.answer(float(lon[i]), float(lat[i]))
            assert batch.grid_code[i] == expected["grid"], i
            if candidates:
                assert batch.candidates[i] == expected["candidates"], i
            assert batch.status[i] == expected["status"], i


def test_batch_split_over_threads_equals_one_part_and_the_oracle(city, monkeypatch):
    """Rows of every part land in the right place: codes, candidates, nearest, errors."""
    import cityaware.geo.engine.locator as locator_module

    units, locator, oracle = city
    rng = np.random.default_rng(3)
    west, south, east, north = SMALL_CITY.buffer(0.02).bounds
    edge_lon, edge_lat = boundary_points(units, 40, seed=4)
    lon = np.r_[rng.uniform(west, east, 180), edge_lon, np.nan, rng.uniform(west, east, 100)]
    lat = np.r_[rng.uniform(south, north, 180), edge_lat, 34.7, rng.uniform(south, north, 100)]
    monkeypatch.setattr(locator_module, "WORKERS", 1)
    whole = locator.locate_lonlat(lon, lat).to_frame()
    monkeypatch.setattr(locator_module, "WORKERS", 2)
    monkeypatch.setattr(locator_module, "PART_MIN_POINTS", 100)
    split = locator.locate_lonlat(lon, lat)
    assert split.to_frame().equals(whole)
    assert split.status[300] == "invalid" and split.error[300] == "not a finite number"
    finite = np.flatnonzero(np.isfinite(lon))
    check(locator, oracle, lon[finite], lat[finite])  # the split batch, checked point by point


def test_block_affines_stay_within_their_error_bound(city):
    """The affine stand-in for the projection (points in listed cells) vs pyproj."""
    from cityaware.geo.engine.lookup import LISTED

    _, locator, _ = city
    table = locator.table
    rng = np.random.default_rng(8)
    west, south, east, north = SMALL_CITY.bounds
    lon, lat = rng.uniform(west, east, 200_000), rng.uniform(south, north, 200_000)
    listed = table.lookup(lon, lat) <= LISTED
    lon, lat = lon[listed], lat[listed]
    exact_x, exact_y = locator.exact.to_metric(lon, lat)
    x, y = table.metric_near_edges(lon, lat)
    error = np.hypot(x - exact_x, y - exact_y)
    assert len(lon) > 10_000
    assert error.max() <= table.metric_error_m < 0.005  # 20 m cells: about a millimetre
    assert error.max() > table.metric_error_m / 10  # the bound is not wildly loose


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.integers(0, 2**32 - 1))
def test_points_near_the_candidate_distance_match_the_oracle(city, seed):
    """Points near_m ± a few mm from an edge: the affine error margin must send the
    close calls to the exact path."""
    units, locator, oracle = city
    grids = units[units["level"] == "grid"].to_crs("EPSG:4547").geometry.to_numpy()
    rng = np.random.default_rng(seed)
    rings = shapely.boundary(grids[rng.integers(0, len(grids), 12)])
    where = rng.uniform(0, 0.999, 12)
    a = shapely.get_coordinates(shapely.line_interpolate_point(rings, where, normalized=True))
    b = shapely.get_coordinates(
        shapely.line_interpolate_point(rings, where + 1e-4, normalized=True)
    )
    normal = (b - a)[:, ::-1] * [1, -1] / np.hypot(*(b - a).T)[:, None]
    offset = (NEAR_M + rng.uniform(-0.004, 0.004, 12)) * rng.choice([-1.0, 1.0], 12)
    xy = a + normal * offset[:, None]  # near_m ± 4 mm off an edge, either side
    lon, lat = to_lonlat(xy[:, 0], xy[:, 1], "EPSG:4547")
    check(locator, oracle, lon, lat)
