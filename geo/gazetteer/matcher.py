"""Free-text Chinese address -> ranked places, the level trusted, and the grid.

How an address is read:

1. :func:`~geo.gazetteer.normalize.normalize` it; cut the building/unit/room
   tail and a relation (东门, 对面, 附近) off the end.
2. *Mentions*: every alias of the gazetteer found in the text (dict lookups
   over all n-grams); when characters stay unexplained, also homophones
   (same toneless pinyin: 郑洲 -> 郑州, 津水 -> 金水) and then near spellings
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

>>> from geo.gazetteer.normalize import normalize
>>> NUMBER.match("纬五路12号院", 3).group(1)
'12'
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rapidfuzz import fuzz, process

from geo.errors import InvalidInput
from geo.gazetteer.aliases import VARIANT
from geo.gazetteer.normalize import RELATION_RADIUS_M, normalize, split_tail, syllables
from geo.gazetteer.result import Candidate, GeocodeResult

NUMBER = re.compile(r"(?:[东西南北中]段)?(\d+)号(?:院)?")
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
_REGION_PIECE = re.compile(r"[\u4e00-\u9fff]{2,4}?(?:省|自治区|市)")
_ROAD_AHEAD = re.compile(r"(?:\d+号|[东西南北中]?(?:路|街|大道|大街|巷))")


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
    score: float = 0.0
    coverage: float = 0.0
    conflict: int = 0
    unexplained: int = 0
    scope: frozenset[str] = frozenset()


def geocode(gazetteer, text: str, limit: int = 5) -> GeocodeResult:
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
    if _foreign_prefix(gazetteer, core, mentions):
        return GeocodeResult(text, "not_found", None, components=components, flags=["outside_city"])
    return _answer(gazetteer, text, core, components, readings, mentions, limit)


# ---- mentions -------------------------------------------------------------------


def _exact_mentions(gazetteer, text: str) -> list[Mention]:
    """Every alias occurring in ``text``, all lengths."""
    found, exact, n = [], gazetteer.exact, len(text)
    for start in range(n):
        for end in range(min(n, start + gazetteer.max_alias), start + 1, -1):
            for entry, weight in exact.get(text[start:end], ()):
                found.append(Mention(start, end, entry, weight, "exact"))
    return found


def _pinyin_mentions(gazetteer, text: str, known: list[Mention]) -> list[Mention]:
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


def _fuzzy_mentions(gazetteer, text: str, known: list[Mention], readings) -> list[Mention]:
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
        names, ids = [], []
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


def _rank(gazetteer, text: str, mentions: list[Mention]) -> list[Reading]:
    """Readings of the text, best first."""
    readings = []
    wide = [m for m in mentions if m.how != "fuzzy" and m.weight >= VARIANT]
    for mention in mentions:
        entry = gazetteer.entries[mention.entry]
        if entry.kind == "prefix" or _inside_longer_name(mention, wide):
            continue
        readings.extend(_readings_of(gazetteer, text, mention, entry))
    for reading in readings:
        _score(gazetteer, text, reading, mentions)
    readings.sort(key=lambda r: -r.score)
    return readings


def _inside_longer_name(mention: Mention, wide: list[Mention]) -> bool:
    """经八路 inside 经八路街道, 金水 inside 金水路: part of a longer name, not a reading."""
    return any(
        w.start <= mention.start
        and mention.end <= w.end
        and w.end - w.start > mention.end - mention.start
        for w in wide
    )


def _readings_of(gazetteer, text: str, mention: Mention, entry) -> list[Reading]:
    level = LEVEL_OF_KIND.get(entry.kind, entry.kind)
    if entry.kind == "road":
        number = NUMBER.match(text, mention.end)
        if number:
            row = entry.numbers.get(int(number.group(1)))
            if row is not None:
                return [Reading(mention, "address", number.end(), row, int(number.group(1)))]
            return [Reading(mention, "road", number.end(), flags=["number_not_found"])]
        return [Reading(mention, "road", mention.end)]
    if mention.weight < VARIANT and entry.code and _ROAD_AHEAD.match(text, mention.end):
        return []  # a bare unit name before 街/路/a number is part of a road name (德化街88号)
    return [Reading(mention, level, mention.end, entry.point)]


def _score(gazetteer, text: str, reading: Reading, mentions: list[Mention]) -> None:
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
    reading.coverage = total / max(1, len(text))
    reading.score = total - 1.5 * reading.conflict + LEVEL_BONUS.get(reading.level, 0.0)


def _unexplained(text: str, readings: list[Reading]) -> int:
    """Characters the best reading leaves unexplained (all of them without a reading)."""
    return readings[0].unexplained if readings else len(text)


def _needs_fuzzy(readings: list[Reading]) -> bool:
    return not readings or readings[0].level in ("district", "street", "community", "road")


# ---- the answer -----------------------------------------------------------------


def _place_key(gazetteer, reading: Reading) -> tuple:
    """What a reading points at, to tell real alternatives from repeats."""
    if reading.point >= 0:
        return ("point", gazetteer.points.grid[reading.point])
    entry = gazetteer.entries[reading.mention.entry]
    return ("unit", reading.level, entry.code or reading.mention.entry)


def _answer(gazetteer, query, core, components, readings, mentions, limit) -> GeocodeResult:
    unique, seen = [], set()
    for reading in readings:
        key = _place_key(gazetteer, reading)
        if key not in seen:
            seen.add(key)
            unique.append(reading)
    if not unique:
        return GeocodeResult(query, "not_found", None, components=components)
    best = unique[0]
    rivals = [r for r in unique[1:] if r.score >= best.score - TIE]
    radius = RELATION_RADIUS_M.get(components.get("relation", ""), 0.0)
    quality = best.mention.weight * HOW_FACTOR.get(best.mention.how, 1.0)
    confidence = round(quality * (0.55 + 0.45 * min(1.0, best.coverage / max(quality, 0.5))), 3)
    if best.conflict:
        confidence = round(confidence * 0.7, 3)
    flags = list(best.flags)
    if best.conflict:
        flags.append("conflict")
    if best.mention.how != "exact":
        flags.append(f"{best.mention.how}_match")
    candidates = [_candidate(gazetteer, core, r, confidence, radius) for r in unique[:limit]]
    for candidate, reading in zip(candidates[1:], unique[1:limit], strict=False):
        candidate.confidence = round(
            confidence * max(0.0, min(1.0, reading.score / max(best.score, 1e-9))), 3
        )
    if confidence < MIN_CONFIDENCE:
        return GeocodeResult(
            query, "not_found", None, None, confidence, candidates, components, flags
        )
    if rivals:
        flags.append("ambiguous")
        level = _common_level(gazetteer, [best, *rivals])
        for candidate in candidates[: 1 + len(rivals)]:
            candidate.confidence = round(confidence / (1 + len(rivals)), 3)
        return GeocodeResult(
            query, "ambiguous", level, None, candidates[0].confidence, candidates, components, flags
        )
    level, grid = _trusted(gazetteer, best, radius)
    if grid and confidence < TRUST:
        level, grid = _fallback_level(gazetteer, best, mentions), None
    if level is None:
        return GeocodeResult(
            query, "not_found", None, None, confidence, candidates, components, flags
        )
    whole = best.coverage >= 0.9 * quality and not best.flags
    status = "matched" if whole and (grid or level == best.level) else "partial"
    return GeocodeResult(query, status, level, grid, confidence, candidates, components, flags)


def _foreign_prefix(gazetteer, text: str, mentions: list[Mention]) -> bool:
    """Whether the address starts with a province or city that is not ours (北京市...)."""
    starts: dict[int, int] = {}
    for m in mentions:
        if gazetteer.entries[m.entry].kind in ("prefix", "district", "zone"):
            starts[m.start] = max(starts.get(m.start, 0), m.end)
    position = 0
    while True:
        if position in starts:
            position = starts[position]
            continue
        piece = _REGION_PIECE.match(text, position)
        if piece is None:
            return False
        if not gazetteer.pinyin.get(syllables(piece.group(0))):
            return True
        position = piece.end()


def _fallback_level(gazetteer, best: Reading, mentions: list[Mention]) -> str | None:
    """Too unsure for a grid: the finest unit *named in the text* that the best reading lies in."""
    named = {
        gazetteer.entries[m.entry].kind
        for m in mentions
        if m.how == "exact"
        and m.weight >= VARIANT
        and gazetteer.entries[m.entry].kind in ("district", "zone", "street", "community")
        and gazetteer.entries[m.entry].code in best.scope
    }
    for level in ("community", "street", "district"):
        if level in named or (level == "district" and "zone" in named):
            return level
    return None


def _trusted(gazetteer, reading: Reading, radius: float) -> tuple[str | None, str | None]:
    """(level answered, grid or None) for a single winning reading."""
    points = gazetteer.points
    if reading.point >= 0:
        level = points.trusted_level(reading.point, radius)
        if level == "grid":
            return reading.level, points.grid[reading.point]
        return level, None
    entry = gazetteer.entries[reading.mention.entry]
    if entry.grid and not radius:
        return reading.level, entry.grid
    if reading.level == "road":
        for level in ("community", "street", "district"):
            if getattr(entry, level):
                return ("road" if level == "community" else level), None
        return None, None
    return reading.level, None


def _common_level(gazetteer, readings: list[Reading]) -> str | None:
    """Finest unit level all competing readings share (None when they share none)."""
    for level in ("community", "street", "district"):
        codes = {_code_at(gazetteer, r, level) for r in readings}
        if len(codes) == 1 and None not in codes:
            return level
    return None


def _code_at(gazetteer, reading: Reading, level: str) -> str | None:
    if reading.point >= 0:
        return getattr(gazetteer.points, level)[reading.point]
    return getattr(gazetteer.entries[reading.mention.entry], level)


def _candidate(gazetteer, text, reading: Reading, confidence: float, radius: float) -> Candidate:
    entry = gazetteer.entries[reading.mention.entry]
    points = gazetteer.points
    if reading.point >= 0:
        row = reading.point
        lon, lat, grid = points.lon[row], points.lat[row], points.grid[row]
        codes = (points.district[row], points.street[row], points.community[row], points.zone[row])
    else:
        lon, lat, grid = entry.lon, entry.lat, entry.grid
        codes = (entry.district, entry.street, entry.community, entry.zone)
    name = f"{entry.name}{reading.number}号" if reading.number is not None else entry.name
    return Candidate(
        name,
        reading.level,
        entry.code,
        confidence,
        lon,
        lat,
        grid,
        text[reading.mention.start : reading.end],
        *codes,
    )
