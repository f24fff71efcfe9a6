"""A tiny threaded HTTP/1.1 server on 127.0.0.1 that plays scripted replies, for backend tests.

>>> with LoopbackServer() as server:
...     server.push(Reply(200, body=b'{"ok": true}'), Reply.stream(sse_frames({"a": 1}, done=True)))
...     ...  # point a backend at server.url
...     server.requests[0].json()

A reply is sent whole (``Content-Length``) or, for streams, chunk by chunk with
``Transfer-Encoding: chunked`` and an optional pause between chunks; ``cut_after`` closes the
connection midway without the terminating chunk, as a failing server would. A ``handler`` can
compute replies from the request instead of the queue. Every request is recorded.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = (("content-type", "application/json"),)
    chunks: tuple[bytes, ...] | None = None
    delay: float = 0.0
    chunk_delay: float = 0.0
    cut_after: int | None = None

    @classmethod
    def json(cls, obj: object, status: int = 200, **headers: str) -> Reply:
        extra = tuple((k.replace("_", "-"), v) for k, v in headers.items())
        return cls(status, json.dumps(obj).encode(), (("content-type", "application/json"), *extra))

    @classmethod
    def stream(
        cls,
        chunks: Iterable[bytes],
        *,
        content_type: str = "text/event-stream",
        chunk_delay: float = 0.0,
        cut_after: int | None = None,
        delay: float = 0.0,
    ) -> Reply:
        return cls(
            200,
            headers=(("content-type", content_type),),
            chunks=tuple(chunks),
            chunk_delay=chunk_delay,
            cut_after=cut_after,
            delay=delay,
        )


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    peer: tuple[str, int] = ("", 0)

    def json(self) -> dict[str, object]:
        value = json.loads(self.body)
        assert isinstance(value, dict)
        return value


def sse_frames(*objects: object, done: bool = False) -> list[bytes]:
    """``data: <json>\\n\\n`` for each object, then ``data: [DONE]`` if asked."""
    frames = [b"data: " + json.dumps(o).encode() + b"\n\n" for o in objects]
    return [*frames, b"data: [DONE]\n\n"] if done else frames


def ndjson_lines(*objects: object) -> list[bytes]:
    return [json.dumps(o).encode() + b"\n" for o in objects]


@dataclass
class _State:
    replies: deque[Reply] = field(default_factory=deque)
    requests: list[Received] = field(default_factory=list)
    handler: Callable[[Received], Reply] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


def _next_reply(state: _State, received: Received) -> Reply:
    with state.lock:
        state.requests.append(received)
        if state.handler is not None:
            return state.handler(received)
        if state.replies:
            return state.replies.popleft()
    return Reply.json({"error": {"message": "no reply scripted"}}, 599)


def _make_handler(state: _State) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def _serve(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            peer = (str(self.client_address[0]), int(self.client_address[1]))
            received = Received(self.command, self.path, headers, body, peer)
            reply = _next_reply(state, received)
            if reply.delay:
                time.sleep(reply.delay)
            self.send_response(reply.status)
            for key, value in reply.headers:
                self.send_header(key, value)
            if reply.chunks is None:
                self.send_header("content-length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)
                return
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            self._chunks(reply)

        def _chunks(self, reply: Reply) -> None:
            assert reply.chunks is not None
            try:
                for i, chunk in enumerate(reply.chunks):
                    if reply.cut_after is not None and i >= reply.cut_after:
                        self.close_connection = True
                        self.connection.shutdown(socket.SHUT_RDWR)
                        return
                    if chunk:
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                        self.wfile.flush()
                    if reply.chunk_delay:
                        time.sleep(reply.chunk_delay)
                self.wfile.write(b"0\r\n\r\n")
            except OSError:  # the client went away: that is what some tests check
                self.close_connection = True

    return Handler


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that hangs up mid-reply (timeouts, early close) is expected here."""


class LoopbackServer:
    """See the module docstring. ``url`` is ``http://127.0.0.1:PORT``."""

    def __init__(self, handler: Callable[[Received], Reply] | None = None) -> None:
        self._state = _State(handler=handler)
        self._server = _QuietServer(("127.0.0.1", 0), _make_handler(self._state))
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def requests(self) -> list[Received]:
        return self._state.requests

    def push(self, *replies: Reply) -> None:
        with self._state.lock:
            self._state.replies.extend(replies)

    def start(self) -> LoopbackServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def refused_url() -> str:
    """A loopback URL on which nothing listens (connecting is refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
