"""Deadlines from the duty list: per category and handling level, a time to respond
and a time to resolve.

``<data_dir>/duty-deadlines.csv`` (columns ``category, level, respond_hours,
resolve_hours``; ``*`` matches anything) overrides the shipped table. The most
specific row wins: category and level, then category, then level, then ``*,*``.

>>> table = DeadlineTable.load()
>>> table.hours("manhole_cover", "district")
(1.0, 24.0)
>>> due = table.due("sanitation", "street", 0)
>>> due["respond_at"], due["resolve_at"]
(7200000, 172800000)
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from cityaware.geo.errors import InvalidInput
from cityaware.geo.resources import shipped

SHIPPED = shipped("cityaware.geo.hotline", "deadlines.csv")
FILE_NAME = "duty-deadlines.csv"
ANY = "*"
HOUR_MS = 3_600_000
NEAR_SHARE = 0.2  # a deadline is near in the last fifth of its time


@dataclass(frozen=True)
class DeadlineTable:
    """(category, level) -> (respond hours, resolve hours)."""

    rows: dict[tuple[str, str], tuple[float, float]]

    @classmethod
    def load(cls, data_dir: Path | None = None) -> DeadlineTable:
        """The table of ``data_dir`` when it has one, else the shipped one."""
        path = Path(data_dir) / FILE_NAME if data_dir else None
        return cls.read(path if path is not None and path.exists() else SHIPPED)

    @classmethod
    def read(cls, path: Path) -> DeadlineTable:
        """Parse a deadline CSV; InvalidInput names the line of a bad row."""
        rows: dict[tuple[str, str], tuple[float, float]] = {}
        with open(path, encoding="utf-8-sig", newline="") as handle:
            for line, row in enumerate(csv.DictReader(handle), start=2):
                try:
                    respond, resolve = float(row["respond_hours"]), float(row["resolve_hours"])
                    key = (row["category"].strip() or ANY, row["level"].strip() or ANY)
                except (KeyError, ValueError, AttributeError) as error:
                    raise InvalidInput(f"{path}:{line}: bad deadline row ({error})") from error
                if not 0 < respond <= resolve:
                    raise InvalidInput(f"{path}:{line}: need 0 < respond_hours <= resolve_hours")
                rows[key] = (respond, resolve)
        if (ANY, ANY) not in rows:
            raise InvalidInput(f"{path}: the deadline table needs a default row '*,*'")
        return cls(rows)

    def hours(self, category: str, level: str) -> tuple[float, float]:
        """(respond, resolve) hours for a case of ``category`` handled at ``level``."""
        for key in ((category, level), (category, ANY), (ANY, level), (ANY, ANY)):
            if key in self.rows:
                return self.rows[key]
        raise AssertionError("unreachable: the default row matches everything")

    def due(self, category: str, level: str, start_ms: int) -> dict[str, int]:
        """Due times (epoch ms) counted from ``start_ms``."""
        respond, resolve = self.hours(category, level)
        return {
            "respond_at": start_ms + int(respond * HOUR_MS),
            "resolve_at": start_ms + int(resolve * HOUR_MS),
        }


def deadline_state(due_ms: int, start_ms: int, now_ms: int) -> str:
    """``ok``, ``near`` (last fifth of the time) or ``overdue`` at ``now_ms``.

    >>> deadline_state(100, 0, 50), deadline_state(100, 0, 85), deadline_state(100, 0, 101)
    ('ok', 'near', 'overdue')
    """
    if now_ms > due_ms:
        return "overdue"
    return "near" if now_ms >= due_ms - NEAR_SHARE * (due_ms - start_ms) else "ok"
