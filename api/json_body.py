"""A JSON request body read with orjson and validated with a pydantic model by the route
itself, with FastAPI's error items (so the same 400 answers), and the OpenAPI entry
documenting it. FastAPI's own body handling (``json.loads``, a body field, its dependency
solving) costs more per request than the intake's write.

>>> from pydantic import BaseModel
>>> class Point(BaseModel):
...     x: float
>>> parse_model(Point, b'{"x": 1.5}', "application/json")
Point(x=1.5)
>>> try:
...     parse_model(Point, b'{"x": "east"}', "application/json")
... except RequestValidationError as error:
...     [(e["loc"], e["msg"]) for e in error.errors()]
[(('body', 'x'), 'Input should be a valid number, unable to parse string as a number')]
>>> json_body_openapi(Point)["requestBody"]["content"]["application/json"]["schema"]["required"]
['x']
"""

from __future__ import annotations

import email.message
import json
from typing import Any, TypeVar

import orjson
from fastapi import HTTPException
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.requests import ClientDisconnect, Request

from cityaware.api.service.limits import read_body

M = TypeVar("M", bound=BaseModel)


async def read_model(model: type[M], request: Request) -> M:
    """The request's body (refused past the size limit) validated as ``model``; a client
    gone while sending it is a 400, as FastAPI answers it (no error logged)."""
    try:
        raw = await read_body(request)
    except ClientDisconnect as error:
        raise HTTPException(400, "There was an error parsing the body") from error
    return parse_model(model, raw, request.headers.get("content-type"))


def parse_model(model: type[M], raw: bytes, content_type: str | None) -> M:
    """``raw`` validated as ``model``: a JSON body when ``content_type`` is JSON (else the
    bytes, refused as FastAPI refuses them); RequestValidationError as FastAPI raises it.
    What orjson refuses is read again with :mod:`json`, FastAPI's reader, which takes
    ``NaN`` and lone surrogates: the same answers as FastAPI's in every case."""
    if not raw:
        missing = {"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}
        raise RequestValidationError([missing])
    value: Any = raw
    if _is_json(content_type):
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError:  # rare: read as FastAPI reads it (NaN, lone surrogates)
            value = _stdlib_json(raw)
    try:
        return model.model_validate(value, from_attributes=True)  # as FastAPI validates
    except ValidationError as error:
        items = error.errors(include_url=False)
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in items]) from None


def json_body_openapi(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` for a route reading ``model`` as its required JSON body."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    return {"requestBody": {"required": True,
                            "content": {"application/json": {"schema": schema}}}}  # fmt: skip


def _stdlib_json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError as error:
        raise RequestValidationError(
            [{"type": "json_invalid", "loc": ("body", error.pos), "msg": "JSON decode error",
              "input": {}, "ctx": {"error": error.msg}}]
        ) from None  # fmt: skip
    except RecursionError as error:  # nested too deep for it
        raise HTTPException(400, "There was an error parsing the body") from error


def _is_json(content_type: str | None) -> bool:
    if not content_type:
        return False
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )
