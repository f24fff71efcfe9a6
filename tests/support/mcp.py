"""Real MCP servers for the tests, and checks that none of their processes outlive a test.

mcp-server-time and mcp-server-git come with the dev extra (PyPI); server-everything is the
npm package `make mcp-servers` installs into .cache/npm.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

from hearth.mcp import MCPServer

ROOT = Path(__file__).resolve().parents[2]
EVERYTHING = ROOT / ".cache" / "npm" / "node_modules" / ".bin" / "mcp-server-everything"
SILENT = ROOT / "tests" / "fixtures" / "mcp" / "silent_server.py"
BIN = Path(sys.executable).parent


def _script(name: str) -> str:
    path = BIN / name
    if path.exists():
        return str(path)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: pip install -e '.[dev]' (make test does)")
    return found


def everything_command() -> str:
    if not EVERYTHING.exists():
        pytest.fail(f"{EVERYTHING} is missing: run `make mcp-servers` (make test does)")
    return str(EVERYTHING)


def everything(name: str = "everything", **options: object) -> MCPServer:
    return MCPServer(name, command=everything_command(), **options)  # type: ignore[arg-type]


def time_server(name: str = "time", **options: object) -> MCPServer:
    return MCPServer(name, command=_script("mcp-server-time"), **options)  # type: ignore[arg-type]


def git_server(repo: Path, name: str = "git", **options: object) -> MCPServer:
    return MCPServer(name, command=_script("mcp-server-git"), args=("--repository", str(repo)),
                     **options)  # type: ignore[arg-type]  # fmt: skip


def silent_server(**options: object) -> MCPServer:
    args = (str(SILENT),)
    return MCPServer("silent", command=sys.executable, args=args, **options)  # type: ignore[arg-type]


def descendants(pid: int | None = None) -> set[int]:
    """The live descendants of ``pid`` (this process by default), from /proc."""
    root = os.getpid() if pid is None else pid
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            stat = Path(f"/proc/{entry}/stat").read_text()
            fields = stat.rsplit(")", 1)[1].split()
            if fields[0] != "Z":  # a zombie is dead, only not yet reaped
                parents[int(entry)] = int(fields[1])
    found: set[int] = set()
    frontier = {root}
    while frontier:
        frontier = {p for p, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def command_line(pid: int) -> str:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    return ""


def wait_until_gone(before: set[int], timeout: float = 8.0) -> set[int]:
    """The descendants not in ``before`` still alive after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        left = descendants() - before
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)


@pytest.fixture
def no_children_left() -> Iterator[None]:
    """Fails the test if a process it started is still alive after it (and kills it)."""
    before = descendants()
    yield
    left = wait_until_gone(before)
    for pid in left:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    assert not left, f"processes left behind: {[command_line(p) for p in left]}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def everything_over_http() -> Iterator[str]:
    """server-everything in streamableHttp mode on a free loopback port; its /mcp URL."""
    port = free_port()
    env = {**os.environ, "PORT": str(port)}
    with tempfile.TemporaryFile("w+") as log:
        proc = subprocess.Popen(
            [everything_command(), "streamableHttp"], env=env, stdout=log, stderr=log
        )
        try:
            _wait_for_port(port, proc, log)
            yield f"http://127.0.0.1:{port}/mcp"
        finally:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], log: IO[str]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        if proc.poll() is not None:
            log.seek(0)
            pytest.fail(f"server-everything over HTTP exited: {log.read()[-2000:]}")
        time.sleep(0.1)
    pytest.fail(f"server-everything over HTTP did not listen on port {port} within 20 s")
