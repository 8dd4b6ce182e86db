"""Geometry kernel of the demo city: weighted seeds, Voronoi splits, one noded arrangement.

A parent polygon is split into ``k`` children by density-weighted k-means seeds
and the Voronoi diagram of those seeds.  All split lines of one district (every
level) are noded together on a fixed precision grid and polygonized into
*faces*; each unit is the union of the faces assigned to it.  Because every
level is built from the same faces, nesting is exact and siblings share
bit-identical edges.

Distances and Voronoi diagrams use a local metric plane (km, equirectangular
around Zhengzhou) so cells are not stretched by the lon/lat aspect.

>>> import shapely
>>> square = shapely.box(113.6, 34.7, 113.7, 34.8)
>>> rng = np.random.default_rng(1)
>>> split = split_polygon(square, 3, rng, lambda lon, lat: np.ones_like(lon))
>>> split.seeds_km.shape, len(split.cells)
((3, 2), 3)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry.base import BaseGeometry

from cityaware.geo.arrays import FloatArray, IntArray, ObjectArray

# Fixed precision of every output coordinate, degrees (~1 cm).
GRID_SIZE = 1e-7
ORIGIN_LON, ORIGIN_LAT = 113.6, 34.7
KM_PER_DEG_LAT = 110.574
KM_PER_DEG_LON = 111.320 * float(np.cos(np.radians(ORIGIN_LAT)))
# Child split lines reach this far (degrees, ~10 cm) past their parent so they
# always cross its edge after snapping; stray ends are dangles polygonize drops.
LINE_OVERSHOOT = 1e-6

WeightFn = Callable[[FloatArray, FloatArray], FloatArray]


def to_km(lon: FloatArray, lat: FloatArray) -> FloatArray:
    """Lon/lat to the local km plane, shape (n, 2).

    >>> to_km(np.array([113.6]), np.array([34.7])).tolist()
    [[0.0, 0.0]]
    """
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    return np.column_stack(
        ((lon - ORIGIN_LON) * KM_PER_DEG_LON, (lat - ORIGIN_LAT) * KM_PER_DEG_LAT)
    )


def km_to_lonlat(coords: FloatArray) -> FloatArray:
    """Local km plane (n, 2) back to lon/lat (n, 2).

    >>> km_to_lonlat(to_km(np.array([113.7]), np.array([34.8]))).round(9).tolist()
    [[113.7, 34.8]]
    """
    return np.column_stack(
        (coords[:, 0] / KM_PER_DEG_LON + ORIGIN_LON, coords[:, 1] / KM_PER_DEG_LAT + ORIGIN_LAT)
    )


def _lonlat_to_km(coords: FloatArray) -> FloatArray:
    return to_km(coords[:, 0], coords[:, 1])


def sample_points(
    polygon: BaseGeometry, n: int, rng: np.random.Generator, weight: WeightFn
) -> tuple[FloatArray, FloatArray]:
    """``n`` lon/lat points inside ``polygon`` with density proportional to ``weight``.

    >>> lon, lat = sample_points(shapely.box(0, 0, 1, 1), 5, np.random.default_rng(0),
    ...                          lambda x, y: np.ones_like(x))
    >>> bool(shapely.contains_xy(shapely.box(0, 0, 1, 1), lon, lat).all())
    True
    """
    shapely.prepare(polygon)
    minx, miny, maxx, maxy = polygon.bounds
    bbox_area = (maxx - minx) * (maxy - miny)
    fill = polygon.area / bbox_area if bbox_area > 0 else 1.0
    lons: list[FloatArray] = []
    lats: list[FloatArray] = []
    have = 0
    while have < n:
        batch = int(min(max(4 * (n - have) / max(fill, 0.05), 256), 200_000))
        x = rng.uniform(minx, maxx, batch)
        y = rng.uniform(miny, maxy, batch)
        u = rng.uniform(0.0, 1.0, batch)
        inside = shapely.contains_xy(polygon, x, y)
        x, y, u = x[inside], y[inside], u[inside]
        if len(x) == 0:
            continue
        w = weight(x, y)
        keep = u * w.max() <= w
        lons.append(x[keep])
        lats.append(y[keep])
        have += int(keep.sum())
    return np.concatenate(lons)[:n], np.concatenate(lats)[:n]


def kmeans_seeds(
    points: FloatArray, k: int, rng: np.random.Generator, iters: int = 12
) -> FloatArray:
    """``k`` distinct seeds among ``points`` (n, 2): the member nearest each k-means centre.

    Seeds are sample points, so they lie inside the sampled polygon.

    >>> pts = np.array([[0, 0], [0.1, 0], [5, 5], [5.1, 5]], dtype=float)
    >>> sorted(kmeans_seeds(pts, 2, np.random.default_rng(0)).round(1).tolist())
    [[0.0, 0.0], [5.0, 5.0]]
    """
    centres = points[rng.choice(len(points), size=k, replace=False)]
    for _ in range(iters):
        label = _nearest(points, centres)
        counts = np.bincount(label, minlength=k)
        filled = counts > 0
        for axis in (0, 1):
            sums = np.bincount(label, weights=points[:, axis], minlength=k)
            centres[filled, axis] = sums[filled] / counts[filled]
    label = _nearest(points, centres)
    chosen = np.full(k, -1)
    dist = np.hypot(*(points - centres[label]).T)
    order = np.lexsort((dist, label))
    first = np.unique(label[order], return_index=True)
    chosen[first[0]] = order[first[1]]
    taken = np.zeros(len(points), dtype=bool)
    taken[chosen[chosen >= 0]] = True
    for cluster in np.flatnonzero(chosen < 0):
        # an empty cluster takes the free point farthest from every seed so far
        gap = np.min(np.hypot(*(points[:, None, :] - points[chosen[chosen >= 0]][None]).T), axis=0)
        gap[taken] = -1.0
        chosen[cluster] = int(np.argmax(gap))
        taken[chosen[cluster]] = True
    seeds: FloatArray = points[chosen]
    return seeds


def _nearest(points: FloatArray, centres: FloatArray) -> IntArray:
    d2 = ((points[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
    nearest: IntArray = np.argmin(d2, axis=1)
    return nearest


def nearest_seed(points: FloatArray, seeds: FloatArray) -> IntArray:
    """Index of the nearest seed for every point (both in km, shape (n, 2)).

    >>> nearest_seed(np.array([[0.0, 0.0], [9.0, 9.0]]), np.array([[10.0, 10.0], [1.0, 1.0]]))
    array([1, 0])
    """
    return _nearest(points, seeds)


@dataclass
class Split:
    """A parent cut into children: seeds (km), approximate child cells and the cut lines."""

    seeds_km: FloatArray | None
    cells: list[BaseGeometry]
    lines: BaseGeometry | None


def split_polygon(
    parent: BaseGeometry,
    k: int,
    rng: np.random.Generator,
    weight: WeightFn,
    samples_per_child: int = 25,
) -> Split:
    """Split ``parent`` (lon/lat) into ``k`` Voronoi cells of weighted k-means seeds."""
    if k == 1:
        return Split(None, [parent], None)
    lon, lat = sample_points(parent, max(samples_per_child * k, 120), rng, weight)
    points = to_km(lon, lat)
    seeds = kmeans_seeds(points, k, rng)
    return split_by_seeds(parent, seeds)


def split_by_seeds(parent: BaseGeometry, seeds: FloatArray) -> Split:
    """Cells and cut lines of the Voronoi diagram of ``seeds`` (km) inside ``parent``."""
    minx, miny, maxx, maxy = shapely.transform(parent, _lonlat_to_km).bounds
    pad = 1.0 + max(maxx - minx, maxy - miny)
    frame = shapely.box(minx - pad, miny - pad, maxx + pad, maxy + pad)
    sites = shapely.MultiPoint(seeds)
    cells_km = shapely.get_parts(shapely.voronoi_polygons(sites, extend_to=frame))
    owner = [
        int(np.flatnonzero(shapely.contains_xy(c, seeds[:, 0], seeds[:, 1]))[0]) for c in cells_km
    ]
    cells_km = cells_km[np.argsort(owner)]
    cells = shapely.intersection(shapely.transform(cells_km, km_to_lonlat), parent)
    edges_km = shapely.voronoi_polygons(sites, extend_to=frame, only_edges=True)
    reach = shapely.buffer(parent, LINE_OVERSHOOT, quad_segs=1, join_style="mitre")
    lines = shapely.intersection(shapely.transform(edges_km, km_to_lonlat), reach)
    return Split(seeds, list(cells), lines)


def arrangement(
    regions: list[BaseGeometry], lines: Sequence[BaseGeometry]
) -> tuple[ObjectArray, IntArray]:
    """Faces of the disjoint ``regions`` cut by ``lines``, noded once on :data:`GRID_SIZE`.

    Returns the faces and, for each face, the index of the region holding it.
    Faces in no region (gaps, holes) are dropped.

    >>> faces, owner = arrangement([shapely.box(0, 0, 2, 1), shapely.box(2, 0, 3, 1)],
    ...                            [shapely.LineString([(1, -1), (1, 2)])])
    >>> sorted(zip(owner.tolist(), (round(f.area, 6) for f in faces)))
    [(0, 1.0), (0, 1.0), (1, 1.0)]
    """
    linework = shapely.union_all(
        [*shapely.boundary(regions), *[g for g in lines if g is not None]], grid_size=GRID_SIZE
    )
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(linework)))
    inner = shapely.point_on_surface(faces)
    face_index, region_index = shapely.STRtree(regions).query(inner, predicate="within")
    _, first = np.unique(face_index, return_index=True)
    return faces[face_index[first]], region_index[first]


def face_points_km(faces: ObjectArray) -> FloatArray:
    """An interior point of every face, in km (n, 2)."""
    inner = shapely.point_on_surface(faces)
    return to_km(shapely.get_x(inner), shapely.get_y(inner))


def merge_fragments(
    faces: ObjectArray, leaf: IntArray, chains: IntArray, levels: list[tuple[int, int]]
) -> IntArray:
    """Hand detached pieces of units to the neighbour they share the longest edge with.

    ``leaf`` is the leaf unit of every face; ``chains[leaf]`` the unit ids of
    that leaf at every level (column).  For each ``(column, parent_column)`` in
    ``levels``, every piece but the largest of a unit moves, whole chain, to the
    leaf across its longest shared edge within the same parent — unless that
    would empty a unit below it.  Returns the new leaf of every face.

    >>> faces = np.array([shapely.box(i, 0, i + 1, 1) for i in range(3)])
    >>> chains = np.array([[0, 0], [0, 1]])  # leaf 0 is unit 0, leaf 1 is unit 1
    >>> merge_fragments(faces, np.array([0, 1, 0]), chains, [(1, 0)]).tolist()
    [0, 1, 1]
    """
    leaf = leaf.copy()
    tree = shapely.STRtree(faces)
    rings = shapely.boundary(faces)
    for column, parent_column in levels:
        unit = chains[leaf, column]
        order = np.argsort(unit, kind="stable")
        starts = np.unique(unit[order], return_index=True)[1]
        for index in np.split(order, starts[1:]):
            if len(index) < 2:
                continue
            parts = shapely.get_parts(shapely.union_all(faces[index]))
            if len(parts) < 2:
                continue
            for part in parts[np.argsort(-shapely.area(parts), kind="stable")[1:]]:
                members = index[shapely.covered_by(faces[index], part)]
                if len(members) == 0 or not _movable(members, leaf, chains, column):
                    continue
                target = _neighbour_leaf(
                    part, members, leaf, chains, (column, parent_column), tree, rings
                )
                if target is not None:
                    leaf[members] = target
    return leaf


def _movable(members: IntArray, leaf: IntArray, chains: IntArray, column: int) -> bool:
    """True when every unit below ``column`` in ``members`` keeps faces elsewhere."""
    for below in range(column + 1, chains.shape[1]):
        inside, count_inside = np.unique(chains[leaf[members], below], return_counts=True)
        everywhere = chains[leaf, below]
        total = np.array([(everywhere == u).sum() for u in inside])
        if (total == count_inside).any():
            return False
    return True


def _neighbour_leaf(
    part: BaseGeometry,
    members: IntArray,
    leaf: IntArray,
    chains: IntArray,
    columns: tuple[int, int],
    tree: shapely.STRtree,
    rings: ObjectArray,
) -> int | None:
    column, parent_column = columns
    own = chains[leaf[members[0]]]
    near = tree.query(part, predicate="intersects")
    near = near[~np.isin(near, members)]
    chain = chains[leaf[near]]
    fits = (chain[:, parent_column] == own[parent_column]) & (chain[:, column] != own[column])
    near = near[fits]
    if len(near) == 0:
        return None
    shared = shapely.length(shapely.intersection(shapely.boundary(part), rings[near]))
    leaves, which = np.unique(leaf[near], return_inverse=True)
    total = np.bincount(which, weights=shared)
    return int(leaves[np.argmax(total)]) if total.max() > 0 else None


def apportion(
    populations: npt.ArrayLike, total: int, minimum: npt.ArrayLike | None = None
) -> IntArray:
    """Split ``total`` units: ``minimum`` each (default 1), the rest by ``populations``.

    The rest goes by largest remainder, ties to the earlier entry.

    >>> apportion([1.0, 3.0, 0.0], 6).tolist()
    [2, 3, 1]
    >>> apportion([1.0, 1.0], 7, minimum=[2, 3]).tolist()
    [3, 4]
    """
    weights = np.asarray(populations, dtype=float)
    floor = np.ones(len(weights), dtype=int) if minimum is None else np.asarray(minimum)
    extra = total - int(floor.sum())
    quota = extra * weights / weights.sum()
    counts = np.floor(quota).astype(int)
    remainder = quota - counts
    order = np.lexsort((np.arange(len(weights)), -remainder))
    counts[order[: extra - counts.sum()]] += 1
    shares: IntArray = counts + floor
    return shares


def lattice_totals(
    regions: Sequence[BaseGeometry], weight: WeightFn, step: float = 0.005
) -> FloatArray:
    """``weight`` summed over a lattice of ``step``° inside each region (a population).

    >>> totals = lattice_totals([shapely.box(0, 0, 1, 1), shapely.box(1, 0, 3, 1)],
    ...                         lambda lon, lat: np.ones_like(lon), step=0.1)
    >>> totals.tolist()
    [100.0, 200.0]
    """
    minx, miny, maxx, maxy = shapely.total_bounds(np.asarray(regions, dtype=object))
    lon_grid, lat_grid = np.meshgrid(
        np.arange(minx, maxx, step) + step / 2, np.arange(miny, maxy, step) + step / 2
    )
    lon, lat = lon_grid.ravel(), lat_grid.ravel()
    density = weight(lon, lat)
    return np.array([density[shapely.contains_xy(r, lon, lat)].sum() for r in regions])
