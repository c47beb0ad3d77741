"""The app's limit on a request's size, applied before the request is read (an ASGI middleware).

Gradio reads a call's JSON body whole and builds Python objects from it before any function of the
app runs, so a 76 MB hints string would cost its memory and seconds of parsing before the hints' own
limit (colorizer.io.hints.MAX_HINTS_TEXT) could refuse it. Here a body over the limit is refused
from its Content-Length header, unread; a body sent without one is read only up to the limit.
Uploads are left to Gradio's own limit (`launch(max_file_size=...)`).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class RequestSizeLimit:
    """Refuse (413, with `message`) any request but an upload whose body is over `limit` bytes."""

    def __init__(self, app: ASGIApp, limit: int, message: str):
        self.app, self.limit, self.message = app, limit, message

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].rstrip("/").endswith("/upload"):
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None:
            if not length.isdigit() or int(length) > self.limit:
                await self._refuse(send)
                return
            await self.app(scope, receive, send)
            return
        received: list[Message] = []  # no length given (chunked): read up to the limit, then replay
        size, more = 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                received.append(message)
                break
            size += len(message.get("body", b""))
            if size > self.limit:
                await self._refuse(send)
                return
            received.append(message)
            more = message.get("more_body", False)

        async def replay() -> Message:
            return received.pop(0) if received else await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps({"detail": self.message}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})
