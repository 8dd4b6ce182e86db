"""GeoReport v2 answers in both of its formats: JSON, and XML with the spec's element names.

Each kind of answer has its XML root (and item element for lists): ``services/service``,
``service_definition``, ``service_requests/request``, ``discovery``, ``errors/error``.
Nested lists take the singular of their name (``attributes/attribute``,
``values/value``, ``endpoints/endpoint``, ``formats/format``); booleans are
``true``/``false`` and a null is an empty element. Written with the standard
library's ElementTree (the server never parses XML).

>>> to_xml([{"code": "noise", "metadata": True, "group": None}], "services", "service")[39:]
b'<services><service><code>noise</code><metadata>true</metadata><group /></service></services>'
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from fastapi import Response

from cityaware.api.responses import json_response

FORMATS = ("json", "xml")
XML = "text/xml; charset=utf-8"
SERVICES = ("services", "service")
DEFINITION = ("service_definition", None)
REQUESTS = ("service_requests", "request")
DISCOVERY = ("discovery", None)
ERRORS = ("errors", "error")
SINGULAR = {"attributes": "attribute", "values": "value", "endpoints": "endpoint"}
SINGULAR |= {"formats": "format", "keywords": "keyword", "notes": "note"}


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _fill(parent: ET.Element, name: str, value: Any) -> None:
    child = ET.SubElement(parent, name)
    if isinstance(value, dict):
        for key, inner in value.items():
            _fill(child, key, inner)
    elif isinstance(value, list):
        for inner in value:
            _fill(child, SINGULAR.get(name, "item"), inner)
    else:
        child.text = _text(value)


def to_xml(data: Any, root: str, item: str | None = None) -> bytes:
    """``data`` (a list of records under ``root``/``item``, or one record as ``root``)."""
    element = ET.Element(root)
    if item is None:
        for key, value in data.items():
            _fill(element, key, value)
    else:
        for record in data:
            _fill(element, item, record)
    xml: bytes = ET.tostring(element, encoding="utf-8", xml_declaration=True)
    return xml


def answer(data: Any, fmt: str, shape: tuple[str, str | None], status_code: int = 200) -> Response:
    """``data`` as the GeoReport answer in ``fmt`` (``json`` or ``xml``)."""
    if fmt == "xml":
        return Response(to_xml(data, *shape), status_code=status_code, media_type=XML)
    return json_response(data, status_code=status_code)


def error_answer(path: str, status: int, description: str) -> Response:
    """The GeoReport error list for a failed request to ``path`` (XML when it ends in .xml).

    >>> b"<errors><error><code>404</code>" in error_answer("/open311/v2/a.xml", 404, "no").body
    True
    """
    fmt = "xml" if path.endswith(".xml") else "json"
    return answer([{"code": status, "description": description}], fmt, ERRORS, status)
