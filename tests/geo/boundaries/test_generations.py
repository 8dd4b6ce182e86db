"""Staging, atomic activation, stable unit identity and diffs of boundary generations."""

from __future__ import annotations

import json
import os

import pytest
import shapely

from cityaware.geo.boundaries.generations import BoundaryRegistry
from cityaware.geo.errors import InvalidInput, NotFound

from .builders import box_m, to_lonlat, units_frame

D, S1, S2 = "410102", "410102001", "410102002"
C = "410100"  # the city, derived from the district code


def _first_release():
    return units_frame(
        [
            (D, "district", "", box_m(0, 0, 200, 100), "中原区"),
            (S1, "street", D, box_m(0, 0, 100, 100), "林山寨街道"),
            (S2, "street", D, box_m(100, 0, 200, 100), "建设路街道"),
        ]
    )


def _second_release():
    """S1 renamed (same outline), S2 moved its edge, S3 new."""
    units = units_frame(
        [
            (D, "district", "", box_m(0, 0, 200, 100), "中原区"),
            (S1, "street", D, box_m(0, 0, 100, 100), "林山寨街道办事处"),
            (S2, "street", D, box_m(100, 0, 150, 100), "建设路街道"),
            ("410102003", "street", D, box_m(150, 0, 200, 100), "新街道"),
        ]
    )
    return units


def test_staged_generation_is_inactive_until_activated(registry):
    with pytest.raises(NotFound, match="no active boundary generation yet"):
        registry.units()
    generation = registry.stage(_first_release(), source="a.gpkg", note="first")

    assert generation == "g0001"
    assert registry.active() is None
    with pytest.raises(NotFound, match="no active"):
        registry.units()
    registry.activate(generation)
    assert registry.active() == "g0001"
    assert registry.units()["code"].tolist() == [D, S1, S2, C]
    assert (registry.root / "ACTIVE").read_text().strip() == "g0001"


def test_generations_listing_and_validation_saved(registry):
    first = registry.stage(_first_release(), source="a.gpkg", note="first")
    registry.activate(first)
    second = registry.stage(_second_release(), source="b.gpkg")

    listing = registry.generations()
    assert [(g["id"], g["active"], g["source"]) for g in listing] == [
        ("g0001", True, "a.gpkg"),
        ("g0002", False, "b.gpkg"),
    ]
    assert listing[0]["note"] == "first"
    assert listing[1]["counts"] == {
        "city": 1,
        "district": 1,
        "street": 3,
        "community": 0,
        "grid": 0,
    }
    saved = json.loads((registry.root / second / "validation.json").read_text())
    assert saved["units"] == 5 and saved["counts"]["gap"] == 0
    assert registry.validation(second) == saved


def test_older_generations_stay_queryable_and_levels_filter(registry):
    first = registry.stage(_first_release())
    second = registry.stage(_second_release())
    registry.activate(second)

    assert len(registry.units()) == 5
    old = registry.units(first, level="street")
    assert old["code"].tolist() == [S1, S2]
    assert old.crs == "EPSG:4326"
    original = _first_release()
    assert shapely.equals_exact(old.geometry.iloc[1], original.geometry.iloc[2], 1e-12)
    assert registry.units(second, level="district")["name"].tolist() == ["中原区"]
    with pytest.raises(NotFound, match="'g0042' not found \\(known: g0001, g0002\\)"):
        registry.units("g0042")
    with pytest.raises(NotFound):
        registry.units("../etc")
    with pytest.raises(InvalidInput, match="unknown level"):
        registry.units(first, level="village")


def test_unchanged_units_keep_their_identity(registry):
    first = registry.stage(_first_release())
    second = registry.stage(_second_release())
    old = registry.units(first).set_index("code")["unit_id"]
    new = registry.units(second).set_index("code")["unit_id"]

    assert new[D] == old[D]  # untouched
    assert new[S1] == old[S1]  # only renamed: same code and outline
    assert new[S2] != old[S2]  # outline changed
    assert new.is_unique

    since = registry.units(second).set_index("code")["since_generation"]
    assert since.to_dict() == {D: first, S1: first, S2: second, "410102003": second, C: first}

    third = registry.stage(_first_release())  # the first release again
    assert registry.units(third)["unit_id"].tolist() == old.tolist()
    assert registry.units(third)["since_generation"].tolist() == [first, first, third, first]


def test_diff_lists_added_removed_changed_and_updated(registry):
    first = registry.stage(_first_release())
    second = registry.stage(_second_release())

    diff = registry.diff(first, second)
    assert diff == {
        "added": ["410102003"],
        "removed": [],
        "changed": [S2],
        "updated": [S1],
    }
    assert registry.diff(second, first)["removed"] == ["410102003"]
    with pytest.raises(NotFound):
        registry.diff(first, "g0099")


def test_activation_is_an_atomic_pointer_switch(registry, monkeypatch):
    first = registry.stage(_first_release())
    second = registry.stage(_second_release())
    registry.activate(first)

    def failing_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        registry.activate(second)
    monkeypatch.undo()

    assert registry.active() == first  # the old pointer is intact
    assert sorted(p.name for p in registry.root.iterdir()) == ["ACTIVE", "g0001", "g0002"]
    with pytest.raises(NotFound):
        registry.activate("g0003")
    assert registry.active() == first
    registry.activate(second)
    assert registry.active() == second


def test_bad_frames_are_refused_without_a_trace(registry):
    units = _first_release()
    units.loc[2, "code"] = S1
    with pytest.raises(InvalidInput, match="duplicate codes"):
        registry.stage(units)
    with pytest.raises(InvalidInput, match="no boundary units"):
        registry.stage(units.iloc[:0])
    points = _first_release()
    points.loc[0, "geometry"] = to_lonlat(shapely.Point(1, 1))
    with pytest.raises(InvalidInput, match="feature 1 \\(code 410102\\): Point geometry"):
        registry.stage(points)
    assert registry.generations() == []
    assert not registry.root.exists()  # nothing was written


def test_stage_files_makes_one_generation_from_several_files(registry, tmp_path):
    units = _second_release()
    units[units.level == "district"].to_file(tmp_path / "d.geojson", engine="pyogrio")
    units[units.level == "street"].to_file(tmp_path / "s.fgb", engine="pyogrio")

    generation = registry.stage_files([tmp_path / "d.geojson", tmp_path / "s.fgb"], note="n")

    staged = registry.units(generation)
    assert sorted(staged["code"]) == sorted([*units["code"], C])
    assert registry.generations()[0]["source"] == "d.geojson, s.fgb"


def test_numeric_codes_in_a_frame_are_staged_as_exact_digits(registry):
    units = _first_release()
    units["code"] = units["code"].astype("int64")
    units["parent_code"] = [None, 410102.0, 410102.0]

    staged = registry.units(registry.stage(units))

    assert staged["code"].tolist() == [D, S1, S2, C]
    assert staged["parent_code"].tolist() == [C, D, D, ""]


def test_staging_repairs_invalid_geometry_and_reports_it(registry):
    units = _first_release()
    west, south, east, north = units.geometry.iloc[1].bounds
    bow_tie = shapely.Polygon([(west, south), (east, north), (east, south), (west, north)])
    units.loc[1, "geometry"] = bow_tie

    generation = registry.stage(units)

    staged = registry.units(generation)
    assert staged.geometry.is_valid.all()
    assert staged.geometry.iloc[1].area == pytest.approx(shapely.make_valid(bow_tie).area)
    repaired = [f for f in registry.validation(generation)["findings"] if f["kind"] == "repaired"]
    assert [f["codes"] for f in repaired] == [[S1]]


def test_concurrent_stagings_get_distinct_generations(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    root = tmp_path / "boundaries"
    with ThreadPoolExecutor(max_workers=4) as pool:
        ids = list(pool.map(lambda _: BoundaryRegistry(root).stage(_first_release()), range(4)))

    assert sorted(ids) == ["g0001", "g0002", "g0003", "g0004"]
    listing = BoundaryRegistry(root).generations()
    assert [g["id"] for g in listing] == sorted(ids)
    assert not [p for p in root.iterdir() if p.name.startswith(".")]  # no staging leftovers


def test_the_active_pointer_read_from_its_stat_follows_every_switch(registry):
    """The pointer is read again only when its file changes: another registry on the same
    folder (another process) sees each activation at once, also a pointer written in place
    and one removed."""
    first = registry.stage(_first_release(), source="a.gpkg")
    second = registry.stage(_second_release(), source="b.gpkg")
    other = BoundaryRegistry(registry.root)
    assert other.active() is None
    registry.activate(first)
    assert other.active() == first
    registry.activate(second)
    assert other.active() == second and other.active() == second
    (registry.root / "ACTIVE").write_text(first + "\n")  # in place: same inode, new size/time
    os.utime(registry.root / "ACTIVE", ns=(1, 1))
    assert other.active() == first
    (registry.root / "ACTIVE").unlink()
    assert other.active() is None
