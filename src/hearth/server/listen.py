"""The listening socket of ``hearth serve``, bound before any model loads.

Binding first means a busy port, an address that is not this machine's, or a port that needs
privileges is one clear :class:`ListenError` at once, instead of uvicorn's raw ``[Errno 98]``
after a model has spent seconds loading. The bound socket is handed to uvicorn as it is, so
nothing else can take the port in between.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import stat

from hearth.errors import ConfigurationError

BACKLOG = 2048  # uvicorn's default


class ListenError(ConfigurationError):
    """The server cannot listen where it was asked: the port is in use, the address is not
    this machine's, or the port needs privileges. The message says which flag to change."""


def listen_tcp(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host``:``port`` and listening (port 0: a free port)."""
    if not 0 <= port <= 65_535:
        raise ListenError(f"--port must be 0-65535, got {port}")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ListenError(
            f"--host {host!r} is not an address or a known host name ({exc.strerror}); "
            "use 127.0.0.1 for this machine only, 0.0.0.0 for every interface"
        ) from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        # A port left in TIME_WAIT by a server that just stopped may be reused; one that a
        # process still listens on may not (Linux refuses it with EADDRINUSE all the same).
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        raise _tcp_error(exc, host, port) from None
    return sock


def _tcp_error(exc: OSError, host: str, port: int) -> ListenError:
    if exc.errno == errno.EADDRINUSE:
        return ListenError(
            f"port {port} is in use on {host} (by another process); pick another with --port"
        )
    if exc.errno == errno.EACCES:
        return ListenError(
            f"no permission to listen on port {port} (ports below 1024 need privileges); "
            "pick another with --port"
        )
    if exc.errno == errno.EADDRNOTAVAIL:
        return ListenError(
            f"{host} is not an address of this machine; check --host (127.0.0.1 for this "
            "machine only, 0.0.0.0 for every interface)"
        )
    return ListenError(f"cannot listen on {host} port {port}: {exc.strerror or exc}")


def listen_unix(path: str) -> socket.socket:
    """A Unix socket bound to ``path`` and listening. A stale socket file (nothing listens on
    it) is replaced; a live one, or a file that is not a socket, is a ListenError. The file
    gets the process's umask, so by default only its user may connect."""
    _clear_stale(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(path)
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        raise ListenError(f"cannot listen on --uds {path}: {exc.strerror or exc}") from None
    return sock


def _clear_stale(path: str) -> None:
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise ListenError(f"cannot use --uds {path}: {exc.strerror or exc}") from None
    if not stat.S_ISSOCK(mode):
        raise ListenError(f"--uds {path} exists and is not a socket; pick another path")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
    except OSError:  # nobody listens: a socket file left by a server that stopped
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)
        return
    finally:
        probe.close()
    raise ListenError(f"--uds {path} is in use (another server listens on it); pick another")
