"""The short CI version of the kiosk soak (``benchmarks.soak_kiosk``): 30 s at 10 live
events a second on a small demo city; the JS heap has no growth trend past the bounded
fill-up and the page keeps showing new events in every interval."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.soak_kiosk import soak
from cityaware.api.testing import CHROMIUM

pytestmark = [pytest.mark.browser, pytest.mark.slow]

if not Path(CHROMIUM).exists():  # pragma: no cover - the CI image installs it
    pytest.skip("Debian chromium is not installed", allow_module_level=True)


def test_short_soak_heap_bounded_and_page_updating(tmp_path):
    result = soak(tmp_path, minutes=0.5, rate=10, every_s=4, scale=0.004)
    assert result["errors"] == []
    assert result["written"] >= 250
    assert result["updating"], result["samples"]
    assert result["bounded"], (result["growth_mb"], result["baseline_mb"])
    assert all(s["markers"] < 3000 and s["rows"] <= 40 for s in result["samples"])
