"""The place inside a complaint sentence, read with the gazetteer.

A sentence is cut into clauses; in each, the lead-in (市民反映, 我家在, 在) is
dropped, the clause is cut before a locative word (这边, 门口, 附近, ...) and
after its last place word (号, 路, 小区, 村, 社区, 街道, 区, 公园, ...), so what
is left is the address the caller spoke. Each candidate span is geocoded (a
shorter cut when the longer one is not trusted; only what the gazetteer matched
is kept); the finest trusted answer wins. The gazetteer's own
rules hold: each level is constrained by its parent and a grid is given only
when it is trusted, so a coarser answer stays coarse here too.

>>> place_cuts("龙亭区北书店街道琉璃寺村路边有个井盖不见了，晚上特别危险")[0][0]
'龙亭区北书店街道琉璃寺村'
>>> place_cuts("市民来电反映：纬五路12号院门口垃圾没人清理")[0][0]
'纬五路12号院'
>>> place_cuts("路灯不亮")
[]
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Protocol

from cityaware.geo.gazetteer.result import GeocodeResult

MAX_SPAN = 200
CLAUSE = re.compile(r"[，。！？；、,.!?;:：\s]+")
LEAD = re.compile(
    r"^(?:您好|你好|喂|市民来电反映|来电人称|来电反映|来电说|市民反映|市民称|反映|我家在|我住在|"
    r"我住|地点在|地点是|地址在|地址是|位置在|位于|在)+"
)
PLACE_END = re.compile(
    r"(?:号院|号楼(?![道上下])|号|路口|交叉口|大道|大街|街道|路(?![边面灯旁过人])|街(?![上边头])|巷|小区|社区|"
    r"村委会|委员会|村|镇|乡|区|花园|家园|苑|院|公寓|新村|华庭|医院|服务中心|小学|中学|公园|广场(?!舞)|"
    r"购物中心|地铁站|[东西南北]门|[一二三四五六七八九十]期)"
)
# words that follow a place ("琉璃寺村这边…"); the place is what comes before
LOCATIVE = re.compile(r"这边|那边|这块|那块|这里|那里|旁边|附近|门口|对面|一带|周边|边上|楼下")
MAX_CUTS = 3
TRUSTED_LEVELS = ("grid", "community", "street")
LEVEL_RANK = {"grid": 0, "community": 1, "street": 2, "district": 3}
MIN_CONFIDENCE = 0.5


class Geocoder(Protocol):
    """What reads an address (the gazetteer or :class:`~geo.gazetteer.ActiveGazetteer`)."""

    def geocode(self, text: str, limit: int = 5) -> GeocodeResult: ...


@dataclass(frozen=True, slots=True)
class PlaceReading:
    """The place found in a text: the finest level trusted and its unit codes."""

    span: str | None
    level: str | None  # grid | community | street | district | None
    trusted: bool
    reason: str
    confidence: float = 0.0
    name: str | None = None
    kind: str | None = None  # the gazetteer's level of the named place (address, compound, ...)
    grid: str | None = None
    community: str | None = None
    street: str | None = None
    district: str | None = None
    managing_zone: str | None = None
    lon: float | None = None
    lat: float | None = None

    @property
    def unit(self) -> str | None:
        """Code of the unit at the pinned level."""
        return {"grid": self.grid, "community": self.community, "street": self.street,
                "district": self.district}.get(self.level or "")  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "text": self.span, "level": self.level, "unit": self.unit, "name": self.name,
            "kind": self.kind, "confidence": round(self.confidence, 3), "trusted": self.trusted,
            "reason": self.reason,
        }  # fmt: skip


NO_PLACE = PlaceReading(None, None, False, "no place found in the text")


def without_place(text: str, place: PlaceReading) -> str:
    """``text`` with the place's span cut out (what is left says what is wrong).

    >>> without_place("纬五路12号井盖丢了", PlaceReading("纬五路12号", "grid", True, ""))
    '井盖丢了'
    """
    return text.replace(place.span, "", 1) if place.span else text


def place_cuts(text: str) -> list[list[str]]:
    """Per clause that names a place, its candidate spans, longest first: the clause
    up to a locative word (这边, 门口, ...) when there is one, cut after each place word.

    >>> place_cuts("锦艺小区二期这边私家车堵住小区门口")
    [['锦艺小区二期', '锦艺小区']]
    >>> place_cuts("少林小学晚上烧烤摊摆满了马路")
    [['少林小学晚上烧烤摊摆满了马路', '少林小学']]
    """
    out = []
    for clause in CLAUSE.split(text):
        clause = LEAD.sub("", clause)
        near = LOCATIVE.search(clause, 2)
        head = clause[: near.start()] if near else clause
        ends = sorted({m.end() for m in PLACE_END.finditer(head) if m.end() >= 2}, reverse=True)
        if ends:
            out.append([head[:end][:MAX_SPAN] for end in ends[:MAX_CUTS]])
    return out


def _matched_span(span: str, result: GeocodeResult) -> str:
    """``span`` up to the end of the finest name the gazetteer matched in it (a place
    word inside the complaint, 走路 or 小区门口, had stretched the span too far)."""
    best = result.best
    if result.status not in ("matched", "partial") or best is None or not best.matched_text:
        return span
    at = span.find(best.matched_text)
    return span[: at + len(best.matched_text)] if at >= 0 else span


def _reading(span: str, result: GeocodeResult) -> PlaceReading:
    best = result.best
    if result.status == "not_found" or best is None:
        return PlaceReading(span, None, False, f"{span!r} was not found in the gazetteer")
    if result.status == "ambiguous":
        names = ", ".join(c.name for c in result.candidates[:3])
        return PlaceReading(span, None, False, f"{span!r} is ambiguous: {names}")
    level = "grid" if result.grid_code else result.level
    if level not in LEVEL_RANK:
        level = None
    confidence = float(result.confidence)
    trusted = level in TRUSTED_LEVELS and confidence >= MIN_CONFIDENCE
    if trusted:
        reason = f"{best.name} ({best.level}) pins the case at {level} level"
    elif level is None:
        reason = f"{span!r} names no unit"
    elif level == "district":
        reason = f"{span!r} is only certain down to district {best.district_code}"
    else:
        reason = f"{span!r} matched with low confidence {confidence:.2f}"
    community = best.community_code if level in ("grid", "community") else None
    return PlaceReading(
        span, level, trusted, reason, confidence, best.name, best.level,
        result.grid_code, community, best.street_code if level != "district" else None,
        best.district_code, best.managing_zone, best.lon, best.lat,
    )  # fmt: skip


def read_place(gazetteer: Geocoder, text: str) -> PlaceReading:
    """The finest trusted place named in ``text`` (see the module docstring).

    >>> read_place(gazetteer, "路灯不亮").reason  # doctest: +SKIP
    'no place found in the text'
    """
    best = NO_PLACE
    for cuts in place_cuts(text):
        for span in cuts:  # a shorter cut only when the longer one is not trusted
            result = gazetteer.geocode(span)
            tight = _matched_span(span, result)
            if tight != span:  # the gazetteer read only the start: read just that
                span, result = tight, gazetteer.geocode(tight)
            reading = _reading(span, result)
            if _better(reading, best):
                best = reading
            if reading.trusted or "ambiguous" in reading.reason:
                break
        if best.level == "grid" and best.trusted:
            break
    return best


def _better(new: PlaceReading, old: PlaceReading) -> bool:
    if new.trusted != old.trusted:
        return new.trusted
    rank_new, rank_old = LEVEL_RANK.get(new.level or "", 9), LEVEL_RANK.get(old.level or "", 9)
    if rank_new != rank_old:
        return rank_new < rank_old
    return old.span is None or new.confidence > old.confidence
