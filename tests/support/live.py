"""hearth's app served as ``hearth serve`` serves it (its uvicorn config, protocol and draining
server) on a loopback port in a background thread; raw-socket helpers for slow clients."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hearth.backends.base import Backend
from hearth.config.schema import Config
from hearth.server import ServerSettings, create_app, running


@contextmanager
def live_server(
    backend: Backend, *, parser: str = "auto", **settings: object
) -> Iterator[tuple[str, int]]:
    """Serve ``backend`` as model "fake"; yield (host, port) once listening. ``parser``:
    uvicorn's HTTP implementation (see ``running.protocol_for``)."""
    server_settings = ServerSettings(models=("fake",), **settings)  # type: ignore[arg-type]
    app = create_app(
        server_settings, config=Config(path=Path("/dev/null")), backends={"fake": backend}
    )
    config = running.build_config(
        app, server_settings, host="127.0.0.1", port=0, log_level="warning", parser=parser
    )
    server = running.DrainingServer(config, app.state.hearth.draining)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    port = int(server.servers[0].sockets[0].getsockname()[1])
    try:
        yield "127.0.0.1", port
    finally:
        server.should_exit = True
        thread.join(10)


def read_response(sock: socket.socket, timeout: float = 5.0) -> bytes:
    """Everything the server sends until it closes the connection (or ``timeout``)."""
    sock.settimeout(timeout)
    out = b""
    try:
        while chunk := sock.recv(65536):
            out += chunk
    except TimeoutError:
        pass
    return out


@contextmanager
def server_log(name: str = "hearth.server") -> Iterator[list[logging.LogRecord]]:
    """The records logged under ``name`` meanwhile, whatever its propagation."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger = logging.getLogger(name)
    handler = Keep(logging.DEBUG)
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield records
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
