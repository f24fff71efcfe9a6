"""``GET /`` (the chat page) and ``/ui/static/…`` (its scripts, styles and vendored libraries).

Every file comes from this package, so the page works offline. The page and its files need no
API key (they hold no secret; the page asks for the key and sends it with each API call). Each
answer carries a Content-Security-Policy that allows scripts, styles and connections to this
origin only: no inline script, no ``eval``, no other host — so model output that slipped through
as markup could neither run nor load anything from elsewhere.
"""

from __future__ import annotations

from pathlib import Path

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

STATIC = Path(__file__).parent / "static"

CSP = "; ".join([
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",  # attached images are shown from data: / blob: URLs
    "connect-src 'self'",
    "manifest-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
])  # fmt: skip

HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cache-control": "no-cache",  # revalidate (ETag): a new hearth's page is seen at once
}


class _Secured:
    """Wraps an ASGI app so each of its answers carries :data:`HEADERS`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).update(HEADERS)
            await send(message)

        await self.app(scope, receive, send_secured)


async def index(request: Request) -> Response:
    return FileResponse(STATIC / "index.html", headers=HEADERS)


def routes() -> list[BaseRoute]:
    return [
        Mount("/ui/static", app=_Secured(StaticFiles(directory=STATIC)), name="ui-static"),
    ]
