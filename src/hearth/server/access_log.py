"""The access log: one line per request — method, path (never the query string, where Gemini
clients put their key), status, seconds — with CR/LF and control characters escaped. Headers
are never logged."""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hearth.server.handling import escape_log

log = logging.getLogger("hearth.server.access")


class AccessLog:
    """Pure ASGI middleware (it does not buffer or wrap streaming bodies)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.monotonic()
        status = [0]

        async def send_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            client = scope.get("client")
            log.info(
                "%s %s %s %d %.3fs",
                escape_log(client[0]) if client else "-",
                escape_log(str(scope.get("method", ""))),
                escape_log(str(scope.get("path", ""))),
                status[0] or 499,
                time.monotonic() - started,
            )
