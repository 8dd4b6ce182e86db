"""Debian's QGIS 3.22 (``python3-qgis``, headless) against a live server, on its defaults.

QGIS runs in its own process under the system Python (it is not in the venv). QGIS 3.22
sends bbox (and temporal) filters to the server and filters other subset strings on the
client after reading every page the server offers: counts and ids must equal the store's.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from cityaware.api.context import AppContext
from cityaware.api.settings import Settings
from cityaware.api.testing import live_server
from cityaware.geo.store import FeatureFilter
from tests.api.ogc.conftest import incidents_frame, staged

QGIS_PYTHON = "/usr/bin/python3"
CHECK = Path(__file__).parent / "clients" / "qgis_check.py"
BBOX = (113.62, 34.72, 113.68, 34.78)
SECONDS = 60  # the whole QGIS session: open, count, a bbox read and a subset read

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ogc-live")]


def _has_qgis() -> bool:
    probe = [QGIS_PYTHON, "-c", "import qgis.core"]
    return (
        os.path.exists(QGIS_PYTHON) and subprocess.run(probe, capture_output=True).returncode == 0
    )


def require_qgis() -> None:
    """Skip without Debian's python3-qgis (fail on CI, where scripts/test.sh installs it)."""
    if not _has_qgis():
        if os.environ.get("CI"):
            pytest.fail("python3-qgis is missing (scripts/test.sh installs it)")
        pytest.skip("Debian python3-qgis not installed")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    require_qgis()
    data_dir = staged(tmp_path_factory.mktemp("qgis"))
    ctx = AppContext(Settings(data_dir=data_dir))
    ctx.store.bulk_import("incidents", incidents_frame(1500), crs="EPSG:4326")
    with live_server(data_dir) as url:
        yield url, ctx.store


def _qgis(url: str, collection: str, subset: str) -> dict:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": "/tmp"}
    command = [QGIS_PYTHON, str(CHECK), url, collection, ",".join(map(str, BBOX)), subset]
    done = subprocess.run(command, capture_output=True, text=True, timeout=SECONDS * 2, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_qgis_layer_counts_bbox_and_subset_equal_the_server(served):
    url, store = served
    seen = _qgis(url, "incidents", "status = 'closed'")
    assert seen["valid"]
    assert seen["count"] == store.count("incidents") == 1500  # numberMatched, on the server
    in_box = store.frame("incidents", ["id"], FeatureFilter(bbox=BBOX))["id"]
    assert seen["bbox_ids"] == sorted(in_box) and 0 < len(in_box) < 1500
    closed = store.frame("incidents", ["id"], FeatureFilter(status="closed"))["id"]
    assert seen["subset_ids"] == sorted(closed) and len(closed) > 100
    assert seen["fields"]["reported_at"] == "DateTime"
    assert seen["seconds"] < SECONDS
