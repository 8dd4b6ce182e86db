"""Re-assign a stored dataset on dask: export, assign on the cluster, load back in batches.

:func:`reassign_on_cluster` works in ``<workdir>/<generation>/``:

1. ``export/``: the (fid, lon, lat) of every feature not on the generation, one
   Parquet file per batch of ``batch_size`` fids (redone whole unless it finished:
   ``export/_complete``);
2. ``assigned/``: :func:`geo.bulk.locate.locate_dataset` over the export
   (resumable per partition);
3. load back: each assigned partition in one transaction with its history and
   ``reassign`` changes (:func:`geo.store.reassign.apply_assignments`), then a
   marker ``loaded/part-NNNNN``; a batch loaded twice moves nothing twice.

So a run killed anywhere resumes where it stopped when started again; a finished
run removes its folder. Features written or moved meanwhile are left on the old
generation for the caller's final in-process pass (see :mod:`geo.bulk.activation`).

>>> STORE_FIELDS[-1]
'candidates'
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from cityaware.geo.bulk.cluster import LocatorSource
from cityaware.geo.bulk.locate import locate_dataset
from cityaware.geo.errors import CityAwareError
from cityaware.geo.store.reassign import (
    DEFAULT_BATCH,
    apply_assignments,
    hold_after_batch,
    pending_positions,
    spans,
)
from cityaware.geo.store.records import LOCATION_FIELDS

if TYPE_CHECKING:
    from cityaware.geo.store.store import FeatureStore

STORE_FIELDS: tuple[str, ...] = ("status", "grid_code", "community_code", "street_code")
STORE_FIELDS += ("district_code", "managing_zone", "distance_m", "nearest_grid", "candidates")
COMPLETE = "_complete"


class ReassignFailed(CityAwareError):
    """Partitions of a cluster re-assignment failed; run it again to resume."""


def reassign_on_cluster(
    store: FeatureStore,
    source: LocatorSource,
    workdir: Path,
    client: Any = None,
    batch_size: int = DEFAULT_BATCH,
    progress: bool = False,
) -> int:
    """Move every feature not on ``source.generation`` to it through dask; the count moved.

    >>> reassign_on_cluster(store, source, data_dir / "reassign", client)  # doctest: +SKIP
    1204
    """
    work = Path(workdir) / source.generation
    export = _export(store, source.generation, work / "export", batch_size)
    files = sorted(export.glob("batch-*.parquet"))
    if not files:
        return 0
    assigned = work / "assigned"
    summary = locate_dataset(
        export, assigned, source, "WGS84", "lon", "lat", client, progress, fields=STORE_FIELDS
    )
    if summary.failed:
        named = "; ".join(message for _, message in summary.failed)
        raise ReassignFailed(f"{len(summary.failed)} partition(s) failed ({named}); run again")
    loaded = work / "loaded"
    loaded.mkdir(exist_ok=True)
    moved = 0
    for index in range(len(files)):
        marker = loaded / f"part-{index:05d}"
        if marker.exists():
            continue
        fid, located = _read_assigned(assigned / f"part-{index:05d}.parquet")
        moved += apply_assignments(store, fid, located, source.generation)
        marker.touch()
        print(f"reassign: batch {index + 1} of {len(files)} loaded", file=sys.stderr, flush=True)
        hold_after_batch(index + 1)
    shutil.rmtree(work)  # done: a later activation of this generation starts afresh
    return moved


def _export(store: FeatureStore, generation: str, export: Path, batch_size: int) -> Path:
    if (export / COMPLETE).exists():
        return export
    shutil.rmtree(export, ignore_errors=True)
    export.mkdir(parents=True)
    index = 0
    for span in spans(store):  # a month-partitioned store: each month, then the rest
        after = 0
        while True:
            fid, lon, lat = pending_positions(store, generation, after, batch_size, span)
            if not len(fid):
                break
            table = pa.table({"fid": pa.array(fid), "lon": pa.array(lon), "lat": pa.array(lat)})
            pq.write_table(table, export / f"batch-{index:06d}.parquet")
            after, index = int(fid[-1]), index + 1
    (export / COMPLETE).write_text(f"{index}\n")
    return export


def _read_assigned(path: Path) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    table = pq.read_table(path, columns=["fid", "lon", "lat", *STORE_FIELDS])
    columns = {name: table[name].to_numpy(zero_copy_only=False) for name in table.column_names}
    located = {name: np.asarray(columns[name], dtype=object) for name in LOCATION_FIELDS}
    return columns["fid"], located
