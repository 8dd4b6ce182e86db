"""Times as the store keeps them: integer milliseconds since the epoch, UTC.

>>> to_ms("2026-11-26T04:00:00Z")
1795665600000
>>> from_ms(1795665600000)
'2026-11-26T04:00:00Z'
>>> to_ms("2026-11-26T12:00:00+08:00") == to_ms("2026-11-26T04:00:00")
True
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd

from cityaware.geo.errors import InvalidInput

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_MS = 10**17  # epoch ms beyond this (about year 3 million) are no time


def now_ms() -> int:
    """The current time in epoch milliseconds."""
    return time.time_ns() // 1_000_000


def to_ms(value: str | datetime | date | int | float, what: str = "time") -> int:
    """Epoch milliseconds of an ISO 8601 text, datetime, or epoch-ms number (naive = UTC)."""
    if isinstance(value, bool):
        raise InvalidInput(f"{what}: {value!r} is not a time")
    if isinstance(value, int | float | np.integer | np.floating):
        return int(value)
    try:
        stamp = pd.Timestamp(value)
        if pd.isna(stamp):
            raise ValueError("not a time")
        stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
        return (stamp.to_pydatetime() - _EPOCH) // timedelta(milliseconds=1)
    except (ValueError, TypeError, OverflowError) as error:  # incl. out-of-bounds dates
        raise InvalidInput(f"{what}: {value!r} is not an ISO 8601 time in range") from error


def series_to_ms(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Vectorised :func:`to_ms`: (milliseconds as nullable Int64, mask of unparseable values).

    >>> ms, bad = series_to_ms(pd.Series([2.5, float("inf"), None]))
    >>> ms.tolist(), bad.tolist()
    ([2, <NA>, <NA>], [False, True, False])
    """
    present = values.notna() & (values.astype(str).str.strip() != "")
    if pd.api.types.is_numeric_dtype(values):  # epoch ms; a fraction is cut off
        numbers = values.astype(float)
        usable = np.isfinite(numbers) & (numbers.abs() < MAX_MS)
        bad = values.notna() & ~usable
        return numbers.where(usable).apply(np.trunc).astype("Int64"), bad
    stamps = pd.to_datetime(values.where(present), utc=True, errors="coerce", format="ISO8601")
    bad = present & stamps.isna()
    epoch = pd.Timestamp(0, tz="UTC")
    ms = ((stamps - epoch) // pd.Timedelta(milliseconds=1)).astype("Int64")
    return ms, bad


def from_ms(value: int | None) -> str | None:
    """ISO 8601 UTC text (``...Z``) of epoch milliseconds; None stays None."""
    if value is None:
        return None
    stamp = datetime.fromtimestamp(value / 1000, tz=UTC)
    text = stamp.isoformat(timespec="milliseconds" if value % 1000 else "seconds")
    return text.replace("+00:00", "Z")
