"""Routing rules: which office answers an incident, from a duty list file.

A duty list is a CSV with columns ``id, priority, category, district,
managing_zone, office``. A rule matches an incident when its category is the
incident's (or ``*``) and its district / managing zone, when given, equal the
incident's. Among matching rules the lowest ``priority`` wins (ties: file
order); a ``*`` rule with no district or zone is the default and must exist.
An office may name ``{city}``: the name of the incident's city (from its
chain, or the city profile) fills it in, so one list serves several cities.
An office ``-`` refuses: that category is not taken there (no office answers it), so
intake answers 422 and Open311's ``services?lat=&long=`` leaves it out.

``<data_dir>/duty-list.csv`` is the city's own list (``cityaware demo`` installs
the demo city's). Without one the packaged list routes everything to the
incident's city operations centre, tied to no city.

>>> rules = DutyList.load()
>>> rules.route("road_damage", district="410202", city="开封市").office
'开封市城市运行管理中心'
>>> rules.route("unknown_category").rule["default"]
True
>>> rules.route("noise").office
'城市运行管理中心'
>>> refusing = DutyList([Rule("R1", 1, "noise", "990105", "", REFUSED), *rules.rules])
>>> refusing.offers("noise", "990105"), refusing.offers("noise", "990102")
(False, True)
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cityaware.geo.errors import InvalidInput
from cityaware.geo.resources import shipped

PACKAGED_DUTY_LIST = shipped("cityaware.api.service", "duty-list.csv")
DUTY_LIST_NAME = "duty-list.csv"
COLUMNS: tuple[str, ...] = ("id", "priority", "category", "district", "managing_zone", "office")
ANY = "*"
CITY_FIELD = "{city}"
REFUSED = "-"


@dataclass(frozen=True)
class Rule:
    id: str
    priority: int
    category: str
    district: str
    managing_zone: str
    office: str

    @property
    def is_default(self) -> bool:
        return self.category == ANY and not self.district and not self.managing_zone

    def matches(self, category: str, district: str, managing_zone: str) -> bool:
        return (
            self.category in (ANY, category)
            and self.district in ("", district)
            and self.managing_zone in ("", managing_zone)
        )

    def describe(self) -> dict[str, Any]:
        """The rule as shown in answers (absent conditions are null)."""
        return {
            "id": self.id,
            "priority": self.priority,
            "category": self.category,
            "district": self.district or None,
            "managing_zone": self.managing_zone or None,
            "default": self.is_default,
        }


@dataclass(frozen=True)
class Routing:
    """The routing decision: the office and the rule that chose it."""

    office: str
    rule: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"office": self.office, "rule": self.rule}

    @property
    def refused(self) -> bool:
        """Whether the rule refuses the case (office ``-``)."""
        return self.office == REFUSED


class DutyList:
    """Ordered routing rules (lowest priority number first)."""

    def __init__(self, rules: list[Rule], source: str = "") -> None:
        self.rules = sorted(rules, key=lambda r: r.priority)  # stable: file order on ties
        self.source = source
        if not any(r.is_default for r in self.rules):
            raise InvalidInput(f"{source}: the duty list needs a default rule (category '*')")

    @classmethod
    def load(cls, data_dir: Path | None = None) -> DutyList:
        """The duty list of ``data_dir`` when it has one, else the packaged demo list."""
        path = Path(data_dir) / DUTY_LIST_NAME if data_dir else None
        return cls.read(path if path is not None and path.exists() else PACKAGED_DUTY_LIST)

    @classmethod
    def read(cls, path: Path) -> DutyList:
        """Parse a duty list CSV; InvalidInput names the file and line of a bad row."""
        with open(path, encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            missing = set(COLUMNS) - set(reader.fieldnames or ())
            if missing:
                raise InvalidInput(f"{path}: missing columns {', '.join(sorted(missing))}")
            rules, seen = [], set()
            for line, row in enumerate(reader, start=2):
                values = {c: (row.get(c) or "").strip() for c in COLUMNS}
                if not values["id"] or not values["office"] or not values["category"]:
                    raise InvalidInput(f"{path}:{line}: id, category and office are required")
                if values["id"] in seen:
                    raise InvalidInput(f"{path}:{line}: duplicate rule id {values['id']!r}")
                try:
                    priority = int(values.pop("priority"))
                except ValueError as error:
                    raise InvalidInput(f"{path}:{line}: priority must be an integer") from error
                seen.add(values["id"])
                rules.append(Rule(priority=priority, **values))
        return cls(rules, source=str(path))

    def route(
        self, category: str, district: str = "", managing_zone: str = "", city: str = ""
    ) -> Routing:
        """The office for an incident of ``category`` in ``district`` / ``managing_zone`` of
        the city named ``city`` (fills an office's ``{city}``)."""
        district, managing_zone = district or "", managing_zone or ""
        for rule in self.rules:
            if rule.matches(category, district, managing_zone):
                office = rule.office.replace(CITY_FIELD, city or "")
                return Routing(office=office, rule=rule.describe())
        raise AssertionError("unreachable: the default rule matches everything")

    def offers(self, category: str, district: str = "", managing_zone: str = "") -> bool:
        """Whether a case of ``category`` is taken in ``district`` / ``managing_zone``."""
        return not self.route(category, district, managing_zone).refused
