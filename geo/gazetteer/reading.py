"""Mentions (aliases found in the text) and readings (ways to read the whole address).

Shared by :mod:`geo.gazetteer.matcher` (which finds and scores them) and
:mod:`geo.gazetteer.answer` (which turns the best ones into an answer).

>>> NUMBER.match("纬五路12号院", 3).group(1)
'12'
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

NUMBER = re.compile(r"(?:[东西南北中]段)?(\d+)(?:号院?|$)")  # 纬五路12号(院), 纬五路12
LEVEL_OF_KIND = {"zone": "district"}
CONTEXT_KINDS = frozenset(("prefix", "district", "zone", "street", "community"))
LEVEL_BONUS = {
    "address": 0.5,
    "grid": 0.45,
    "compound": 0.4,
    "landmark": 0.4,
    "community": 0.3,
    "road": 0.25,
    "street": 0.2,
    "district": 0.1,
}
HOW_FACTOR = {"exact": 1.0, "pinyin": 0.92}
TIE = 0.05  # readings this close to the best one compete with it
TRUST = 0.8  # confidence needed before a grid is returned
MIN_CONFIDENCE = 0.35  # below this nothing is claimed
FUZZY_CUTOFF = 80.0
REGION_PIECE = re.compile(r"[\u4e00-\u9fff]{2,4}?(?:省|自治区|市|区|县)")
ROAD_AHEAD = re.compile(r"(?:\d+号|[东西南北中]?(?:路|街|大道|大街|巷))")


CROSSING = re.compile(r"(?:与|和|跟|及|、)?")
CROSSING_END = re.compile(r"(?:交叉路口|交叉口|十字路口|路口|交汇处|交口|口)?")
CROSSING_RADIUS_M = 30.0  # an intersection's corners may lie in different grids


@dataclass(slots=True)
class Mention:
    start: int
    end: int
    entry: int
    weight: float
    how: str  # exact | pinyin | fuzzy


@dataclass(slots=True)
class Reading:
    """One way to read the address: a place (or unit) plus the text it explains."""

    mention: Mention
    level: str
    end: int
    point: int = -1
    number: int | None = None
    flags: list[str] = field(default_factory=list)
    label: str = ""  # a name other than the entry's (e.g. 纬五路与经三路交叉口)
    radius_m: float = 0.0  # how far the named spot may be from the point
    score: float = 0.0
    conflict: int = 0
    unexplained: int = 0
    scope: frozenset[str | None] = frozenset()
