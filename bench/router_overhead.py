"""How much time ``router:NAME`` adds per call, over calling its member directly.

The members are in-process backends that answer at once (a few text events), so the figure is
the router's own cost — choosing a member (least outstanding requests, cooldowns, the prefix
affinity hash of the conversation), counting the call in and out, and relaying the events —
without network noise that would drown it. Direct and routed calls are interleaved, non-streamed
(``chat``) and streamed (``stream``), over a chat of a few turns. Prints the median and p90 per
call, the median the router adds, and the ratio; the goal is ≤ 0.3 ms added per call.

    .venv/bin/python bench/router_overhead.py [--calls 5000] [--members 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Iterator

import hearth
from hearth.backends.base import BackendBase, Capabilities
from hearth.backends.router import RouterBackend
from hearth.events import Done, StreamEvent, TextDelta, Usage
from hearth.request import ChatRequest

GOAL_MS = 0.3


class Instant(BackendBase):
    """A member that answers at once with eight words."""

    def __init__(self, name: str) -> None:
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    def capabilities(self) -> Capabilities:
        return Capabilities(accelerator="remote")

    def stream(self, request: ChatRequest) -> Iterator[StreamEvent]:
        for i in range(8):
            yield TextDelta(f"word{i} ")
        yield Done("end_turn", usage=Usage(input_tokens=12, output_tokens=8))


def _request() -> ChatRequest:
    return hearth.Model(Instant("x")).request(
        [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Say hello in eight words."},
            {"role": "assistant", "content": "Hello there, this is a short answer, friend."},
            {"role": "user", "content": "Again, please."},
        ]
    )


def _time(call: Callable[[], object]) -> float:
    start = time.perf_counter()
    call()
    return (time.perf_counter() - start) * 1000.0


def _measure(direct: Callable[[], object], routed: Callable[[], object], n: int) -> None:
    for _ in range(min(200, n)):  # warm up
        direct()
        routed()
    a: list[float] = []
    b: list[float] = []
    for _ in range(n):
        a.append(_time(direct))
        b.append(_time(routed))
    da, db = statistics.median(a), statistics.median(b)
    p90a, p90b = (statistics.quantiles(x, n=10)[-1] for x in (a, b))
    added = db - da
    verdict = "within" if added <= GOAL_MS else "OVER"
    print(f"  direct  median {da:.4f} ms  p90 {p90a:.4f} ms")
    print(f"  router  median {db:.4f} ms  p90 {p90b:.4f} ms")
    print(
        f"  added   {added:.4f} ms per call ({verdict} the {GOAL_MS} ms goal); "
        f"router/direct = {db / da:.2f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--members", type=int, default=3)
    args = parser.parse_args()
    members = [Instant(f"m{i}") for i in range(args.members)]
    direct = members[0]
    router = RouterBackend([Instant(f"r{i}") for i in range(args.members)], name="bench")
    request = _request()

    def drain(backend: BackendBase) -> Callable[[], object]:
        return lambda: [*backend.stream(request)]

    print(f"router over {args.members} in-process members, {args.calls} calls each way")
    print("chat (non-streamed):")
    _measure(lambda: direct.chat(request), lambda: router.chat(request), args.calls)
    print("stream (9 events):")
    _measure(drain(direct), drain(router), args.calls)


if __name__ == "__main__":
    main()
