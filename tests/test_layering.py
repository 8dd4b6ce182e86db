"""The import layering of README's design (api → layers → geo; geo.engine apart from
geo.store), checked by import-linter with the contracts in pyproject.toml, so that
``make test`` (what CI runs) enforces it as ``make lint`` does."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(config: Path, cwd: Path, pythonpath: str = "") -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=pythonpath) if pythonpath else None
    return subprocess.run(
        [str(LINT_IMPORTS), str(config), "--no-cache"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_code_keeps_the_layering() -> None:
    done = lint_imports(ROOT / "pyproject.toml", ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def test_the_contracts_catch_an_upward_and_a_forbidden_import(tmp_path: Path) -> None:
    """The same contracts over a small namespace package (as cityaware is) that breaks
    each of them once."""
    files = {
        "fakecity/api/__init__.py": "",
        "fakecity/layers/__init__.py": "",
        "fakecity/geo/__init__.py": "",
        "fakecity/geo/store/__init__.py": "",
        "fakecity/geo/engine/__init__.py": "import fakecity.geo.store\n",  # forbidden
        "fakecity/geo/crs.py": "import fakecity.layers\n",  # upward: geo → layers
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    config = (ROOT / "pyproject.toml").read_text().replace("cityaware.", "fakecity.")
    section = tomllib.loads(config)["tool"]["importlinter"]
    assert len(section["contracts"]) == 2
    (tmp_path / "contracts.toml").write_text(config)

    done = lint_imports(tmp_path / "contracts.toml", tmp_path, pythonpath=str(tmp_path))

    assert done.returncode == 1, done.stdout + done.stderr
    assert "0 kept, 2 broken" in done.stdout
    assert "fakecity.geo.crs -> fakecity.layers" in done.stdout
    assert "fakecity.geo.engine -> fakecity.geo.store" in done.stdout
