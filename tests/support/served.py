"""``hearth serve``'s app on a loopback port in a background thread, for SDK tests; scripted
:class:`~hearth.backends.testing.FakeBackend` models served so (:func:`fakes_served`)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import uvicorn

from hearth.backends.base import Backend, Capabilities
from hearth.backends.testing import FakeBackend, Script
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


@contextmanager
def fakes_served(
    capabilities: Capabilities | None = None, **others: Backend
) -> Iterator[Callable[..., tuple[str, FakeBackend]]]:
    """A function that serves a FakeBackend playing the scripts it is given as model "fake"
    (beside the ``others``, by name) and returns the base URL and the fake; every server it
    started stops at the end of the block."""
    with ExitStack() as stack:

        def start(*scripts: Script) -> tuple[str, FakeBackend]:
            fake = FakeBackend(list(scripts), capabilities=capabilities)
            settings = ServerSettings(models=("fake", *others))
            url = stack.enter_context(served(settings, backends={"fake": fake, **others}))
            return url, fake

        yield start
