"""Conditional GET: entity tags and ``If-None-Match`` (RFC 9110 §13.1.2).

A route computes a tag from what its answer is made of (a data version, the
request's query) *before* doing the work, so a client that already holds the
answer gets a ``304 Not Modified`` without the server rendering it again.

>>> etag("incidents", 42, weak=True)[:3]
'W/"'
>>> matches('W/"abc", "def"', '"abc"'), matches("*", '"x"'), matches('"x"', '"y"')
(True, True, False)
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from typing import Any

from fastapi import Request, Response


def etag(*parts: object, weak: bool = False) -> str:
    """A quoted entity tag over ``parts`` (weak for answers equal in meaning, not bytes)."""
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=10).hexdigest()
    return f'{"W/" if weak else ""}"{digest}"'


def matches(if_none_match: str | None, tag: str) -> bool:
    """Whether an ``If-None-Match`` header names ``tag`` (weak comparison, ``*`` matches)."""
    if not if_none_match:
        return False
    wanted = tag.removeprefix("W/")
    listed = (part.strip().removeprefix("W/") for part in if_none_match.split(","))
    return any(part in ("*", wanted) for part in listed)


def conditional(
    request: Request,
    tag: str,
    render: Callable[[], Response],
    headers: dict[str, str] | None = None,
) -> Response:
    """``304`` when the request already holds ``tag``, else ``render()``; both carry the
    tag and ``headers`` (e.g. ``Cache-Control``, ``Vary``)."""
    extra = {"ETag": tag, **(headers or {})}
    if matches(request.headers.get("if-none-match"), tag):
        return Response(status_code=304, headers=extra)
    response = render()
    response.headers.update(extra)
    return response


def versioned(request: Request, version: str | None, render: Callable[[], Response]) -> Response:
    """``conditional`` under a weak tag of the data ``version`` and the request (URL,
    proxy headers, ``Accept``), so a repeated read of unchanged data is a 304 that never
    runs the query; without a version, just ``render()``."""
    if version is None:
        return render()
    seen = [request.headers.get(h, "") for h in ("accept", *_PROXY_HEADERS)]
    tag = etag(version, request.url, *seen, weak=True)
    return conditional(request, tag, render, {"Vary": "Accept"})


_PROXY_HEADERS = ("x-forwarded-proto", "x-forwarded-host", "x-forwarded-prefix")


def conditional_get(
    version: Callable[..., str | None],
) -> Callable[[Callable[..., Response]], Callable[..., Response]]:
    """Make a GET endpoint :func:`versioned`: ``version(**arguments)`` names the data it
    reads (the endpoint must take ``request``); its signature is kept for FastAPI.

    >>> import inspect
    >>> @conditional_get(lambda **_: None)
    ... def page(request: Request, n: int) -> Response: ...
    >>> list(inspect.signature(page).parameters)
    ['request', 'n']
    """

    def wrap(endpoint: Callable[..., Response]) -> Callable[..., Response]:
        @functools.wraps(endpoint)
        def answer(**arguments: Any) -> Response:
            tag = version(**arguments)
            return versioned(arguments["request"], tag, lambda: endpoint(**arguments))

        return answer

    return wrap
