"""The event loop's cost per streamed token in ``hearth serve``, without a model: which HTTP
parser and event loop the server runs on (uvicorn's ``h11`` or ``httptools``; ``asyncio`` or
``uvloop``).

    .venv/bin/python bench/serve_loop.py [--clients 8] [--tokens 1024] [--rounds 5]
                                         [--configs h11/asyncio,httptools/uvloop]

Each configuration serves, in a child process of its own, a backend that answers at once with
``--tokens`` one-word deltas, yielding to the event loop between two of them (so every token
is its own event, frame and write, as from the engine). ``--clients`` concurrent clients (in
this process) stream ``/v1/chat/completions`` and read every byte. What is reported is the
server process's CPU time (user + system, /proc) per streamed token, the median over
``--rounds`` rounds (configurations interleaved within a round), and its ratio to uvicorn's
defaults without the fast paths (h11 + asyncio): the CPU that the server takes, per token,
from the cores llama.cpp decodes on. bench/serve.py measures the whole server against
llama-server with a model.

A benchmark, not a test: it asserts nothing, it prints figures and ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import multiprocessing
import os
import statistics
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from serve import _free_port
from streamstats import process_cpu

CONFIGS = (("h11", "asyncio"), ("httptools", "asyncio"), ("h11", "uvloop"),
           ("httptools", "uvloop"))  # fmt: skip


class _Paced:
    """A backend that answers with ``tokens`` deltas, one per turn of the event loop."""

    name = "bench:paced"

    def __init__(self, tokens: int) -> None:
        self.tokens = tokens

    def capabilities(self):  # type: ignore[no-untyped-def]
        from hearth.backends.base import Capabilities

        return Capabilities(context_length=4096)

    async def _play(self) -> AsyncIterator[object]:
        from hearth.events import Done, TextDelta, Usage

        for i in range(self.tokens):
            await asyncio.sleep(0)
            yield TextDelta(f" word{i}")
        yield Done("end_turn", Usage(12, self.tokens))

    def astream(self, request: object) -> AsyncIterator[object]:
        return self._play()

    def close(self) -> None:
        pass


def _serve(port: int, tokens: int, parser: str, loop: str) -> None:
    from hearth.config.schema import Config
    from hearth.server import ServerSettings, create_app, running

    settings = ServerSettings(models=("bench",))
    app = create_app(settings, config=Config(path=Path(os.devnull)),
                     backends={"bench": _Paced(tokens)})  # type: ignore[dict-item]  # fmt: skip
    fast_paths = {"parser": parser, "loop": loop}
    if "parser" not in inspect.signature(running.build_config).parameters:
        fast_paths = {}  # an older hearth (PYTHONPATH=…): uvicorn's h11 + asyncio only
    config = running.build_config(app, settings, host="127.0.0.1", port=port,
                                  log_level="warning", **fast_paths)  # fmt: skip
    running.serve(config, app.state.hearth.draining)


async def _stream(client: httpx.AsyncClient) -> int:
    body = {"model": "bench", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    size = 0
    async with client.stream("POST", "/v1/chat/completions", json=body) as r:
        r.raise_for_status()
        async for chunk in r.aiter_raw():
            size += len(chunk)
    return size


async def _round(port: int, clients: int, pid: int) -> tuple[float, float]:
    """(server CPU-seconds, wall seconds) of ``clients`` concurrent streams."""
    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits,
                                 timeout=120) as client:  # fmt: skip
        await _stream(client)  # warm: connection, first-request imports
        cpu, wall = process_cpu(pid), time.perf_counter()
        await asyncio.gather(*(_stream(client) for _ in range(clients)))
        return process_cpu(pid) - cpu, time.perf_counter() - wall


def _start(tokens: int, parser: str, loop: str) -> tuple[multiprocessing.Process, int]:
    port = _free_port()
    child = multiprocessing.Process(target=_serve, args=(port, tokens, parser, loop), daemon=True)
    child.start()
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
            return child, port
        except httpx.HTTPError:
            if time.monotonic() > deadline or not child.is_alive():
                raise RuntimeError(f"the {parser}/{loop} server did not start") from None
            time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--configs", default=",".join(f"{p}/{lp}" for p, lp in CONFIGS),
                        help="parser/loop pairs, the first one the base of the ratios")  # fmt: skip
    args = parser.parse_args()
    configs = [tuple(c.split("/", 1)) for c in args.configs.split(",")]
    servers = {config: _start(args.tokens, *config) for config in configs}
    cpu: dict[tuple[str, ...], list[float]] = {config: [] for config in configs}
    try:
        for _ in range(args.rounds):
            for config, (child, port) in servers.items():
                used, _wall = asyncio.run(_round(port, args.clients, child.pid or 0))
                cpu[config].append(used / (args.clients * args.tokens))
    finally:
        for child, _port in servers.values():
            child.terminate()
            child.join(10)
    base = statistics.median(cpu[configs[0]])
    print(f"{args.clients} clients x {args.tokens} tokens, {args.rounds} rounds; server CPU "
          f"per streamed token (median), ratio to {'/'.join(configs[0])}:")  # fmt: skip
    for config, values in cpu.items():
        median = statistics.median(values)
        print(f"  {config[0]:>9} + {config[1]:<7}: {median * 1e6:7.1f} µs/token  "
              f"{median / base:5.2f}x")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
