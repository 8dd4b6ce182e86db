"""Feature kinds, the incident taxonomy and the incident status lifecycle.

The taxonomy (categories, intake channels) is configurable: drop a
``taxonomy.json`` into the data directory (``{"categories": [...],
"channels": [...]}``) or pass a :class:`Taxonomy` to ``open_store``.

>>> TAXONOMY.check_category("manhole_cover")
'manhole_cover'
>>> check_transition("resolved", "in_progress")  # a reopen
>>> check_transition("received", "closed")  # doctest: +ELLIPSIS
Traceback (most recent call last):
cityaware.geo.errors.Conflict: illegal status transition received -> closed; ... dispatched
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from cityaware.geo.errors import Conflict, InvalidInput, NotFound

KINDS: tuple[str, ...] = ("incidents", "cameras", "sensors")

STATUSES: tuple[str, ...] = ("received", "dispatched", "in_progress", "resolved", "closed")
OPEN_STATUSES: tuple[str, ...] = ("received", "dispatched", "in_progress")
CLOSED_STATUSES: tuple[str, ...] = tuple(s for s in STATUSES if s not in OPEN_STATUSES)
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "received": ("dispatched",),
    "dispatched": ("in_progress",),
    "in_progress": ("resolved",),
    "resolved": ("closed", "received", "in_progress"),  # close, or reopen
    "closed": ("received", "in_progress"),  # reopen
}
# Delivery of the case to the responsible office, apart from the business status.
DELIVERY_STATES: tuple[str, ...] = ("pending", "sent", "acknowledged", "failed", "refused")
PRIORITIES: tuple[str, ...] = ("low", "normal", "high", "urgent")

DEFAULT_CATEGORIES: tuple[str, ...] = (
    "road_damage",
    "manhole_cover",
    "street_light",
    "sanitation",
    "illegal_parking",
    "noise",
    "water_supply",
    "drainage",
    "greenery",
    "construction",
    "street_vendor",
    "air_pollution",
    "public_safety",
    "elderly_care",
    "other",
)
DEFAULT_CHANNELS: tuple[str, ...] = (
    "hotline_12345",
    "photo_app",
    "web",
    "grid_patrol",
    "sensor_alarm",
    "camera_alarm",
    "open311",
    "other",
)
TAXONOMY_FILE = "taxonomy.json"


def check_kind(kind: str) -> str:
    """Return ``kind`` when it is a feature kind, else raise :class:`NotFound`.

    >>> check_kind("cameras")
    'cameras'
    """
    if kind not in KINDS:
        raise NotFound(f"unknown feature kind {kind!r}; expected one of {', '.join(KINDS)}")
    return kind


def check_transition(old: str, new: str) -> None:
    """Raise :class:`Conflict` unless the lifecycle allows ``old -> new`` (or no change)."""
    check_choice("status", new, STATUSES)
    if old != new and new not in TRANSITIONS.get(old, ()):
        allowed = ", ".join(TRANSITIONS.get(old, ())) or "nothing"
        raise Conflict(f"illegal status transition {old} -> {new}; allowed from {old}: {allowed}")


def check_choice(field: str, value: str, choices: tuple[str, ...]) -> str:
    """Return ``value`` when it is one of ``choices``, else raise :class:`InvalidInput`.

    >>> check_choice("priority", "urgent", PRIORITIES)
    'urgent'
    """
    if value not in choices:
        raise InvalidInput(f"unknown {field} {value!r}; expected one of {', '.join(choices)}")
    return value


@dataclass(frozen=True)
class Taxonomy:
    """The incident categories and intake channels a store accepts."""

    categories: tuple[str, ...] = DEFAULT_CATEGORIES
    channels: tuple[str, ...] = DEFAULT_CHANNELS

    @classmethod
    def load(cls, data_dir: Path | None) -> Taxonomy:
        """The taxonomy of ``data_dir/taxonomy.json`` when present, else the default."""
        path = Path(data_dir) / TAXONOMY_FILE if data_dir else None
        if path is None or not path.exists():
            return cls()
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            return cls(
                categories=tuple(raw.get("categories") or DEFAULT_CATEGORIES),
                channels=tuple(raw.get("channels") or DEFAULT_CHANNELS),
            )
        except (ValueError, AttributeError) as error:
            raise InvalidInput(f"{path}: not a taxonomy JSON object ({error})") from error

    def check_category(self, value: str) -> str:
        return check_choice("category", value, self.categories)

    def check_channel(self, value: str) -> str:
        return check_choice("channel", value, self.channels)


TAXONOMY = Taxonomy()
