"""From ranked readings to the answer: ambiguity, confidence, the level and grid to trust."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cityaware.geo.gazetteer.aliases import VARIANT
from cityaware.geo.gazetteer.normalize import RELATION_RADIUS_M, syllables
from cityaware.geo.gazetteer.reading import (
    HOW_FACTOR,
    MIN_CONFIDENCE,
    REGION_PIECE,
    TIE,
    TRUST,
    Mention,
    Reading,
)
from cityaware.geo.gazetteer.result import Candidate, GeocodeResult

if TYPE_CHECKING:  # build imports this module
    from cityaware.geo.gazetteer.build import Gazetteer

# Names ending in 区 that are no district: 碧沙岗社区, 阳光小区, 银河家园西区.
NOT_REGIONS = (
    "社区",
    "小区",
    "园区",
    "校区",
    "景区",
    "厂区",
    "矿区",
    "东区",
    "西区",
    "南区",
    "北区",
)


def _place_key(gazetteer: Gazetteer, reading: Reading) -> tuple[str | int | None, ...]:
    """What a reading points at, to tell real alternatives from repeats."""
    if reading.point >= 0:
        return ("point", gazetteer.points.grid[reading.point])
    entry = gazetteer.entries[reading.mention.entry]
    return ("unit", reading.level, entry.code or reading.mention.entry)


def answer(
    gazetteer: Gazetteer,
    query: str,
    core: str,
    components: dict[str, str],
    readings: list[Reading],
    mentions: list[Mention],
    limit: int,
) -> GeocodeResult:
    """The result for ranked ``readings`` of the normalised text ``core``.

    Repeats of one place collapse; rivals within :data:`TIE` make it ambiguous;
    the grid is kept only for a confident, exact or homophone reading whose
    point keeps the relation's radius inside its grid.
    """
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
    explained = 1.0 - best.unexplained / max(1, len(core))
    confidence = round(quality * (0.7 + 0.3 * explained), 3)
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
    level, grid = _trusted(gazetteer, best, max(radius, best.radius_m))
    if grid and (confidence < TRUST or best.mention.how == "fuzzy"):  # 人民公园 ≠ 人民路公园
        level, grid = _fallback_level(gazetteer, best, mentions), None
    if level is None:
        return GeocodeResult(
            query, "not_found", None, None, confidence, candidates, components, flags
        )
    whole = best.unexplained <= 1 and not best.flags
    status = "matched" if grid or (whole and level == best.level) else "partial"
    return GeocodeResult(query, status, level, grid, confidence, candidates, components, flags)


def foreign_prefix(gazetteer: Gazetteer, text: str, mentions: list[Mention]) -> bool:
    """Whether the address starts with a province, city or district not ours (北京市, 朝阳区)."""
    spans = [
        (m.start, m.end)
        for m in mentions
        if gazetteer.entries[m.entry].kind in ("prefix", "district", "zone", "street")
        and m.weight >= VARIANT  # not bare cores: 银河 (街道) in 银河家园西区
    ]
    ends = {end for _, end in spans}
    position = 0
    while True:
        reach = max((end for start, end in spans if start <= position < end), default=position)
        if reach > position:
            position = reach
            continue
        piece = REGION_PIECE.match(text, position)
        if piece is None or piece.group(0).endswith(NOT_REGIONS):
            return False
        known = piece.end() in ends  # 投诉兰考县: words before a known city
        if not known and not gazetteer.pinyin.get(syllables(piece.group(0))):
            return True
        position = piece.end()


def _fallback_level(gazetteer: Gazetteer, best: Reading, mentions: list[Mention]) -> str | None:
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


def _trusted(
    gazetteer: Gazetteer, reading: Reading, radius: float
) -> tuple[str | None, str | None]:
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


def _common_level(gazetteer: Gazetteer, readings: list[Reading]) -> str | None:
    """Finest unit level all competing readings share (None when they share none)."""
    for level in ("community", "street", "district"):
        codes = {_code_at(gazetteer, r, level) for r in readings}
        if len(codes) == 1 and None not in codes:
            return level
    return None


def _code_at(gazetteer: Gazetteer, reading: Reading, level: str) -> str | None:
    if reading.point >= 0:
        column: list[str | None] = getattr(gazetteer.points, level)
        return column[reading.point]
    code: str | None = getattr(gazetteer.entries[reading.mention.entry], level)
    return code


def _candidate(
    gazetteer: Gazetteer, text: str, reading: Reading, confidence: float, radius: float
) -> Candidate:
    entry = gazetteer.entries[reading.mention.entry]
    points = gazetteer.points
    lon: float | None
    lat: float | None
    if reading.point >= 0:
        row = reading.point
        lon, lat, grid = points.lon[row], points.lat[row], points.grid[row]
        codes = (points.district[row], points.street[row], points.community[row], points.zone[row])
    else:
        lon, lat, grid = entry.lon, entry.lat, entry.grid
        codes = (entry.district, entry.street, entry.community, entry.zone)
    name = reading.label or entry.name
    if reading.number is not None:
        name = f"{entry.name}{reading.number}号"
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
