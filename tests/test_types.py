"""mypy passes on cityaware.geo, cityaware.layers and cityaware.api (strict, settings in
pyproject's [tool.mypy]).

CI runs only pytest, so this test is what enforces the type check there.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TYPECHECK = ROOT / "scripts" / "typecheck.py"

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("mypy")]


def _typecheck(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(TYPECHECK), *args], cwd=ROOT, capture_output=True, text=True
    )


def test_mypy_passes_on_every_module() -> None:
    done = _typecheck()
    assert done.returncode == 0, done.stdout + done.stderr
    modules = sum(len(list((ROOT / folder).rglob("*.py"))) for folder in ("geo", "layers", "api"))
    checked = re.search(r"Success: no issues found in (\d+) source files", done.stdout)
    assert checked and int(checked.group(1)) >= modules, done.stdout


def test_mypy_reads_the_real_geo_types() -> None:
    """cityaware.geo resolves to the typed folder: a wrong use of its API is caught."""
    done = _typecheck(
        "-c", "from cityaware.geo.crs import normalize_crs\nn: int = normalize_crs('x')"
    )
    assert done.returncode == 1
    assert 'incompatible types in assignment (expression has type "str"' in done.stdout.lower()
