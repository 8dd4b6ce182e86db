"""Run mypy on the installed package names (cityaware.geo, ...) with the settings in pyproject.

mypy cannot follow setuptools' editable finder, and the folders (``geo/``, ``api/``, ...)
do not sit under a ``cityaware/`` directory. So this lays ``build/typecheck/cityaware/NAME``
as links to the repo folders (the ``package-dir`` mapping, read from pyproject) and runs
mypy with ``mypy_path = "build/typecheck"``. Error paths are printed as repo paths
(``geo/crs.py:12``). Extra arguments go to mypy; usage::

    .venv/bin/python scripts/typecheck.py          # geo, layers and api (DEFAULT_TARGETS)
    .venv/bin/python scripts/typecheck.py -p cityaware.geo
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINK_ROOT = ROOT / "build" / "typecheck"
# What CI checks: every package.
DEFAULT_TARGETS = ["-p", "cityaware.geo", "-p", "cityaware.layers", "-p", "cityaware.api"]


def lay_links(root: Path = ROOT, link_root: Path = LINK_ROOT) -> dict[str, str]:
    """Make ``link_root/cityaware/NAME`` point at each mapped folder; return the mapping.

    >>> mapping = lay_links()
    >>> mapping["cityaware.geo"]
    'geo'
    >>> (LINK_ROOT / "cityaware" / "geo" / "crs.py").is_file()
    True
    """
    pyproject = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    mapping: dict[str, str] = pyproject["tool"]["setuptools"]["package-dir"]
    for package, folder in mapping.items():
        link = link_root.joinpath(*package.split("."))
        link.parent.mkdir(parents=True, exist_ok=True)
        target = os.path.relpath(root / folder, link.parent)
        if not (link.is_symlink() and os.readlink(link) == target):
            link.unlink(missing_ok=True)
            link.symlink_to(target, target_is_directory=True)
    return mapping


def repo_paths(output: str, mapping: dict[str, str], link_root: Path = LINK_ROOT) -> str:
    """Rewrite link-tree paths in mypy's output to the repo's own paths.

    >>> repo_paths("build/typecheck/cityaware/geo/crs.py:3: error: x", {"cityaware.geo": "geo"})
    'geo/crs.py:3: error: x'
    """
    prefix = link_root.relative_to(ROOT).as_posix()
    for package, folder in mapping.items():
        output = output.replace(f"{prefix}/{package.replace('.', '/')}/", f"{folder}/")
    return output


def run(args: list[str]) -> int:
    """Run mypy from the repo root on ``args`` (default: DEFAULT_TARGETS); print its output
    with repo paths; return its exit code."""
    mapping = lay_links()
    done = subprocess.run(
        [sys.executable, "-m", "mypy", *(args or DEFAULT_TARGETS)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    sys.stdout.write(repo_paths(done.stdout, mapping))
    sys.stderr.write(done.stderr)
    return done.returncode


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
