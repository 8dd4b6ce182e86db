"""api.json_body: a route reading its own JSON body answers as FastAPI's body field does,
also when the client goes away while sending it."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI, Request
from pydantic import BaseModel

from cityaware.api.errors import install_error_handlers
from cityaware.api.json_body import json_body_openapi, read_model


class Point(BaseModel):
    x: float


def app() -> FastAPI:
    api = FastAPI()
    install_error_handlers(api)

    @api.post("/p", openapi_extra=json_body_openapi(Point))
    async def post(request: Request) -> dict:
        return (await read_model(Point, request)).model_dump()

    return api


def call(messages: list[dict]) -> list[dict]:
    """Run one POST /p through the ASGI app with ``messages`` as what the client sends."""
    sent: list[dict] = []
    scope = {"type": "http", "method": "POST", "path": "/p", "headers": [
        (b"content-type", b"application/json")], "query_string": b"", "http_version": "1.1",
        "scheme": "http", "server": ("t", 80), "client": ("c", 1), "root_path": ""}  # fmt: skip

    async def receive() -> dict:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    asyncio.run(app()(scope, receive, send))
    return sent


def test_a_body_is_read_validated_and_documented():
    done = call([{"type": "http.request", "body": b'{"x": 2.5}', "more_body": False}])
    assert done[0]["status"] == 200 and done[1]["body"] == b'{"x":2.5}'
    bad = call([{"type": "http.request", "body": b'{"x": "east"}', "more_body": False}])
    assert bad[0]["status"] == 400 and b"x: Input should be a valid number" in bad[1]["body"]
    body = app().openapi()["paths"]["/p"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"]["required"] == ["x"]


def test_a_client_gone_while_sending_is_a_400_not_a_500():
    sent = call([{"type": "http.request", "body": b'{"x": ', "more_body": True}])
    assert sent[0]["status"] == 400
    assert b"error parsing the body" in sent[1]["body"]
