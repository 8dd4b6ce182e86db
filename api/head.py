"""``HEAD`` wherever ``GET`` is: the GET route answers, the body is dropped.

:class:`HeadAsGet` (outermost middleware) hands a ``HEAD`` request to the app as
``GET``, passes the status and headers on unchanged (``Content-Length``,
``ETag``, ``Content-Type`` and the CSP are those of the GET answer) and sends no
body. A stream (``/v1/events``) ends at once: the server sees the answer
complete and tells the app the client has gone.
"""

from __future__ import annotations

from cityaware.api.guard import ASGIApp, Message, Receive, Scope, Send


class HeadAsGet:
    """Answer HEAD with the GET route's status and headers, without a body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return
        ended = False

        async def headless(message: Message) -> None:
            nonlocal ended
            if message["type"] != "http.response.body":
                await send(message)
            elif not ended:
                ended = True
                await send({"type": "http.response.body", "body": b"", "more_body": False})

        await self.app({**scope, "method": "GET"}, receive, headless)
