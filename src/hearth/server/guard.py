"""Who may talk to the server: the ``Host`` allow-list and the ``Origin`` check.

A web page the user visits can send requests to ``http://127.0.0.1:8080`` (a keyless server
answers them), and a page whose DNS name it rebinds to 127.0.0.1 can also read the answers. So,
before any route runs:

* the ``Host`` header must name one of ``allowed_hosts`` (any port): the loopback names by
  default. A rebound page's requests carry its own name, and are refused (400);
* a request with an ``Origin`` header (browsers send one with every cross-site POST) must come
  from the server's own origin, or from one of the CORS origins it was given; any other page is
  refused (403), so a keyless server never generates for a page it was not told to trust.

``/health`` and ``/ready`` are exempt, so load balancers and container probes may reach them
by any address. Errors are in the API's own format, chosen by the path.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from hearth.errors import HearthError, InvalidRequestError
from hearth.messages import JsonObject
from hearth.wire.formats import get_format

EXEMPT_PATHS = frozenset({"/health", "/ready"})


class HostNotAllowedError(InvalidRequestError):
    http_status = 400


class OriginNotAllowedError(InvalidRequestError):
    http_status = 403


def split_host(value: str) -> str:
    """The name or address in a ``Host`` header, lower-cased, without port or final dot."""
    value = value.strip().lower()
    if value.startswith("["):  # [::1]:8080
        return value[1 : value.find("]")] if "]" in value else value
    name, sep, port = value.rpartition(":")
    host = name if sep and port.isdigit() else value
    return host.rstrip(".")


def host_allowed(host: str, allowed: tuple[str, ...]) -> bool:
    """Whether ``host`` (from :func:`split_host`) matches a name, ``*`` or ``*.suffix``."""
    for given in allowed:
        pattern = given.lower().rstrip(".")
        if pattern in ("*", host):
            return True
        if pattern.startswith("*.") and host.endswith(pattern[1:]):
            return True
    return False


_PATH_FORMATS = (
    ("/v1beta/", "gemini"), ("/v1/messages", "anthropic"), ("/api/", "ollama"),
)  # fmt: skip
"""Which API a path belongs to, for its error's shape (others: OpenAI's)."""


def _error_format(path: str) -> Callable[[HearthError], tuple[int, JsonObject]]:
    name = "openai"
    for prefix, fmt in _PATH_FORMATS:
        if path.startswith(prefix):
            name = fmt
    if path.startswith("/v1/models/") and ":" in path:  # Gemini's v1 generateContent
        name = "gemini"
    serve = get_format(name).serve
    assert serve is not None  # every format a route serves has its inbound codec
    return serve.error_to_wire


class RequestGuard:
    """Pure ASGI middleware: refuses requests for other hosts and from other web pages."""

    def __init__(
        self, app: ASGIApp, *, allowed_hosts: tuple[str, ...], cors_origins: tuple[str, ...]
    ) -> None:
        self.app = app
        self.allowed_hosts = allowed_hosts
        self.cors_origins = frozenset(o.rstrip("/").lower() for o in cors_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("path") not in EXEMPT_PATHS:
            problem = self._problem(scope)
            if problem is not None:
                _, body = _error_format(str(scope.get("path", "")))(problem)
                response = JSONResponse(body, status_code=problem.http_status)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _problem(self, scope: Scope) -> HostNotAllowedError | OriginNotAllowedError | None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        host_header = headers.get("host")
        if host_header is not None:
            host = split_host(host_header)[:100]
            if not host_allowed(host, self.allowed_hosts):
                return HostNotAllowedError(
                    f"host: this server does not answer to {host!r} (it answers to "
                    f"{', '.join(self.allowed_hosts)}); if that name is really this server, "
                    f"start it with --allow-host {host}"
                )
        origin = headers.get("origin")
        if origin is not None and not self._origin_allowed(origin, host_header):
            return OriginNotAllowedError(
                f"origin: requests from the web page at {origin!r} are refused; to let a page "
                f"use this server, start it with --cors {origin}"
            )
        return None

    def _origin_allowed(self, origin: str, host_header: str | None) -> bool:
        normalized = origin.strip().rstrip("/").lower()
        if "*" in self.cors_origins or normalized in self.cors_origins:
            return True
        if host_header is None or normalized == "null":
            return False
        netloc = urlsplit(normalized).netloc
        return bool(netloc) and netloc == host_header.strip().lower()
