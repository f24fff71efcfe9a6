"""``hearth serve``'s app on a loopback port in a background thread, for SDK tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx
import uvicorn

from hearth.backends.base import Backend
from hearth.config.schema import Config
from hearth.server import ServerSettings, create_app


@contextmanager
def served(
    settings: ServerSettings,
    *,
    load_timeout: float = 120,
    backends: Mapping[str, Backend] | None = None,
    config: Config | None = None,
) -> Iterator[str]:
    """Serve ``settings`` on 127.0.0.1 (a free port); yield the base URL once ``/ready`` says
    the models are loaded; stop the server afterwards. ``backends`` as for ``create_app``;
    ``config``: for its ``[aliases]`` (default: an empty one)."""
    app = create_app(
        settings, config=config or Config(path=Path("/dev/null")), backends=backends
    )
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    deadline = time.monotonic() + load_timeout
    while httpx.get(f"{url}/ready").status_code != 200:
        assert time.monotonic() < deadline, "the model did not load"
        time.sleep(0.1)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(30)
