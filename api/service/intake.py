"""Free-text intake: what a sentence says (place, category), the case's due times and matter.

:class:`TextReader` reads a complaint sentence with the gazetteer (the place)
and the classifier (the category); :func:`pinned_location` turns a place
trusted at grid, community or street level into the location stored with the
case (a unit-level place keeps its grid empty: never a confident wrong grid);
:func:`find_matter` links a case to the matter of the nearest earlier case of
its category.
"""

from __future__ import annotations

import gc
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cityaware.geo.engine.results import Location
from cityaware.geo.hotline.classifier import Classification, TextClassifier
from cityaware.geo.hotline.matters import MatterRule, matter_for
from cityaware.geo.hotline.places import PlaceReading, read_place
from cityaware.geo.store.casework import UNIT_STATUS
from cityaware.geo.store.taxonomy import Taxonomy
from cityaware.geo.store.times import from_ms

if TYPE_CHECKING:
    from cityaware.api.service.recent_cases import RecentCases
    from cityaware.geo.engine.locator import GridLocator
    from cityaware.geo.gazetteer.active import ActiveGazetteer


class TextReader:
    """Reads complaint sentences: the place with the gazetteer, the category with the
    classifier (trained once, cached under ``cache_dir``)."""

    def __init__(
        self, gazetteer: ActiveGazetteer | None, taxonomy: Taxonomy, cache_dir: Path | None
    ) -> None:
        self.gazetteer, self.taxonomy, self.cache_dir = gazetteer, taxonomy, cache_dir
        self._model: TextClassifier | None = None
        self._lock = threading.Lock()

    @property
    def model(self) -> TextClassifier:
        """The classifier (loaded or trained on first use)."""
        with self._lock:
            if self._model is None:
                self._model = TextClassifier.load_or_train(self.taxonomy, self.cache_dir)
                # the model lives as long as the process: keep it out of the cyclic GC's scans
                gc.freeze()
            return self._model

    def classify(self, text: str) -> Classification:
        """The category of ``text``."""
        return self.model.classify(text)

    def place(self, text: str) -> PlaceReading:
        """The place named in ``text`` (nothing when the server has no gazetteer)."""
        from cityaware.geo.hotline.places import NO_PLACE

        return NO_PLACE if self.gazetteer is None else read_place(self.gazetteer, text)

    def subcategory(self, category: str, text: str) -> str | None:
        """The first sub-category of ``category`` whose keyword is in ``text``."""
        for node in self.taxonomy.children(category):
            if any(word in text for word in node.keywords):
                return node.id
        return None


def pinned_location(locator: GridLocator, place: PlaceReading) -> Location | None:
    """The stored location of a trusted place, or None when it pins nothing."""
    if not place.trusted or place.lon is None or place.lat is None:
        return None
    if place.level == "grid":
        location = locator.locate(place.lon, place.lat, "EPSG:4326")
        if location.grid_code == place.grid:
            return location
        if location.street_code != place.street:
            return None  # the engine and the gazetteer disagree: trust neither
    community = place.community if place.level in ("grid", "community") else None
    return Location(
        UNIT_STATUS, None, community, place.street, place.district, place.managing_zone,
        locator.generation, place.lon, place.lat,
    )  # fmt: skip


def find_matter(
    cases: RecentCases,
    case_id: str,
    category: str,
    location: Location,
    place_name: str | None,
    rule: MatterRule,
) -> str:
    """The matter of a new case: the nearest earlier one's of the same category within
    the rule's radius and window (cases pinned only to a unit start their own)."""
    if location.grid_code is None:
        return case_id
    near = cases.near(category, location.lon, location.lat, rule.radius_m)
    return matter_for(case_id, near, place_name)


def hotline_view(block: dict[str, Any] | None) -> dict[str, Any] | None:
    """The hotline block of an incident as answered (times as ISO 8601)."""
    if not block:
        return None
    out = dict(block)
    out["due"] = {k: from_ms(v) for k, v in (block.get("due") or {}).items()}
    for key in ("reply", "callback"):
        if out.get(key):
            out[key] = {**out[key], "at": from_ms(out[key]["at"])}
    if out.get("reopened_at"):
        out["reopened_at"] = from_ms(out["reopened_at"])
    out["escalations"] = [{**e, "at": from_ms(e["at"])} for e in block.get("escalations", [])]
    return out
