"""Where a boundary registry keeps its files (read without loading geopandas).

``<root>/ACTIVE`` names the live generation; ``<root>/<generation>/`` holds its
``units.parquet`` (outlines) and ``divisions.parquet`` (units known without
outline). :class:`~geo.boundaries.generations.BoundaryRegistry` writes them.

>>> from pathlib import Path
>>> [p.name for p in generation_files(Path("/data/boundaries"), "g0001")]
['units.parquet', 'divisions.parquet']
"""

from __future__ import annotations

from pathlib import Path

ACTIVE_FILE = "ACTIVE"
UNITS_FILE = "units.parquet"
DIVISIONS_FILE = "divisions.parquet"


def read_pointer(root: Path, name: str) -> str | None:
    """The generation named in the pointer file ``root/name``, or None when unset."""
    try:
        text = (root / name).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return text or None


def generation_files(root: Path, generation: str) -> list[Path]:
    """The files a generation's locator is built from."""
    return [root / generation / UNITS_FILE, root / generation / DIVISIONS_FILE]
