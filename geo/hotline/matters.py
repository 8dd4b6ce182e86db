"""Matters (解决一批事): cases of the same category close in space and time are one matter.

A new case joins the matter of the nearest earlier case of its category within
``radius_m`` and ``window`` (the caller queries those); when both name an
address, compound or road, that name must be the same too. A case that joins
nothing starts its own matter (its id).

>>> near = [{"id": "a", "matter": "a", "distance_m": 40.0, "place": "纬五路"}]
>>> matter_for("b", near, "纬五路12号")
'a'
>>> matter_for("b", near, "经三路8号")
'b'
>>> place_root("纬五路12号院"), place_root(None)
('纬五路', None)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

NUMBER_TAIL = re.compile(r"\d+号.*$")


@dataclass(frozen=True)
class MatterRule:
    """How close two cases must be to be one matter."""

    radius_m: float = 100.0
    window_days: float = 7.0


def place_root(name: str | None) -> str | None:
    """The road or compound of a place name (the house number cut off)."""
    if not name:
        return None
    return NUMBER_TAIL.sub("", name) or name


def matter_for(case_id: str, near: Sequence[dict[str, Any]], place: str | None) -> str:
    """The matter of a new case given the earlier cases ``near`` it (id, matter,
    distance_m, place root): the nearest compatible one's, else its own."""
    root = place_root(place)
    fits = [c for c in near if root is None or c.get("place") in (None, root)]
    if not fits:
        return case_id
    nearest = min(fits, key=lambda c: c["distance_m"])
    return str(nearest.get("matter") or nearest["id"])
