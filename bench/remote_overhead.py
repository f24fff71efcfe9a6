"""How much latency hearth adds per remote call, over raw httpx.

A loopback OpenAI-compatible server (in a child process, so it does not share the GIL) answers
every request at once with a canned body. The same request is posted N times with raw httpx and
through ``hearth.model("openai:…")`` — calls interleaved, one shared-nothing client each, both on
kept-alive connections — non-streamed (``chat``) and streamed (``stream``, SSE). Prints the median
and p90 per call and the median added by hearth; the target is ≤ 0.3 ms. Then measures
``python -X importtime -c "import hearth"``.

    .venv/bin/python bench/remote_overhead.py [--calls 2000]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import re
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import httpx

import hearth

N_CHUNKS = 8
PROMPT = "Say hello in eight words."


def _canned() -> tuple[bytes, bytes]:
    text = {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1,
        "model": "bench",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello there, this is a benchmark."},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 12, "completion_tokens": 8, "total_tokens": 20},
    }
    chunk = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "model": "bench"}
    frames = [
        {**chunk, "choices": [{"index": 0, "delta": {"content": f"word{i} "}}]}
        for i in range(N_CHUNKS)
    ]
    frames.append({**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    frames.append({**chunk, "choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": 8}})
    sse = b"".join(b"data: " + json.dumps(f).encode() + b"\n\n" for f in frames)
    sse += b"data: [DONE]\n\n"
    body = json.dumps(text).encode()
    plain = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (
        len(body),
        body,
    )
    stream = (
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
        b"content-length: %d\r\n\r\n%s" % (len(sse), sse)
    )
    return plain, stream


def _serve(sock: socket.socket) -> None:
    """Answer every request on every connection at once; one thread per connection."""
    import threading

    plain, stream = _canned()

    def handle(conn: socket.socket) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buf = b""
        while True:
            while b"\r\n\r\n" not in buf:
                data = conn.recv(65536)
                if not data:
                    return
                buf += data
            head, _, buf = buf.partition(b"\r\n\r\n")
            found = re.search(rb"(?i)content-length:\s*(\d+)", head)
            length = int(found[1]) if found else 0
            while len(buf) < length:
                buf += conn.recv(65536)
            body, buf = buf[:length], buf[length:]
            conn.sendall(stream if b'"stream":true' in body.replace(b" ", b"") else plain)

    while True:
        conn, _ = sock.accept()
        threading.Thread(target=handle, args=(conn,), daemon=True).start()


def _measure(fn: Callable[[], object]) -> float:
    start = time.perf_counter_ns()
    fn()
    return (time.perf_counter_ns() - start) / 1e6


def _raw_calls(client: httpx.Client, url: str) -> tuple[Callable[[], object], Callable[[], object]]:
    headers = {"authorization": "Bearer sk-bench", "content-type": "application/json"}
    messages = [{"role": "user", "content": PROMPT}]
    plain_body = json.dumps({"model": "bench", "messages": messages}).encode()
    stream_body = json.dumps(
        {"model": "bench", "messages": messages, "stream": True,
         "stream_options": {"include_usage": True}}
    ).encode()  # fmt: skip

    def chat() -> object:
        response = client.post(url, content=plain_body, headers=headers)
        return response.json()["choices"][0]["message"]["content"]

    def stream() -> object:
        pieces = []
        with client.stream("POST", url, content=stream_body, headers=headers) as response:
            for line in response.iter_lines():
                if line.startswith("data: ") and line != "data: [DONE]":
                    choices = json.loads(line[6:])["choices"]
                    if choices and choices[0]["delta"].get("content"):
                        pieces.append(choices[0]["delta"]["content"])
        return "".join(pieces)

    return chat, stream


def _report(name: str, raw: list[float], ours: list[float]) -> None:
    def p90(xs: list[float]) -> float:
        return statistics.quantiles(xs, n=10)[-1]

    added = statistics.median(ours) - statistics.median(raw)
    paired = statistics.median(o - r for o, r in zip(ours, raw, strict=True))
    print(
        f"{name:<12} raw httpx median {statistics.median(raw):7.3f} ms (p90 {p90(raw):6.3f})"
        f" | hearth median {statistics.median(ours):7.3f} ms (p90 {p90(ours):6.3f})"
        f" | added {added:+.3f} ms (paired median {paired:+.3f} ms)"
    )


def _import_time(runs: int = 7) -> float:
    totals = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", "import hearth"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        last = [line for line in out.stderr.splitlines() if line.rstrip().endswith("| hearth")]
        totals.append(int(last[-1].split("|")[1]) / 1000)
    return statistics.median(totals)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=200)
    args = parser.parse_args()

    sock = socket.create_server(("127.0.0.1", 0))
    server = multiprocessing.get_context("fork").Process(target=_serve, args=(sock,), daemon=True)
    server.start()
    base = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    client = httpx.Client(timeout=10)
    raw_chat, raw_stream = _raw_calls(client, base + "/chat/completions")
    model = hearth.model("openai:bench", api_key="sk-bench", base_url=base)

    def our_chat() -> object:
        return model.chat(PROMPT).text

    def our_stream() -> object:
        with model.stream(PROMPT) as s:
            return "".join(s.text_stream)

    assert our_chat() == raw_chat() and our_stream() == raw_stream()
    print(f"{args.calls} calls each, interleaved, after {args.warmup} warm-up calls")
    for name, raw_fn, our_fn in (
        ("chat", raw_chat, our_chat),
        ("stream", raw_stream, our_stream),
    ):
        for _ in range(args.warmup):
            raw_fn()
            our_fn()
        raw, ours = [], []
        for _ in range(args.calls):
            raw.append(_measure(raw_fn))
            ours.append(_measure(our_fn))
        _report(name, raw, ours)
    model.close()
    client.close()
    server.terminate()
    print(f"import hearth: {_import_time():.1f} ms (median of 7, python -X importtime)")


if __name__ == "__main__":
    main()
