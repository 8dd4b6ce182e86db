"""A live server over a small demo city, shared by the hostile-client tests."""

from __future__ import annotations

import pytest

from cityaware.api.testing import demo_city, server_process

ADMIN_KEY = "ca_hostile-Admin7Qx2Lr9Vn4Tk8Pz3Hc6Jd1Fb5"


def rss_mb(pid: int) -> float:
    """Resident memory of process ``pid`` in MB (from /proc/<pid>/status)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


@pytest.fixture(scope="session")
def city_dir(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("hostile-city")
    demo_city(data_dir, cameras=200, sensors=200, days=2, per_day=100)
    return data_dir


@pytest.fixture(scope="session")
def server(city_dir):
    """(process, url) of a live server with public reads and a known admin key."""
    with server_process(city_dir, {"CITYAWARE_ADMIN_KEY": ADMIN_KEY}) as running:
        yield running
