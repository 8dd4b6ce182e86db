"""ASGI middleware between the network and the routes: request bodies and response headers.

:class:`BodyGuard` checks a request's declared access *before* its body is read
(a 200 MB upload without a key is refused at once), caps every body, chunked or
not (413 with the limit), and gives up on a body that stops arriving (408, and
the connection closes). A request refused before its body is read keeps its connection
when the body is declared within the limit (the server discards it); any other closes it
after a short linger that discards up to the limit, so that the answer reaches a client
still sending (a socket closed on unread bytes is reset, and the client may lose the answer).

:class:`SecurityHeaders` adds ``nosniff``, frame and
referrer policies to every answer, and to HTML pages a Content-Security-Policy
that allows only this server (plus the configured basemap) and the page's own
inline scripts, by hash.

>>> csp = csp_for_html(b"<script>go()</script>", "https://{s}.tiles.example/{z}/{x}/{y}.png")
>>> csp.split("; ")[1][:26], csp.split("; ")[3]
("script-src 'self' 'sha256-", "img-src 'self' data: blob: https://*.tiles.example")
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.routing import Match

from cityaware.api.errors import answer_for
from cityaware.api.service.auth import HEADER, Access, client_of, route_permissions
from cityaware.api.service.limits import MAX_BODY_BYTES
from cityaware.geo.errors import CityAwareError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

BODY_TIMEOUT_S = 10.0
PATHS_KEPT = 4096  # request paths whose route's permissions BodyGuard remembers
LINGER_S = 2.0
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.DOTALL)


class BodyGuard:
    """Access before the body, a size cap on every body and a receive timeout."""

    def __init__(
        self,
        app: ASGIApp,
        access: Callable[[], Access],
        routes: Callable[[], list[Any]],
        limit: int = MAX_BODY_BYTES,
        timeout: float = BODY_TIMEOUT_S,
    ) -> None:
        self.app, self.access, self.routes = app, access, routes
        self.limit, self.timeout = limit, timeout
        self._permissions: dict[int, set[str]] = {}
        self._by_path: dict[tuple[str, str, str], set[str]] = {}  # a route match per path
        self._routes_seen: list[Any] | None = None  # the route list _by_path was matched on

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        refusal = self.refuse(request)
        if refusal is not None:
            await self.answer_unread(refusal, request, receive, send)
            return
        await self.app(scope, self.bounded(receive), send)

    async def answer_unread(
        self, answer: Any, request: Request, receive: Receive, send: Send
    ) -> None:
        """Send ``answer`` to a request whose body is never read: the connection stays
        when the body is declared within the limit (the server discards those bytes), else
        it closes once :meth:`linger` has discarded what arrives for a short while."""
        if _declared_within(request, self.limit):
            await answer(request.scope, receive, send)
            return
        answer.headers["Connection"] = "close"

        async def held(message: Message) -> None:  # the answer whole on the wire, still open
            body = message["type"] == "http.response.body"
            await send({**message, "more_body": True} if body else message)

        await answer(request.scope, receive, held)
        await self.linger(receive)
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def linger(self, receive: Receive, seconds: float = LINGER_S) -> None:
        """Discard the body for up to ``seconds`` and ``limit`` bytes, or until it ends."""
        loop = asyncio.get_running_loop()
        deadline, drained = loop.time() + seconds, 0
        while drained <= self.limit:
            try:
                message = await asyncio.wait_for(receive(), deadline - loop.time())
            except TimeoutError:
                return
            if message["type"] != "http.request" or not message.get("more_body", False):
                return
            drained += len(message.get("body", b""))

    def refuse(self, request: Request) -> Any:
        """The answer for a request refused before its body is read, else None."""
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > self.limit:
            return answer_for(request, 413, _too_large(self.limit), "PayloadTooLarge")
        try:
            secret = request.headers.get(HEADER)
            for permission in self.permissions(request.scope):
                self.access().allow(permission, secret, client_of(request))
        except CityAwareError as error:
            answer = answer_for(request, error.status, str(error), error.code)
            retry = getattr(error, "retry_after", None)
            if retry is not None:
                answer.headers["Retry-After"] = str(retry)
            return answer
        return None

    def permissions(self, scope: Scope) -> set[str]:
        """What the matching route declares (nothing for an unknown path or a route that
        reads its key from the body); matched once per method and path of a route list
        (a match depends on nothing else), at most :data:`PATHS_KEPT` of them at a time."""
        routes = self.routes()
        if routes is not self._routes_seen:  # the app's routes changed: match again
            self._routes_seen = routes
            self._by_path.clear()
        key = (scope["method"], scope.get("root_path", ""), scope["path"])
        found = self._by_path.get(key)
        if found is None:
            if len(self._by_path) >= PATHS_KEPT:  # ids in paths: start again, never grow
                self._by_path.clear()
            found = self._by_path[key] = self._matched(routes, scope)
        return found

    def _matched(self, routes: list[Any], scope: Scope) -> set[str]:
        for route in routes:
            match, _ = route.matches(scope)
            if match is Match.FULL and hasattr(route, "dependant"):
                key = id(route)
                if key not in self._permissions:
                    in_body = getattr(route.endpoint, "key_in_body", False)
                    self._permissions[key] = set() if in_body else route_permissions(route)
                return self._permissions[key]
        return set()

    def bounded(self, receive: Receive) -> Receive:
        """``receive`` that raises 413 past the limit and 408 when the body stalls."""
        size, done = 0, False

        async def guarded() -> Message:
            nonlocal size, done
            if done:
                return await receive()
            try:
                async with asyncio.timeout(self.timeout):  # a timer (wait_for: also a task)
                    message = await receive()
            except TimeoutError:
                raise HTTPException(
                    408, f"the request body stopped arriving for {self.timeout:g} s"
                ) from None
            if message["type"] == "http.request":
                size += len(message.get("body", b""))
                done = not message.get("more_body", False)
                if size > self.limit:
                    raise HTTPException(413, _too_large(self.limit))
            return message

        return guarded


def _declared_within(request: Request, limit: int) -> bool:
    """Whether the body has a declared length within ``limit`` (no header: no body)."""
    if "transfer-encoding" in request.headers:
        return False
    length = request.headers.get("content-length", "0")
    return length.isdigit() and int(length) <= limit


def _too_large(limit: int) -> str:
    return f"request body is larger than the limit of {limit} bytes"


class SecurityHeaders:
    """nosniff, no framing, no referrer to other sites; a CSP on every answer."""

    def __init__(self, app: ASGIApp, basemap_url: str = "") -> None:
        self.app, self.basemap_url = app, basemap_url

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def secured(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = dict(message.get("headers", []))
                if not headers.get(b"content-type", b"").startswith(b"text/html"):
                    message["headers"] = [*message.get("headers", []), *_headers(API_CSP)]
                    await send(message)
                    return
                start = message  # an HTML page: its CSP needs the body (inline scripts)
                return
            if start is None or message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = b"".join(chunks)
            csp = csp_for_html(body, self.basemap_url)
            start["headers"] = [*start.get("headers", []), *_headers(csp)]
            await send(start)
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, secured)


API_CSP = "default-src 'none'; frame-ancestors 'none'"


def _headers(csp: str) -> list[tuple[bytes, bytes]]:
    return [
        (b"content-security-policy", csp.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"same-origin"),
    ]


def csp_for_html(body: bytes, basemap_url: str = "") -> str:
    """The CSP of one HTML page: this server, the basemap's host, the page's inline scripts."""
    hashes = [
        "'sha256-" + base64.b64encode(hashlib.sha256(script).digest()).decode() + "'"
        for script in _INLINE_SCRIPT.findall(body)
    ]
    images = " ".join(["'self' data: blob:", *_origin(basemap_url)])
    return "; ".join(
        [
            "default-src 'self'",
            " ".join(["script-src 'self'", *hashes]),
            "style-src 'self' 'unsafe-inline'",
            f"img-src {images}",
            "connect-src 'self'",
            "font-src 'self' data:",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def _origin(url_template: str) -> list[str]:
    """The CSP source of a tile URL template (``{s}`` subdomains become ``*``).

    >>> _origin("https://{s}.tile.example:8443/{z}/{x}/{y}.png"), _origin("")
    (['https://*.tile.example:8443'], [])
    """
    if not url_template:
        return []
    parts = urlsplit(url_template)
    host = re.sub(r"\{[^}]*\}", "*", parts.netloc)
    return [f"{parts.scheme}://{host}"] if parts.scheme and host else []
