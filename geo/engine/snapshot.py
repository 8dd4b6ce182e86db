"""A grid locator saved whole in one cache folder, opened in milliseconds.

The folder ``grid-lookup-<generation>-<key>/`` holds the lookup table (one
``.npy`` per array, memory-mapped on load: :meth:`LookupTable.load`), the leaf
polygons as WKB in lon/lat and in the metric CRS (so opening projects nothing),
``valid.npy`` (per polygon, its GEOS validity: read, not recomputed; a folder
saved before it existed computes it), ``locator.json``: the generation, the
parameters, the metric CRS, the leaf codes and their chains; and ``records.json``,
the unit records (read on first use). A folder is written under a temporary name
and renamed into place, so readers see a whole snapshot or none.

Opening needs neither the boundaries nor geopandas/pandas/rasterio: a file
command that only locates pays for numpy, shapely and pyproj.

>>> sorted(Snapshot.__dataclass_fields__)[:3]
['chains', 'exact', 'leaf_codes']
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import shapely

from cityaware.geo.arrays import ObjectArray
from cityaware.geo.engine.exact import ExactIndex
from cityaware.geo.engine.lookup import LookupTable

META_FILE = "locator.json"
RECORDS_FILE = "records.json"
VALID_FILE = "valid.npy"


class SavedRecords(Mapping[str, dict[str, Any]]):
    """The unit records of a snapshot, read from its folder on first use (locating
    needs only the chains; names and attributes are for :meth:`GridLocator.unit`)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._records: dict[str, dict[str, Any]] | None = None

    def _load(self) -> dict[str, dict[str, Any]]:
        if self._records is None:
            self._records = orjson.loads(self.path.read_bytes())
        return self._records

    def __getitem__(self, code: str) -> dict[str, Any]:
        return self._load()[code]

    def __iter__(self) -> Iterator[str]:
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())


@dataclass
class Snapshot:
    """What :func:`save` writes and :func:`load` returns."""

    table: LookupTable
    exact: ExactIndex
    leaf_codes: list[str]
    chains: list[list[str | None]]  # per leaf: its chain columns (GridLocator.chain_table)
    records: Mapping[str, dict[str, Any]]
    meta: dict[str, Any]  # generation, near_m, outside_tolerance_m, plus the caller's keys


def save(folder: Path, snapshot: Snapshot) -> None:
    """Write ``snapshot`` as ``folder`` atomically (a folder already there is kept)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        snapshot.table.save(work / "table")
        _save_wkb(work / "wkb", snapshot.exact.geometries)
        _save_wkb(work / "metric_wkb", snapshot.exact.metric_geometries)
        np.save(work / VALID_FILE, snapshot.exact.valid, allow_pickle=False)
        meta = {
            **snapshot.meta,
            "metric_crs": snapshot.exact.metric_crs,
            "metric_pipeline": snapshot.exact.metric_pipeline,
            "outside_tolerance_m": snapshot.exact.outside_tolerance_m,
            "leaf_codes": snapshot.leaf_codes,
            "chains": snapshot.chains,
        }
        records = dict(snapshot.records)
        (work / RECORDS_FILE).write_bytes(
            orjson.dumps(records, default=str, option=orjson.OPT_SERIALIZE_NUMPY)
        )
        (work / META_FILE).write_bytes(orjson.dumps(meta))  # last: it marks a whole folder
        try:
            os.replace(work, folder)
        except OSError:  # another process saved the same snapshot first
            pass
    finally:
        shutil.rmtree(work, ignore_errors=True)


def load(folder: Path) -> Snapshot:
    """The snapshot in ``folder`` (FileNotFoundError when there is none)."""
    meta = orjson.loads((folder / META_FILE).read_bytes())
    exact = ExactIndex(
        _load_wkb(folder / "wkb"),
        meta["outside_tolerance_m"],
        metric_crs=meta["metric_crs"],
        metric_geometries=_load_wkb(folder / "metric_wkb"),
        metric_pipeline=meta["metric_pipeline"],
        valid=np.load(folder / VALID_FILE) if (folder / VALID_FILE).exists() else None,
    )
    leaf_codes, chains = meta.pop("leaf_codes"), meta.pop("chains")
    records = SavedRecords(folder / RECORDS_FILE)
    table = LookupTable.load(folder / "table")
    return Snapshot(table, exact, leaf_codes, chains, records, meta)


def _save_wkb(stem: Path, geometries: ObjectArray) -> None:
    """All WKB in one byte array plus offsets: two ``.npy`` files, no pickles."""
    blobs = shapely.to_wkb(geometries)
    offsets = np.cumsum([0, *(len(b) for b in blobs)], dtype=np.int64)
    np.save(stem.with_suffix(".bin.npy"), np.frombuffer(b"".join(blobs), dtype=np.uint8))
    np.save(stem.with_suffix(".offsets.npy"), offsets)


def _load_wkb(stem: Path) -> ObjectArray:
    data = np.load(stem.with_suffix(".bin.npy")).tobytes()
    bounds = np.load(stem.with_suffix(".offsets.npy")).tolist()
    blobs = [data[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    geometries: ObjectArray = shapely.from_wkb(np.array(blobs, dtype=object))
    return geometries
