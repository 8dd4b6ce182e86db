"""Versions of the boundary hierarchy ("generations"), after MapIt's model.

Each import stages a new, inactive generation under ``<root>/<id>/``
(``units.parquet`` as GeoParquet, ``divisions.parquet`` with the units known
only from division lists, ``meta.json``, ``validation.json``). The
generation directory appears in one rename, so readers never see half of it.
``activate`` switches the live generation by replacing the pointer file
``<root>/ACTIVE`` atomically. Older generations stay readable.

Every unit carries a ``unit_id``: a unit whose code is the same and whose
outline moved by less than a centimetre (:mod:`geo.boundaries.identity`)
keeps its identity across generations and a new id appears exactly when its
code or outline changed; its
``since_generation`` says in which generation that identity first appeared
(MapIt's ``generation_low``). Names and attributes may change under one id.

>>> registry = BoundaryRegistry(Path("cityaware-data/boundaries"))  # doctest: +SKIP
>>> gen = registry.stage(units, source="zhengzhou-demo.gpkg")  # doctest: +SKIP
>>> registry.activate(gen)  # doctest: +SKIP
>>> registry.units(level="grid").shape[0]  # doctest: +SKIP
4744
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import CRS

from cityaware.geo.arrays import StrArray
from cityaware.geo.boundaries.assemble import carry_over, fill_names, link_parents, with_cities
from cityaware.geo.boundaries.divisions import (
    DIVISION_COLUMNS,
    concat_divisions,
    empty_divisions,
    is_division_list,
    normalise_divisions,
    read_divisions,
)
from cityaware.geo.boundaries.identity import carried_ids
from cityaware.geo.boundaries.io import digit_strings, read_many
from cityaware.geo.boundaries.layout import ACTIVE_FILE, DIVISIONS_FILE, UNITS_FILE, read_pointer
from cityaware.geo.boundaries.levels import canonical_level
from cityaware.geo.boundaries.plausibility import implausible_units, refuse_unless_forced
from cityaware.geo.boundaries.repair import RepairNote, repair_geometries
from cityaware.geo.boundaries.schema import CORE_COLUMNS, LEVELS, STORAGE_CRS
from cityaware.geo.boundaries.validate import ValidationReport, validate_units
from cityaware.geo.errors import InvalidInput, NotFound

ACTIVATING_FILE = "ACTIVATING"  # an activation under way: see geo.bulk.activation
META_FILE = "meta.json"
VALIDATION_FILE = "validation.json"
_GENERATION_ID = re.compile(r"^g(\d{4,})$")
_DEFAULTS = {"name": "", "parent_code": "", "code_system": "NBS", "code_version": ""}
_DEFAULTS |= {"managing_zone": "", "attributes": "{}"}


class BoundaryRegistry:
    """The boundary generations stored under one directory.

    >>> registry = BoundaryRegistry(tmp_path)  # doctest: +SKIP
    >>> registry.active() is None  # doctest: +SKIP
    True
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._pointers: dict[str, tuple[tuple[int, int, int], str | None]] = {}
        self._cache: dict[str, gpd.GeoDataFrame] = {}

    # -- writing ------------------------------------------------------------
    def stage(
        self,
        units: gpd.GeoDataFrame,
        source: str = "",
        note: str = "",
        repairs: Sequence[RepairNote] = (),
        divisions: pd.DataFrame | None = None,
        force: bool = False,
    ) -> str:
        """Store ``units`` as a new inactive generation; return its id (e.g. ``'g0001'``).

        ``divisions`` (:mod:`geo.boundaries.divisions`) name units without outline (and
        outlined units whose file gives no name).
        When the units' top level has its parents in the active generation (a
        grid-only update), the levels above come from there; districts get
        their city (derived from the codes when not given). Refuses
        (InvalidInput) frames without units, with unknown levels or non-polygon
        geometry, with duplicate codes, or implausible outlines (outside China,
        far from the rest, far from the active generation) unless ``force``;
        other problems are only reported in ``validation.json``.

        >>> registry.stage(units, source="grids.gpkg", note="2024 re-survey")  # doctest: +SKIP
        'g0002'
        """
        units, repaired_here = _normalised(units)
        divisions = normalise_divisions(divisions)
        active = self.active()
        active_units = self.units(active) if active is not None else None
        active_divisions = self.divisions(active) if active is not None else None
        units, divisions = carry_over(units, divisions, active_units, active_divisions)
        units = fill_names(link_parents(with_cities(units, divisions), divisions), divisions)
        divisions = divisions[~divisions["code"].isin(units["code"])].reset_index(drop=True)
        report = validate_units(units, repairs=[*repairs, *repaired_here], divisions=divisions)
        duplicates = report.of_kind("duplicate_code")
        if duplicates:
            raise InvalidInput(
                f"{len(duplicates)} duplicate codes, e.g. {duplicates[0].message}; "
                "every unit of a generation needs its own code"
            )
        report.findings += implausible_units(units, active_units)
        warnings = refuse_unless_forced(report.findings, force)
        ids = self._ids()
        previous = self.units(ids[-1]) if ids else None
        units.insert(0, "unit_id", carried_ids(units, previous))
        units["since_generation"] = self._since(units["unit_id"], previous)
        self.root.mkdir(parents=True, exist_ok=True)
        workdir = Path(tempfile.mkdtemp(prefix=".staging-", dir=self.root))
        try:
            units.to_parquet(workdir / UNITS_FILE, index=False)
            divisions.to_parquet(workdir / DIVISIONS_FILE, index=False)
            _write_json(workdir / VALIDATION_FILE, report.to_dict())
            return self._publish(workdir, source, note, units, report, warnings)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    def stage_files(
        self,
        paths: Sequence[str | Path],
        *,
        note: str = "",
        force: bool = False,
        **read_options: Any,
    ) -> str:
        """Read boundary files (a hierarchy GeoPackage, or one file per level) and division
        lists (CSV) into one generation.

        ``read_options`` go to :func:`geo.boundaries.io.read_many` (level, layer, crs, ...).

        >>> registry.stage_files(["districts.geojson", "divisions.csv"])  # doctest: +SKIP
        'g0003'
        """
        outlines = [p for p in paths if not is_division_list(p)]
        divisions = concat_divisions([read_divisions(p) for p in paths if is_division_list(p)])
        units, repairs = read_many(outlines, force=force, **read_options)
        source = ", ".join(Path(p).name for p in paths)
        return self.stage(
            units, source=source, note=note, repairs=repairs, divisions=divisions, force=force
        )

    def activate(self, generation: str) -> None:
        """Make ``generation`` the live one, atomically (readers see the old or the new id).

        This only moves the pointer; stored features follow through
        :func:`geo.bulk.activation.activate`, which records the intent first
        (:meth:`begin_activation`) so that a crash is finished at the next start.
        """
        self.require(generation)
        self._write_pointer(ACTIVE_FILE, generation)

    def begin_activation(self, generation: str) -> None:
        """Record (durably) that ``generation`` is being activated; see
        :meth:`pending_activation`.

        >>> registry.begin_activation("g0002"); registry.pending_activation()  # doctest: +SKIP
        'g0002'
        """
        self.require(generation)
        self._write_pointer(ACTIVATING_FILE, generation)

    def pending_activation(self) -> str | None:
        """The generation an unfinished activation was switching to, or None."""
        return self._read_pointer(ACTIVATING_FILE)

    def _read_pointer(self, name: str) -> str | None:
        """The pointer file ``name``, read again only when its stat changes (every write
        replaces the file: a new inode), so a request pays one ``stat``, not a read."""
        try:
            info = os.stat(self.root / name)
        except FileNotFoundError:
            self._pointers.pop(name, None)
            return None
        stamp = (info.st_ino, info.st_mtime_ns, info.st_size)
        cached = self._pointers.get(name)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        value = read_pointer(self.root, name)  # replaced meanwhile: read again next time
        self._pointers[name] = (stamp, value)
        return value

    def end_activation(self) -> None:
        """Forget the recorded activation (it is complete)."""
        (self.root / ACTIVATING_FILE).unlink(missing_ok=True)
        _fsync_dir(self.root)

    def _write_pointer(self, name: str, generation: str) -> None:
        """Replace the file ``name`` with ``generation`` atomically and durably."""
        handle, temporary = tempfile.mkstemp(prefix=".pointer-", dir=self.root)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                file.write(generation + "\n")
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, self.root / name)
            _fsync_dir(self.root)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    # -- reading ------------------------------------------------------------
    def active(self) -> str | None:
        """The live generation's id, or None before the first activation."""
        return self._read_pointer(ACTIVE_FILE)

    def generations(self) -> list[dict[str, Any]]:
        """Every generation, oldest first: id, created, source, note, active, counts.

        >>> [g["id"] for g in registry.generations()]  # doctest: +SKIP
        ['g0001', 'g0002']
        """
        active = self.active()
        out = []
        for generation in self._ids():
            meta = json.loads((self.root / generation / META_FILE).read_text(encoding="utf-8"))
            out.append(meta | {"active": generation == active})
        return out

    def units(self, generation: str | None = None, level: str | None = None) -> gpd.GeoDataFrame:
        """The units of ``generation`` (the active one by default), optionally of one level.

        >>> registry.units(level="district").code.tolist()[:2]  # doctest: +SKIP
        ['990102', '990103']
        """
        if level is not None and level not in LEVELS:
            raise InvalidInput(f"unknown level '{level}' (use one of {', '.join(LEVELS)})")
        generation = self._resolve(generation)
        if generation not in self._cache:
            units = gpd.read_parquet(self.root / generation / UNITS_FILE)
            since = units.get("since_generation", pd.Series("", index=units.index))
            units["since_generation"] = since.where(since != "", generation)
            self._cache[generation] = units
        units = self._cache[generation]
        if level is not None:
            units = units[units["level"] == level]
        return units.reset_index(drop=True).copy()

    def divisions(self, generation: str | None = None) -> pd.DataFrame:
        """Units of ``generation`` (the active one by default) known without outline, from
        division lists: columns code, name, level, parent_code (empty frame when none).

        >>> registry.divisions().query("level == 'street'").code.tolist()[:1]  # doctest: +SKIP
        ['410202001']
        """
        path = self.root / self._resolve(generation) / DIVISIONS_FILE
        if not path.exists():
            return empty_divisions()
        return pd.read_parquet(path)[[*DIVISION_COLUMNS]].astype(object)

    def validation(self, generation: str | None = None) -> dict[str, Any]:
        """The validation report saved when ``generation`` was staged."""
        generation = self._resolve(generation)
        report: dict[str, Any] = json.loads(
            (self.root / generation / VALIDATION_FILE).read_text(encoding="utf-8")
        )
        return report

    def diff(self, generation_a: str, generation_b: str) -> dict[str, list[str]]:
        """Codes added, removed, changed (new outline) and updated (same outline) from a to b.

        >>> registry.diff("g0001", "g0002")["changed"]  # doctest: +SKIP
        ['990102001001001']
        """
        old = self._frame_for_diff(generation_a)
        new = self._frame_for_diff(generation_b)
        both = old.index.intersection(new.index)
        same_shape = old.loc[both, "unit_id"] == new.loc[both, "unit_id"]
        columns = [c for c in CORE_COLUMNS if c != "code"]
        same_fields = (old.loc[both, columns] == new.loc[both, columns]).all(axis=1)
        return {
            "added": sorted(new.index.difference(old.index)),
            "removed": sorted(old.index.difference(new.index)),
            "changed": sorted(both[~same_shape.to_numpy()]),
            "updated": sorted(both[(same_shape & ~same_fields).to_numpy()]),
        }

    # -- internals ----------------------------------------------------------
    @staticmethod
    def _since(new_ids: pd.Series, previous: gpd.GeoDataFrame | None) -> StrArray:
        """The generation each unit first appeared in, carried over from the latest
        generation for unchanged units; '' (this generation, still unnamed) for the rest."""
        if previous is None:
            return np.full(len(new_ids), "", dtype=object)
        since = pd.Series(previous["since_generation"].to_numpy(), index=previous["unit_id"])
        return since.reindex(new_ids.to_numpy()).fillna("").to_numpy(dtype=object)

    def _publish(
        self,
        workdir: Path,
        source: str,
        note: str,
        units: gpd.GeoDataFrame,
        report: ValidationReport,
        warnings: Sequence[str],
    ) -> str:
        """Give the staged directory the next free id by renaming it into place."""
        while True:
            generation = self._next_id()
            meta = {
                "id": generation,
                "created": datetime.now(UTC).isoformat(timespec="seconds"),
                "source": source,
                "note": note,
                "counts": {lv: int((units["level"] == lv).sum()) for lv in LEVELS},
                "validation": report.counts,
                "forced": list(warnings),
            }
            _write_json(workdir / META_FILE, meta)
            try:
                os.rename(workdir, self.root / generation)
            except OSError:  # another process took this id first
                if (self.root / generation).exists():
                    continue
                raise
            return generation

    def _ids(self) -> list[str]:
        if not self.root.is_dir():
            return []
        found = [p.name for p in self.root.iterdir() if _GENERATION_ID.match(p.name)]
        return sorted(found, key=lambda name: int(name[1:]))

    def _next_id(self) -> str:
        ids = self._ids()
        return f"g{int(ids[-1][1:]) + 1 if ids else 1:04d}"

    def require(self, generation: str) -> str:
        """``generation`` when it is staged here, else NotFound (one directory check)."""
        if not _GENERATION_ID.match(str(generation)) or not (self.root / generation).is_dir():
            known = ", ".join(self._ids()) or "none yet"
            raise NotFound(f"boundary generation '{generation}' not found (known: {known})")
        return generation

    def _resolve(self, generation: str | None) -> str:
        if generation is None:
            generation = self.active()
            if generation is None:
                raise NotFound(
                    "no active boundary generation yet; import one with "
                    "`cityaware boundaries import FILE --activate` (or run `cityaware demo`)"
                )
        return self.require(generation)

    def _frame_for_diff(self, generation: str) -> pd.DataFrame:
        units = pd.DataFrame(self.units(generation).drop(columns="geometry"))
        return units.set_index("code")


def _normalised(units: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, list[RepairNote]]:
    """A clean copy in EPSG:4326 with every schema column and repaired geometry, with the
    repair notes; or InvalidInput."""
    if units is None or len(units) == 0:
        raise InvalidInput("no boundary units to stage")
    if "code" not in units.columns or "level" not in units.columns:
        raise InvalidInput("a units frame needs at least the columns code and level")
    if units.crs is None:
        raise InvalidInput("the units frame has no CRS")
    if not units.crs.equals(CRS.from_user_input(STORAGE_CRS)):
        units = units.to_crs(STORAGE_CRS)
    units = units.reset_index(drop=True)
    units["level"] = units["level"].map({lv: canonical_level(lv) for lv in set(units["level"])})
    columns = {column: _column(units, column, _DEFAULTS.get(column, "")) for column in CORE_COLUMNS}
    empty = np.flatnonzero(columns["code"] == "")
    if len(empty):
        raise InvalidInput(f"units: row {empty[0] + 1} has an empty code")
    geometry, repairs = repair_geometries(units.geometry.to_numpy(), columns["code"], "units")
    own = {"geometry", "unit_id", "since_generation", units.geometry.name}
    extra = [c for c in units.columns if c not in CORE_COLUMNS and c not in own]
    data = {**columns, **{c: units[c].to_numpy() for c in extra}}
    return gpd.GeoDataFrame(data, geometry=geometry, crs=STORAGE_CRS), repairs


def _column(units: gpd.GeoDataFrame, column: str, default: str) -> StrArray:
    """A schema column as strings; codes stay exact digits even when stored as numbers."""
    if column not in units.columns:
        return np.full(len(units), default, dtype=object)
    if column in ("code", "parent_code", "managing_zone"):
        return digit_strings(units[column], "units", column)
    values = units[column].astype(object).where(units[column].notna(), default)
    return np.array([str(v) for v in values], dtype=object)


def _fsync_dir(folder: Path) -> None:
    """Make a rename or unlink in ``folder`` durable."""
    handle = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def _write_json(path: Path, value: dict[str, Any]) -> None:
    path.write_text(json.dumps(value, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
