"""The wheel works on its own: built from the checkout, installed into a fresh venv
outside it, it holds only ``cityaware`` at the top level and runs ``cityaware demo``
and ``cityaware locate`` from there.

Installing every dependency again would take minutes, so the wheel goes in with
``--no-deps`` and a ``.pth`` file makes the checkout venv's third-party packages
visible. A ``.pth``-added directory does not run that directory's own ``.pth``
files, so the checkout's editable ``cityaware`` finder stays inactive; the test
asserts that ``cityaware`` really comes from the new venv.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

pytestmark = pytest.mark.slow

CHECKOUT = Path(__file__).resolve().parents[2]
PROBE = """
import importlib, json
import cityaware.geo
from cityaware.geo.resources import demo_boundaries
failed = []
for name in ("geo", "api", "layers"):
    try:
        importlib.import_module(name)
    except ImportError:
        failed.append(name)
print(json.dumps({"geo": cityaware.geo.__file__, "demo": str(demo_boundaries()), "failed": failed}))
"""


def source_tree(target: Path) -> Path:
    """A copy of what the wheel is built from (the build leaves no files in the checkout)."""
    config = tomllib.loads((CHECKOUT / "pyproject.toml").read_text())
    folders = set(config["tool"]["setuptools"]["package-dir"].values())
    for name in ("pyproject.toml", config["project"]["readme"]):
        shutil.copy(CHECKOUT / name, target / name)
    for folder in folders:
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
        shutil.copytree(CHECKOUT / folder, target / folder, ignore=ignore)
    return target


def run(command: list[str], cwd: Path, timeout: float = 120) -> str:
    """Run ``command`` with no PYTHONPATH and no cityaware settings; return its stdout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "CITYAWARE_"))}
    env.pop("VIRTUAL_ENV", None)
    done = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, f"{command}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    src = source_tree(tmp_path_factory.mktemp("src"))
    dist = tmp_path_factory.mktemp("dist")
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(src)], dist)
    (built,) = dist.glob("cityaware-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(tmp_path_factory, wheel) -> Path:
    """A fresh venv holding the wheel, seeing the checkout venv's third-party packages."""
    root = tmp_path_factory.mktemp("venv")
    run([sys.executable, "-m", "venv", "--without-pip", str(root)], root)
    python = root / "bin" / "python"
    run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
         "--no-index", str(wheel)], root)  # fmt: skip
    purelib = run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                  root).strip()  # fmt: skip
    (Path(purelib) / "checkout-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return root


def test_the_wheel_holds_only_cityaware_at_the_top(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        (top_level,) = [n for n in names if n.endswith(".dist-info/top_level.txt")]
        assert archive.read(top_level).decode().split() == ["cityaware"]
        (record,) = [n for n in names if n.endswith(".dist-info/RECORD")]
        recorded = archive.read(record).decode().splitlines()
    tops = {n.split("/")[0] for n in names if ".dist-info/" not in n}
    assert tops == {"cityaware"}
    assert {line.split("/")[0] for line in recorded if ".dist-info/" not in line} == {"cityaware"}
    assert "cityaware/data/boundaries/zhengzhou-demo.gpkg" in names


def test_installed_wheel_runs_demo_and_locate_outside_the_checkout(venv, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    python, cli = venv / "bin" / "python", venv / "bin" / "cityaware"
    probe = json.loads(run([str(python), "-c", PROBE], work))
    assert probe["failed"] == ["geo", "api", "layers"]
    assert Path(probe["geo"]).is_relative_to(venv)
    demo_gpkg = Path(probe["demo"])
    assert demo_gpkg.is_relative_to(venv)

    data_dir = tmp_path / "data"
    assert "--scale" in run([str(cli), "demo", "--help"], work)
    run([str(cli), "demo", "--scale", "0.001", "--data-dir", str(data_dir)], work, timeout=300)

    grids = gpd.read_file(demo_gpkg, layer="grids").set_index("code")
    rng = np.random.default_rng(11)
    west, south, east, north = grids.total_bounds
    points = pd.DataFrame(
        {"id": [f"p{i}" for i in range(40)], "lon": rng.uniform(west, east, 40),
         "lat": rng.uniform(south, north, 40)}
    )  # fmt: skip
    points.to_csv(work / "points.csv", index=False)
    out = work / "located.csv"
    run([str(cli), "locate", "points.csv", "--crs", "WGS84", "-o", str(out),
         "--data-dir", str(data_dir)], work)  # fmt: skip

    located = pd.read_csv(out, dtype={"grid_code": str}).set_index("id").loc[points["id"]]
    xy = shapely.points(points["lon"], points["lat"])
    covering = [set(grids.index[grids.geometry.covers(point)]) for point in xy]
    inside = located["status"].eq("inside").to_numpy()
    assert inside.sum() >= 10  # the random points do hit the city
    for grid, found, is_inside in zip(located["grid_code"], covering, inside, strict=True):
        assert (grid in found) if is_inside else not found  # shapely agrees with the CLI
