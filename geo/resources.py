"""Files shipped inside the installed package, found through :mod:`importlib.resources`,
so a wheel installed anywhere finds them (nothing looks for the repository).

>>> demo_boundaries().name
'zhengzhou-demo.gpkg'
>>> shipped("cityaware.api.service", "duty-list.csv").is_file()
True
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

DEMO_BOUNDARIES = "boundaries/zhengzhou-demo.gpkg"


def shipped(package: str, name: str) -> Path:
    """The file or folder ``name`` shipped in ``package``, as a path on disk.

    GDAL, Jinja and the static file server read real files, so cityaware is
    installed as plain directories (never zipped); a zipped install says so.
    """
    resource = files(package).joinpath(name)
    if not isinstance(resource, Path):
        raise RuntimeError(f"{package} is not installed as files on disk; reinstall unzipped")
    return resource


def demo_boundaries() -> Path:
    """The demo city's boundary GeoPackage (``data/boundaries`` in the repository)."""
    return shipped("cityaware.data", DEMO_BOUNDARIES)
