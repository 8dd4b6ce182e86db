"""Division lists without geometry: codes and names of units, e.g. the NBS list.

A division list is a CSV with the columns ``level,code,name,parent_code``
(the NBS style; levels such as ``county``, ``township``, ``village`` are
aliases of ours, see :mod:`geo.boundaries.levels`). It names the units under
(or above) the outlined ones; a generation stores the divisions that have no
outline, and :meth:`BoundaryRegistry.divisions` returns them.
Province rows are skipped (no province level). The text is UTF-8 (with or
without BOM) or GB18030/GBK.

>>> import io
>>> text = "level,code,name,parent_code\\ncounty,410202,龙亭区,410200\\n"
>>> text += "township,410202001,北书店街道,410202\\n"
>>> read_divisions(io.BytesIO(text.encode("gbk")), "d.csv")[["code", "level"]].values.tolist()
[['410202', 'district'], ['410202001', 'street']]
"""

from __future__ import annotations

import io as _io
from pathlib import Path
from typing import BinaryIO

import pandas as pd

from cityaware.geo.boundaries.levels import canonical_level
from cityaware.geo.errors import InvalidInput

DIVISION_COLUMNS: tuple[str, ...] = ("code", "name", "level", "parent_code")
_SKIPPED_LEVELS = frozenset(("province", "省"))


def is_division_list(path: str | Path) -> bool:
    """A CSV (or TSV/TXT) file: a division list, not an outline file.

    >>> is_division_list("divisions.csv"), is_division_list("districts.geojson")
    (True, False)
    """
    return Path(path).suffix.lower() in (".csv", ".tsv", ".txt")


def empty_divisions() -> pd.DataFrame:
    """A division frame without rows.

    >>> empty_divisions().columns.tolist()
    ['code', 'name', 'level', 'parent_code']
    """
    return pd.DataFrame({column: pd.Series([], dtype=object) for column in DIVISION_COLUMNS})


def read_divisions(source: str | Path | BinaryIO, name: str | None = None) -> pd.DataFrame:
    """Read a division list as a frame with :data:`DIVISION_COLUMNS` (levels canonical).

    ``name`` names the source in errors (default: the file name).

    >>> read_divisions("kaifeng-divisions.csv").level.unique().tolist()  # doctest: +SKIP
    ['city', 'district', 'street', 'community']
    """
    if isinstance(source, str | Path):
        path = Path(source)
        name = name or path.name
        if not path.exists():
            raise InvalidInput(f"{path}: no such file")
        raw = path.read_bytes()
    else:
        raw = source.read()
    name = name or "divisions"
    text = _decode(raw, name)
    separator = "\t" if "\t" in text.partition("\n")[0] else ","
    try:
        frame = pd.read_csv(_io.StringIO(text), dtype=str, keep_default_na=False, sep=separator)
    except pd.errors.ParserError as error:
        raise InvalidInput(f"{name}: not a CSV division list ({error})") from error
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    missing = [c for c in ("level", "code", "name") if c not in frame.columns]
    if missing:
        raise InvalidInput(
            f"{name}: a division list needs the columns level,code,name[,parent_code]; "
            f"missing {', '.join(missing)} (found: {', '.join(frame.columns)})"
        )
    if "parent_code" not in frame.columns:
        frame["parent_code"] = ""
    frame = frame[[*DIVISION_COLUMNS]].apply(lambda column: column.str.strip())
    frame = frame[~frame["level"].str.lower().isin(_SKIPPED_LEVELS)]
    return normalise_divisions(frame, name)


def normalise_divisions(frame: pd.DataFrame | None, name: str = "divisions") -> pd.DataFrame:
    """Check and clean a division frame: digit codes, canonical levels, unique codes.

    >>> normalise_divisions(pd.DataFrame({"code": ["410200"], "name": ["开封市"],
    ...     "level": ["prefecture"], "parent_code": [""]})).level.tolist()
    ['city']
    """
    if frame is None or frame.empty:
        return empty_divisions()
    frame = frame.reset_index(drop=True).astype(object)
    for column in DIVISION_COLUMNS:
        if column not in frame.columns:
            frame[column] = ""
    frame = frame[[*DIVISION_COLUMNS]].fillna("").astype(str)
    levels = []
    for row, (code, level) in enumerate(zip(frame["code"], frame["level"], strict=True)):
        if not code.isdigit():
            raise InvalidInput(f"{name}: row {row + 2}: code {code!r} is not a digit code")
        try:
            levels.append(canonical_level(level))
        except InvalidInput as error:
            raise InvalidInput(f"{name}: row {row + 2}: {error}") from None
    frame["level"] = levels
    bad_parent = frame["parent_code"].ne("") & ~frame["parent_code"].str.isdigit()
    if bad_parent.any():
        row = int(bad_parent.to_numpy().nonzero()[0][0])
        raise InvalidInput(f"{name}: row {row + 2}: parent_code is not a digit code")
    duplicated = frame["code"].duplicated()
    if duplicated.any():
        code = frame.loc[duplicated, "code"].iloc[0]
        raise InvalidInput(f"{name}: code {code} is listed more than once")
    return frame


def concat_divisions(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Stack division frames; a later frame's row wins for a code listed twice.

    >>> a = pd.DataFrame({"code": ["1"], "name": ["A"], "level": ["city"], "parent_code": [""]})
    >>> concat_divisions([a, a.assign(name="B")]).name.tolist()
    ['B']
    """
    frames = [f for f in frames if not f.empty]
    if not frames:
        return empty_divisions()
    stacked = pd.concat(frames, ignore_index=True)
    return stacked.drop_duplicates("code", keep="last").reset_index(drop=True)


def _decode(raw: bytes, name: str) -> str:
    """UTF-8 (BOM allowed) when it decodes strictly, else GB18030 (covers GBK)."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InvalidInput(f"{name}: text is neither UTF-8 nor GB18030/GBK")
