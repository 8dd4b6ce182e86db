"""Request size limits: body bytes (413) and batch length (400).

>>> check_batch_length(10_000)
>>> check_batch_length(10_001)  # doctest: +ELLIPSIS
Traceback (most recent call last):
cityaware.geo.errors.InvalidInput: a batch holds at most 10000 points; got 10001 (split it ...)
"""

from __future__ import annotations

from fastapi import Request

from cityaware.geo.errors import CityAwareError, InvalidInput

MAX_BODY_BYTES = 5 * 1024 * 1024
MAX_BATCH = 10_000


class PayloadTooLarge(CityAwareError):
    """The request body is over the size limit (413)."""

    status = 413
    code = "PayloadTooLarge"


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"request body is larger than {limit // (1024 * 1024)} MB")


def check_content_length(request: Request) -> None:
    """FastAPI dependency: refuse a declared body over the limit before reading it."""
    _refuse_declared(request, MAX_BODY_BYTES)


def _refuse_declared(request: Request, limit: int) -> None:
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise _too_large(limit)


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The body, read in chunks and refused (413) as soon as it passes ``limit``."""
    _refuse_declared(request, limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def check_batch_length(n: int, limit: int = MAX_BATCH) -> None:
    """Refuse an empty batch or one over ``limit`` points with a clear 400."""
    if n == 0:
        raise InvalidInput("the batch has no points")
    if n > limit:
        raise InvalidInput(
            f"a batch holds at most {limit} points; got {n} (split it into several requests)"
        )
