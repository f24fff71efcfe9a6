"""Serving throughput: ``hearth serve`` against llama.cpp's ``llama-server`` (or, with
``--reference llama-cpp-python``, llama-cpp-python's server), in one run; and, with ``--routes``,
the per-request overhead of Ollama's ``/api/chat`` against OpenAI's ``/v1/chat/completions`` on
the same server.

    .venv/bin/python bench/serve.py [--clients 1,4,8,16] [--requests 2] [--tokens 96]
                                    [--threads 2] [--n-ctx 8192] [--llama-server PATH] [--json]
    .venv/bin/python bench/serve.py --routes [--calls 500]
    .venv/bin/python bench/serve.py --overhead [--calls 300] [--tokens 64]

Both servers run as subprocesses on loopback, load the same GGUF file (SmolLM2 from hearth's
store) with the same thread count, context size and chat template (the GGUF's own: hearth's for
a model given by path, llama-server's ``--jinja``), and get OpenAI ``/v1/chat/completions``
streaming requests with ``max_tokens``, temperature 0 and a prompt of their own (no request's
prompt is another's, so no server wins by reusing a cached one). llama-server runs with ``-np 8``
(hearth's engine has 8 slots); llama-cpp-python's server with ``--interrupt_requests False``
(by default a new request interrupts the stream in flight).

After one warm-up request, at each concurrency level N, N clients each send ``--requests``
streaming requests one after another. Reported per level and server (bench/streamstats.py):
aggregate output tok/s (tokens from each server's usage chunk), time to first token p50 and p95
(queueing included), the p95 gap between two pieces of text of one stream, CPU-seconds per
generated token of the server process, and the ratios hearth / reference.

``--routes``: one ``hearth serve`` app (uvicorn, in a child process so it does not share the
client's GIL) serves a scripted backend that answers every request with the same 16 text pieces
at once, so both routes carry exactly the same generation and the difference between them is
what each route's translation and framing cost. The same chat is posted ``--calls`` times to
each route, whole and streamed (SSE against NDJSON), interleaved, on kept-alive connections.
Printed per mode: each route's median and p90 per request, and the median added by the Ollama
route (also as the median of paired differences); the goal is ≤ 1 ms.
``--overhead`` measures something else: what the Responses route costs per request over Chat
Completions for the same generation. One ``hearth serve`` app runs in a child process with a
canned backend (``--tokens`` deltas at once, no model: only the server's work is timed), and the
same request goes to ``/v1/chat/completions`` and ``/v1/responses`` ``--calls`` times each,
interleaved, plain and streamed, and to ``/v1/responses`` with ``store: false`` (no database
write). It prints the median and p90 per route and the median the Responses route adds (goal:
≤ 1 ms).

A benchmark, not a test: it asserts nothing, it prints figures and ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import httpx
from same_weights import llama_server_flags
from streamstats import HEADER, LevelStats, Stream, process_cpu, ratio_row, row

PROMPT = (
    "Write a long, detailed story about a young girl who finds a secret door in her "
    "grandmother's house and the magical world behind it."
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _model_path() -> Path:
    from hearth.catalog.resolve import resolve_local
    from hearth.catalog.store import ModelStore

    store = ModelStore()
    ref = resolve_local("smollm2", store)
    if ref.entry is not None:
        return store.ensure(ref.entry)
    return ref.path


TOPICS = [
    "a lighthouse", "a dragon", "the sea", "a robot", "a garden", "a city", "a river",
    "a mountain", "a violin", "a train", "a fox", "a library", "the moon", "a baker", "a storm",
    "a desert",
]  # fmt: skip


def _prompt(i: int) -> str:
    """Request ``i``'s prompt: distinct for every request, so no server reuses a cached one."""
    return f"Write a long, detailed story about {TOPICS[i % len(TOPICS)]} (story number {i})."


def _find_llama_server(given: str | None) -> Path | None:
    if given:
        path = Path(given)
        return path if path.is_file() and os.access(path, os.X_OK) else None
    found = shutil.which("llama-server")
    return Path(found) if found else None


def _start(server: str, path: Path, port: int, args: argparse.Namespace) -> subprocess.Popen[bytes]:
    bin_dir = Path(sys.executable).parent
    if server == "hearth":
        cmd = [
            str(bin_dir / "hearth"), "serve", "--model", f"local:{path}", "--port", str(port),
            "--n-threads", str(args.threads), "--n-ctx", str(args.n_ctx), "--max-queue", "64",
            "--log-level", "warning",
        ] + (["--parallel", str(args.parallel)] if args.parallel else [])  # fmt: skip
    elif server == "llama-server":
        # The GGUF's own chat template (--jinja), as hearth renders SmolLM2's; 8 slots sharing
        # n_ctx cells, as hearth's engine has by default.
        cmd = [
            str(args.llama_server_path), "-m", str(path), "--port", str(port), "--host",
            "127.0.0.1", "-t", str(args.threads), "-tb", str(args.threads), "-np", "8",
            "-c", str(args.n_ctx), "--jinja", "--no-webui", *llama_server_flags(),
            *shlex.split(args.llama_server_args),
        ]  # fmt: skip
    else:
        cmd = [
            sys.executable, "-m", "llama_cpp.server", "--model", str(path), "--port", str(port),
            "--n_threads", str(args.threads), "--n_ctx", str(args.n_ctx),
            "--interrupt_requests", "False", "--verbose", "False",
        ]  # fmt: skip
    env = {**os.environ, "HEARTH_CONFIG": os.devnull}
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _wait_ready(base: str, model: str, proc: subprocess.Popen[bytes], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1}
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with code {proc.returncode}: {proc.args}")
        try:
            if httpx.post(f"{base}/v1/chat/completions", json=body, timeout=30).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"{base} did not become ready in {timeout:g} s")


async def _one(client: httpx.AsyncClient, model: str, tokens: int, i: int) -> Stream:
    body = {
        "model": model, "stream": True, "max_tokens": tokens, "temperature": 0, "seed": i,
        "messages": [{"role": "user", "content": _prompt(i)}],
        "stream_options": {"include_usage": True},
    }  # fmt: skip
    stream = Stream()
    chunks = 0
    async with client.stream("POST", "/v1/chat/completions", json=body) as r:
        if r.status_code != 200:
            raise RuntimeError(f"HTTP {r.status_code}")
        async for line in r.aiter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            data = json.loads(line[6:])
            if data.get("usage"):
                stream.tokens = int(data["usage"].get("completion_tokens") or 0)
            for choice in data.get("choices") or []:
                if (choice.get("delta") or {}).get("content"):
                    chunks += 1
                    stream.piece()
    stream.tokens = stream.tokens or chunks  # a server without a usage chunk: count pieces
    return stream


async def _level(
    side: str, base: str, model: str, clients: int, args: argparse.Namespace, pid: int
) -> LevelStats:
    streams: list[Stream] = []
    errors = 0
    counter = iter(range(10**9))

    async def client_loop() -> None:
        nonlocal errors
        async with httpx.AsyncClient(base_url=base, timeout=600) as client:
            for _ in range(args.requests):
                try:
                    streams.append(await _one(client, model, args.tokens, next(counter)))
                except (RuntimeError, httpx.HTTPError):
                    errors += 1

    cpu = process_cpu(pid)
    started = time.perf_counter()
    await asyncio.gather(*[client_loop() for _ in range(clients)])
    seconds = time.perf_counter() - started
    return LevelStats.of(side, clients, streams, seconds, process_cpu(pid) - cpu, errors)


def _run_server(server: str, path: Path, args: argparse.Namespace) -> list[LevelStats]:
    port = _free_port()
    proc = _start(server, path, port, args)
    base = f"http://127.0.0.1:{port}"
    model = f"local:{path}" if server == "hearth" else str(path)
    try:
        _wait_ready(base, model, proc)
        warm = argparse.Namespace(**{**vars(args), "requests": 1, "tokens": 4})
        asyncio.run(_level(server, base, model, 1, warm, proc.pid))  # first-request costs
        return [asyncio.run(_level(server, base, model, n, args, proc.pid)) for n in args.clients]
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- --routes: the Ollama route's overhead against /v1/chat/completions ----------------------

ROUTE_PIECES = 16


def _route_server(port: int) -> None:
    """The child process: hearth serve's app on a scripted backend (same answer every time)."""
    from collections.abc import AsyncIterator

    import uvicorn

    from hearth.backends.base import BackendBase, Capabilities
    from hearth.config.schema import Config
    from hearth.events import Done, StreamEvent, TextDelta, Usage
    from hearth.request import ChatRequest
    from hearth.server import ServerSettings, create_app

    class Scripted(BackendBase):
        name = "bench:scripted"

        def capabilities(self) -> Capabilities:
            return Capabilities(context_length=4096)

        async def _events(self) -> AsyncIterator[StreamEvent]:
            for i in range(ROUTE_PIECES):
                yield TextDelta(f"word{i} ")
            yield Done("end_turn", Usage(12, ROUTE_PIECES))

        def astream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
            return self._events()

        def close(self) -> None:
            pass

    app = create_app(
        ServerSettings(models=("bench",), max_queue=64),
        config=Config(path=Path(os.devnull)),
        backends={"bench": Scripted()},
    )
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _route_calls(client: httpx.Client) -> dict[str, Callable[[], str]]:
    """Each route and mode, as a call returning the answer's text."""
    messages = [{"role": "user", "content": PROMPT}]
    openai = {"model": "bench", "messages": messages, "max_tokens": 64, "temperature": 0}
    ollama = {"model": "bench", "messages": messages, "options": {"num_predict": 64,
              "temperature": 0}}  # fmt: skip

    def openai_whole() -> str:
        r = client.post("/v1/chat/completions", json=openai)
        return str(r.json()["choices"][0]["message"]["content"])

    def ollama_whole() -> str:
        r = client.post("/api/chat", json={**ollama, "stream": False})
        return str(r.json()["message"]["content"])

    def openai_stream() -> str:
        pieces: list[str] = []
        with client.stream("POST", "/v1/chat/completions", json={**openai, "stream": True}) as r:
            for line in r.iter_lines():
                if line.startswith("data: ") and line != "data: [DONE]":
                    choices = json.loads(line[6:])["choices"]
                    pieces += [c["delta"].get("content") or "" for c in choices]
        return "".join(pieces)

    def ollama_stream() -> str:
        pieces: list[str] = []
        with client.stream("POST", "/api/chat", json={**ollama, "stream": True}) as r:
            for line in r.iter_lines():
                if line:
                    pieces.append(json.loads(line)["message"]["content"])
        return "".join(pieces)

    return {
        "openai whole": openai_whole, "ollama whole": ollama_whole,
        "openai stream": openai_stream, "ollama stream": ollama_stream,
    }  # fmt: skip


def _routes(calls: int) -> None:
    import multiprocessing

    port = _free_port()
    child = multiprocessing.get_context("spawn").Process(target=_route_server, args=(port,))
    child.start()
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/health").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        with httpx.Client(base_url=base, timeout=30) as client:
            fns = _route_calls(client)
            answers = {name: fn() for name, fn in fns.items()}  # warm-up, and the same text
            if len(set(answers.values())) != 1:
                raise RuntimeError(f"the routes answered differently: {answers}")
            times: dict[str, list[float]] = {name: [] for name in fns}
            names = list(fns)
            for i in range(calls):
                for name in names[i % 2 :] + names[: i % 2]:  # alternate who goes first
                    started = time.perf_counter_ns()
                    fns[name]()
                    times[name].append((time.perf_counter_ns() - started) / 1e6)
    finally:
        child.terminate()
        child.join(10)
    print(f"{calls} calls per route and mode, {ROUTE_PIECES} text pieces per answer; goal ≤ 1 ms")
    for mode in ("whole", "stream"):
        ours, theirs = times[f"ollama {mode}"], times[f"openai {mode}"]
        added = statistics.median(ours) - statistics.median(theirs)
        paired = statistics.median(o - t for o, t in zip(ours, theirs, strict=True))
        print(
            f"{mode:<7} /v1/chat/completions median {statistics.median(theirs):7.3f} ms "
            f"(p90 {_p90(theirs):6.3f}) | /api/chat median {statistics.median(ours):7.3f} ms "
            f"(p90 {_p90(ours):6.3f}) | added {added:+.3f} ms (paired median {paired:+.3f} ms)"
        )


def _p90(xs: list[float]) -> float:
    return statistics.quantiles(xs, n=10)[-1]


class _Canned:
    """A backend that answers every request with ``tokens`` deltas at once (no model)."""

    def __init__(self, tokens: int) -> None:
        from hearth.events import Done, TextDelta, Usage

        self._events = [*(TextDelta(f"word{i} ") for i in range(tokens)),
                        Done("end_turn", Usage(12, tokens))]  # fmt: skip
        self.name = "bench:canned"

    def capabilities(self):  # type: ignore[no-untyped-def]
        from hearth.backends.base import Capabilities

        return Capabilities(context_length=4096)

    async def _play(self):  # type: ignore[no-untyped-def]
        for event in self._events:
            yield event

    def astream(self, request):  # type: ignore[no-untyped-def]
        return self._play()

    def close(self) -> None:
        pass


def _serve_canned(port: int, tokens: int, store: str) -> None:
    import uvicorn

    from hearth.config.schema import Config
    from hearth.server import ServerSettings, create_app

    settings = ServerSettings(models=("bench",), responses_store=Path(store))
    app = create_app(settings, config=Config(path=Path(os.devnull)),
                     backends={"bench": _Canned(tokens)})  # type: ignore[dict-item]  # fmt: skip
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


_ROUTES: dict[str, tuple[str, dict[str, object]]] = {
    "chat": ("/v1/chat/completions",
             {"model": "bench", "messages": [{"role": "user", "content": PROMPT}]}),
    "responses": ("/v1/responses", {"model": "bench", "input": PROMPT}),
    "responses store:false": ("/v1/responses", {"model": "bench", "input": PROMPT,
                                                "store": False}),
}  # fmt: skip


def _time_call(client: httpx.Client, path: str, body: dict[str, object], stream: bool) -> float:
    started = time.perf_counter()
    if stream:
        with client.stream("POST", path, json={**body, "stream": True}) as r:
            for _ in r.iter_bytes():
                pass
    else:
        r = client.post(path, json=body)
    if r.status_code != 200:
        raise RuntimeError(f"{path}: HTTP {r.status_code}")
    return time.perf_counter() - started


def overhead(args: argparse.Namespace) -> None:
    import multiprocessing
    import tempfile

    port = _free_port()
    with tempfile.TemporaryDirectory() as tmp:
        child = multiprocessing.Process(
            target=_serve_canned, args=(port, args.tokens, f"{tmp}/responses.db"), daemon=True
        )
        child.start()
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
                deadline = time.monotonic() + 60
                while True:
                    try:
                        client.get("/health")
                        break
                    except httpx.HTTPError:
                        if time.monotonic() > deadline:
                            raise
                        time.sleep(0.05)
                _report_overhead(client, args.calls)
        finally:
            child.terminate()
            child.join(10)


def _report_overhead(client: httpx.Client, calls: int) -> None:
    for stream in (False, True):
        times: dict[str, list[float]] = {name: [] for name in _ROUTES}
        for path, body in _ROUTES.values():  # warm-up
            _time_call(client, path, body, stream)
        for _ in range(calls):
            for name, (path, body) in _ROUTES.items():
                times[name].append(_time_call(client, path, body, stream))
        print(f"{'streamed' if stream else 'plain'}: {calls} calls per route")
        for name, values in times.items():
            values.sort()
            print(f"  {name:>22}: median {statistics.median(values) * 1e3:7.3f} ms, "
                  f"p90 {values[int(len(values) * 0.9)] * 1e3:7.3f} ms")  # fmt: skip
        base = statistics.median(times["chat"])
        for name in ("responses", "responses store:false"):
            added = (statistics.median(times[name]) - base) * 1e3
            print(f"  {name} adds {added:+.3f} ms per request (goal ≤ 1 ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--clients", default="1,4,8,16", type=lambda s: [int(x) for x in s.split(",")]
    )
    parser.add_argument(
        "--reference", default="llama-server", choices=["llama-server", "llama-cpp-python"],
        help="the peer server measured in the same run",
    )  # fmt: skip
    parser.add_argument("--llama-server", help="llama.cpp's llama-server (default: on PATH)")
    parser.add_argument(
        "--llama-server-args", default="",
        help="more llama-server flags, e.g. '--kv-unified' (one KV buffer, as hearth has)",
    )  # fmt: skip
    parser.add_argument("--requests", type=int, default=2, help="requests per client")
    parser.add_argument("--tokens", type=int, default=96, help="max_tokens per request")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--n-ctx", type=int, default=8192)
    parser.add_argument(
        "--parallel", type=int, default=None, help="hearth serve --parallel (default: its own)"
    )
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--routes", action="store_true",
        help="measure /api/chat's overhead against /v1/chat/completions instead",
    )  # fmt: skip
    parser.add_argument(
        "--overhead", action="store_true",
        help="time /v1/responses against /v1/chat/completions with a canned backend instead",
    )  # fmt: skip
    parser.add_argument(
        "--calls", type=int, default=None,
        help="--routes / --overhead: calls per route (default 500 / 300)",
    )  # fmt: skip
    args = parser.parse_args()
    if args.routes:
        _routes(args.calls or 500)
        return
    if args.overhead:
        args.calls = args.calls or 300
        overhead(args)
        return
    path = _model_path()
    reference = args.reference
    if reference == "llama-server":
        args.llama_server_path = _find_llama_server(args.llama_server)
        if args.llama_server_path is None:
            print(f"llama-server not found ({args.llama_server or 'PATH'}): the reference was "
                  "NOT measured")  # fmt: skip
    ours = _run_server("hearth", path, args)
    measured = reference != "llama-server" or args.llama_server_path is not None
    theirs = _run_server(reference, path, args) if measured else []
    if args.json:
        print(json.dumps([asdict(x) for x in ours + theirs], indent=2))
        return
    print(f"model {path.name}, {args.threads} threads, n_ctx {args.n_ctx}, {args.requests} "
          f"requests/client, max_tokens {args.tokens}, reference {reference}")  # fmt: skip
    print(HEADER)
    for i, h in enumerate(ours):
        print(row(h))
        if theirs:
            print(row(theirs[i]))
            print(ratio_row(h, theirs[i]))


if __name__ == "__main__":
    main()
