"""The partitions ("pieces") of a bulk input, and reading one into a (Geo)DataFrame.

An input is a folder (every ``.parquet``/``.geoparquet``/``.csv`` below it; a
Hive-style dataset's ``key=value`` folders become string columns), a glob
pattern or one file. A Parquet file with several row groups gives one piece per
row group, so a single big file still spreads over the workers. Pieces are
sorted, so the same input always gives the same partition numbers (resume
relies on it).

>>> Piece("/data/part-1.parquet", 2).name
'/data/part-1.parquet#2'
"""

from __future__ import annotations

import glob
import json
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from cityaware.geo.errors import InvalidInput

SUFFIXES = (".parquet", ".geoparquet", ".csv")


@dataclass(frozen=True)
class Piece:
    """One partition: a file, or one row group of a Parquet file; Hive keys from its path."""

    path: str
    row_group: int | None = None
    keys: tuple[tuple[str, str], ...] = ()

    @property
    def name(self) -> str:
        """How errors and the run manifest name this piece."""
        return self.path if self.row_group is None else f"{self.path}#{self.row_group}"


def find_pieces(source: str | Path) -> list[Piece]:
    """The pieces of a folder, glob pattern or file (InvalidInput when there are none).

    >>> find_pieces("/no/*.csv")
    Traceback (most recent call last):
    cityaware.geo.errors.InvalidInput: no .parquet, .geoparquet or .csv files match /no/*.csv
    """
    text = str(source)
    root = Path(text)
    if root.is_dir():
        files = sorted(p for p in root.rglob("*") if p.suffix.lower() in SUFFIXES and p.is_file())
    else:
        root = root.parent if root.is_file() else Path(_glob_root(text))
        files = sorted(Path(p) for p in glob.glob(text, recursive=True))
        files = [p for p in files if p.suffix.lower() in SUFFIXES and p.is_file()]
    if not files:
        raise InvalidInput(f"no {', '.join(SUFFIXES[:-1])} or {SUFFIXES[-1]} files match {text}")
    pieces = []
    for path in files:
        keys = _hive_keys(path, root)
        groups = _row_groups(path)
        if groups <= 1:
            pieces.append(Piece(str(path), None, keys))
        else:
            pieces.extend(Piece(str(path), g, keys) for g in range(groups))
    return pieces


def read_piece(piece: Piece, head: bool = False) -> pd.DataFrame:
    """The rows of ``piece``: a GeoDataFrame for GeoParquet, else a DataFrame (CSV: text).

    ``head``: only the first row (to learn the columns cheaply). Raises
    InvalidInput naming the piece when it cannot be read.
    """
    path = Path(piece.path)
    try:
        if path.suffix.lower() == ".csv":
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, nrows=1 if head else None)
        else:
            frame = _read_parquet(path, piece.row_group, head)
    except (OSError, ValueError, pa.ArrowException, pd.errors.ParserError) as error:
        raise InvalidInput(f"partition {piece.name}: cannot read ({error})") from None
    for key, value in piece.keys:
        frame[key] = value
    return frame


def _read_parquet(path: Path, row_group: int | None, head: bool) -> pd.DataFrame:
    parquet = pq.ParquetFile(path)
    if head:
        table = pa.Table.from_batches(
            [next(parquet.iter_batches(batch_size=1))], schema=parquet.schema_arrow
        )
    elif row_group is None:
        table = parquet.read()
    else:
        table = parquet.read_row_group(row_group)
    geo = json.loads((parquet.schema_arrow.metadata or {}).get(b"geo", b"{}"))
    column = geo.get("primary_column")
    if not column:
        return table.to_pandas()
    crs = geo["columns"][column].get("crs", "OGC:CRS84")
    frame = table.drop_columns([column]).to_pandas()
    geometry = gpd.GeoSeries.from_wkb(table[column].to_numpy(zero_copy_only=False), crs=crs)
    return gpd.GeoDataFrame(frame, geometry=geometry.to_numpy(), crs=geometry.crs)


def _row_groups(path: Path) -> int:
    if path.suffix.lower() == ".csv":
        return 1
    try:
        return int(pq.ParquetFile(path).metadata.num_row_groups)
    except (OSError, pa.ArrowException):
        return 1  # read_piece names the broken file when it is read


def _glob_root(pattern: str) -> str:
    """The folder part of a glob pattern before its first wildcard."""
    parts = Path(pattern).parts
    fixed = [p for p in parts[: next((i for i, p in enumerate(parts) if glob.has_magic(p)), 0)]]
    return str(Path(*fixed)) if fixed else "."


def _hive_keys(path: Path, root: Path) -> tuple[tuple[str, str], ...]:
    try:
        parts = path.parent.relative_to(root).parts
    except ValueError:
        return ()
    return tuple(tuple(p.split("=", 1)) for p in parts if "=" in p)  # type: ignore[misc]
