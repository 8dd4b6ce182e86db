"""Level names: ours, and the NBS / civil-affairs (MCA) names accepted as aliases.

The one alias table of the importer. NBS division lists say ``county``,
``township``, ``village``; civil-affairs files say ``town``, ``street``,
``community``; Chinese files say 区县, 乡镇街道, 社区村. All of them map onto
:data:`geo.boundaries.schema.LEVELS`.

>>> canonical_level("township"), canonical_level("County"), canonical_level("社区")
('street', 'district', 'community')
>>> city_code("410204")
'410200'
"""

from __future__ import annotations

from cityaware.geo.boundaries.schema import LEVEL_OF_LAYER, LEVELS
from cityaware.geo.errors import InvalidInput

LEVEL_ALIASES: dict[str, str] = {
    # city (prefecture) level
    "prefecture": "city",
    "市": "city",
    "地级市": "city",
    # county level
    "county": "district",
    "区": "district",
    "县": "district",
    "区县": "district",
    "县级市": "district",
    # township level
    "township": "street",
    "town": "street",
    "subdistrict": "street",
    "乡": "street",
    "镇": "street",
    "乡镇": "street",
    "街道": "street",
    "乡镇街道": "street",
    # village level
    "village": "community",
    "社区": "community",
    "村": "community",
    "社区村": "community",
    # grid level
    "网格": "grid",
}


def canonical_level(name: str) -> str:
    """Our level for ``name`` (ours, a layer name or an alias; case-insensitive).

    >>> canonical_level("villages"), canonical_level("grids"), canonical_level("town")
    ('community', 'grid', 'street')
    """
    key = str(name).strip().lower()
    if key in LEVELS:
        return key
    if key in LEVEL_OF_LAYER:
        return LEVEL_OF_LAYER[key]
    if key in LEVEL_ALIASES:
        return LEVEL_ALIASES[key]
    if key.endswith("s") and key[:-1] in LEVEL_ALIASES:
        return LEVEL_ALIASES[key[:-1]]
    known = ", ".join([*LEVELS, *sorted(k for k in LEVEL_ALIASES if k.isascii())])
    raise InvalidInput(f"unknown level '{name}' (use one of {known})")


def city_code(district_code: str) -> str:
    """The city (prefecture) code of a six-digit district code: its first four digits + 00.

    >>> city_code("990171")
    '990100'
    """
    return district_code[:4] + "00"


def is_city_code(code: str) -> bool:
    """Six digits ending in 00 but not in 0000 (a province).

    >>> is_city_code("410200"), is_city_code("410202"), is_city_code("410000")
    (True, False, False)
    """
    return len(code) == 6 and code.isdigit() and code.endswith("00") and not code.endswith("0000")
