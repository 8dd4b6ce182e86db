"""``cityaware import`` run as GIS staff run it, through a pipe (as in a log): no progress
redraws, the rejected-rows file beside the input and named in full, a non-zero exit when
every row is rejected, and each incident keeps the channel its row gave."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from cityaware.api.context import AppContext
from cityaware.api.settings import Settings
from tests.geo.store import synthetic
from tests.units import staged


@pytest.fixture
def data_dir(tmp_path):
    return staged(tmp_path / "data", synthetic.units())


def cityaware(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The installed command line, its output captured by pipes (never a terminal)."""
    env = {k: v for k, v in os.environ.items() if k != "CITYAWARE_DATABASE_URL"}
    return subprocess.run([sys.executable, "-m", "cityaware.api.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def test_an_import_through_a_pipe(data_dir, tmp_path):
    inbox, elsewhere = tmp_path / "inbox", tmp_path / "elsewhere"
    inbox.mkdir(), elsewhere.mkdir()
    units = synthetic.units()
    grid = units[units["level"] == "grid"].geometry.iloc[0].representative_point()
    rows = pd.DataFrame({
        "lon": [grid.x, grid.x, 200.0, grid.x],
        "lat": [grid.y, grid.y, grid.y, grid.y],
        "category": ["noise", "sanitation", "noise", "noise"],
        "channel": ["12345", "web", "web", None],
        "title": ["hotline call", "web form", "bad lon", "no channel"],
    })  # fmt: skip
    rows.to_csv(inbox / "cases.csv", index=False)
    done = cityaware("import", "incidents", str(inbox / "cases.csv"), "--crs", "WGS84",
                     "--data-dir", str(data_dir), cwd=elsewhere)  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = inbox / "cases.rejected.csv"
    assert f"rejected rows in {report.resolve()}" in done.stdout  # beside the input, in full
    assert not list(elsewhere.iterdir())  # nothing in the working directory
    assert list(pd.read_csv(report)["row"]) == [3]
    assert "\r" not in done.stderr and "\x1b[" not in done.stderr  # no bar redraws in a log

    store = AppContext(Settings(data_dir=data_dir)).store
    stored = {r["title"]: r["channel"] for r in store.query("incidents", limit=10).items}
    assert stored == {
        "hotline call": store.taxonomy.canonical("channel", "12345"),  # its id, as in the API
        "web form": "web",
        "no channel": None,
    }


def test_an_import_whose_every_row_is_rejected_fails(data_dir, tmp_path):
    source = tmp_path / "all-bad.csv"
    pd.DataFrame({"lon": [200.0, "x"], "lat": [34.7, "y"], "category": ["noise", "noise"]}).to_csv(
        source, index=False
    )
    done = cityaware("import", "incidents", str(source), "--crs", "WGS84", "--data-dir",
                     str(data_dir), cwd=tmp_path)  # fmt: skip
    assert done.returncode == 1
    assert "every row" in done.stderr and str(source.with_name("all-bad.rejected.csv")) in (
        done.stdout
    )
    assert len(pd.read_csv(tmp_path / "all-bad.rejected.csv")) == 2
