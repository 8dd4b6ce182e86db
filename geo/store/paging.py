"""Pages of query results, opaque cursors and the stable sort order.

>>> decode_cursor(encode_cursor("after", 42), keyset=True)
('after', 42)
>>> decode_cursor("nonsense", keyset=True)
Traceback (most recent call last):
cityaware.geo.errors.InvalidInput: invalid cursor 'nonsense'
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from cityaware.geo.errors import InvalidInput

SORTABLE = (
    "id", "reported_at", "updated_at", "created_at", "category", "status", "channel",
    "priority", "grid_code", "community_code", "street_code", "district_code", "name",
    "device_kind", "online", "reading_value", "reading_at", "lon", "lat",
)  # fmt: skip


@dataclass
class Page:
    """One page of features: ``items`` (dicts), ``number_matched`` (all pages) and
    ``next`` (cursor for the following page, None on the last page)."""

    items: list[dict[str, Any]] = field(default_factory=list)
    number_matched: int = 0
    next: str | None = None

    @property
    def number_returned(self) -> int:
        return len(self.items)


def encode_cursor(mode: str, value: int) -> str:
    """An opaque cursor: 'after' a row number (keyset) or an 'offset'."""
    return base64.urlsafe_b64encode(f"{mode}:{int(value)}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str, keyset: bool) -> tuple[str, int]:
    """(mode, value) of a cursor from :func:`encode_cursor`; InvalidInput if forged or stale."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        mode, value = text.split(":")
        number = int(value)
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidInput(f"invalid cursor {cursor!r}") from error
    if mode not in ("after", "offset") or number < 0 or (mode == "after" and not keyset):
        raise InvalidInput(f"invalid cursor {cursor!r}")
    return mode, number


def order_by(features: sa.Table, sortby: Sequence[str] | str | None) -> list[sa.ColumnElement[Any]]:
    """ORDER BY terms for ``sortby`` ('name' or '-name'), ending with the unique row number."""
    terms: list[sa.ColumnElement[Any]] = []
    keys = [sortby] if isinstance(sortby, str) else list(sortby or [])
    for key in keys:
        key = key.strip()
        descending = key.startswith("-")
        name = key.lstrip("+-")
        if name not in SORTABLE:
            raise InvalidInput(f"cannot sort by {name!r}; sortable: {', '.join(SORTABLE)}")
        column = features.c[name]
        terms.append(column.desc().nulls_last() if descending else column.asc().nulls_first())
    terms.append(features.c.fid.asc())
    return terms


class MatchCounts:
    """``numberMatched`` per filter, kept while the data version stays the same.

    Paging through a listing asks for the same count once per page, and GDAL
    and QGIS count a layer before reading it: one COUNT per filter and version
    serves them all. Keys are the compiled statement and its parameters.

    >>> counts = MatchCounts(size=2)
    >>> len(counts)
    0
    """

    def __init__(self, size: int = 512) -> None:
        self.size = size
        self._counts: dict[tuple[int, str, str], int] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._counts)

    def get(self, conn: sa.Connection, statement: sa.Select[Any], version: int) -> int:
        """The count ``statement`` selects at data ``version`` (run on ``conn`` if new)."""
        compiled = statement.compile(conn)
        key = (version, str(compiled), repr(sorted(compiled.params.items())))
        with self._lock:
            found = self._counts.get(key)
        if found is not None:
            return found
        count = int(conn.execute(statement).scalar_one())
        with self._lock:
            if len(self._counts) >= self.size:
                self._counts.clear()
            self._counts[key] = count
        return count
