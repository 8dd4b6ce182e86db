"""The names people use for a division: official, short, 办事处 forms, zones.

Each alias carries a weight: the official name 1.0, a standard variant 0.97,
a bare core (龙亭, 花园口, 岳吴庄) 0.88, because a bare core also reads as a
road or a compound. A street office named ``X街街道`` gets no bare ``X街``
alias: that is a road (the 枫杨街 lesson of the reference notes).

>>> district_aliases("顺河回族区")
[('顺河回族区', 1.0), ('顺河区', 0.97), ('顺河', 0.88)]
>>> [a for a, _ in street_aliases("经八路街道")]
['经八路街道', '经八路办事处', '经八路街道办事处', '经八路街办', '经八路街道办', '经八路']
>>> [a for a, _ in street_aliases("德化街街道")][-1]
'德化街道'
>>> [a for a, _ in community_aliases("岳吴庄村委会")]
['岳吴庄村委会', '岳吴庄村', '岳吴庄村民委员会', '岳吴庄社区', '岳吴庄']
"""

from __future__ import annotations

from cityaware.geo.profile import Zone

FULL, VARIANT, CORE = 1.0, 0.97, 0.88


def zone_aliases(zone: Zone) -> list[tuple[str, float]]:
    """Aliases of a functional zone (from the city profile), the official name first.

    >>> zone_aliases(Zone("410271", ("开封经济技术开发区", "开封经开区")))
    [('开封经济技术开发区', 1.0), ('开封经开区', 0.97)]
    """
    return [(name, FULL if i == 0 else VARIANT) for i, name in enumerate(zone.names)]


def district_aliases(name: str) -> list[tuple[str, float]]:
    """龙亭区 -> 龙亭区, 龙亭; 顺河回族区 -> 顺河区 too; 兰考县 -> 兰考."""
    aliases = [(name, FULL)]
    if name.endswith("回族区"):
        aliases.append((name[:-3] + "区", VARIANT))
        core = name[:-3]
    else:
        core = name[:-1] if name[-1] in "区县市" else ""
    if len(core) >= 2:
        aliases.append((core, CORE))
    return aliases


def _strip_prefix(name: str, prefixes: tuple[str, ...]) -> str:
    """The name without a leading zone or city name: 开封经济技术开发区明湖街道 -> 明湖街道
    (with that zone's name among ``prefixes``); 开封曲梁产业集聚区 -> 曲梁产业集聚区 (开封).

    >>> _strip_prefix("开封曲梁产业集聚区", ("开封",))
    '曲梁产业集聚区'
    """
    for prefix in sorted(prefixes, key=len, reverse=True):
        if name.startswith(prefix) and len(name) >= len(prefix) + 3:
            return name[len(prefix) :]
    return name


def street_aliases(name: str, prefixes: tuple[str, ...] = ()) -> list[tuple[str, float]]:
    """Street office / township aliases: 街道, 办事处, 街道办事处, 街办, 镇, 乡, core;
    also without a leading zone or city name of ``prefixes``."""
    base = _strip_prefix(name, prefixes)
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
