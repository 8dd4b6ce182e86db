"""Debian's QGIS 3.22 (python3-qgis, headless, the system Python) opens the collections'
vector tiles as XYZ vector tile layers with the wall's MapLibre style and draws them.

The styles QGIS builds for each MVT layer must be the style document's layers for that
source layer, and the rendered map must hold pixels in colours of the style.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import httpx
import pytest

from cityaware.api.testing import ThreadedServer
from cityaware.layers.style import BACKGROUND
from tests.api.ogc.conftest import EAST, NORTH, SOUTH, WEST

QGIS_PYTHON = "/usr/bin/python3"
CHECK = Path(__file__).with_name("qgis_tiles_check.py")
QUERY = "window=all&status=all"  # the fixture's incidents are older than the default 24 h

pytestmark = pytest.mark.slow


def _has_qgis() -> bool:
    probe = [QGIS_PYTHON, "-c", "import qgis.core"]
    return (
        os.path.exists(QGIS_PYTHON) and subprocess.run(probe, capture_output=True).returncode == 0
    )


@pytest.fixture(scope="module")
def server(ctx):
    if not _has_qgis():
        if os.environ.get("CI"):
            pytest.fail("python3-qgis is missing (scripts/test.sh installs it)")
        pytest.skip("Debian python3-qgis not installed")
    srv = ThreadedServer(ctx)
    yield srv
    srv.stop()


@pytest.mark.parametrize("collection", ["districts", "grids", "incidents", "sensors"])
def test_qgis_opens_and_draws_a_tiled_collection_in_the_wall_style(server, collection):
    style = httpx.get(f"{server.origin}/styles/wall/style.json", timeout=30).json()
    expected = [s["id"] for s in style["layers"] if s.get("source-layer") == collection]
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": "/tmp"}
    box = [str(v) for v in (WEST, SOUTH, EAST, NORTH)]
    command = [QGIS_PYTHON, str(CHECK), server.origin, collection, QUERY, *box, BACKGROUND]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["valid"] and seen["styled"]
    assert seen["styles"] == expected
    assert seen["drawn"] > 20, seen
