"""Where a served token's time goes: py-spy on ``hearth serve`` under a streaming load.

    .venv/bin/python bench/profile_serve.py [--clients 4] [--rounds 3] [--tokens 96]
                                            [--rate 200] [--threads 2] [--raw FILE]

Starts ``hearth serve`` on SmolLM2 (as bench/serve.py does), sends one warm-up request, then
attaches ``py-spy record --threads --nonblocking`` (py-spy is in the dev extra; attaching needs
ptrace rights over the child, which a process has over its own children unless
``kernel.yama.ptrace_scope`` is 2 or more) while ``--clients`` clients stream ``--rounds``
rounds of distinct prompts. It prints the share of samples per thread and in each part of the
per-token path (docs/local-engine.md, "Where the time goes per token"). Proportions only:
absolute times depend on the machine's load. ``--raw`` keeps py-spy's collapsed stacks.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from serve import _free_port, _model_path, _one, _start, _wait_ready

PARTS = {
    "llama_decode": "LlamaEngine.decode",
    "sampling (native chain)": "LlamaEngine.sample",
    "Sequence.sample (all per-token work)": "Sequence.sample",
    "hand-off: channel put": "AsyncChannel.put",
    "hand-off: wake-ups at the end of a step": "LoopWaker.flush",
    "constraint hook": "Constraint",
    "sweep + admission": "Scheduler._sweep",
    "loop: waiting in epoll (on CPU)": "EpollSelector.select",
    "loop: the stream (SSE response)": "EventStreamResponse.__call__",
    "loop: waiting for the next event": "Exchange._next",
    "loop: HTTP send (uvicorn)": "RequestResponseCycle.send",
}


def summarize(raw: Path) -> None:
    total = 0
    threads: collections.Counter[str] = collections.Counter()
    parts: collections.Counter[str] = collections.Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        total += n
        frames = stack.split(";")
        thread = re.sub(r"thread \(\d+\): ", "", frames[0])
        threads["AnyIO worker" if thread.startswith("AnyIO") else thread] += n
        for name, needle in PARTS.items():
            if any(needle in frame for frame in frames):
                parts[name] += n
    if not total:
        print("py-spy took no samples")
        return
    print(f"{total} samples")
    for thread, n in threads.most_common():
        print(f"  thread {thread:<40} {100 * n / total:6.2f}%")
    for name in PARTS:
        print(f"  {name:<47} {100 * parts[name] / total:6.2f}%")


async def _load(base: str, model: str, clients: int, rounds: int, tokens: int) -> int:
    async with httpx.AsyncClient(base_url=base, timeout=600) as client:
        total = 0
        for r in range(rounds):
            got = await asyncio.gather(
                *[_one(client, model, tokens, 1000 + r * clients + k) for k in range(clients)]
            )
            total += sum(s.tokens for s in got)
        return total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--tokens", type=int, default=96)
    ap.add_argument("--rate", type=int, default=200, help="py-spy samples per second")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--n-ctx", type=int, default=2048)
    ap.add_argument("--raw", type=Path, help="keep py-spy's collapsed stacks here")
    args = ap.parse_args()
    args.parallel = None
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    path = _model_path()
    port = _free_port()
    proc = _start("hearth", path, port, args)
    base, model = f"http://127.0.0.1:{port}", f"local:{path}"
    raw = args.raw or Path(tempfile.mkdtemp()) / "serve.txt"
    try:
        _wait_ready(base, model, proc)
        asyncio.run(_load(base, model, 1, 1, 4))  # warm-up
        cmd = [spy, "record", "-r", str(args.rate), "--threads", "--nonblocking", "--format",
               "raw", "-o", str(raw), "--pid", str(proc.pid)]  # fmt: skip
        recorder = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(1.0)  # attached
        started = time.perf_counter()
        tokens = asyncio.run(_load(base, model, args.clients, args.rounds, args.tokens))
        seconds = time.perf_counter() - started
        recorder.send_signal(signal.SIGINT)
        _, err = recorder.communicate(timeout=60)
        if recorder.returncode not in (0, -2) and not raw.exists():
            raise RuntimeError(f"py-spy failed: {err.decode(errors='replace')[-400:]}")
    finally:
        proc.terminate()
        proc.wait(30)
    print(f"{tokens} tokens in {seconds:.1f} s, {args.clients} clients x {args.rounds} rounds")
    summarize(raw)


if __name__ == "__main__":
    main()
