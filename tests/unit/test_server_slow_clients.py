"""Clients that send slowly, stop sending or leave: request heads and bodies have deadlines
(408), a client that leaves mid-upload is logged as such and never counted as a 500, and a
shutdown never waits on an upload that is not arriving."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest
from tests.support.live import live_server, read_response, server_log
from tests.unit.test_server_admission import PacedBackend

CHAT = b'{"model": "fake", "messages": [{"role": "user", "content": "hi"}]}'


def head(length: int, host: str = "127.0.0.1") -> bytes:
    return (
        b"POST /v1/chat/completions HTTP/1.1\r\nhost: %s\r\ncontent-type: application/json\r\n"
        b"content-length: %d\r\n\r\n" % (host.encode(), length)
    )


PARSERS = pytest.mark.parametrize("parser", ["httptools", "h11"])
"""uvicorn's two HTTP/1.1 implementations: the head deadline is mixed into each."""


@PARSERS
def test_a_request_head_sent_a_byte_at_a_time_is_cut_off_with_a_408(parser: str) -> None:
    with live_server(PacedBackend(), read_timeout=0.5, parser=parser) as (host, port):
        with socket.create_connection((host, port)) as sock:
            started = time.monotonic()
            sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\n")
            answer = b""
            try:
                for _ in range(30):  # slowloris: a byte now and then, never the end of the head
                    sock.sendall(b"x")
                    time.sleep(0.1)
            except OSError:  # the server closed the connection
                pass
            answer = read_response(sock)
            waited = time.monotonic() - started
        # and a connection that sends nothing at all
        with socket.create_connection((host, port)) as idle:
            silent = read_response(idle)
    assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    assert answer.endswith(b"the request line and headers did not arrive in time\n")
    assert waited < 2.0
    assert silent.startswith(b"HTTP/1.1 408 ")


@PARSERS
def test_the_head_deadline_also_holds_for_the_next_request_on_a_kept_connection(
    parser: str,
) -> None:
    with (
        live_server(PacedBackend(tokens=2, delay=0), read_timeout=0.5, parser=parser) as (
            host,
            port,
        ),
        socket.create_connection((host, port)) as sock,
    ):
        sock.sendall(head(len(CHAT)) + CHAT)
        sock.settimeout(5)
        first = sock.recv(65536)
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\n")  # then nothing more
        rest = read_response(sock)
    assert first.startswith(b"HTTP/1.1 200 OK")
    assert b"408 Request Timeout" in rest


def test_a_body_that_stops_arriving_is_a_408_in_the_apis_format() -> None:
    with (
        live_server(PacedBackend(), read_timeout=0.5) as (host, port),
        socket.create_connection((host, port)) as sock,
    ):
        started = time.monotonic()
        sock.sendall(head(len(CHAT)) + CHAT[:20])
        answer = read_response(sock)
        waited = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert b'"message":"body: not received within 0.5 s (20 bytes arrived)' in answer
    assert waited < 2.0


def test_a_client_that_leaves_mid_upload_is_logged_as_such_and_never_counted_as_a_500() -> None:
    with (
        server_log() as records,
        live_server(PacedBackend(), read_timeout=5) as (host, port),
    ):
        with socket.create_connection((host, port)) as sock:
            sock.sendall(head(len(CHAT)) + CHAT[:20])
            time.sleep(0.2)
        time.sleep(0.5)
        metrics = httpx.get(f"http://{host}:{port}/metrics").text
    assert 'hearth_requests_total{api="openai",status="499"} 1.0' in metrics
    assert 'status="500"' not in metrics
    lines = [r.getMessage() for r in records]
    assert any(
        "client disconnected during the upload of /v1/chat/completions after 20 bytes" in line
        for line in lines
    ), lines
    assert not any(r.exc_info for r in records)


SERVER_SCRIPT = textwrap.dedent("""
    import sys
    from pathlib import Path
    from hearth.config.schema import Config
    from hearth.server import ServerSettings, create_app, running
    from tests.unit.test_server_admission import PacedBackend
    settings = ServerSettings(models=("fake",), timeout=60, read_timeout=60)
    app = create_app(settings, config=Config(path=Path("/dev/null")),
                     backends={"fake": PacedBackend()})
    config = running.build_config(app, settings, host="127.0.0.1", port=int(sys.argv[1]),
                                 log_level="warning")
    running.serve(config, app.state.hearth.draining)
""")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_sigterm_with_a_stalled_upload_exits_at_once_without_a_traceback(tmp_path: Path) -> None:
    """The drain time is 60 s here; the upload that never finishes does not hold it."""
    port = _free_port()
    script = tmp_path / "serve.py"
    script.write_text(SERVER_SCRIPT)
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [sys.executable, str(script), str(port)],
        cwd=root,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(root), str(root / "src")])},
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                sock = socket.create_connection(("127.0.0.1", port))
                break
            except OSError:
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.05)
        with sock:
            sock.sendall(head(len(CHAT)) + CHAT[:20])
            time.sleep(0.3)
            started = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            answer = read_response(sock)
            code = proc.wait(10)
            took = time.monotonic() - started
        stderr = proc.stderr.read() if proc.stderr else ""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert answer.startswith(b"HTTP/1.1 503 ")
    assert b"the server is shutting down" in answer
    assert code in (0, -signal.SIGTERM) and took < 5.0
    assert "Traceback" not in stderr, stderr
