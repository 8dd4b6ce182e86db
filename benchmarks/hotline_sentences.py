"""Held-out complaint sentences for the hotline evaluation, with their ground truth.

Written apart from the classifier's training phrasings (geo/hotline/phrasings.py):
other problem words, other lead-ins and tails, other sentence orders ("问题在前，
地点在后"). Places come from the demo gazetteer's entries (communities, streets,
compounds, landmarks, roads with house numbers); the truth of a place is the engine's
answer for its point (grid, community, street), of a unit its own code. A share of
sentences names no place at all (they must never be dispatched on their own).

>>> len(PROBLEMS) >= 14 and all(len(v) >= 5 for v in PROBLEMS.values())
True
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass

EVAL_SEED = 20261201

PROBLEMS: dict[str, tuple[str, ...]] = {
    "road_damage": (
        "马路中间烂了个窟窿",
        "柏油路面鼓包开裂",
        "道路坑坑洼洼电动车经常摔",
        "人行道的砖全碎了走路崴脚",
        "路面下陷形成大坑",
    ),
    "manhole_cover": (
        "有个井口敞着没盖",
        "井盖被压碎了一半",
        "窨井盖翘起来了车一过就哐当响",
        "井盖丢了拿个桶罩着",
        "污水井的盖子缺了",
    ),
    "street_light": (
        "晚上路灯全灭了黑乎乎的",
        "路灯坏了一个多月",
        "路灯一闪一闪的",
        "大白天路灯还亮着浪费电",
        "照明灯杆被撞歪了",
    ),
    "sanitation": (
        "垃圾堆成山了臭气熏天",
        "垃圾箱好几天没人倒",
        "公厕里脏乱差没人打扫",
        "楼道里堆的杂物没人清",
        "满地都是垃圾没人扫",
    ),
    "illegal_parking": (
        "有辆车长期停在消防通道上",
        "人行道上停满了汽车",
        "车辆乱停把路堵死了",
        "共享电单车堆在路口",
        "私家车堵住小区门口",
    ),
    "noise": (
        "半夜施工吵得睡不着",
        "广场舞的音响声音太大了",
        "门店的喇叭一直在喊",
        "夜里有人在楼下喝酒吵闹",
        "装修的电钻声从早响到晚",
    ),
    "water_supply": (
        "从早上就停水到现在",
        "水龙头里流出来的水是黄的",
        "楼上水压太小用不了水",
        "自来水管破了一直往外冒水",
        "家里的水有一股怪味",
    ),
    "drainage": (
        "一下雨就积水过不去人",
        "下水道返臭味",
        "雨水井堵住了水排不出去",
        "污水从下水道里漫出来",
        "积水淹到了小腿",
    ),
    "greenery": (
        "路边大树被风吹得歪倒",
        "树杈挡着红绿灯看不见",
        "草坪被踩秃了没人补种",
        "绿化带被人毁了种菜",
        "枯树随时可能砸到人",
    ),
    "construction": (
        "有人在楼顶加盖房子",
        "工地晚上还在打桩",
        "违章搭建的棚子越来越多",
        "施工围挡歪了快倒了",
        "私自扩建门面占了绿地",
    ),
    "street_vendor": (
        "卖水果的小摊把人行道占了",
        "晚上烧烤摊摆满了马路",
        "商户把货摆到店外面",
        "流动商贩推着车沿街叫卖",
        "早市的菜摊堵住了路",
    ),
    "air_pollution": (
        "饭馆的油烟直接排到居民窗户",
        "工地尘土飞扬没有洒水",
        "有人在空地上烧垃圾",
        "工厂冒黑烟气味刺鼻",
        "搅拌站粉尘很大",
    ),
    "public_safety": (
        "有人把电瓶车推进楼道充电",
        "闻到很浓的煤气味",
        "电线从窗户拉下来给车充电",
        "消防通道被杂物堵死",
        "楼道里的灭火器都过期了",
    ),
    "elderly_care": (
        "隔壁独居的老大爷几天没露面",
        "家里老人走丢了",
        "社区的老年食堂关门了",
        "孤寡老人没人照顾",
        "老人行动不便需要上门帮助",
    ),
}
LEADS = ("", "", "您好，", "喂，", "来电说", "接群众反映，", "有个事情反映一下，")
TAILS = ("", "。", "，谁来管管。", "，都好多天了。", "，太不像话了。", "，希望尽快解决。")
NO_PLACE_SHARE = 0.05


@dataclass
class Sentence:
    """A complaint and its truth: category, place kind and the true unit codes."""

    text: str
    category: str
    form: str  # community | street | compound | landmark | address | none
    truth: dict[str, str | None]  # level -> code (grid, community, street)


def _truth(points, row: int) -> dict[str, str | None]:
    return {"grid": points.grid[row], "community": points.community[row],
            "street": points.street[row]}  # fmt: skip


def generate(gazetteer, n: int = 1500, seed: int = EVAL_SEED) -> list[Sentence]:
    """``n`` sentences over the gazetteer's places (same seed, same sentences)."""
    rng = random.Random(seed)
    by_kind: dict[str, list] = defaultdict(list)
    for entry in gazetteer.entries:
        by_kind[entry.kind].append(entry)
    names = {e.code: e.name for e in gazetteer.entries if e.kind in ("district", "street")}
    points = gazetteer.points
    out = []
    for _ in range(n):
        category = rng.choice(sorted(PROBLEMS))
        problem = rng.choice(PROBLEMS[category])
        roll = rng.random()
        if roll < NO_PLACE_SHARE:
            place, form, truth = "", "none", {}
        elif roll < 0.25:
            entry = rng.choice(by_kind["community"])
            place, form = names.get(entry.street, "") + entry.name, "community"
            truth = {"grid": None, "community": entry.code, "street": entry.street}
        elif roll < 0.4:
            entry = rng.choice(by_kind["street"])
            place, form = entry.name, "street"
            truth = {"grid": None, "community": None, "street": entry.code}
        elif roll < 0.75:
            entry = rng.choice(by_kind["road"])
            number = rng.choice(sorted(entry.numbers))
            place, form = f"{entry.name}{number}号", "address"
            truth = _truth(points, entry.numbers[number])
        else:
            kind = "compound" if roll < 0.9 else "landmark"
            entry = rng.choice(by_kind[kind])
            place, form = entry.name, kind
            truth = _truth(points, entry.point)
        if form != "none" and rng.random() < 0.7:
            place = names.get(entry.district, "") + place
        lead, tail = rng.choice(LEADS), rng.choice(TAILS)
        if not place:
            text = lead + problem + tail
        elif rng.random() < 0.7:
            text = lead + place + rng.choice(("", "这边", "那块", "旁边")) + problem + tail
        else:
            text = lead + problem + "，地点在" + place + tail
        out.append(Sentence(text, category, form, truth))
    return out
