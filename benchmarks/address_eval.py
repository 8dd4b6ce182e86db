"""Evaluation addresses for the geocoder, generated from the demo gazetteer.

Each :class:`Case` is a text a caller might say plus its ground truth: the
grid of the address point / place it names (the engine's answer for that
point) and whether the text is *resolvable* (it determines one grid).
Perturbations: dropped province/city/district, alias forms (金水, 管城区,
经开区 for the host district, 办事处/街办), homophone typos, full-width and
Chinese numerals, spaces and punctuation, building/unit/room tails, gates
(东门) and relations (对面/附近, whose true spot is a point up to the relation's
radius away, located with the engine), names present in several districts
without a parent, unit-only answers and unknown addresses.

The evaluation uses its own seed (``EVAL_SEED``); the matcher was tuned on
``DEV_SEED`` cases and on the hand-written tests only.

>>> Case("纬五路12号", "address", "410105005008001", True).resolvable
True
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from dataclasses import dataclass

from cityaware.geo.gazetteer.aliases import district_aliases
from cityaware.geo.gazetteer.aliases import street_aliases as _street_aliases
from cityaware.geo.gazetteer.normalize import RELATION_RADIUS_M, normalize, syllable
from cityaware.geo.profile import read_overrides
from cityaware.geo.resources import demo_city_files

# The demo city's functional zones and their spoken names, from its profile (data/zhengzhou).
ZONE_ALIASES = {z["code"]: tuple(z["names"]) for z in read_overrides(demo_city_files()[0])["zones"]}
_STRIP = (*(names[0] for names in ZONE_ALIASES.values()), "郑州")


def street_aliases(name: str) -> list[tuple[str, float]]:
    """The gazetteer's street aliases with the demo city's zone and city prefixes stripped."""
    return _street_aliases(name, _STRIP)


EVAL_SEED = 20261126
DEV_SEED = 1
FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
_CN = "零一二三四五六七八九"


@dataclass
class Case:
    text: str
    category: str
    truth_grid: str | None  # None: any grid returned is wrong
    resolvable: bool  # the text determines truth_grid
    perturbation: str = ""


def cn_number(n: int) -> str:
    """12 -> 十二, 20 -> 二十, 105 -> 一百零五 (house numbers)."""
    if n < 10:
        return _CN[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return ("" if tens == 1 else _CN[tens]) + "十" + (_CN[ones] if ones else "")
    hundreds, rest = divmod(n, 100)
    tail = "" if rest == 0 else ("零" + _CN[rest] if rest < 10 else cn_number(rest).lstrip())
    if 10 <= rest < 20:
        tail = "一" + tail
    return _CN[hundreds] + "百" + tail


class CaseMaker:
    """Draws cases from a gazetteer with one random generator."""

    def __init__(self, gazetteer, locator, seed: int) -> None:
        self.gaz, self.locator, self.rng = gazetteer, locator, random.Random(seed)
        self.by_kind: dict[str, list] = defaultdict(list)
        self.by_name: dict[str, list] = defaultdict(list)
        self.units = {}
        for entry in gazetteer.entries:
            self.by_kind[entry.kind].append(entry)
            self.by_name[entry.name].append(entry)
            if entry.code:
                self.units[entry.code] = entry
        # Only the gazetteer's own characters serve as typos (common characters).
        chars = {c for entry in gazetteer.entries for c in entry.name}
        self.homophones: dict[str, list[str]] = defaultdict(list)
        for char in sorted(chars):
            self.homophones[syllable(char)].append(char)

    # ---- context (province, city, district, street) ---------------------------

    def context(self, district: str | None, street: str | None, zone: str | None, held_out: bool):
        """Random admin prefix for a place; returns (text, codes named)."""
        rng, parts, named = self.rng, [], set()
        if rng.random() < 0.3:
            parts.append(rng.choice(["河南省", "河南"]))
        if rng.random() < 0.55:
            parts.append(rng.choice(["郑州市", "郑州"]))
        roll = rng.random()
        if zone in ZONE_ALIASES and roll < 0.25:
            parts.append(rng.choice(ZONE_ALIASES[zone][1:]))
            named.add(zone)
        elif district and roll < 0.8:
            parts.append(rng.choice(district_aliases(self.units[district].name))[0])
            named.add(district)
        if street and rng.random() < (0.45 if held_out else 0.35):
            parts.append(rng.choice(street_aliases(self.units[street].name))[0])
            named.add(street)
        return parts, named

    def resolvable(self, name: str, named: set[str], number: int | None) -> bool:
        """Whether exactly one entry of that name fits the named units (and has the number)."""
        fits = [
            e
            for e in self.by_name[name]
            if (number is None or number in e.numbers)
            and all(code in self._scope(e, number) for code in named)
        ]
        return len(fits) == 1

    def sounds_unique(self, said: str, name: str) -> bool:
        """Whether a (typo'd) name sounds like that name only."""
        if said == name:
            return True
        hits = self.gaz.pinyin.get(tuple(map(syllable, normalize(said))), ())
        return {self.gaz.entries[i].name for i, _ in hits} == {name}

    def _scope(self, entry, number):
        if number is not None:
            return self.gaz.points.scope(entry.numbers[number])
        return entry.scope

    # ---- perturbations --------------------------------------------------------

    def homophone(self, name: str) -> str | None:
        """Replace one character by another with the same toneless pinyin."""
        spots = [i for i, c in enumerate(name) if len(self.homophones[syllable(c)]) > 1]
        self.rng.shuffle(spots)
        for i in spots:
            options = [c for c in self.homophones[syllable(name[i])] if c != name[i]]
            typo = name[:i] + self.rng.choice(options) + name[i + 1 :]
            if normalize(typo) not in self.gaz.exact:
                return typo
        return None

    def join(self, parts: list[str], held_out: bool) -> str:
        """Concatenate, sometimes with spaces or punctuation between the parts."""
        roll = self.rng.random()
        if roll < 0.15:
            return " ".join(parts)
        if roll < 0.22 and held_out:
            return "，".join(parts)
        if roll < 0.27:
            return "  ".join(parts) + " "
        return "".join(parts)

    def tail(self) -> str:
        rng = self.rng
        b, u, r = (
            rng.randint(1, 30),
            rng.randint(1, 6),
            rng.randint(1, 28) * 100 + rng.randint(1, 4),
        )
        return rng.choice(
            [f"{b}号楼{u}单元{r}", f"{b}栋{u}单元{r}室", f"{b}号楼{r}室", f"{u}单元{r}"]
        )

    # ---- cases ------------------------------------------------------------------

    def address(self, held_out: bool) -> Case:
        road = self.rng.choice(self.by_kind["road"])
        number, row = self.rng.choice(sorted(road.numbers.items()))
        pts = self.gaz.points
        parts, named = self.context(pts.district[row], pts.street[row], pts.zone[row], held_out)
        name, perturbation = road.name, []
        if self.rng.random() < 0.15:
            typo = self.homophone(name)
            if typo:
                name, _ = typo, perturbation.append("homophone")
        digits = str(number)
        roll = self.rng.random()
        if roll < 0.12:
            digits, _ = digits.translate(FULLWIDTH), perturbation.append("fullwidth")
        elif roll < 0.2 and number < 100:
            digits, _ = cn_number(number), perturbation.append("cn_numeral")
        house = f"{name}{digits}号" + ("院" if self.rng.random() < 0.2 else "")
        if self.rng.random() < 0.3:
            house += self.tail()
            perturbation.append("building")
        ok = self.resolvable(road.name, named, number) and self.sounds_unique(name, road.name)
        return Case(
            self.join([*parts, house], held_out),
            "address",
            pts.grid[row],
            ok,
            "+".join(perturbation),
        )

    def place(self, kind: str, held_out: bool) -> Case:
        entry = self.rng.choice(self.by_kind[kind])
        parts, named = self.context(entry.district, entry.street, entry.zone, held_out)
        name, perturbation = entry.name, []
        if self.rng.random() < 0.12:
            typo = self.homophone(name)
            if typo:
                name, _ = typo, perturbation.append("homophone")
        text = name
        if kind == "compound" and self.rng.random() < 0.3:
            text += self.rng.choice(["东门", "北门", "南门", "西门"])
            perturbation.append("gate")
        elif kind == "compound" and self.rng.random() < 0.3:
            text += self.tail()
            perturbation.append("building")
        ok = self.resolvable(entry.name, named, None) and self.sounds_unique(name, entry.name)
        return Case(
            self.join([*parts, text], held_out), kind, entry.grid, ok, "+".join(perturbation)
        )

    def relation(self, held_out: bool) -> Case:
        """'XX医院对面': the caller stands up to the relation's radius from the place."""
        entry = self.rng.choice(self.by_kind["landmark"] + self.by_kind["compound"])
        relation = self.rng.choice(["对面", "附近", "旁边", "东侧", "门口"])
        parts, _ = self.context(entry.district, None, entry.zone, held_out)
        truth = self._near(entry.lon, entry.lat, RELATION_RADIUS_M[relation])
        return Case(
            self.join([*parts, entry.name + relation], held_out), "relation", truth, False, relation
        )

    def crossing(self, held_out: bool) -> Case:
        """'纬五路与经三路交叉口': the caller stands within 30 m of where two roads cross."""
        (a, b), row = self.rng.choice(sorted(self.gaz.crossings.items()))
        first, second = self.gaz.entries[a].name, self.gaz.entries[b].name
        form = self.rng.choice(["{}与{}交叉口", "{}和{}交叉口", "{}{}路口", "{}与{}交汇处"])
        pts = self.gaz.points
        parts, _ = self.context(pts.district[row], None, pts.zone[row], held_out)
        truth = self._near(pts.lon[row], pts.lat[row], 30.0)
        return Case(
            self.join([*parts, form.format(first, second)], held_out), "crossing", truth, False
        )

    def noisy(self, held_out: bool) -> Case:
        """An address inside the caller's words: '麻烦到纬五路12号看一下'."""
        case = (
            self.address(held_out) if self.rng.random() < 0.7 else self.place("compound", held_out)
        )
        before = self.rng.choice(["", "我家在", "麻烦到", "请派人去", "投诉：", "地址是", "我住在"])
        after = self.rng.choice(
            ["，楼道灯坏了", "门口有垃圾没人清理", "噪音扰民", "看一下", "下水道堵了"]
        )
        case.text, case.category = before + case.text + after, "noisy"
        return case

    def _near(self, lon: float, lat: float, radius_m: float) -> str | None:
        """Grid (engine) of a random spot up to ``radius_m`` from (lon, lat)."""
        distance, angle = radius_m * self.rng.random(), self.rng.uniform(0, 2 * math.pi)
        lon += distance * math.cos(angle) / (111_320 * math.cos(math.radians(lat)))
        lat += distance * math.sin(angle) / 110_540
        return self.locator.locate(lon, lat).grid_code

    def unit_only(self, held_out: bool) -> Case:
        entry = self.rng.choice(self.by_kind["community"] + self.by_kind["street"])
        parts, named = self.context(entry.district, None, entry.zone, held_out)
        text = street_aliases(entry.name)[0][0] if entry.kind == "street" else entry.name
        ok = entry.grid is not None and self.resolvable(entry.name, named, None)
        return Case(self.join([*parts, text], held_out), "unit_only", entry.grid, ok)

    def ambiguous(self, held_out: bool) -> Case:
        """A name present in several districts, said without any parent."""
        shared = [e for e in self.by_kind["compound"] if len(self.by_name[e.name]) > 1]
        entry = self.rng.choice(shared)
        return Case(entry.name, "ambiguous", None, False)  # no single grid is right

    def unknown(self, held_out: bool) -> Case:
        rng = self.rng
        roll = rng.random()
        if roll < 0.4:
            while True:
                road = (
                    rng.choice("星月云霞虹霓琥珀翡翠琉璃")
                    + rng.choice("光辉彩影")
                    + rng.choice(["路", "街", "大道"])
                )
                if road not in self.by_name:
                    break
            district = rng.choice(self.by_kind["district"]).name
            text = f"{district}{road}{rng.randint(1, 300)}号"
        elif roll < 0.75:
            text = rng.choice(_ELSEWHERE)
        else:
            text = rng.choice(["不知道在哪里", "就在那个路口", "附近有个超市", "请尽快处理谢谢"])
        return Case(text, "unknown", None, False)


_ELSEWHERE = (
    "北京市海淀区中关村大街27号",
    "上海市浦东新区世纪大道100号",
    "广州市天河区体育西路1号",
    "武汉市洪山区珞喻路129号",
    "洛阳市西工区中州中路288号",
    "开封市龙亭区北门大街9号",
)
MIX = (
    ("address", 0.34),
    ("compound", 0.13),
    ("landmark", 0.09),
    ("relation", 0.08),
    ("crossing", 0.05),
    ("noisy", 0.06),
    ("unit_only", 0.07),
    ("ambiguous", 0.05),
    ("unknown", 0.13),
)


def generate(gazetteer, locator, n: int = 1200, seed: int = EVAL_SEED) -> list[Case]:
    """``n`` cases in the :data:`MIX` proportions; ``seed`` other than DEV_SEED = held out."""
    maker = CaseMaker(gazetteer, locator, seed)
    held_out = seed != DEV_SEED
    cases = []
    for category, share in MIX:
        for _ in range(round(n * share)):
            if category in ("compound", "landmark"):
                cases.append(maker.place(category, held_out))
            else:
                cases.append(getattr(maker, category)(held_out))
    maker.rng.shuffle(cases)
    return cases
