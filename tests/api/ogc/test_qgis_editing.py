"""Can QGIS (Debian bookworm's 3.22, ``python3-qgis``) or GDAL (3.6) edit our OAPIF layers?

The server declares OGC API - Features Part 4 (create-replace-delete, update) and its
round trips are tested over HTTP (tests/api/service/test_devices.py). Whether a desktop
client can use them depends on the client: this test records what QGIS's OAPIF provider
and GDAL's OAPIF driver offer against a live server. QGIS 3.22's provider offers no
editing capability (transactional OAPIF came in a later QGIS), and GDAL 3.6's OAPIF
driver is read-only (no update open, no layer write capability), so no editing round
trip through either is possible here; the test fails with a note if an installed client
starts offering editing, so the round trip gets written then.
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
from tests.api.ogc.conftest import staged
from tests.api.ogc.test_qgis import QGIS_PYTHON, require_qgis

CHECK = Path(__file__).parent / "clients" / "qgis_capabilities.py"
PART4 = "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete"

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ogc-live")]


@pytest.fixture(scope="module")
def seen(tmp_path_factory):
    require_qgis()
    data_dir = staged(tmp_path_factory.mktemp("qgis-edit"))
    ctx = AppContext(Settings(data_dir=data_dir))
    ctx.store.add("cameras", {"id": "qc-1", "lon": 113.65, "lat": 34.75})
    ctx.store.close()
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": "/tmp"}
    with live_server(data_dir) as url:
        import httpx

        conformance = httpx.get(f"{url}/conformance").json()["conformsTo"]
        command = [QGIS_PYTHON, str(CHECK), url, "cameras"]
        done = subprocess.run(command, capture_output=True, text=True, timeout=180, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1]), conformance


def test_the_server_declares_part_4_and_qgis_reads_the_layer(seen):
    found, conformance = seen
    assert PART4 in conformance
    assert found["valid"] and found["count"] == 1


def test_qgis_oapif_provider_capabilities_are_recorded(seen):
    found, _ = seen
    editing = found["editing"]
    print(f"QGIS {found['qgis']} OAPIF provider: {found['capabilities']!r}; editing {editing}")
    if any(editing.values()):
        pytest.fail(
            f"QGIS {found['qgis']} now offers OAPIF editing {editing}: add a create/update/"
            "delete round trip through QGIS here"
        )


def test_gdal_oapif_driver_is_read_only(seen):
    found, _ = seen
    print(f"GDAL {found['gdal']} OAPIF: {found}")
    writes = found["gdal_layer_writes"]
    if found["gdal_driver_create"] or found["gdal_update_open"] or any(writes.values()):
        pytest.fail(f"GDAL {found['gdal']} OAPIF now offers writing: add a Part 4 round trip")
