"""A GeoReport v2 validator written from the spec (https://wiki.open311.org/GeoReport_v2),
independent of the server's code: each answer's required fields, their types, the XML
element names, and the error lists, for JSON and XML alike.

``validate(kind, fmt, body)`` checks one answer and returns it as typed Python records
(XML text turned into the types the spec gives), so JSON and XML answers compare equal
and both can be checked against the store's rows.
"""

from __future__ import annotations

import json
import re
from typing import Any

from defusedxml import ElementTree as SafeET

W3C = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
TEXT, BOOL, NUMBER, INT, TIME, LIST = "text", "bool", "number", "int", "time", "list"

#: field -> type, required? (spec tables); lists name the record type of their items
SERVICE = {"service_code": (TEXT, True), "service_name": (TEXT, True),
           "description": (TEXT, False), "metadata": (BOOL, True), "type": (TEXT, True),
           "keywords": (TEXT, False), "group": (TEXT, False)}  # fmt: skip
VALUE = {"key": (TEXT, True), "name": (TEXT, True)}
ATTRIBUTE = {"variable": (BOOL, True), "code": (TEXT, True), "datatype": (TEXT, True),
             "required": (BOOL, True), "datatype_description": (TEXT, False),
             "order": (INT, True), "description": (TEXT, True),
             "values": ((LIST, "value", VALUE), False)}  # fmt: skip
DEFINITION = {"service_code": (TEXT, True),
              "attributes": ((LIST, "attribute", ATTRIBUTE), True)}  # fmt: skip
REQUEST = {"service_request_id": (TEXT, True), "status": (TEXT, True),
           "status_notes": (TEXT, False), "service_name": (TEXT, False),
           "service_code": (TEXT, True), "description": (TEXT, False),
           "agency_responsible": (TEXT, False), "service_notice": (TEXT, False),
           "requested_datetime": (TIME, True), "updated_datetime": (TIME, False),
           "expected_datetime": (TIME, False), "address": (TEXT, False),
           "address_id": (TEXT, False), "zipcode": (TEXT, False), "lat": (NUMBER, True),
           "long": (NUMBER, True), "media_url": (TEXT, False)}  # fmt: skip
CREATED = {"service_request_id": (TEXT, False), "token": (TEXT, False),
           "service_notice": (TEXT, False), "account_id": (TEXT, False)}  # fmt: skip
TOKEN = {"service_request_id": (TEXT, False), "token": (TEXT, True)}
ENDPOINT = {"specification": (TEXT, True), "url": (TEXT, True), "changeset": (TIME, True),
            "type": (TEXT, True), "formats": ((LIST, "format", None), True)}  # fmt: skip
DISCOVERY = {"changeset": (TIME, True), "contact": (TEXT, True), "key_service": (TEXT, False),
             "endpoints": ((LIST, "endpoint", ENDPOINT), True)}  # fmt: skip
ERROR = {"code": (INT, True), "description": (TEXT, True)}

#: kind -> (XML root, XML item element or None for one record, record fields)
KINDS = {
    "services": ("services", "service", SERVICE),
    "definition": ("service_definition", None, DEFINITION),
    "requests": ("service_requests", "request", REQUEST),
    "created": ("service_requests", "request", CREATED),
    "token": ("service_requests", "request", TOKEN),
    "discovery": ("discovery", None, DISCOVERY),
    "errors": ("errors", "error", ERROR),
}
ENUMS = {("services", "type"): {"realtime", "batch", "blackbox"},
         ("requests", "status"): {"open", "closed"},
         ("definition", "datatype"): {"string", "number", "datetime", "text",
                                      "singlevaluelist", "multivaluelist"},
         ("discovery", "type"): {"production", "test"}}  # fmt: skip


class Invalid(AssertionError):
    """An answer that breaks the spec."""


def validate(kind: str, fmt: str, body: bytes) -> Any:
    """The answer ``body`` of ``kind`` in ``fmt`` (json or xml), checked and typed."""
    root, item, fields = KINDS[kind]
    if fmt == "json":
        data = json.loads(body)
        records = data if item else [data]
        if not isinstance(records, list):
            raise Invalid(f"{kind}: a JSON {kind} answer is an array")
        typed = [_record(kind, fields, r, _json_value) for r in records]
    else:
        tree = SafeET.fromstring(body)
        if tree.tag != root:
            raise Invalid(f"{kind}: XML root is <{tree.tag}>, the spec says <{root}>")
        if item:
            wrong = {child.tag for child in tree} - {item}
            if wrong:
                raise Invalid(f"{kind}: <{root}> holds <{sorted(wrong)[0]}>, not only <{item}>")
            children = list(tree)
        else:
            children = [tree]
        typed = [_record(kind, fields, _xml_record(c), _xml_value) for c in children]
    return typed if item else typed[0]


def _xml_record(element: Any) -> dict[str, Any]:
    """An element's children as {tag: element} (duplicates are a spec break)."""
    out: dict[str, Any] = {}
    for child in element:
        if child.tag in out:
            raise Invalid(f"<{element.tag}> repeats <{child.tag}>")
        out[child.tag] = child
    return out


def _record(kind: str, fields: dict, record: Any, convert: Any) -> dict[str, Any]:
    if not isinstance(record, dict):
        raise Invalid(f"{kind}: a record must be an object, got {record!r}")
    unknown = set(record) - set(fields)
    if unknown:
        raise Invalid(f"{kind}: fields outside the spec: {sorted(unknown)}")
    out = {}
    for name, (datatype, required) in fields.items():
        value = convert(kind, name, datatype, record.get(name))
        if required and value is None:
            raise Invalid(f"{kind}: required field {name} is missing or empty")
        allowed = ENUMS.get((kind, name))
        if allowed and value is not None and value not in allowed:
            raise Invalid(f"{kind}: {name}={value!r} is not one of {sorted(allowed)}")
        out[name] = value
    return out


def _json_value(kind: str, name: str, datatype: Any, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(datatype, tuple):  # a list of records (or of texts)
        if not isinstance(value, list):
            raise Invalid(f"{kind}: {name} must be an array")
        _, _, fields = datatype
        items = [v if fields is None else _record(kind, fields, v, _json_value) for v in value]
        return items or None  # an empty list reads as absent, as an empty XML element does
    expected = {TEXT: str, TIME: str, BOOL: bool, INT: int, NUMBER: (int, float)}[datatype]
    if isinstance(value, bool) and datatype in (INT, NUMBER):
        raise Invalid(f"{kind}: {name} must be a number, not a boolean")
    if datatype == TEXT and isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)  # ids may be numbers in JSON
    if not isinstance(value, expected):
        raise Invalid(f"{kind}: {name} must be {datatype}, got {value!r}")
    if datatype == TIME and not W3C.match(value):
        raise Invalid(f"{kind}: {name}={value!r} is not a W3C time with an offset")
    return float(value) if datatype == NUMBER else value


def _xml_value(kind: str, name: str, datatype: Any, element: Any) -> Any:
    if element is None:
        return None
    if isinstance(datatype, tuple):
        _, item, fields = datatype
        wrong = {child.tag for child in element} - {item}
        if wrong:
            raise Invalid(f"{kind}: <{name}> holds <{sorted(wrong)[0]}>, not only <{item}>")
        if fields is None:
            return [child.text for child in element] or None
        return [_record(kind, fields, _xml_record(c), _xml_value) for c in element] or None
    if len(element):
        raise Invalid(f"{kind}: <{name}> must hold text, not elements")
    text = element.text
    if text is None or text == "":
        return None
    if datatype == BOOL:
        if text not in ("true", "false"):
            raise Invalid(f"{kind}: <{name}> must be true or false, got {text!r}")
        return text == "true"
    if datatype == INT:
        if not re.fullmatch(r"-?\d+", text):
            raise Invalid(f"{kind}: <{name}> must be an integer, got {text!r}")
        return int(text)
    if datatype == NUMBER:
        try:
            return float(text)
        except ValueError:
            raise Invalid(f"{kind}: <{name}> must be a number, got {text!r}") from None
    if datatype == TIME and not W3C.match(text):
        raise Invalid(f"{kind}: <{name}>{text}</{name}> is not a W3C time with an offset")
    return text
