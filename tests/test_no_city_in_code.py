"""Nothing tied to the demo city in the code: its name, its NBS codes (4101xx), its
coordinates (113.6x°E, 34.7x°N), its Gauss-Krüger zone (EPSG:4547) and its districts' names
appear only in the
demo city's generator (geo/demo) and in data. Examples in help texts, messages and
doctests use neutral made-up values."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("geo", "api", "layers")
ALLOWED = (Path("geo/demo"),)  # vendored assets (layers/assets/<name>/) are not ours
DEMO_CITY = re.compile(
    r"郑州|Zhengzhou|4101|113\.6|34\.7|4547"  # name, NBS codes, coordinates, GK zone
    r"|金水区|二七区|管城|中原区|惠济区|中牟|郑东"  # its districts
)
SUFFIXES = {".py", ".js", ".html", ".css", ".toml", ".json", ".md", ".txt"}


def _sources() -> list[Path]:
    files = []
    for folder in FOLDERS:
        for path in sorted((ROOT / folder).rglob("*")):
            relative = path.relative_to(ROOT)
            vendored = relative.parts[:2] == ("layers", "assets") and len(relative.parts) > 3
            if path.is_file() and path.suffix in SUFFIXES and not vendored:
                if not any(relative.is_relative_to(allowed) for allowed in ALLOWED):
                    files.append(path)
    return files


def test_no_demo_city_name_code_or_coordinate_outside_its_generator() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in _sources()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if DEMO_CITY.search(line)
    ]
    assert not found, "demo city in the code:\n" + "\n".join(found)


def test_the_check_sees_the_files_it_guards() -> None:
    names = {path.relative_to(ROOT).as_posix() for path in _sources()}
    assert {"geo/crs.py", "api/routes/positions.py", "layers/assets/wall.js"} <= names
    assert not any(name.startswith("geo/demo/") for name in names)
