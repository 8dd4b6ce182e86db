"""The demo geometry kernel: sampling, seeds, Voronoi splits, the noded arrangement."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
import shapely

from cityaware.geo.demo import city, features, partition

L_SHAPE = shapely.Polygon([(113.6, 34.7), (113.8, 34.7), (113.8, 34.75), (113.65, 34.75),
                           (113.65, 34.9), (113.6, 34.9)])  # fmt: skip


def flat(lon, lat):
    return np.ones_like(lon)


@pytest.mark.parametrize("module", [partition, city, features])
def test_module_doctests(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0


def test_sample_points_stay_inside_and_follow_the_weight():
    rng = np.random.default_rng(3)
    lon, lat = partition.sample_points(
        L_SHAPE, 4000, rng, lambda x, y: np.where(x > 113.7, 9.0, 1.0)
    )
    assert len(lon) == 4000
    assert shapely.contains_xy(L_SHAPE, lon, lat).all()
    # east of 113.7 is 0.005 deg² of 0.0175 deg² but weighs 9x
    east_area, west_area = 0.1 * 0.05, 0.0175 - 0.1 * 0.05
    expected = 9 * east_area / (9 * east_area + west_area)
    assert (lon > 113.7).mean() == pytest.approx(expected, abs=0.03)


def test_kmeans_seeds_are_distinct_members():
    points = np.random.default_rng(1).normal(size=(500, 2))
    seeds = partition.kmeans_seeds(points, 12, np.random.default_rng(2))
    assert len(np.unique(seeds, axis=0)) == 12
    assert all((points == seed).all(axis=1).any() for seed in seeds)


def test_split_polygon_tiles_a_concave_parent():
    split = partition.split_polygon(L_SHAPE, 7, np.random.default_rng(5), flat)
    cells = np.array(split.cells)
    assert len(cells) == 7 and shapely.is_valid(cells).all()
    union = shapely.union_all(cells)
    assert shapely.symmetric_difference(union, L_SHAPE).area < 1e-12
    left, right = np.triu_indices(7, 1)
    assert shapely.area(shapely.intersection(cells[left], cells[right])).max() < 1e-12
    lon, lat = partition.km_to_lonlat(split.seeds_km).T
    assert shapely.contains_xy(cells, lon, lat).all()  # each seed lies in its own cell


def test_arrangement_nodes_regions_and_lines_once():
    hole = shapely.box(113.62, 34.72, 113.63, 34.73)
    regions = [
        shapely.box(113.6, 34.7, 113.7, 34.8).difference(hole),
        shapely.box(113.7, 34.7, 113.8, 34.8),
    ]
    lines = [shapely.LineString([(113.65, 34.69), (113.75, 34.81)])]
    faces, owner = partition.arrangement(regions, lines)
    assert len(faces) == 4
    for index, region in enumerate(regions):
        mine = shapely.union_all(faces[owner == index])
        assert shapely.symmetric_difference(mine, region).area < 1e-12
    steps = shapely.get_coordinates(faces) / partition.GRID_SIZE
    assert np.abs(steps - np.round(steps)).max() < 1e-6


def test_merge_fragments_moves_pieces_but_never_empties_a_unit():
    faces = np.array([shapely.box(0, 0, 2, 1), *(shapely.box(i, 0, i + 1, 1) for i in (2, 3, 4))])
    # leaves 0 and 1 are in unit 0, leaf 2 in unit 1; face 3 is a detached piece of unit 0
    chains = np.array([[0, 0, 0], [0, 0, 1], [0, 1, 2]])
    kept = partition.merge_fragments(faces, np.array([0, 2, 2, 1]), chains, [(1, 0)])
    assert kept.tolist() == [0, 2, 2, 1]  # the piece is all of leaf 1: moving it would empty it
    moved = partition.merge_fragments(faces, np.array([0, 2, 2, 0]), chains, [(1, 0)])
    assert moved.tolist() == [0, 2, 2, 2]


def test_apportion_gives_each_its_minimum_and_the_rest_by_weight():
    counts = partition.apportion([0.0, 1.0, 5.0, 2.0], 12)
    assert counts.sum() == 12 and counts.min() >= 1
    assert counts[2] > counts[3] > counts[1] >= counts[0]
    counts = partition.apportion([1.0, 1.0, 1.0], 10, minimum=[3, 0, 0])
    assert counts.sum() == 10 and counts[0] >= 3
