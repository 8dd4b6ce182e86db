"""Labelled training sentences for the classifier, generated deterministically.

Each category has *frames* in ``phrasings.json``: things that go wrong x what is
wrong with them, the way callers put it (a frame with an empty thing holds whole
problem phrases). A sentence is an opener, a place (or only the locative word
left once intake has cut the place out), the problem and a colloquial tail, in
either order ("地点在后" too). Each sentence carries its group, the trouble it was
built on: cross-validation holds whole groups out, so the trust threshold is
measured on troubles the model never saw. The evaluation benchmark's sentences
are written apart from these (``benchmarks/hotline_sentences.py``).

>>> sentences = training_sentences(per_category=3)
>>> len(sentences) == 3 * len(FRAMES), sentences[0][1]
(True, 'road_damage')
>>> all(label in FRAMES for _, label, _ in sentences)
True
"""

from __future__ import annotations

import json
import random

from cityaware.geo.resources import shipped

Frame = tuple[tuple[str, ...], tuple[str, ...]]  # (things, troubles); a thing may be ""


def _frames() -> dict[str, tuple[Frame, ...]]:
    with open(shipped("cityaware.geo.hotline", "phrasings.json"), encoding="utf-8") as handle:
        data = json.load(handle)
    return {category: tuple((tuple(f["things"]), tuple(f["troubles"])) for f in frames)
            for category, frames in data.items()}  # fmt: skip


# per category: things that go wrong x what is wrong with them (phrasings.json)
FRAMES: dict[str, tuple[Frame, ...]] = _frames()
OPENERS = ("", "", "", "您好", "你好", "喂", "喂您好", "市民来电反映", "来电人反映", "来电人称",
           "市民称", "群众来电", "有市民反映", "我想反映个事", "我要投诉", "我反映一下", "来电说",
           "接到反映", "我家在", "我住")  # fmt: skip
NEAR = ("", "", "这里", "那里", "这边", "那边", "附近", "门口", "旁边", "对面", "一带", "边上",
        "楼下", "里面")  # fmt: skip
WHERE = ("，地点在", "，位置在", "，具体在", "，就在", "，地址是", "，在")
TAILS = ("", "", "", "，请尽快处理", "，希望有关部门管一管", "，太危险了", "，已经好几天了",
         "，影响出行", "，麻烦派人来看看", "，一直没人管", "，反映好几次了", "，请相关部门处理",
         "，谢谢", "，很影响生活", "，尽快解决吧", "，都一个星期了", "，有人管吗",
         "。")  # fmt: skip
NAME_CHARS = "文化金水经纬花园建设农业中州嵩山桐柏黄河丰产红旗东风南阳福寿青年民主胜利光明和平幸福"
SUFFIXES = ("路", "街", "大道", "小区", "社区", "村", "家园", "苑", "公寓", "街道", "镇", "中学",
            "医院")  # fmt: skip
COUNTIES = ("", "", "", "青石区", "白河区", "新城县", "东湖市")  # invented, not a real city


def _place(rng: random.Random) -> str:
    name = "".join(rng.choice(NAME_CHARS) for _ in range(rng.randint(2, 3)))
    place = rng.choice(COUNTIES) + name + rng.choice(SUFFIXES)
    if rng.random() < 0.4:
        place += f"{rng.randint(1, 299)}号"
    return place


def _problems(category: str) -> list[tuple[str, str]]:
    """Every (problem phrase, group) of a category: each thing with each trouble."""
    out = []
    for things, troubles in FRAMES[category]:
        for trouble in troubles:
            out += [(thing + trouble, f"{category}:{trouble}") for thing in things]
    return out


def _sentence(rng: random.Random, problem: str) -> str:
    """One way of saying ``problem``; the place is sometimes already cut out, as
    intake does before classifying."""
    opener = rng.choice(OPENERS)
    opener += "，" if opener and rng.random() < 0.5 else ""
    place = _place(rng) if rng.random() < 0.6 else ""
    form = rng.random()
    if form < 0.55:
        text = opener + place + rng.choice(NEAR) + problem
    elif form < 0.85:
        text = opener + problem + (rng.choice(WHERE) + place if place else "")
    else:
        text = opener + problem
    return text + rng.choice(TAILS)


def training_sentences(per_category: int = 300, seed: int = 15) -> list[tuple[str, str, str]]:
    """``per_category`` (sentence, category, group) per category, the same for one seed."""
    rng = random.Random(seed)
    out = []
    for category in FRAMES:
        problems = _problems(category)
        rng.shuffle(problems)
        for i in range(per_category):
            problem, group = problems[i % len(problems)]
            out.append((_sentence(rng, problem), category, group))
    return out
