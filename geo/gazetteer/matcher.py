"""Free-text Chinese address -> ranked places, the level trusted, and the grid.

How an address is read:

1. :func:`~geo.gazetteer.normalize.normalize` it; cut the building/unit/room
   tail and a relation (东门, 对面, 附近) off the end.
2. *Mentions*: every alias of the gazetteer found in the text (dict lookups
   over all n-grams); when characters stay unexplained, also homophones
   (same toneless pinyin: 开风 -> 开封, 龙庭 -> 龙亭) and then near spellings
   (rapidfuzz over the names in the district already named).
3. *Readings*: each mention of a road (with the house number right after it,
   ``纬五路12号院``), place or unit is a candidate answer. Its score is the
   weight of the text it explains together with the mentions that agree with
   it (a unit it lies in: each level is constrained by its parent), minus
   the text of units that contradict it.
4. The best reading wins; equally good readings that point to different
   places make the answer *ambiguous* (no grid). A grid is returned only for
   a single, well-covered reading of an address point, a place, or a unit
   with a single grid, and only when the relation's radius (对面 ~120 m)
   stays inside that grid; otherwise the coarser level that is safe.

>>> from cityaware.geo.gazetteer.reading import NUMBER
>>> NUMBER.match("纬五路12号院", 3).group(1)
'12'
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from rapidfuzz import fuzz, process

from cityaware.geo.errors import InvalidInput
from cityaware.geo.gazetteer.aliases import VARIANT
from cityaware.geo.gazetteer.answer import answer, foreign_prefix
from cityaware.geo.gazetteer.normalize import normalize, split_tail, syllables
from cityaware.geo.gazetteer.reading import (
    CONTEXT_KINDS,
    CROSSING,
    CROSSING_END,
    CROSSING_RADIUS_M,
    FUZZY_CUTOFF,
    HOW_FACTOR,
    LEVEL_BONUS,
    LEVEL_OF_KIND,
    NUMBER,
    ROAD_AHEAD,
    Mention,
    Reading,
)
from cityaware.geo.gazetteer.result import GeocodeResult

if TYPE_CHECKING:  # build imports this module
    from cityaware.geo.gazetteer.build import Entry, Gazetteer


def geocode(gazetteer: Gazetteer, text: str, limit: int = 5) -> GeocodeResult:
    """Read ``text`` against ``gazetteer`` (see the module docstring)."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("address is empty")
    if len(text) > 200:
        raise InvalidInput(f"address is {len(text)} characters long; at most 200 are read")
    core, components = split_tail(normalize(text))
    mentions = _exact_mentions(gazetteer, core)
    readings = _rank(gazetteer, core, mentions)
    if _unexplained(core, readings) >= 2:
        mentions += _pinyin_mentions(gazetteer, core, mentions)
        readings = _rank(gazetteer, core, mentions)
        if _needs_fuzzy(readings):
            mentions += _fuzzy_mentions(gazetteer, core, mentions, readings)
            readings = _rank(gazetteer, core, mentions)
    if foreign_prefix(gazetteer, core, mentions):
        return GeocodeResult(
            text, "not_found", None, components=components, flags=["unknown_region"]
        )
    return answer(gazetteer, text, core, components, readings, mentions, limit)


# ---- mentions -------------------------------------------------------------------


def _exact_mentions(gazetteer: Gazetteer, text: str) -> list[Mention]:
    """Every alias occurring in ``text``, all lengths."""
    found, exact, n = [], gazetteer.exact, len(text)
    for start in range(n):
        for end in range(min(n, start + gazetteer.max_alias), start + 1, -1):
            for entry, weight in exact.get(text[start:end], ()):
                found.append(Mention(start, end, entry, weight, "exact"))
    return found


def _pinyin_mentions(gazetteer: Gazetteer, text: str, known: list[Mention]) -> list[Mention]:
    """Aliases that sound like a part of ``text`` (homophone typos), not already found."""
    seen = {(m.start, m.end, m.entry) for m in known}
    sounds, found, n = syllables(text), [], len(text)
    for start in range(n):
        for end in range(min(n, start + gazetteer.max_alias), start + 1, -1):
            for entry, weight in gazetteer.pinyin.get(sounds[start:end], ()):
                if weight < VARIANT and end - start < 3:
                    continue  # a bare two-character core sounds like too many things
                if (start, end, entry) not in seen:
                    found.append(Mention(start, end, entry, weight, "pinyin"))
    return found


def _fuzzy_mentions(
    gazetteer: Gazetteer, text: str, known: list[Mention], readings: list[Reading]
) -> list[Mention]:
    """Near spellings (rapidfuzz) of roads, places and units for unexplained runs of text.

    Names are looked up in the district of the best reading when there is one,
    so the candidate set stays small.
    """
    explained = [False] * len(text)
    for m in known:
        if m.how == "exact" and m.weight >= VARIANT:
            explained[m.start : m.end] = [True] * (m.end - m.start)
    masked = "".join(" " if seen else c for c, seen in zip(text, explained, strict=True))
    district = gazetteer.entries[readings[0].mention.entry].district if readings else None
    found = []
    for run in re.finditer(r"[\u4e00-\u9fff]{3,12}", masked):
        names: list[str] = []
        ids: list[int] = []
        for length in range(
            len(run.group(0)) - 2, len(run.group(0)) + 3
        ):  # ratio >= 80: similar lengths
            bucket = gazetteer.fuzzy_names.get((district or "", length), ((), ()))
            names.extend(bucket[0])
            ids.extend(bucket[1])
        for _name, score, i in process.extract(
            run.group(0), names, scorer=fuzz.ratio, limit=3, score_cutoff=FUZZY_CUTOFF
        ):
            found.append(Mention(run.start(), run.end(), ids[i], score / 100.0 * 0.9, "fuzzy"))
    return found


# ---- readings -------------------------------------------------------------------


def _rank(gazetteer: Gazetteer, text: str, mentions: list[Mention]) -> list[Reading]:
    """Readings of the text, best first."""
    readings = []
    wide = [m for m in mentions if m.how != "fuzzy" and m.weight >= VARIANT]
    for mention in mentions:
        entry = gazetteer.entries[mention.entry]
        if entry.kind == "prefix" or _inside_longer_name(mention, wide):
            continue
        readings.extend(_readings_of(gazetteer, text, mention, entry))
    readings.extend(_crossings(gazetteer, text, mentions))
    for reading in readings:
        _score(gazetteer, text, reading, mentions)
    readings.sort(key=lambda r: -r.score)
    return readings


def _inside_longer_name(mention: Mention, wide: list[Mention]) -> bool:
    """经八路 inside 经八路街道, 中山 inside 中山路: part of a longer name, not a reading."""
    return any(
        w.start <= mention.start
        and mention.end <= w.end
        and w.end - w.start > mention.end - mention.start
        for w in wide
    )


def _readings_of(gazetteer: Gazetteer, text: str, mention: Mention, entry: Entry) -> list[Reading]:
    level = LEVEL_OF_KIND.get(entry.kind, entry.kind)
    if entry.kind == "road":
        number = NUMBER.match(text, mention.end)
        if number:
            row = entry.numbers.get(int(number.group(1)))
            if row is not None:
                return [Reading(mention, "address", number.end(), row, int(number.group(1)))]
            return [Reading(mention, "road", number.end(), flags=["number_not_found"])]
        return [Reading(mention, "road", mention.end)]
    if mention.weight < VARIANT and entry.code and ROAD_AHEAD.match(text, mention.end):
        return []  # a bare unit name before 街/路/a number is part of a road name (德化街88号)
    return [Reading(mention, level, mention.end, entry.point)]


def _crossings(gazetteer: Gazetteer, text: str, mentions: list[Mention]) -> list[Reading]:
    """'纬五路与经三路交叉口', '纬五路经三路口': two roads that cross, the crossing point."""
    roads = [m for m in mentions if gazetteer.entries[m.entry].kind == "road" and m.how != "fuzzy"]
    by_start: dict[int, list[Mention]] = {}
    for m in roads:
        by_start.setdefault(m.start, []).append(m)
    found = []
    for first in roads:
        for second in by_start.get(_optional_end(CROSSING, text, first.end), ()):
            row = gazetteer.crossings.get((first.entry, second.entry))
            if row is not None:
                end = _optional_end(CROSSING_END, text, second.end)
                names = (gazetteer.entries[first.entry].name, gazetteer.entries[second.entry].name)
                label = f"{names[0]}与{names[1]}交叉口"
                found.append(
                    Reading(first, "address", end, row, label=label, radius_m=CROSSING_RADIUS_M)
                )
    return found


def _optional_end(pattern: re.Pattern[str], text: str, pos: int) -> int:
    """Where an all-optional ``pattern`` matched at ``pos`` ends (it always matches)."""
    match = pattern.match(text, pos)
    return pos if match is None else match.end()


def _score(gazetteer: Gazetteer, text: str, reading: Reading, mentions: list[Mention]) -> None:
    """Weight of the explained text, minus contradicting units, plus a level bonus."""
    entry = gazetteer.entries[reading.mention.entry]
    scope = gazetteer.points.scope(reading.point) if reading.point >= 0 else entry.scope
    reading.scope = scope
    weights = [0.0] * len(text)
    conflict = [False] * len(text)
    quality = reading.mention.weight * HOW_FACTOR.get(reading.mention.how, 1.0)
    for i in range(reading.mention.start, reading.end):
        weights[i] = quality
    for m in mentions:
        other = gazetteer.entries[m.entry]
        if other.kind not in CONTEXT_KINDS or m.entry == reading.mention.entry:
            continue
        if other.kind == "prefix" or other.code in scope:
            w = m.weight * HOW_FACTOR.get(m.how, 0.9)
            for i in range(m.start, m.end):
                weights[i] = max(weights[i], w)
        elif m.weight >= VARIANT and m.how == "exact":
            for i in range(m.start, m.end):
                conflict[i] = True
    reading.conflict = sum(1 for w, c in zip(weights, conflict, strict=True) if c and not w)
    reading.unexplained = weights.count(0.0)
    total = sum(weights)
    reading.score = total - 1.5 * reading.conflict + LEVEL_BONUS.get(reading.level, 0.0)


def _unexplained(text: str, readings: list[Reading]) -> int:
    """Characters the best reading leaves unexplained (all of them without a reading)."""
    return readings[0].unexplained if readings else len(text)


def _needs_fuzzy(readings: list[Reading]) -> bool:
    return not readings or readings[0].level in ("district", "street", "community", "road")
