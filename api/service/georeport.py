"""GeoReport v2 records: services, service definitions, requests, attributes and dates.

Field names and types follow the spec (https://wiki.open311.org/GeoReport_v2). Times are
W3C/ISO 8601 with the city's UTC offset (``[city] timezone`` of the city profile), to the
second, everywhere.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from cityaware.geo.errors import InvalidInput
from cityaware.geo.resources import shipped
from cityaware.geo.store.taxonomy import CLOSED_STATUSES, OPEN_STATUSES, PRIORITIES

SERVICES_FILE = shipped("cityaware.api.service", "services.csv")
SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
#: datatypes of service attributes (spec: "Service Definition")
DATATYPES = ("string", "number", "datetime", "text", "singlevaluelist", "multivaluelist")
#: attributes whose value is an incident field of the same name
FIELD_ATTRIBUTES = ("priority", "title")
MAX_ATTRIBUTE = 200


def load_services(categories: tuple[str, ...]) -> list[dict[str, Any]]:
    """GeoReport service records for the store's categories (names from services.csv).

    >>> load_services(("noise",))[0]["service_name"]
    '噪声扰民'
    """
    with open(SERVICES_FILE, encoding="utf-8", newline="") as handle:
        known = {row["code"]: row for row in csv.DictReader(handle)}
    services = []
    for code in categories:
        row = known.get(code, {})
        keywords = [k for k in (row.get("keywords") or "").split(";") if k]
        services.append(
            {
                "service_code": code,
                "service_name": row.get("name") or code,
                "description": row.get("description") or None,
                "metadata": True,
                "type": "realtime",
                "keywords": ",".join(keywords) or None,
                "group": row.get("group") or None,
            }
        )
    return services


def service_definition(code: str) -> dict[str, Any]:
    """The GeoReport attributes every service takes (priority and title).

    >>> [a["code"] for a in service_definition("noise")["attributes"]]
    ['priority', 'title']
    """
    return {
        "service_code": code,
        "attributes": [
            {
                "variable": True,
                "code": "priority",
                "datatype": "singlevaluelist",
                "required": False,
                "datatype_description": "how urgent the case is",
                "order": 1,
                "description": "Priority",
                "values": [{"key": p, "name": p} for p in PRIORITIES],
            },
            {
                "variable": True,
                "code": "title",
                "datatype": "string",
                "required": False,
                "datatype_description": f"up to {MAX_ATTRIBUTE} characters",
                "order": 2,
                "description": "Short title",
                "values": None,
            },
        ],
    }


def check_attributes(
    definition: dict[str, Any], given: Iterable[tuple[str, str]]
) -> dict[str, str | float | list[str]]:
    """The ``attribute[code]=value`` pairs of a request checked against the service
    ``definition``: known codes, values of the attribute's datatype, required ones present
    (InvalidInput naming ``attribute[code]`` otherwise). Multi-value lists come as
    ``attribute[code][]`` (or a repeated ``attribute[code]``).

    >>> check_attributes(service_definition("noise"), [("attribute[priority]", "high")])
    {'priority': 'high'}
    >>> check_attributes(service_definition("noise"), [("attribute[size]", "big")])
    Traceback (most recent call last):
    ...
    cityaware.geo.errors.InvalidInput: attribute[size]: no such attribute; known: priority, title
    """
    specs = {a["code"]: a for a in definition["attributes"]}
    raw: dict[str, list[str]] = {}
    for name, value in given:
        code = name.removeprefix("attribute[").removesuffix("[]").removesuffix("]")
        raw.setdefault(code, []).append(value)
    service = definition["service_code"]
    checked: dict[str, str | float | list[str]] = {}
    for code, values in raw.items():
        spec = specs.get(code)
        if spec is None:
            known = ", ".join(sorted(specs)) or "none"
            raise InvalidInput(f"attribute[{code}]: no such attribute; known: {known}")
        checked[code] = _attribute_value(spec, values)
    for code, spec in specs.items():
        if spec["required"] and code not in checked:
            raise InvalidInput(f"attribute[{code}] is required for service {service}")
    return checked


def _attribute_value(spec: dict[str, Any], values: list[str]) -> str | float | list[str]:
    code, datatype = spec["code"], spec["datatype"]
    values = [v.strip() for v in values if v.strip()]
    keys = [str(v["key"]) for v in spec.get("values") or []]
    if not values:
        raise InvalidInput(f"attribute[{code}] is empty")
    if datatype == "multivaluelist":
        wrong = [v for v in values if v not in keys]
        if wrong:
            raise InvalidInput(f"attribute[{code}]: {wrong[0]!r} is not one of {', '.join(keys)}")
        return values
    if len(values) > 1:
        raise InvalidInput(f"attribute[{code}] takes one value, got {len(values)}")
    value = values[0]
    if len(value) > MAX_ATTRIBUTE and datatype != "text":
        raise InvalidInput(f"attribute[{code}]: at most {MAX_ATTRIBUTE} characters")
    if datatype == "singlevaluelist" and value not in keys:
        raise InvalidInput(f"attribute[{code}]: {value!r} is not one of {', '.join(keys)}")
    if datatype == "number":
        try:
            return float(value)
        except ValueError:
            raise InvalidInput(f"attribute[{code}] must be a number, not {value!r}") from None
    if datatype == "datetime":
        return parse_date(value, f"attribute[{code}]", UTC) or value
    return value


def w3c_time(text: str | None, clock: tzinfo) -> str | None:
    """A stored time as W3C/ISO 8601 to the second with the city's offset.

    >>> from zoneinfo import ZoneInfo
    >>> w3c_time("2026-11-26T04:00:00.250Z", ZoneInfo("Asia/Shanghai"))
    '2026-11-26T12:00:00+08:00'
    """
    if not text:
        return None
    return datetime.fromisoformat(text).astimezone(clock).isoformat(timespec="seconds")


def service_request(record: dict[str, Any], names: dict[str, str], clock: tzinfo) -> dict[str, Any]:
    """One incident as a GeoReport v2 service request (no contact fields: those are private)."""
    return {
        "service_request_id": record["id"],
        "status": "open" if record.get("status") in OPEN_STATUSES else "closed",
        "status_notes": record.get("status"),
        "service_name": names.get(record.get("category") or "", record.get("category")),
        "service_code": record.get("category"),
        "description": record.get("description"),
        "agency_responsible": record.get("office"),
        "service_notice": None,
        "requested_datetime": w3c_time(record.get("reported_at"), clock),
        "updated_datetime": w3c_time(record.get("updated_at"), clock),
        "expected_datetime": None,
        "address": record.get("address"),
        "address_id": None,
        "zipcode": None,
        "lat": record.get("lat"),
        "long": record.get("lon"),
        "media_url": (record.get("attributes") or {}).get("media_url"),
    }


def csv_values(text: str | None) -> list[str] | None:
    """The values of a comma-separated parameter (None when empty).

    >>> csv_values(" a, b,,"), csv_values("")
    (['a', 'b'], None)
    """
    values = [v.strip() for v in (text or "").split(",") if v.strip()]
    return values or None


def status_filter(text: str | None) -> list[str] | None:
    """Store statuses for an Open311 ``status`` filter (``open``, ``closed`` or both)."""
    wanted = csv_values(text)
    if wanted is None:
        return None
    unknown = sorted(set(wanted) - {"open", "closed"})
    if unknown:
        raise InvalidInput(f"status must be open and/or closed, not {', '.join(unknown)}")
    return [
        s
        for group, statuses in (("open", OPEN_STATUSES), ("closed", CLOSED_STATUSES))
        if group in wanted
        for s in statuses
    ]


def parse_date(text: str | None, name: str, clock: tzinfo) -> str | None:
    """A W3C/ISO 8601 time within 1970-2200 as UTC ISO text; a time without an offset is
    the city's (``clock``); else 400 naming ``name``.

    >>> from zoneinfo import ZoneInfo
    >>> parse_date("2024-05-01T08:00:00", "start_date", ZoneInfo("Asia/Shanghai"))
    '2024-05-01T00:00:00+00:00'
    """
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(
            f"{name} must be a W3C (ISO 8601) time, e.g. 2024-05-01T08:00:00+08:00"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=clock)
    if not 1970 <= moment.year <= 2200:
        raise InvalidInput(f"{name} must lie between the years 1970 and 2200")
    return moment.astimezone(UTC).isoformat()


WINDOW = timedelta(days=90)  # GeoReport: "90 days or the first 1000 requests"


def search_window(since: str | None, until: str | None, now: datetime) -> tuple[str, str]:
    """The time range of a requests search: at most 90 days, by default the 90 days up
    to ``end_date`` (or now), or from ``start_date``; 400 for a longer range.

    >>> now = datetime(2026, 12, 1, tzinfo=UTC)
    >>> search_window(None, None, now)
    ('2026-09-02T00:00:00+00:00', '2026-12-01T00:00:00+00:00')
    >>> search_window("2026-01-01T00:00:00+00:00", None, now)[1]
    '2026-04-01T00:00:00+00:00'
    >>> search_window("2025-01-01T00:00:00+00:00", "2026-01-01T00:00:00+00:00", now)
    Traceback (most recent call last):
    cityaware.geo.errors.InvalidInput: start_date and end_date may span at most 90 days
    """
    start = datetime.fromisoformat(since) if since else None
    end = datetime.fromisoformat(until) if until else None
    if start is not None and end is not None and end - start > WINDOW:
        raise InvalidInput("start_date and end_date may span at most 90 days")
    if start is None:
        start = (end or now) - WINDOW
    if end is None:
        end = start + WINDOW
    return start.isoformat(), end.isoformat()


def discovery(base_url: str, changeset: str, contact: str) -> dict[str, Any]:
    """The GeoReport discovery document of the endpoint at ``base_url``.

    >>> discovery("http://h/open311/v2", "2026-01-01T00:00:00Z", "c")["endpoints"][0]["url"]
    'http://h/open311/v2'
    """
    return {
        "changeset": changeset,
        "contact": contact,
        "key_service": "API keys: ask the operator (cityaware keys create --role service)",
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": base_url,
                "changeset": changeset,
                "type": "production",
                "formats": ["text/xml", "application/json"],
            }
        ],
    }
