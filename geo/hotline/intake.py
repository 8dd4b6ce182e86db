"""From a sentence to a decision: check the text, then dispatch on our own or ask a person.

>>> check_text("  龙亭区中山路12号井盖丢了 ")
'龙亭区中山路12号井盖丢了'
>>> check_text("the manhole cover is gone")  # doctest: +ELLIPSIS
Traceback (most recent call last):
cityaware.geo.errors.Unprocessable: the text is not Chinese...
>>> decide(None, NO_PLACE)["mode"]
'review'
"""

from __future__ import annotations

import re
from typing import Any

from cityaware.geo.errors import InvalidInput, Unprocessable
from cityaware.geo.hotline.classifier import Classification
from cityaware.geo.hotline.places import NO_PLACE, PlaceReading

MAX_TEXT = 500
HAN = re.compile(r"[\u4e00-\u9fff]")
LETTERS = re.compile(r"[^\W\d_]")
MIN_HAN_SHARE = 0.5

__all__ = ["MAX_TEXT", "NO_PLACE", "check_text", "decide"]


def check_text(text: str | None) -> str:
    """The complaint text stripped; InvalidInput when empty or too long,
    Unprocessable when it is not Chinese (the classifier and gazetteer read Chinese)."""
    text = (text or "").strip()
    if not text:
        raise InvalidInput("text is empty: give the complaint as the caller said it")
    if len(text) > MAX_TEXT:
        raise InvalidInput(f"text is {len(text)} characters long; at most {MAX_TEXT} are read")
    letters = LETTERS.findall(text)
    if not letters or len(HAN.findall(text)) < MIN_HAN_SHARE * len(letters):
        raise Unprocessable(
            "the text is not Chinese; the hotline reads Chinese complaints "
            "(send category and lon/lat or address instead)"
        )
    return text


def decide(category: Classification | None, place: PlaceReading) -> dict[str, Any]:
    """``{"mode": "auto"|"review", "reason": ...}``: auto only when both are trusted.

    ``category`` None means the caller gave the category (trusted as given).
    """
    problems = []
    if place.level is None or not place.trusted:
        problems.append(place.reason)
    if category is not None and not category.trusted:
        problems.append(
            f"category {category.category} is uncertain ({category.confidence:.2f})"
            if category.category != "other"
            else "category other is always reviewed"
        )
    if problems:
        return {"mode": "review", "reason": "; ".join(problems)}
    how = "given" if category is None else f"{category.category} ({category.confidence:.2f})"
    return {"mode": "auto", "reason": f"place trusted at {place.level} level, category {how}"}
