"""Locate a partitioned dataset on dask: one output GeoParquet partition per input piece.

:func:`locate_dataset` reads the pieces of a folder or glob
(:mod:`geo.bulk.pieces`) as a dask(-geopandas) frame with ``from_map``,
``map_partitions`` the pure :func:`geo.engine.assign.assign_frame` over it, and
writes ``part-NNNNN.parquet`` per piece into the output folder. Each partition
is written to a temporary name and renamed, then a marker
``_done/part-NNNNN.json`` (its counts) records it, so a rerun after a failure or
a kill redoes only the partitions without a marker. ``_run.json`` records the
input and settings; a rerun over other input into the same folder is refused.

A piece that cannot be read or assigned does not stop the others: it is named
in :attr:`RunSummary.failed` and has no marker, so the next run retries it.

Example (``client`` from :func:`geo.bulk.cluster.open_client`)::

    summary = locate_dataset("points/", "located/", source, "GCJ02", client=client)
    summary.points, summary.per_core, summary.failed
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from cityaware.geo.bulk.cluster import LocatorSource
from cityaware.geo.bulk.pieces import Piece, find_pieces, read_piece
from cityaware.geo.engine.assign import assign_frame
from cityaware.geo.engine.files import ADDED
from cityaware.geo.engine.results import STATUSES
from cityaware.geo.errors import CityAwareError, InvalidInput

RUN_FILE = "_run.json"
DONE_DIR = "_done"


@dataclass
class RunSummary:
    """What a run did: points per status over all partitions, time, cores, failures."""

    partitions: int
    counts: dict[str, int]
    seconds: float
    cores: int
    located_now: int = 0
    skipped: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)

    @property
    def points(self) -> int:
        """Rows in every finished partition (this run's and earlier runs')."""
        return sum(self.counts.values())

    @property
    def per_core(self) -> float:
        """Points located by this run per second per worker core."""
        return self.located_now / max(self.seconds, 1e-9) / max(self.cores, 1)


def locate_dataset(
    source: str | Path,
    output: str | Path,
    locator: LocatorSource,
    crs: str,
    lon_col: str | None = None,
    lat_col: str | None = None,
    client: Any = None,
    progress: bool = False,
    fields: Sequence[str] = ADDED,
) -> RunSummary:
    """Locate every piece of ``source`` into the folder ``output`` (see the module doc).

    ``client``: a ``distributed.Client`` (None: this process, dask's sync scheduler).
    ``fields``: the located columns to add (see :func:`geo.engine.assign.assign_frame`).
    """
    pieces = find_pieces(source)
    out = Path(output)
    (out / DONE_DIR).mkdir(parents=True, exist_ok=True)
    settings: dict[str, Any] = {"generation": locator.generation, "crs": crs, "lon_col": lon_col}
    settings |= {"lat_col": lat_col, "fields": list(fields), "pieces": [p.name for p in pieces]}
    _check_run(out, settings)
    todo = [(i, p) for i, p in enumerate(pieces) if not _marker(out, i).exists()]
    start = time.perf_counter()
    failed: list[tuple[str, str]] = []
    located = 0
    if todo:
        options = _Options(locator, crs, lon_col, lat_col, tuple(fields))
        writes = _graph(todo, out, options, failed)
        located = _compute(writes, client, progress, failed)
    cores = sum(client.nthreads().values()) if client is not None else 1
    return RunSummary(
        partitions=len(pieces),
        counts=_counts(out, len(pieces)),
        seconds=time.perf_counter() - start,
        cores=cores,
        located_now=located,
        skipped=len(pieces) - len(todo),
        failed=sorted(failed),
    )


@dataclass(frozen=True)
class _Options:
    """What every partition task needs (small: the locator comes from its source)."""

    locator: LocatorSource
    crs: str
    lon_col: str | None
    lat_col: str | None
    fields: tuple[str, ...]

    def assign(self, frame: pd.DataFrame) -> gpd.GeoDataFrame:
        locator = self.locator.load()
        return assign_frame(frame, locator, self.crs, self.lon_col, self.lat_col, self.fields)


def _graph(
    todo: list[tuple[int, Piece]], out: Path, options: _Options, failed: list[tuple[str, str]]
) -> list[tuple[str, Any]]:
    """One delayed write per piece to do, named by its piece."""
    import dask
    import dask.dataframe as dd
    import dask_geopandas  # noqa: F401 - GeoDataFrame partitions make dask-geopandas frames

    meta = None
    for _, piece in todo:
        try:
            meta = read_piece(piece, head=True).iloc[:0]
            break
        except CityAwareError as error:
            failed.append((piece.name, str(error)))
    if meta is None:
        return []
    with dask.config.set({"dataframe.convert-string": False}):  # keep the frames as read
        frames = dd.from_map(read_piece, [p for _, p in todo], meta=meta, enforce_metadata=False)
        located = frames.map_partitions(
            options.assign, meta=options.assign(meta), enforce_metadata=False
        )
    write = dask.delayed(write_partition, pure=False)
    return [
        (piece.name, write(part, str(out), index, piece.name))
        for (index, piece), part in zip(todo, located.to_delayed(), strict=True)
        if piece.name not in {name for name, _ in failed}
    ]


def _compute(
    writes: list[tuple[str, Any]], client: Any, progress: bool, failed: list[tuple[str, str]]
) -> int:
    """Run the writes; failures go to ``failed`` by piece name. Returns the rows written."""
    rows = 0
    if client is None:
        import dask
        from tqdm import tqdm

        for name, task in tqdm(writes, unit="part", disable=not progress):
            try:
                rows += dask.compute(task, scheduler="sync")[0]
            except Exception as error:  # noqa: BLE001 - reported by piece, the rest go on
                failed.append((name, _message(name, error)))
        return rows
    from distributed import progress as show_progress
    from distributed import wait

    futures = client.compute([task for _, task in writes])
    if progress:
        show_progress(futures)
    wait(futures)
    for (name, _), future in zip(writes, futures, strict=True):
        if future.status == "finished":
            rows += future.result()
        else:
            failed.append((name, _message(name, future.exception())))
    return rows


def write_partition(frame: gpd.GeoDataFrame, out: str, index: int, name: str) -> int:
    """Write one located partition (temporary name, then rename) and its marker; its rows."""
    folder = Path(out)
    path = folder / f"part-{index:05d}.parquet"
    temporary = folder / f".{path.name}.{uuid.uuid4().hex}"
    frame.to_parquet(temporary, index=False)
    os.replace(temporary, path)
    statuses = frame["status"].value_counts()
    counts = {status: int(statuses.get(status, 0)) for status in STATUSES}
    _write_json(_marker(folder, index), {"piece": name, "rows": len(frame), "counts": counts})
    return len(frame)


def _message(name: str, error: BaseException | None) -> str:
    text = str(error)
    return text if text.startswith("partition ") else f"partition {name}: {text}"


def _marker(out: Path, index: int) -> Path:
    return out / DONE_DIR / f"part-{index:05d}.json"


def _counts(out: Path, partitions: int) -> dict[str, int]:
    counts = dict.fromkeys(STATUSES, 0)
    for index in range(partitions):
        marker = _marker(out, index)
        if marker.exists():
            for status, n in json.loads(marker.read_text())["counts"].items():
                counts[status] += n
    return counts


def _check_run(out: Path, settings: dict[str, Any]) -> None:
    """Record the run's settings, or refuse a folder that holds a run with other ones."""
    path = out / RUN_FILE
    if path.exists():
        earlier = json.loads(path.read_text())
        if earlier != settings:
            changed = sorted(k for k in settings if earlier.get(k) != settings[k])
            raise InvalidInput(
                f"{out} holds a run with other {', '.join(changed)}; "
                "use another output folder or delete it"
            )
        return
    _write_json(path, settings)


def _write_json(path: Path, value: dict[str, Any]) -> None:
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    temporary.write_text(json.dumps(value, ensure_ascii=False) + "\n")
    os.replace(temporary, path)
