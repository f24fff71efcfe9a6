"""Running the app under uvicorn: timeouts on reading requests, and a shutdown that never waits
on a client that is not sending.

* :class:`HeaderTimeoutProtocol` is uvicorn's HTTP/1.1 protocol with a deadline on the request
  line and headers (:func:`protocol_for` gives it over ``httptools``, uvicorn's fast C parser,
  where installed, else over ``h11``; the event loop is ``uvloop`` where installed): a
  connection that has not sent a whole request head within ``read_timeout`` seconds of opening
  (or of starting its next request) is answered 408 and closed. uvicorn itself only times out
  idle keep-alive connections, so a client sending its headers a byte at a time (slowloris)
  would hold a connection forever. The body has its own deadline, in :mod:`hearth.server.body`.
* :class:`DrainingServer` sets the app's ``draining`` flag as soon as a shutdown begins (SIGTERM,
  SIGINT), before uvicorn waits for requests in flight: a request whose body is still arriving
  is answered 503 at once instead of holding the shutdown for the whole drain time, and
  requests already running finish within it. It also shortens the GIL's switch interval, so
  the event loop answers promptly while worker threads parse and render.
"""

from __future__ import annotations

import asyncio
import math
import os
import socket
import sys
import threading
from typing import TYPE_CHECKING, Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from hearth.server.settings import ServerSettings

STARTUP_FAILURE = 3
SWITCH_INTERVAL = 0.001
"""Seconds a thread may hold the GIL while another waits for it. The event loop shares the GIL
with the worker threads that decode bodies and render templates; at Python's default (5 ms) it
could wait several of those per request it answers."""

_TIMEOUT_BODY = b"the request line and headers did not arrive in time\n"
_TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"connection: close\r\ncontent-length: %d\r\n\r\n%s" % (len(_TIMEOUT_BODY), _TIMEOUT_BODY)
)


class HeaderTimeoutProtocol(asyncio.Protocol):
    """A deadline of ``header_timeout`` seconds on each request head, mixed into one of
    uvicorn's HTTP/1.1 protocols (both keep the request being answered in ``cycle``, set once
    its head has been parsed). :func:`protocol_for` makes the concrete class."""

    header_timeout = 30.0
    _head_timer: asyncio.TimerHandle | None = None
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport
    cycle: Any

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        before = self.cycle
        super().data_received(data)
        if self.cycle is not before:  # a whole request head arrived
            self._disarm()
        elif self._head_timer is None and (before is None or before.response_complete):
            self._arm()  # the first bytes of the next request's head

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._head_timer = self.loop.call_later(self.header_timeout, self._head_timed_out)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        busy = self.cycle is not None and not self.cycle.response_complete
        if busy or self.transport.is_closing():
            return
        self.transport.write(_TIMEOUT_RESPONSE)
        self.transport.close()


def _fast_parser() -> type[asyncio.Protocol] | None:
    """uvicorn's httptools protocol, where httptools is installed."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:
        return None
    return HttpToolsProtocol


def protocol_for(header_timeout: float, *, parser: str = "auto") -> type[HeaderTimeoutProtocol]:
    """The protocol class with this header deadline, over ``parser``: ``"httptools"``,
    ``"h11"`` or ``"auto"`` (httptools where installed: it parses and frames a response in C,
    about a tenth of the event loop's time per streamed token with h11)."""
    base: type[asyncio.Protocol] = H11Protocol
    if parser != "h11":
        fast = _fast_parser()
        if fast is None and parser == "httptools":
            raise RuntimeError("httptools is not installed: pip install httptools")
        base = fast or H11Protocol
    return type(
        "HearthHTTPProtocol", (HeaderTimeoutProtocol, base), {"header_timeout": header_timeout}
    )


def event_loop(choice: str = "auto") -> str:
    """uvicorn's ``loop`` setting: ``"uvloop"`` where installed (for ``"auto"``), else
    ``"asyncio"``."""
    if choice != "auto":
        return choice
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


class DrainingServer(uvicorn.Server):
    """uvicorn's server, which sets ``draining`` the moment it begins to shut down, and runs
    with a GIL switch interval of :data:`SWITCH_INTERVAL`."""

    def __init__(self, config: uvicorn.Config, draining: threading.Event) -> None:
        super().__init__(config)
        self.draining = draining

    def run(self, sockets: list[socket.socket] | None = None) -> None:
        previous = sys.getswitchinterval()
        sys.setswitchinterval(min(previous, SWITCH_INTERVAL))
        try:
            super().run(sockets)
        finally:
            sys.setswitchinterval(previous)

    def handle_exit(self, sig: int, frame: Any) -> None:
        self.draining.set()
        super().handle_exit(sig, frame)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.draining.set()
        await super().shutdown(sockets)


def build_config(
    app: Starlette,
    settings: ServerSettings,
    *,
    host: str,
    port: int,
    uds: str | None = None,
    log_level: str = "info",
    parser: str = "auto",
    loop: str = "auto",
) -> uvicorn.Config:
    """uvicorn's configuration for hearth's app: its own protocol and access log, and a drain
    of ``settings.timeout`` (at least a second) on shutdown. ``parser`` and ``loop``: see
    :func:`protocol_for` and :func:`event_loop`."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        uds=uds,
        http=protocol_for(settings.read_timeout, parser=parser),
        loop=event_loop(loop),
        access_log=False,  # hearth's own access log never shows query strings (keys)
        log_level=log_level,
        timeout_graceful_shutdown=math.ceil(settings.timeout),  # 0 would cut streams at once
        server_header=False,
    )


def serve(
    config: uvicorn.Config,
    draining: threading.Event,
    *,
    sockets: list[socket.socket] | None = None,
) -> None:
    """Run until a signal has drained the requests in flight (as ``uvicorn.run`` does: the
    Unix socket file is removed afterwards, and a server that could not start exits 3).
    ``sockets``: already bound and listening (:mod:`hearth.server.listen`); else uvicorn binds
    the config's host and port."""
    config.load_app()
    server = DrainingServer(config, draining)
    try:
        server.run(sockets)
    except KeyboardInterrupt:
        pass
    finally:
        if config.uds and os.path.exists(config.uds):
            os.remove(config.uds)
    if not server.started:
        sys.exit(STARTUP_FAILURE)
