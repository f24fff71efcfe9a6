"""Hostile requests against ``hearth serve``: does the server stay responsive while it refuses
them?

    .venv/bin/python bench/hostile.py [--seconds 20] [--attackers 1] [--threads 2] [--json]

``hearth serve`` runs SmolLM2 (from hearth's store) in a subprocess. Attackers, in a process of
their own (so their JSON encoding never competes with the measuring side for a GIL), send the
requests of issue #15 item 1 one after another, round robin:

* 100,001 messages of "x" (3.6 MB), which took 543 s before, with /health unanswered;
* one message of 4 MB, which blocked /health 8.6 s and paused a stream 8.7 s;
* one message of 7.5 MB.

Meanwhile this process streams answers from the model back to back (max_tokens 128) and asks
/health every 20 ms. It first measures the same two things with no attack, as the baseline.
Reported:

* /health latency: median, 99th percentile and maximum, without and with the attack;
* the longest pause between two content chunks of a stream (after its first), without and
  with the attack;
* the hostile requests: how many, their statuses, the median time each took;
* the share of the machine's CPU other processes used meanwhile (Linux): when it is not near
  zero, the figures say more about the machine than about hearth.

Targets (issue #15): /health within 100 ms and no stream pause over 0.5 s while attacked. A
benchmark, not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

HEALTH_TARGET = 0.100
PAUSE_TARGET = 0.5
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def hostile_bodies() -> list[bytes]:
    """Issue #15 item 1's requests, as the bytes a client sends."""
    user = {"role": "user", "content": "x"}
    return [
        json.dumps({"model": "smollm2", "messages": [user] * 100_001}).encode(),
        json.dumps({"model": "smollm2", "messages": [{"role": "user", "content": "y" * 4_000_000}]})
        .encode(),
        json.dumps({"model": "smollm2", "messages": [{"role": "user", "content": "z" * 7_500_000}]})
        .encode(),
    ]  # fmt: skip


@dataclass
class Phase:
    name: str
    health: list[float] = field(default_factory=list)
    pauses: list[float] = field(default_factory=list)
    chunks: int = 0
    others: float | None = None

    def summary(self) -> dict[str, object]:
        h = sorted(self.health)
        return {
            "phase": self.name,
            "health_n": len(h),
            "health_p50_ms": round(1000 * statistics.median(h), 1) if h else None,
            "health_p99_ms": round(1000 * h[min(len(h) - 1, int(len(h) * 0.99))], 1) if h else None,
            "health_max_ms": round(1000 * h[-1], 1) if h else None,
            "stream_chunks": self.chunks,
            "stream_max_pause_s": round(max(self.pauses), 3) if self.pauses else None,
            "other_processes_cpu": None if self.others is None else round(self.others, 3),
        }


def _machine_cpu() -> tuple[float, float] | None:
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat (Linux only)."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            ticks = [int(v) for v in stat.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    total = sum(ticks)
    return (total - ticks[3] - ticks[4]) / _TICK, total / _TICK


def _process_cpu(pids: list[int]) -> float:
    """CPU seconds used so far by these processes (Linux /proc)."""
    total = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / _TICK
        except (OSError, ValueError, IndexError):
            pass
    return total


class LoadMeter:
    """The share of the machine's CPU that processes other than ``pids`` used meanwhile."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self._machine = _machine_cpu()
        self._ours = _process_cpu(pids)

    def others(self) -> float | None:
        now = _machine_cpu()
        if now is None or self._machine is None or now[1] <= self._machine[1]:
            return None
        busy = now[0] - self._machine[0] - (_process_cpu(self.pids) - self._ours)
        return max(0.0, busy / (now[1] - self._machine[1]))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_server(port: int, threads: int) -> subprocess.Popen[bytes]:
    hearth = Path(sys.executable).with_name("hearth")
    cmd = [
        str(hearth), "serve", "--model", "local:smollm2", "--port", str(port),
        "--n-threads", str(threads), "--parallel", "2", "--log-level", "warning",
    ]  # fmt: skip
    env = {**os.environ, "HEARTH_CONFIG": os.devnull}
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _wait_ready(base: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"{base} did not become ready in {timeout:g} s")


def _attack(base: str, seconds: float, attackers: int, results: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    """In a process of its own: ``attackers`` threads sending the hostile bodies round robin."""
    import threading

    bodies = hostile_bodies()
    stop = time.monotonic() + seconds

    def loop(offset: int) -> None:
        with httpx.Client(base_url=base, timeout=600) as client:
            i = offset
            while time.monotonic() < stop:
                body = bodies[i % len(bodies)]
                started = time.monotonic()
                try:
                    r = client.post(
                        "/v1/chat/completions",
                        content=body,
                        headers={"content-type": "application/json"},
                    )
                    status = r.status_code
                except httpx.HTTPError as exc:
                    status = type(exc).__name__  # type: ignore[assignment]
                results.put((len(body), status, time.monotonic() - started))
                i += 1

    threads = [threading.Thread(target=loop, args=(n,)) for n in range(attackers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


async def _probe_health(base: str, stop: float, phase: Phase) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        while time.monotonic() < stop:
            started = time.monotonic()
            await client.get("/health")
            phase.health.append(time.monotonic() - started)
            await asyncio.sleep(0.02)


async def _stream(base: str, stop: float, phase: Phase) -> None:
    body = {
        "model": "smollm2", "stream": True, "max_tokens": 128, "temperature": 0.7,
        "messages": [{"role": "user", "content": "Tell me a long story about a lighthouse."}],
    }  # fmt: skip
    async with httpx.AsyncClient(base_url=base, timeout=600) as client:
        while time.monotonic() < stop:
            last: float | None = None  # the first content chunk's time: prompt work before it
            async with client.stream("POST", "/v1/chat/completions", json=body) as r:
                async for line in r.aiter_lines():
                    if not line.startswith("data: {") or not _has_content(line):
                        continue
                    now = time.monotonic()
                    if last is not None:
                        phase.pauses.append(now - last)
                    last = now
                    phase.chunks += 1


def _has_content(line: str) -> bool:
    choices = json.loads(line[6:]).get("choices") or []
    return any((c.get("delta") or {}).get("content") for c in choices)


async def _measure(base: str, seconds: float, phase: Phase) -> None:
    stop = time.monotonic() + seconds
    await asyncio.gather(_probe_health(base, stop, phase), _stream(base, stop, phase))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each phase")
    parser.add_argument("--attackers", type=int, default=1, help="concurrent hostile clients")
    parser.add_argument("--threads", type=int, default=2, help="the model's CPU threads")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = _start_server(port, args.threads)
    try:
        _wait_ready(base)
        asyncio.run(_measure(base, 3.0, Phase("warm-up")))
        quiet = Phase("no attack")
        meter = LoadMeter([os.getpid(), server.pid])
        asyncio.run(_measure(base, args.seconds, quiet))
        quiet.others = meter.others()

        attacked = Phase("attacked")
        results: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
        attacker = multiprocessing.Process(
            target=_attack, args=(base, args.seconds, args.attackers, results)
        )
        attacker.start()
        meter = LoadMeter([os.getpid(), server.pid, attacker.pid or 0])
        asyncio.run(_measure(base, args.seconds, attacked))
        attacked.others = meter.others()
        attacker.join()
        hostile = []
        while not results.empty():
            hostile.append(results.get())
    finally:
        server.terminate()
        server.wait(60)
    _report(args, [quiet, attacked], hostile)


def _report(
    args: argparse.Namespace, phases: list[Phase], hostile: list[tuple[int, object, float]]
) -> None:
    statuses: dict[str, int] = {}
    for _, status, _ in hostile:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    summary = {
        "phases": [p.summary() for p in phases],
        "hostile_requests": len(hostile),
        "hostile_statuses": statuses,
        "hostile_median_s": round(statistics.median(t for *_, t in hostile), 3)
        if hostile
        else None,
        "attackers": args.attackers,
        "threads": args.threads,
        "cpus": os.cpu_count(),
    }
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    print(f"hearth serve, SmolLM2, {args.threads} threads, {os.cpu_count()} CPUs; "
          f"{args.attackers} attackers for {args.seconds:g} s")  # fmt: skip
    for p in summary["phases"]:  # type: ignore[attr-defined]
        print(
            f"{p['phase']:>10}: /health p50 {p['health_p50_ms']} ms, p99 {p['health_p99_ms']} ms,"
            f" max {p['health_max_ms']} ms ({p['health_n']} probes); stream: longest pause "
            f"{p['stream_max_pause_s']} s over {p['stream_chunks']} chunks; other processes "
            f"used {p['other_processes_cpu']} of the CPU"
        )
    print(
        f"   hostile: {len(hostile)} requests, statuses {statuses}, median "
        f"{summary['hostile_median_s']} s each"
    )
    attacked = summary["phases"][-1]  # type: ignore[index]
    health_ok = attacked["health_max_ms"] is not None and attacked["health_max_ms"] < 100
    pause_ok = attacked["stream_max_pause_s"] is not None and attacked["stream_max_pause_s"] < 0.5
    print(
        f"   targets: /health < {HEALTH_TARGET * 1000:g} ms: {'met' if health_ok else 'NOT met'};"
        f" stream pause < {PAUSE_TARGET:g} s: {'met' if pause_ok else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
