"""Request size limits: body bytes (413) and batch length (400).

>>> check_batch_length(10_000)
>>> check_batch_length(10_001)  # doctest: +ELLIPSIS
Traceback (most recent call last):
cityaware.geo.errors.InvalidInput: a batch holds at most 10000 points; got 10001 (split it ...)
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

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


async def check_content_length(request: Request) -> None:
    """FastAPI dependency: refuse a declared body over the limit before reading it (async:
    no thread hop for a header check)."""
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


class TooManyRequests(CityAwareError):
    """A client over its failed-key budget (429); ``retry_after`` in whole seconds."""

    status = 429
    code = "TooManyRequests"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class FailureLimiter:
    """A token bucket of failed API keys per client: ``burst`` failures at once, then one
    per ``1 / rate`` seconds; at most ``max_clients`` buckets are kept (least recently
    failing forgotten first), so memory stays bounded.

    >>> limiter = FailureLimiter(burst=2, rate=0.5)
    >>> limiter.fail("10.0.0.1"); limiter.fail("10.0.0.1")
    >>> limiter.check("10.0.0.1")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    cityaware.api.service.limits.TooManyRequests: too many failed API keys from this client; ...
    >>> limiter.check("10.0.0.2")
    """

    def __init__(
        self,
        burst: int = 20,
        rate: float = 1.0,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.burst, self.rate, self.max_clients, self.clock = burst, rate, max_clients, clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # tokens, at
        self._lock = threading.Lock()

    def _tokens(self, client: str, now: float) -> float:
        tokens, at = self._buckets.get(client, (float(self.burst), now))
        return min(float(self.burst), tokens + (now - at) * self.rate)

    def check(self, client: str) -> None:
        """TooManyRequests (with Retry-After) when ``client`` has no failure left."""
        with self._lock:
            if client not in self._buckets:
                return
            tokens = self._tokens(client, self.clock())
        if tokens < 1:
            wait = math.ceil((1 - tokens) / self.rate)
            raise TooManyRequests(
                f"too many failed API keys from this client; retry in {wait} s", wait
            )

    def fail(self, client: str) -> None:
        """Count one failed key of ``client``."""
        with self._lock:
            now = self.clock()
            self._buckets[client] = (max(0.0, self._tokens(client, now) - 1), now)
            self._buckets.move_to_end(client)
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
