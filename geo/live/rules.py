"""Built-in live rules: a worker outside their own grid on duty, a device offline, an
object inside a closed area.

Rules are data (a TOML file, see :func:`parse_rules`); each one watches *subjects* (moving
objects or devices) and is *open* for a subject while its condition holds. Openings and
clearings are hysteretic the way fences are (:func:`geo.live.fences.decide`): a position
on the other side of an edge counts only ``min_distance_m`` metres past it or after
``dwell_s`` seconds there, so GPS jitter along a grid's edge opens nothing. Duty hours are
local to the city (``[city] timezone`` of the profile).

>>> rules = parse_rules('''
... [[rule]]
... id = "off-grid"
... type = "outside_own_grid"
... kinds = ["worker"]
... duty = "08:00-18:00"
... days = [1, 2, 3, 4, 5]
... min_distance_m = 30
... ''')
>>> from zoneinfo import ZoneInfo
>>> at = 1_764_662_400_000  # 2025-12-02T08:00:00Z: Tuesday 16:00 in Shanghai
>>> rules[0].on_duty(at, ZoneInfo("Asia/Shanghai")), rules[0].on_duty(at, ZoneInfo("UTC"))
(True, True)
>>> rules[0].on_duty(at + 3 * 3_600_000, ZoneInfo("Asia/Shanghai"))  # 19:00 local
False
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import shapely

from cityaware.geo.errors import InvalidInput
from cityaware.geo.live.fences import FenceSpec, decide

TYPES = ("outside_own_grid", "offline", "closed_area")
DEVICE_KINDS = ("sensors", "cameras")
_KEYS = {
    "id",
    "type",
    "kinds",
    "duty",
    "days",
    "min_distance_m",
    "dwell_s",
    "after_minutes",
    "regions",
    "grid_attribute",
    "name",
}


@dataclass(frozen=True)
class Rule:
    """One configured rule (see :func:`parse_rules` for the fields)."""

    id: str
    type: str
    kinds: frozenset[str]
    name: str = ""
    duty: tuple[time, time] | None = None
    days: frozenset[int] = frozenset(range(1, 8))
    min_distance_m: float = 0.0
    dwell_ms: int = 0
    after_minutes: float = 30.0
    regions: tuple[str, ...] = ()
    grid_attribute: str = "worker_id"

    def on_duty(self, at: int, clock: ZoneInfo) -> bool:
        """True when ``at`` (epoch ms) is inside the duty hours on a duty day (ISO weekday,
        Monday 1), in the city's ``clock``; always True without duty hours."""
        if self.duty is None:
            return True
        local = datetime.fromtimestamp(at / 1000, clock)
        start, end = self.duty
        now = local.time()
        inside = start <= now < end if start <= end else (now >= start or now < end)
        return inside and local.isoweekday() in self.days

    def spec(self, geometry: shapely.Geometry) -> FenceSpec:
        """The fence-like hysteresis of this rule around ``geometry``."""
        return FenceSpec(self.id, geometry, frozenset(), None, self.min_distance_m, self.dwell_ms)


@dataclass(frozen=True)
class Verdict:
    """A subject's rule state after an observation: ``active`` (the rule is open for it),
    ``pending_since`` (the other side first seen at, for ``dwell_s``) and ``changed``."""

    active: bool
    pending_since: int | None
    changed: bool


def judge(
    rule: Rule,
    active: bool,
    pending_since: int | None,
    violating: bool,
    edge_m: float,
    at: int,
) -> Verdict:
    """The rule state after observing a subject ``violating`` (or not) ``edge_m`` metres
    from the edge that decides it (``inf`` when no edge is involved: no hysteresis).

    >>> r = parse_rules('[[rule]]\\nid="c"\\ntype="closed_area"\\nregions=["1"]\\n'
    ...                 'min_distance_m=20')[0]
    >>> judge(r, False, None, True, 5.0, 0), judge(r, False, None, True, 50.0, 0)
    (Verdict(active=False, pending_since=None, changed=False), Verdict(active=True, \
pending_since=None, changed=True))
    """
    spec = rule.spec(shapely.Point(0, 0))
    return Verdict(*decide(active, pending_since, violating, edge_m, at, spec))


def parse_rules(text: str) -> list[Rule]:
    """The rules of a TOML text: ``[[rule]]`` tables with ``id``, ``type`` (one of
    :data:`TYPES`), ``kinds`` (object kinds, or device kinds ``sensors``/``cameras`` for
    ``offline``), ``duty`` ("HH:MM-HH:MM", local time), ``days`` (ISO weekdays),
    ``min_distance_m``, ``dwell_s``, ``after_minutes`` (offline), ``regions`` (closed
    area codes), ``grid_attribute`` (the grid attribute naming its worker's object id).
    InvalidInput says what is wrong.

    >>> [sorted(r.kinds) for r in parse_rules('[[rule]]\\nid = "d"\\ntype = "offline"')]
    [['cameras', 'sensors']]
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise InvalidInput(f"rules: not TOML: {error}") from None
    rules, seen = [], set()
    for n, table in enumerate(data.get("rule", [])):
        rule = _rule(n, table)
        if rule.id in seen:
            raise InvalidInput(f"rules: rule[{n}]: the id {rule.id!r} is used twice")
        seen.add(rule.id)
        rules.append(rule)
    return rules


def _rule(n: int, table: dict[str, Any]) -> Rule:
    where = f"rules: rule[{n}]"
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise InvalidInput(f"{where}: unknown keys {', '.join(unknown)}")
    rule_id, kind = table.get("id"), table.get("type")
    if not isinstance(rule_id, str) or not 0 < len(rule_id) <= 64:
        raise InvalidInput(f"{where}: id must be a text of 1 to 64 characters")
    if kind not in TYPES:
        raise InvalidInput(f"{where}: type must be one of {', '.join(TYPES)}, got {kind!r}")
    default = DEVICE_KINDS if kind == "offline" else ("worker",)
    kinds = table.get("kinds", list(default))
    if not isinstance(kinds, list) or not kinds or not all(isinstance(k, str) for k in kinds):
        raise InvalidInput(f"{where}: kinds must be a list of texts")
    regions = table.get("regions", [])
    if kind == "closed_area" and (not isinstance(regions, list) or not regions):
        raise InvalidInput(f"{where}: a closed_area rule needs regions (unit codes)")
    days = table.get("days", list(range(1, 8)))
    if not isinstance(days, list) or not all(isinstance(d, int) and 1 <= d <= 7 for d in days):
        raise InvalidInput(f"{where}: days must be ISO weekdays 1 (Monday) to 7")
    numbers = {}
    for name in ("min_distance_m", "dwell_s", "after_minutes"):
        value = table.get(name, 30.0 if name == "after_minutes" else 0.0)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise InvalidInput(f"{where}: {name} must be a number >= 0")
        numbers[name] = float(value)
    return Rule(
        id=rule_id,
        type=kind,
        kinds=frozenset(kinds),
        name=str(table.get("name", "")),
        duty=_duty(where, table.get("duty")),
        days=frozenset(days),
        min_distance_m=numbers["min_distance_m"],
        dwell_ms=int(numbers["dwell_s"] * 1000),
        after_minutes=numbers["after_minutes"],
        regions=tuple(str(r) for r in regions),
        grid_attribute=str(table.get("grid_attribute", "worker_id")),
    )


def _duty(where: str, value: object) -> tuple[time, time] | None:
    if value is None:
        return None
    try:
        start, end = str(value).split("-")
        return time.fromisoformat(start.strip()), time.fromisoformat(end.strip())
    except ValueError:
        raise InvalidInput(f'{where}: duty must be "HH:MM-HH:MM", got {value!r}') from None
