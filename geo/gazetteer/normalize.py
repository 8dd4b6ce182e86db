"""Text clean-up for Chinese addresses: width, spacing, numerals, tails, pinyin.

The matcher works on a *normalised* string: full-width forms folded (NFKC),
lower case, no spaces or punctuation, Chinese numerals before 号/栋/单元/室
turned into digits. The building/unit/room tail and a landmark relation
("东门", "对面", "附近") are cut off and kept as components.

>>> normalize("开封市 龙亭区，中山路１２号")
'开封市龙亭区中山路12号'
>>> split_tail("纬五路12号院3号楼2单元501")
('纬五路12号院', {'building': '3', 'unit': '2', 'room': '501'})
>>> split_tail("绿城花园东门")
('绿城花园', {'relation': '东门'})
>>> syllables("开风") == syllables("开封")
True
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from pypinyin.pinyin_dict import pinyin_dict

_DROP = re.compile(r"[\s\u3000,，.。;；:：、!！?？'\"“”‘’()（）\[\]【】《》<>/\\|~`·\-—_*+=]+")
_CN_DIGITS = {
    "零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4,
    "五": 5, "六": 6, "七": 7, "八": 8, "九": 9,
}  # fmt: skip
_CN_NUMBER = re.compile(r"([零〇一二两三四五六七八九十百]+)(?=号|栋|幢|单元|室|层|组)")

# Building / unit / floor / room tail, e.g. 3号楼2单元501室, 5栋1单元, 1201室.
_TAIL_BODY = (
    r"(?<!\d)(?:(?P<building>\d+)(?:号楼|栋|幢|座|楼)(?![道梯下上顶前后里]))?"
    r"(?:(?P<unit>\d+)单元)?"
    r"(?:(?P<floor>\d+)层)?"
    r"(?:(?P<room>\d+)(?P<room_mark>室|户|号)?)?"
)
_TAIL = re.compile(_TAIL_BODY + "$")
_INNER_TAIL = re.compile(_TAIL_BODY)
# Where a building tail followed by the caller's other words starts: 5栋2单元502室下水道堵了.
_TAIL_START = re.compile(r"(?<!\d)\d+(?:号楼(?![道梯下上顶前后里])|栋|幢|单元)")
# A villagers' group after a village: 王庄村3组, 王庄村五组 (numerals already digits).
_GROUP = re.compile(r"(?<=[村庄])(\d+)(?:组|队)$")
# Relations to a named place, longest first; the radius (metres) says how far
# from the place the caller may be, which limits how fine the answer can be.
RELATION_RADIUS_M: dict[str, float] = {
    "对面": 120.0,
    "斜对面": 150.0,
    "附近": 300.0,
    "周边": 300.0,
    "旁边": 100.0,
    "隔壁": 80.0,
    "旁": 100.0,
    "门口": 40.0,
    "门前": 40.0,
    "东侧": 100.0,
    "西侧": 100.0,
    "南侧": 100.0,
    "北侧": 100.0,
    "东门": 40.0,
    "西门": 40.0,
    "南门": 40.0,
    "北门": 40.0,
    "正门": 40.0,
    "大门": 40.0,
    "后门": 40.0,
    "侧门": 40.0,
    "里面": 0.0,
    "院内": 0.0,
}
_RELATION = re.compile("(?:" + "|".join(sorted(RELATION_RADIUS_M, key=len, reverse=True)) + ")$")


def _cn_to_int(numeral: str) -> int:
    """Chinese numeral (up to hundreds) to int: 十二 -> 12, 二十 -> 20, 一零五 -> 105."""
    if "十" not in numeral and "百" not in numeral:
        return int("".join(str(_CN_DIGITS[c]) for c in numeral))
    total, current = 0, 0
    for char in numeral:
        if char == "百":
            total += (current or 1) * 100
            current = 0
        elif char == "十":
            total += (current or 1) * 10
            current = 0
        else:
            current = _CN_DIGITS[char]
    return total + current


def normalize(text: str) -> str:
    """Fold width, case, spaces, punctuation and house-number numerals.

    >>> normalize("  经八路 办事处 ")
    '经八路办事处'
    >>> normalize("纬五路十二号")
    '纬五路12号'
    """
    folded = unicodedata.normalize("NFKC", text).lower().replace("#", "号")
    folded = _DROP.sub("", folded)
    return _CN_NUMBER.sub(lambda m: str(_cn_to_int(m.group(1))), folded)


def split_tail(text: str) -> tuple[str, dict[str, str]]:
    """Cut a relation ("东门", "对面") and a building/unit/room tail off ``text``.

    >>> split_tail("花园路88号")
    ('花园路88号', {})
    >>> split_tail("市第一人民医院对面")
    ('市第一人民医院', {'relation': '对面'})
    >>> split_tail("鑫苑苑9栋2单元502室下水道堵了")
    ('鑫苑苑', {'note': '下水道堵了', 'building': '9', 'unit': '2', 'room': '502'})
    """
    components: dict[str, str] = {}
    core = text
    for _ in range(2):  # a relation may stand before or after the building tail
        relation = _RELATION.search(core)
        if relation and relation.start() >= 2:
            components.setdefault("relation", relation.group(0))
            core = core[: relation.start()]
        group = _GROUP.search(core)
        if group and group.start() >= 2:
            components.setdefault("group", group.group(1))
            core = core[: group.start()]
        tail = _TAIL.search(core)
        if not (tail and _is_building_tail(tail) and tail.start() >= 2):
            start = _TAIL_START.search(core, 2)
            tail = start and _INNER_TAIL.match(core, start.start())
            if tail:
                components["note"] = core[tail.end() :]
        if tail and _is_building_tail(tail) and tail.start() >= 2:
            for key in ("building", "unit", "floor", "room"):
                if tail.group(key):
                    components.setdefault(key, tail.group(key))
            core = core[: tail.start()]
    return core, components


def _is_building_tail(match: re.Match[str]) -> bool:
    """A tail counts only with a building or unit, or a room marked 室/户."""
    if match.group("building") or match.group("unit"):
        return True
    return bool(match.group("room")) and match.group("room_mark") in ("室", "户")


@lru_cache(maxsize=65536)
def syllable(char: str) -> str:
    """Toneless pinyin of one character (its first reading); the character itself if none.

    >>> syllable("绿"), syllable("7")
    ('lv', '7')
    """
    readings = pinyin_dict.get(ord(char))
    if not readings:
        return char
    first = unicodedata.normalize("NFD", readings.split(",")[0]).replace("u\u0308", "v")
    return "".join(c for c in first if not unicodedata.combining(c))


def syllables(text: str) -> tuple[str, ...]:
    """Per-character toneless pinyin, so homophones compare equal.

    >>> syllables("津水")
    ('jin', 'shui')
    """
    return tuple(syllable(c) for c in text)
