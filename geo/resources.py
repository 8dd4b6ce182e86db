"""Files shipped inside the installed package, found through :mod:`importlib.resources`,
so a wheel installed anywhere finds them (nothing looks for the repository).

>>> demo_boundaries().name
'zhengzhou-demo.gpkg'
>>> shipped("cityaware.api.service", "duty-list.csv").is_file()
True
>>> sorted(p.name for p in demo_city_files())
['city.toml', 'duty-list.csv']
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

DEMO_BOUNDARIES = "boundaries/zhengzhou-demo.gpkg"
DEMO_CITY_FILES = ("zhengzhou/city.toml", "zhengzhou/duty-list.csv")


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


def demo_city_files() -> list[Path]:
    """The demo city's profile and duty list, which ``cityaware demo`` copies to the data dir."""
    return [shipped("cityaware.data", name) for name in DEMO_CITY_FILES]
