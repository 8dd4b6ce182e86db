"""``cityaware locate`` on dask.distributed: the single-process answer, resumable, named errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from cityaware.api.cli import main
from cityaware.api.testing import free_port
from cityaware.geo.bulk.pieces import find_pieces
from cityaware.geo.engine.files import locate_file
from cityaware.geo.engine.locator import GridLocator
from tests.geo.bulk import cities
from tests.geo.store import synthetic


def _locate(data: Path, source: Path | str, out: Path, scheduler: str) -> int:
    argv = ["locate", str(source), "--crs", "WGS84", "-o", str(out), "--scheduler", scheduler]
    return main([*argv, "--data-dir", str(data)])


def _parts(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("part-*.parquet"))}


@pytest.mark.slow
def test_local_cluster_equals_single_process_byte_for_byte(tmp_path, capsys):
    data, generation = cities.data_dir(tmp_path)
    source = cities.write_dataset(tmp_path / "in", files=6, rows=3_000)
    pieces = find_pieces(source)
    assert len(pieces) == 8  # two GeoParquet files of two row groups each

    assert _locate(data, source, tmp_path / "one", "sync") == 0
    assert _locate(data, source, tmp_path / "two", "local:2") == 0
    summary = capsys.readouterr().out.strip().splitlines()[-1]
    assert "on 2 cores" in summary and "points/s per core" in summary
    one, two = _parts(tmp_path / "one"), _parts(tmp_path / "two")
    assert len(one) == len(pieces) and one == two

    # An independent single-process oracle: the streaming file path on each input file.
    locator = GridLocator.build(synthetic.units(), generation)
    seen: set[str] = set()
    for index, piece in enumerate(pieces):
        got = gpd.read_parquet(tmp_path / "two" / f"part-{index:05d}.parquet")
        path = Path(piece.path)
        expected = pd.read_parquet(_oracle(path, locator, tmp_path / f"oracle{path.stem}"))
        if piece.row_group is not None:
            half = len(expected) // 2
            expected = expected.iloc[half * piece.row_group : half * (piece.row_group + 1)]
        assert got["batch"].eq(path.parent.name.split("=")[1]).all()
        for column in ("pid", "grid_code", "street_code", "status", "nearest_grid", "error"):
            assert got[column].tolist() == expected[column].tolist(), column
        valid = got["status"] != "invalid"
        assert (~valid).sum() == (piece.row_group in (None, 1))  # the last row is unusable
        if "lon" in expected:
            lon = pd.to_numeric(expected["lon"])
        else:
            lon = pd.Series(shapely.get_x(shapely.from_wkb(expected["geometry"])))
        assert got.geometry[valid].x.tolist() == lon[valid.to_numpy()].tolist()
        seen |= set(got["status"])
    assert seen == {"inside", "on_boundary", "outside", "invalid"}


def _oracle(path: Path, locator: GridLocator, out: Path) -> Path:
    target = out.with_suffix(".parquet")
    if not target.exists():
        locate_file(path, target, locator, "WGS84")
    return target


@pytest.mark.slow
def test_a_bad_partition_is_named_and_the_rerun_redoes_only_it(tmp_path, capsys):
    data, _ = cities.data_dir(tmp_path)
    source = cities.write_dataset(tmp_path / "in", files=3, rows=500)
    broken = source / "batch=1" / "f1.parquet"
    good = broken.read_bytes()
    broken.write_bytes(b"PAR1 not really")
    out = tmp_path / "out"

    assert _locate(data, source, out, "local:2") == 1
    errors = capsys.readouterr().err
    assert f"partition {broken}: cannot read" in errors and "run the same command" in errors
    done = {p.name: p.stat().st_mtime_ns for p in out.glob("part-*.parquet")}
    assert len(done) == len(find_pieces(source)) - 1

    broken.write_bytes(good)
    assert _locate(data, source, out, "local:2") == 0
    assert "(3 of 4 partitions already done)" in capsys.readouterr().out
    assert {n: t for n, t in done.items()} == {
        p.name: p.stat().st_mtime_ns for p in out.glob("part-*.parquet") if p.name in done
    }
    assert _locate(data, source, tmp_path / "fresh", "sync") == 0
    assert _parts(out) == _parts(tmp_path / "fresh")


@pytest.mark.slow
def test_a_killed_run_resumes_to_the_same_answer(tmp_path):
    data, _ = cities.data_dir(tmp_path)
    source = tmp_path / "in"
    source.mkdir()
    for k in range(40):
        cities.points(300, seed=k).to_parquet(source / f"f{k:02d}.parquet", index=False)
    out = tmp_path / "out"
    argv = [sys.executable, "-m", "cityaware.api.cli", "locate", str(source), "--crs", "WGS84"]
    argv += ["-o", str(out), "--scheduler", "sync", "--data-dir", str(data)]
    run = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not list((out / "_done").glob("*.json")) and time.monotonic() < deadline:
        time.sleep(0.005)
    os.kill(run.pid, signal.SIGKILL)
    run.wait()
    finished = len(list((out / "_done").glob("*.json")))
    assert 1 <= finished < 40
    assert _locate(data, source, out, "sync") == 0
    assert _locate(data, source, tmp_path / "fresh", "sync") == 0
    assert _parts(out) == _parts(tmp_path / "fresh")
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary left over


@pytest.mark.slow
def test_an_unreachable_scheduler_fails_in_seconds(tmp_path, capsys):
    data, _ = cities.data_dir(tmp_path)
    cities.points(10, seed=1).to_parquet(tmp_path / "p.parquet")
    port = free_port()
    start = time.monotonic()
    assert _locate(data, tmp_path / "p.parquet", tmp_path / "o", f"tcp://127.0.0.1:{port}") == 2
    assert time.monotonic() - start < 15
    error = capsys.readouterr().err
    assert f"cannot reach the dask scheduler at tcp://127.0.0.1:{port}" in error


def test_a_bad_scheduler_spec_and_a_changed_input_are_refused(tmp_path, capsys):
    data, _ = cities.data_dir(tmp_path)
    cities.points(10, seed=1).to_parquet(tmp_path / "p.parquet")
    assert _locate(data, tmp_path / "p.parquet", tmp_path / "o", "yarn") == 2
    assert "use local:N" in capsys.readouterr().err
    assert _locate(data, tmp_path / "p.parquet", tmp_path / "o", "sync") == 0
    cities.points(10, seed=1).to_parquet(tmp_path / "q.parquet")
    assert _locate(data, str(tmp_path / "*.parquet"), tmp_path / "o", "sync") == 2
    assert "holds a run with other pieces" in capsys.readouterr().err
