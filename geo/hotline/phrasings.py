"""Labelled training sentences for the classifier, generated deterministically.

Each category has problem phrases the way operators type them; a sentence is
a place, a problem phrase and a colloquial tail. The evaluation benchmark's
sentences are written apart from these (``benchmarks/hotline_sentences.py``).

>>> sentences = training_sentences(per_category=3)
>>> len(sentences) == 3 * len(PROBLEMS), sentences[0][1]
(True, 'road_damage')
"""

from __future__ import annotations

import random

PROBLEMS: dict[str, tuple[str, ...]] = {
    "road_damage": (
        "路面有个大坑",
        "道路坑洼不平",
        "路面塌陷了",
        "人行道地砖松动翘起",
        "马路裂了好几道缝",
        "沥青路面破损",
        "路上坑很多车子颠得厉害",
        "盲道砖碎了",
        "路面破了个洞",
        "路修得坑坑包包",
        "马路被挖开没回填",
        "道路开裂下沉",
    ),
    "manhole_cover": (
        "井盖不见了",
        "井盖破损下沉",
        "井盖缺失",
        "井盖一踩就响",
        "下水井口没有盖子",
        "窨井盖碎了",
        "井盖松动",
        "井盖被人偷了",
        "井盖移位了",
        "雨水井盖被车压坏",
        "井盖高低不平",
    ),
    "street_light": (
        "路灯不亮",
        "路灯坏了晚上漆黑",
        "路灯白天一直亮着",
        "灯杆倾斜快倒了",
        "一排路灯都黑了",
        "路灯忽明忽暗",
        "照明灯坏了没人修",
        "夜里没有灯太黑了",
        "路灯线路故障",
        "小区路灯坏了",
    ),
    "sanitation": (
        "垃圾好几天没人清运",
        "垃圾桶满了没人管",
        "楼道堆满杂物",
        "公共厕所脏得没法用",
        "路边垃圾发臭",
        "没有保洁员清扫",
        "建筑垃圾乱倒",
        "垃圾乱扔没人收拾",
        "卫生死角脏得很",
        "垃圾站臭味大",
    ),
    "illegal_parking": (
        "车辆乱停堵住了路",
        "有车违停占用消防通道",
        "机动车乱停放",
        "共享单车乱停一大片",
        "门口天天有人乱停车",
        "车停在人行道上",
        "汽车占了盲道",
        "车辆堵住出口出不去",
        "乱停的电动车挡路",
    ),
    "noise": (
        "晚上施工噪音太大",
        "广场舞音响太吵",
        "商铺高音喇叭扰民",
        "半夜有人吵闹",
        "噪声扰民睡不着觉",
        "酒吧音乐声太大",
        "大半夜还有人唱歌",
        "机器轰鸣声不断",
        "店门口音箱放歌很响",
    ),
    "water_supply": (
        "家里停水了也没通知",
        "自来水发黄",
        "水压太低",
        "水管爆了一直漏水",
        "小区没水了",
        "自来水有异味水质差",
        "水龙头不出水",
        "供水管道破裂",
        "自来水浑浊",
    ),
    "drainage": (
        "下雨后路面积水很深",
        "下水道堵塞往外冒",
        "污水返上来了",
        "雨水篦子堵了",
        "排水不畅一下雨就淹",
        "下水道返味",
        "雨后路上全是水",
        "化粪池满了往外溢",
        "排水管道不通",
    ),
    "greenery": (
        "大树歪了快倒了",
        "树枝挡住了红绿灯",
        "绿地被人占了种菜",
        "草坪被破坏",
        "行道树枯死没人管",
        "树木需要修剪",
        "绿化树死了一片",
        "树枝伸到窗户里",
        "花坛被破坏了",
    ),
    "construction": (
        "工地夜里还在施工",
        "楼顶私搭乱建",
        "有人违规扩建门面房",
        "工地围挡倒了",
        "违建越盖越高",
        "施工工地管理混乱",
        "在院子里私自盖房",
        "建筑工地不停工",
        "违规加层",
    ),
    "street_vendor": (
        "流动摊贩占道经营",
        "小贩摆摊堵了人行道",
        "店铺出店经营占道",
        "夜市摊点占满了马路",
        "三轮车摆摊卖菜",
        "商贩沿街摆卖",
        "摊位占了半条路",
        "门店把东西摆到人行道上",
    ),
    "air_pollution": (
        "工地扬尘太大",
        "饭店油烟呛人",
        "有人露天焚烧垃圾",
        "粉尘污染严重",
        "烧烤烟熏得不敢开窗",
        "空气里有刺鼻异味",
        "烟熏火燎呛得人咳嗽",
        "露天烧秸秆",
        "黑烟滚滚",
    ),
    "public_safety": (
        "楼道里给电动车充电很危险",
        "闻到燃气泄漏的味道",
        "消防通道被堵死",
        "电线私拉乱接有隐患",
        "有人飞线充电",
        "安全隐患没人管",
        "电动车在家门口充电",
        "闻到液化气的味道",
        "配电箱敞开很危险",
    ),
    "elderly_care": (
        "独居老人好几天没出门",
        "老人走失了需要帮助",
        "社区养老服务不到位",
        "老人吃饭没人管需要助餐",
        "孤寡老人生病没人照顾",
        "老人一个人在家摔倒了",
        "高龄老人需要照护",
        "老人找不到回家的路",
    ),
    "other": (
        "想咨询一下政策",
        "对社区工作提点建议",
        "咨询办事流程",
        "其他方面的问题",
        "有个问题想问问",
        "想了解一下补贴怎么申请",
    ),
}
LEADS = ("", "", "市民来电反映", "来电人称", "我家在", "市民反映", "在", "我住")
TAILS = (
    "",
    "",
    "，请尽快处理",
    "，希望有关部门管一管",
    "，太危险了",
    "，已经好几天了",
    "，影响出行",
    "，麻烦派人来看看",
)
ROAD_CHARS = "文化金水经纬花园建设农业中州嵩山桐柏黄河丰产红旗东风南阳"
SUFFIXES = ("路", "街", "大道", "小区", "社区", "村", "花园", "广场")


def _place(rng: random.Random) -> str:
    name = "".join(rng.choice(ROAD_CHARS) for _ in range(rng.randint(2, 3)))
    place = name + rng.choice(SUFFIXES)
    if rng.random() < 0.5:
        place += f"{rng.randint(1, 299)}号"
    return place


def training_sentences(per_category: int = 150, seed: int = 15) -> list[tuple[str, str, str]]:
    """``per_category`` (sentence, category, problem phrase) per category, the same for
    one seed (the phrase groups the sentences for cross-validation)."""
    rng = random.Random(seed)
    out = []
    for category, phrases in PROBLEMS.items():
        for i in range(per_category):
            problem = phrases[i % len(phrases)]
            text = rng.choice(LEADS) + _place(rng) + rng.choice(("", "这里", "附近", "门口"))
            out.append((text + problem + rng.choice(TAILS), category, problem))
    return out
