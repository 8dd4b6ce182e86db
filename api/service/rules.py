"""The built-in live rules of a server: the rules file, the city's clock, evaluation.

The rule types are built in (:mod:`geo.live.rules`); which rules run is data: the
``[[rule]]`` tables of ``<data_dir>/rules.toml`` (none without the file; the shipped
``live-rules.toml``, :data:`TEMPLATE`, is a starting point: a worker outside their own
grid during duty hours, a device offline, a closed area); the file is read again when
it changes. :meth:`LiveRules.evaluate` runs them
at a moment (the live worker does every ``CITYAWARE_RULES_EVERY_S``; tests pass their own
clock): duty hours in the active generation's ``[city] timezone``, own grids from the
grid attribute the rule names (``worker_id``: the object id of the grid's worker), closed
areas from region codes of the active generation.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from cityaware.geo.errors import NotFound
from cityaware.geo.live.rules import Rule, parse_rules
from cityaware.geo.store.rules import RuleStore
from cityaware.geo.store.times import now_ms

if TYPE_CHECKING:
    from cityaware.geo.profile import CityProfiles

TEMPLATE = Path(__file__).with_name("live-rules.toml")
RULES_FILE = "rules.toml"


class LiveRules:
    """The configured rules over the rule store (see the module doc)."""

    def __init__(
        self,
        store: RuleStore,
        units: Callable[..., Any],
        active: Callable[[], str | None],
        profiles: CityProfiles,
        shapes: Callable[[str], Mapping[str, Any]],
        data_dir: Path,
    ) -> None:
        self.store, self.units, self.active, self.profiles = store, units, active, profiles
        self.shapes = shapes
        self.path = data_dir / RULES_FILE
        self._loaded: tuple[tuple[Path, float], list[Rule]] | None = None
        self._owners: tuple[tuple[str, str], dict[str, list[str]]] | None = None

    def rules(self) -> list[Rule]:
        """The rules in force (InvalidInput when the file is wrong)."""
        if not self.path.exists():
            return []
        stamp = (self.path, self.path.stat().st_mtime)
        if self._loaded is None or self._loaded[0] != stamp:
            self._loaded = (stamp, parse_rules(self.path.read_text(encoding="utf-8")))
        return self._loaded[1]

    def evaluate(self, now: int | None = None) -> list[dict[str, Any]]:
        """Run every rule at ``now`` (epoch ms; the clock when None); the new events."""
        generation = self.active()
        rules = self.rules()
        if generation is None or not rules:
            return []
        attribute = next((r.grid_attribute for r in rules if r.type == "outside_own_grid"), "")
        owners = self.owners(generation, attribute) if attribute else {}
        return self.store.evaluate(
            rules,
            now_ms() if now is None else now,
            self.clock(generation),
            generation,
            self.shapes,
            owners,
        )

    def clock(self, generation: str) -> ZoneInfo:
        """The city's time zone in ``generation`` (UTC without a profile)."""
        try:
            return self.profiles.get(generation).clock
        except NotFound:
            return ZoneInfo("UTC")

    def owners(self, generation: str, attribute: str) -> dict[str, list[str]]:
        """Object id -> the codes of the grids whose ``attribute`` names it."""
        if self._owners is None or self._owners[0] != (generation, attribute):
            grids = self.units(generation, level="grid")
            found: dict[str, list[str]] = {}
            for code, text in zip(grids["code"], grids["attributes"], strict=True):
                value = json.loads(text).get(attribute) if isinstance(text, str) else None
                if value:
                    found.setdefault(str(value), []).append(str(code))
            self._owners = ((generation, attribute), found)
        return self._owners[1]
