"""The names people use for a division: official, short, 办事处 forms, zones.

Each alias carries a weight: the official name 1.0, a standard variant 0.97,
a bare core (金水, 花园口, 岳吴庄) 0.88, because a bare core also reads as a
road or a compound. A street office named ``X街街道`` gets no bare ``X街``
alias: that is a road (the 枫杨街 lesson of the reference notes).

>>> district_aliases("管城回族区")
[('管城回族区', 1.0), ('管城区', 0.97), ('管城', 0.88)]
>>> [a for a, _ in street_aliases("经八路街道")]
['经八路街道', '经八路办事处', '经八路街道办事处', '经八路街办', '经八路街道办', '经八路']
>>> [a for a, _ in street_aliases("德化街街道")][-1]
'德化街道'
>>> [a for a, _ in community_aliases("岳吴庄村委会")]
['岳吴庄村委会', '岳吴庄村', '岳吴庄村民委员会', '岳吴庄社区', '岳吴庄']
"""

from __future__ import annotations

FULL, VARIANT, CORE = 1.0, 0.97, 0.88

# Words before the city's own names: province, city, country.
PREFIXES: tuple[str, ...] = ("中国", "河南省", "河南", "郑州市", "郑州")

# Functional zones (NBS codes 410171-410173) and their spoken names.
ZONE_ALIASES: dict[str, tuple[str, ...]] = {
    "410171": (
        "郑州经济技术开发区",
        "经济技术开发区",
        "郑州经开区",
        "经开区",
        "经济开发区",
        "郑州经济开发区",
    ),
    "410172": (
        "郑州高新技术产业开发区",
        "高新技术产业开发区",
        "郑州高新区",
        "高新区",
        "高新技术开发区",
        "高新开发区",
    ),
    "410173": (
        "郑州航空港经济综合实验区",
        "航空港经济综合实验区",
        "郑州航空港区",
        "航空港区",
        "空港区",
        "航空港实验区",
        "郑州航空港",
        "航空港",
    ),
}
# 郑东新区 has no code of its own: NBS files its streets under 金水区 (410105)
# as quasi-township units, codes 4101055xx (e.g. 如意湖街道 410105560).
ZHENGDONG_KEY = "郑东新区"
ZHENGDONG_ALIASES: tuple[str, ...] = ("郑东新区", "郑州郑东新区", "郑东")
ZHENGDONG_HOST = "410105"


def is_zhengdong_street(code: str) -> bool:
    """Whether a street code is one of 郑东新区's (金水区 quasi-township units)."""
    return code.startswith(ZHENGDONG_HOST) and len(code) == 9 and code[6] == "5"


def zone_aliases(code: str) -> list[tuple[str, float]]:
    """Aliases of a functional zone, the official name first."""
    names = ZHENGDONG_ALIASES if code == ZHENGDONG_KEY else ZONE_ALIASES.get(code, ())
    return [(name, FULL if i == 0 else VARIANT) for i, name in enumerate(names)]


def district_aliases(name: str) -> list[tuple[str, float]]:
    """金水区 -> 金水区, 金水; 管城回族区 -> 管城区 too; 中牟县 -> 中牟."""
    aliases = [(name, FULL)]
    if name.endswith("回族区"):
        aliases.append((name[:-3] + "区", VARIANT))
        core = name[:-3]
    else:
        core = name[:-1] if name[-1] in "区县市" else ""
    if len(core) >= 2:
        aliases.append((core, CORE))
    return aliases


def _strip_zone_prefix(name: str) -> str:
    """郑州经济技术开发区明湖街道 -> 明湖街道; 郑州曲梁产业集聚区 -> 曲梁产业集聚区."""
    for names in ZONE_ALIASES.values():
        if name.startswith(names[0]) and len(name) > len(names[0]):
            return name[len(names[0]) :]
    return name[2:] if name.startswith("郑州") and len(name) > 4 else name


def street_aliases(name: str) -> list[tuple[str, float]]:
    """Street office / township aliases: 街道, 办事处, 街道办事处, 街办, 镇, 乡, core."""
    base = _strip_zone_prefix(name)
    aliases = [(name, FULL)] + ([(base, FULL)] if base != name else [])
    core = ""
    if base.endswith("街道"):
        stem = base[:-2]
        aliases += [(stem + s, VARIANT) for s in ("办事处", "街道办事处", "街办", "街道办")]
        if stem.endswith("街"):
            aliases.append((stem[:-1] + "街道", VARIANT))  # 青屏街街道 -> 青屏街道
        else:
            core = stem
    elif base.endswith("回族乡"):
        aliases.append((base[:-3] + "乡", VARIANT))
        core = base[:-3]
    elif base[-1] in "镇乡":
        core = base[:-1]
    if len(core) >= 2:
        aliases.append((core, CORE))
    return _unique(aliases)


_COMMUNITY_SUFFIXES = (
    "社区居民委员会",
    "社区居委会",
    "居民委员会",
    "居委会",
    "村民委员会",
    "村委会",
    "社区",
)


def community_aliases(name: str) -> list[tuple[str, float]]:
    """Community / village aliases across 社区, 居委会, 村, 村委会 forms, and the core."""
    stem, is_village = name, False
    for suffix in _COMMUNITY_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix) + 1:
            stem, is_village = name[: -len(suffix)], suffix.startswith("村")
            break
    aliases = [(name, FULL)]
    if is_village or (stem.endswith("村") and len(stem) > 2):
        base = stem[:-1] if stem.endswith("村") and len(stem) > 2 else stem
        forms: tuple[str, ...] = ("村", "村委会", "村民委员会", "社区")
    else:
        base = stem
        forms = ("社区", "居委会", "社区居委会", "社区居民委员会", "居民委员会")
    aliases += [(base + form, VARIANT) for form in forms]
    if len(base) >= 2:
        aliases.append((base, CORE))
    return _unique(aliases)


def _unique(aliases: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """Drop repeated alias strings, keeping the first (highest-ranked) weight."""
    first: dict[str, float] = {}
    for alias, weight in aliases:
        first.setdefault(alias, weight)
    return list(first.items())
